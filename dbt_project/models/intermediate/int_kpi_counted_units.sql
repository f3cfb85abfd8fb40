-- Grain: one row per count KPI, financial year and counted unit: the counted units of
-- int_kpi_units without the records they rest on (its unit columns, which are the same for every
-- record of a unit). Nothing is decided here: kpi_annual and mart_monthly_by_site count rows of
-- it, where they counted the distinct units among every record of a year (at 100x a year is
-- ~9 M records, and a distinct count over them took seconds a model for a day's few units).
-- Incremental by unit as int_kpi_units (strategy replace_units): the rows of its rebuilt units
-- are replaced (macros/incremental.sql).

{{ config(materialized=versioned_materialization(), incremental_strategy='replace_units', on_schema_change='fail') }}

with units as (

    select * from {{ ref('int_kpi_units') }}
    where is_counted
    {%- if is_incremental() %} and {{ in_rebuilt_units() }}{% endif %}

)

select distinct kpi, financial_year, month, site_code, unit_kind, unit_key
from units
