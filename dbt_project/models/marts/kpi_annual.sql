-- Grain: one row per financial year and KPI (docs/architecture.md, Marts).
-- Every KPI of the registry appears for every year that has at least one
-- counted unit of any KPI; counts are the counted units (int_kpi_counted_units:
-- a row each; 0 when a KPI has none that year); ratios are the registry's
-- numerator / denominator, unrounded and NULL when the denominator is 0.

-- Incremental by financial year, the years int_kpi_units records (macros/incremental.sql): the rebuilt
-- years' rows are replaced, the other years' are those of the last build.

{{ config(materialized=versioned_materialization(), incremental_strategy='replace_years', on_schema_change='fail') }}

with registry as (

    select * from {{ ref('kpi_registry') }}

),

units as (

    select * from {{ ref('int_kpi_counted_units') }}
    {{- only_rebuilt_years() }}

),

counted as (

    select
        financial_year,
        kpi,
        count(*) as counted_units
    from units
    group by financial_year, kpi

),

-- Rule: the years reported are those with at least one counted unit.
years as (

    select distinct financial_year from counted

),

-- Rule: count KPIs are 0, not missing, when a KPI has no unit that year.
counts as (

    select
        years.financial_year,
        registry.kpi,
        cast(coalesce(counted.counted_units, 0) as double) as value
    from years
    cross join registry
    left join counted
        on years.financial_year = counted.financial_year
        and registry.kpi = counted.kpi
    where registry.kind = 'count'

),

-- Rule: ratios are unrounded and NULL when the denominator is 0.
ratios as (

    select
        numerator.financial_year,
        registry.kpi,
        numerator.value / nullif(denominator.value, 0) as value
    from registry
    inner join counts as numerator
        on registry.numerator = numerator.kpi
    inner join counts as denominator
        on registry.denominator = denominator.kpi
        and numerator.financial_year = denominator.financial_year
    where registry.kind = 'ratio'

),

annual as (

    select * from counts
    union all
    select * from ratios

)

select
    cast(financial_year as {{ dbt.type_string() }}) as financial_year,
    cast(kpi as {{ dbt.type_string() }})            as kpi,
    cast(value as double)           as value
from annual
order by financial_year, kpi
