-- Grain: one row per month, site and additive KPI (docs/architecture.md,
-- Marts). The additive KPIs are the registry's (additive = true). A row exists
-- for each additive KPI of a source in every (month, site) where that source
-- has at least one counted unit of an additive KPI; the value may then be 0
-- (e.g. wellbeing_successful_contacts in a month with calls but no
-- successes). Summed over months and sites it equals kpi_annual for these KPIs.

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

additive as (

    select kpi, source from registry where additive

),

counted as (

    select
        units.month,
        units.site_code,
        units.kpi,
        additive.source,
        count(*) as counted_units
    from units
    inner join additive
        on units.kpi = additive.kpi
    group by units.month, units.site_code, units.kpi, additive.source

),

-- Rule: every additive KPI of a source in each (month, site) of that source.
cells as (

    select distinct month, site_code, source from counted

)

select
    cast({{ financial_year('cells.month') }} as {{ dbt.type_string() }}) as financial_year,
    cast(cells.month as date)                            as month,
    cast(cells.site_code as {{ dbt.type_string() }})                     as site_code,
    cast(additive.kpi as {{ dbt.type_string() }})                        as kpi,
    cast(coalesce(counted.counted_units, 0) as bigint)   as value
from cells
inner join additive
    on cells.source = additive.source
left join counted
    on cells.month = counted.month
    and cells.site_code = counted.site_code
    and additive.kpi = counted.kpi
order by month, site_code, kpi
