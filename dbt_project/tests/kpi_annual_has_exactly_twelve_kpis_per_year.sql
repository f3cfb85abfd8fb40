-- kpi_annual has exactly the 12 contract KPIs, once each, for every year it
-- reports (docs/architecture.md: "every KPI appears for each such year").
-- Returns the years that do not.

with annual as (

    select * from {{ ref('kpi_annual') }}

),

expected_kpis as (

    select unnest([
        'visits', 'visiting_members', 'pathway_contacts', 'social_prescriptions',
        'prescriptions_per_contact', 'zoom_sessions', 'zoom_members',
        'zoom_attendances', 'sessions_per_member', 'wellbeing_calls',
        'wellbeing_successful_contacts', 'wellbeing_people_reached'
    ]) as kpi

),

per_year as (

    select
        financial_year,
        count(*)                                                    as kpi_rows,
        count(distinct kpi)                                         as distinct_kpis,
        count(*) filter (where kpi in (select kpi from expected_kpis)) as expected_kpi_rows
    from annual
    group by financial_year

)

select *
from per_year
where kpi_rows <> 12
   or distinct_kpis <> 12
   or expected_kpi_rows <> 12
