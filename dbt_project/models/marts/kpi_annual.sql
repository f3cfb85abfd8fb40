-- Grain: one row per financial year and KPI (docs/architecture.md, Marts).
-- Every one of the 12 KPIs appears for every year that has at least one
-- counted unit in any source; counts are 0 when a source has no data that
-- year; ratios are unrounded and NULL when the denominator is 0.

with visits as (

    select * from {{ ref('int_visits') }}

),

pathway_contacts as (

    select * from {{ ref('int_pathway_contacts') }}

),

social_prescriptions as (

    select * from {{ ref('int_social_prescriptions') }}

),

zoom_sessions as (

    select * from {{ ref('int_zoom_sessions') }}

),

zoom_attendances as (

    select * from {{ ref('int_zoom_attendances') }}

),

wellbeing_calls as (

    select * from {{ ref('int_wellbeing_calls') }}

),

-- Rule: visits = distinct visit_ids never void, visitor_type not staff;
-- visiting_members = distinct non-empty member_ids among them.
visit_kpis as (

    select
        financial_year,
        count(distinct visit_id)  as visits,
        count(distinct member_id) as visiting_members
    from visits
    where is_counted
    group by financial_year

),

-- Rule: pathway_contacts = contacts whose latest version is attended, in the
-- year of contact_date.
contact_kpis as (

    select
        financial_year,
        count(distinct contact_id) as pathway_contacts
    from pathway_contacts
    where is_attended
    group by financial_year

),

-- Rule: social_prescriptions = latest status not withdrawn/deleted, contact's
-- latest version attended, in the year of the contact's contact_date.
prescription_kpis as (

    select
        financial_year,
        count(distinct prescription_id) as social_prescriptions
    from social_prescriptions
    where is_counted
    group by financial_year

),

-- Rule: zoom_sessions = delivered sessions in the year of Start Time.
session_kpis as (

    select
        financial_year,
        count(distinct session_id) as zoom_sessions
    from zoom_sessions
    where is_delivered
    group by financial_year

),

-- Rule: zoom_attendances = non-staff attendances; zoom_members = distinct
-- non-staff persons who attended a session in the year.
attendance_kpis as (

    select
        financial_year,
        count(*)                   as zoom_attendances,
        count(distinct person_key) as zoom_members
    from zoom_attendances
    where is_member
    group by financial_year

),

-- Rule: wellbeing_calls = distinct calls; successful contacts = calls with
-- outcome successful; people reached = distinct service users (pseudonyms,
-- NULLs not counted) with a successful call.
call_kpis as (

    select
        financial_year,
        count(distinct call_id)                                   as wellbeing_calls,
        count(distinct call_id) filter (where is_successful)      as wellbeing_successful_contacts,
        count(distinct service_user_pseudonym) filter (where is_successful) as wellbeing_people_reached
    from wellbeing_calls
    group by financial_year

),

-- Rule: the years reported are those with at least one counted unit in any source.
years as (

    select financial_year from visit_kpis
    union
    select financial_year from contact_kpis
    union
    select financial_year from prescription_kpis
    union
    select financial_year from session_kpis
    union
    select financial_year from attendance_kpis
    union
    select financial_year from call_kpis

),

-- Rule: count KPIs are 0, not missing, when a source has no data that year.
annual as (

    select
        years.financial_year,
        coalesce(visit_kpis.visits, 0)                          as visits,
        coalesce(visit_kpis.visiting_members, 0)                as visiting_members,
        coalesce(contact_kpis.pathway_contacts, 0)              as pathway_contacts,
        coalesce(prescription_kpis.social_prescriptions, 0)     as social_prescriptions,
        coalesce(session_kpis.zoom_sessions, 0)                 as zoom_sessions,
        coalesce(attendance_kpis.zoom_members, 0)               as zoom_members,
        coalesce(attendance_kpis.zoom_attendances, 0)           as zoom_attendances,
        coalesce(call_kpis.wellbeing_calls, 0)                  as wellbeing_calls,
        coalesce(call_kpis.wellbeing_successful_contacts, 0)    as wellbeing_successful_contacts,
        coalesce(call_kpis.wellbeing_people_reached, 0)         as wellbeing_people_reached
    from years
    left join visit_kpis        on years.financial_year = visit_kpis.financial_year
    left join contact_kpis      on years.financial_year = contact_kpis.financial_year
    left join prescription_kpis on years.financial_year = prescription_kpis.financial_year
    left join session_kpis      on years.financial_year = session_kpis.financial_year
    left join attendance_kpis   on years.financial_year = attendance_kpis.financial_year
    left join call_kpis         on years.financial_year = call_kpis.financial_year

),

-- Rule: ratios are unrounded and NULL when the denominator is 0.
unpivoted as (

    select financial_year, 'visits' as kpi, cast(visits as double) as value from annual
    union all
    select financial_year, 'visiting_members', cast(visiting_members as double) from annual
    union all
    select financial_year, 'pathway_contacts', cast(pathway_contacts as double) from annual
    union all
    select financial_year, 'social_prescriptions', cast(social_prescriptions as double) from annual
    union all
    select financial_year, 'prescriptions_per_contact',
        cast(social_prescriptions as double) / nullif(pathway_contacts, 0) from annual
    union all
    select financial_year, 'zoom_sessions', cast(zoom_sessions as double) from annual
    union all
    select financial_year, 'zoom_members', cast(zoom_members as double) from annual
    union all
    select financial_year, 'zoom_attendances', cast(zoom_attendances as double) from annual
    union all
    select financial_year, 'sessions_per_member',
        cast(zoom_attendances as double) / nullif(zoom_members, 0) from annual
    union all
    select financial_year, 'wellbeing_calls', cast(wellbeing_calls as double) from annual
    union all
    select financial_year, 'wellbeing_successful_contacts', cast(wellbeing_successful_contacts as double) from annual
    union all
    select financial_year, 'wellbeing_people_reached', cast(wellbeing_people_reached as double) from annual

)

select
    cast(financial_year as varchar) as financial_year,
    cast(kpi as varchar)            as kpi,
    cast(value as double)           as value
from unpivoted
order by financial_year, kpi
