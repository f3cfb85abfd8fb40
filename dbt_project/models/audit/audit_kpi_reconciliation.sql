-- Grain: one row per scope and published figure:
--   scope 'annual':          one row per (financial_year, kpi) of kpi_annual
--                            (month and site_code NULL);
--   scope 'monthly_by_site': one row per (financial_year, month, site_code,
--                            kpi) of mart_monthly_by_site or of traced units.
-- traced_units = the number of audit_kpi_units rows behind the figure (NULL
-- for ratios); traced_value = that count, or for a ratio the traced
-- numerator / traced denominator. matches: the published figure equals its
-- trace (a failing row means a KPI cannot be traced to its units).

{{ config(materialized=versioned_materialization(), incremental_strategy='replace_years', on_schema_change='fail') }}

-- Incremental by financial year, the years int_kpi_units records (macros/incremental.sql): the figures of
-- the years whose units were rebuilt are traced again; the other years' figures and units
-- are those the last build traced (the test on this table still covers every figure).

with kpi_annual as (

    select * from {{ ref('kpi_annual') }}
    {{- only_rebuilt_years() }}

),

monthly as (

    select * from {{ ref('mart_monthly_by_site') }}
    {{- only_rebuilt_years() }}

),

-- the rows of audit_kpi_units, counted without building their evidence lists: that view groups
-- the counted units of int_kpi_units (of the registry's KPIs) by unit_columns(), one row each
counted_units as (

    select * from {{ ref('int_kpi_units') }}
    {{- only_rebuilt_years() }}

),

units as (

    select distinct {{ unit_columns() | join(', ') }}
    from counted_units
    where is_counted
        and kpi in (select kpi from {{ ref('kpi_registry') }})

),

annual_counts as (

    select
        financial_year,
        kpi,
        count(*) as traced_units
    from units
    group by financial_year, kpi

),

-- Ratios: numerator and denominator as traced (same arithmetic as kpi_annual).
ratio_parts as (

    select kpi, numerator, denominator
    from {{ ref('kpi_registry') }}
    where kind = 'ratio'

),

annual as (

    select
        'annual'                                   as scope,
        kpi_annual.financial_year,
        kpi_annual.kpi,
        cast(null as date)                         as month,
        cast(null as {{ dbt.type_string() }})                      as site_code,
        kpi_annual.value                           as published_value,
        case when ratio_parts.kpi is null then coalesce(own.traced_units, 0) end as traced_units,
        case
            when ratio_parts.kpi is null then cast(coalesce(own.traced_units, 0) as double)
            else cast(coalesce(numerator.traced_units, 0) as double) / nullif(coalesce(denominator.traced_units, 0), 0)
        end                                        as traced_value
    from kpi_annual
    left join ratio_parts
        on kpi_annual.kpi = ratio_parts.kpi
    left join annual_counts as own
        on kpi_annual.financial_year = own.financial_year
        and kpi_annual.kpi = own.kpi
    left join annual_counts as numerator
        on kpi_annual.financial_year = numerator.financial_year
        and ratio_parts.numerator = numerator.kpi
    left join annual_counts as denominator
        on kpi_annual.financial_year = denominator.financial_year
        and ratio_parts.denominator = denominator.kpi

),

-- Units that kpi_annual does not know about (a year or KPI missing there).
annual_untraced as (

    select
        'annual'                                   as scope,
        annual_counts.financial_year,
        annual_counts.kpi,
        cast(null as date)                         as month,
        cast(null as {{ dbt.type_string() }})                      as site_code,
        cast(null as double)                       as published_value,
        annual_counts.traced_units,
        cast(annual_counts.traced_units as double) as traced_value
    from annual_counts
    anti join kpi_annual
        on annual_counts.financial_year = kpi_annual.financial_year
        and annual_counts.kpi = kpi_annual.kpi

),

monthly_counts as (

    select
        financial_year,
        kpi,
        month,
        site_code,
        count(*) as traced_units
    from units
    where kpi in (select distinct kpi from monthly)
    group by financial_year, kpi, month, site_code

),

monthly_compared as (

    select
        'monthly_by_site'                          as scope,
        coalesce(monthly.financial_year, monthly_counts.financial_year) as financial_year,
        coalesce(monthly.kpi, monthly_counts.kpi)  as kpi,
        coalesce(monthly.month, monthly_counts.month) as month,
        coalesce(monthly.site_code, monthly_counts.site_code) as site_code,
        cast(monthly.value as double)              as published_value,
        coalesce(monthly_counts.traced_units, 0)   as traced_units,
        cast(coalesce(monthly_counts.traced_units, 0) as double) as traced_value
    from monthly
    full outer join monthly_counts
        on monthly.financial_year = monthly_counts.financial_year
        and monthly.kpi = monthly_counts.kpi
        and monthly.month = monthly_counts.month
        and monthly.site_code = monthly_counts.site_code

),

unioned as (

    select * from annual
    union all  -- the three have the same columns in the same order (Spark has no BY NAME)
    select * from annual_untraced
    union all  -- the three have the same columns in the same order (Spark has no BY NAME)
    select * from monthly_compared

)

select
    cast(scope as {{ dbt.type_string() }})                         as scope,
    cast(financial_year as {{ dbt.type_string() }})                as financial_year,
    cast(kpi as {{ dbt.type_string() }})                           as kpi,
    cast(month as date)                            as month,
    cast(site_code as {{ dbt.type_string() }})                     as site_code,
    cast(published_value as double)                as published_value,
    cast(traced_units as bigint)                   as traced_units,
    cast(traced_value as double)                   as traced_value,
    -- a published count of 0 with no units, and a NULL ratio over a zero
    -- denominator, both match
    coalesce(published_value = traced_value, published_value is null and traced_value is null
        and kpi in (select kpi from ratio_parts)) as matches
from unioned
order by scope, financial_year, kpi, month, site_code
