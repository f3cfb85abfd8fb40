-- Grain: one row per financial year and funnel stage (for the dashboards).
-- Years are those of contact_date with at least one recorded (not deleted)
-- contact; all four stages appear for each such year (0 when empty).
-- Stages, each a subset of the one before:
--   1 contacts_recorded                    latest contact version not deleted
--   2 contacts_attended                    latest outcome attended (= kpi pathway_contacts)
--   3 prescriptions_made                   counted social prescriptions (= kpi social_prescriptions)
--   4 prescriptions_accepted_or_completed  counted, latest status accepted or completed
-- Stages 1-2 count contacts, 3-4 count prescriptions.

-- Incremental by financial year, the years int_kpi_units records (macros/incremental.sql): the rebuilt years'
-- rows are replaced, the other years' are those of the last build.
-- depends_on: {{ ref('int_kpi_units') }}

{{ config(materialized=versioned_materialization(), incremental_strategy='replace_years', on_schema_change='fail') }}

with pathway_contacts as (

    select * from {{ ref('int_pathway_contacts') }}
    {{- only_rebuilt_years() }}

),

social_prescriptions as (

    select * from {{ ref('int_social_prescriptions') }}
    {{- only_rebuilt_years() }}

),

-- Rule: a contact whose latest version is deleted was never recorded.
contact_stages as (

    select
        financial_year,
        count(distinct contact_id)                              as contacts_recorded,
        count(distinct contact_id) filter (where is_attended)   as contacts_attended
    from pathway_contacts
    where not is_deleted
    group by financial_year

),

-- Rule: counted social prescriptions, in their contact's financial year.
prescription_stages as (

    select
        financial_year,
        count(distinct prescription_id) as prescriptions_made,
        count(distinct prescription_id) filter (where status in ('accepted', 'completed'))
                                        as prescriptions_accepted_or_completed
    from social_prescriptions
    where is_counted
    group by financial_year

),

annual as (

    select
        contact_stages.financial_year,
        contact_stages.contacts_recorded,
        contact_stages.contacts_attended,
        coalesce(prescription_stages.prescriptions_made, 0)                  as prescriptions_made,
        coalesce(prescription_stages.prescriptions_accepted_or_completed, 0) as prescriptions_accepted_or_completed
    from contact_stages
    left join prescription_stages
        on contact_stages.financial_year = prescription_stages.financial_year

),

unpivoted as (

    select financial_year, 1 as stage_order, 'contacts_recorded' as stage, contacts_recorded as value from annual
    union all
    select financial_year, 2, 'contacts_attended', contacts_attended from annual
    union all
    select financial_year, 3, 'prescriptions_made', prescriptions_made from annual
    union all
    select financial_year, 4, 'prescriptions_accepted_or_completed', prescriptions_accepted_or_completed from annual

)

select
    cast(financial_year as {{ dbt.type_string() }}) as financial_year,
    cast(stage_order as integer)    as stage_order,
    cast(stage as {{ dbt.type_string() }})          as stage,
    cast(value as bigint)           as value
from unpivoted
order by financial_year, stage_order
