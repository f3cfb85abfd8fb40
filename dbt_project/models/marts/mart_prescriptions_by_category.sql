-- Grain: one row per financial year and prescription category that has at
-- least one counted social prescription (for the dashboards).
-- Summed over categories, social_prescriptions equals kpi_annual's.

-- Incremental by financial year, the years int_kpi_units records (macros/incremental.sql): the rebuilt years'
-- rows are replaced, the other years' are those of the last build.
-- depends_on: {{ ref('int_kpi_units') }}

{{ config(materialized=versioned_materialization(), incremental_strategy='replace_years', on_schema_change='fail') }}

with social_prescriptions as (

    select * from {{ ref('int_social_prescriptions') }}
    {{- only_rebuilt_years() }}

),

-- Rule: only counted social prescriptions (latest status not withdrawn or
-- deleted, contact loaded and attended), in the contact's financial year.
counted as (

    select * from social_prescriptions
    where is_counted

),

by_category as (

    select
        financial_year,
        category,
        count(distinct prescription_id) as social_prescriptions,
        count(distinct prescription_id) filter (where status in ('accepted', 'completed'))
                                        as accepted_or_completed
    from counted
    group by financial_year, category

)

select
    cast(financial_year as {{ dbt.type_string() }})        as financial_year,
    cast(category as {{ dbt.type_string() }})              as category,
    cast(social_prescriptions as bigint)   as social_prescriptions,
    cast(accepted_or_completed as bigint)  as accepted_or_completed
from by_category
order by financial_year, category
