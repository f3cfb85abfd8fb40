-- kpi_annual has every KPI of the registry, once each, and no other, for
-- every year it reports (docs/architecture.md: "every KPI appears for each
-- such year"). Returns the (year, KPI) pairs missing, unexpected or repeated.

with annual as (

    select * from {{ ref('kpi_annual') }}

),

registry as (

    select * from {{ ref('kpi_registry') }}

),

expected as (

    select years.financial_year, registry.kpi
    from (select distinct financial_year from annual) as years
    cross join registry

),

found as (

    select financial_year, kpi, count(*) as rows_found
    from annual
    group by financial_year, kpi

)

select
    coalesce(expected.financial_year, found.financial_year) as financial_year,
    coalesce(expected.kpi, found.kpi)                       as kpi,
    coalesce(found.rows_found, 0)                           as rows_found,
    expected.kpi is not null                                as is_registry_kpi
from expected
full outer join found
    on expected.financial_year = found.financial_year
    and expected.kpi = found.kpi
where expected.kpi is null
   or coalesce(found.rows_found, 0) <> 1
