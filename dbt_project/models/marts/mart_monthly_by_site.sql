-- Grain: one row per month, site and additive KPI (docs/architecture.md,
-- Marts). A row exists for each KPI of a source in every (month, site) where
-- that source has at least one counted unit; the value may then be 0 (e.g.
-- wellbeing_successful_contacts in a month with calls but no successes).
-- Summed over months and sites it equals kpi_annual for these KPIs.

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

wellbeing_calls as (

    select * from {{ ref('int_wellbeing_calls') }}

),

-- Rule: visits (never void, not staff) at the kiosk's site.
visit_counts as (

    select
        month,
        site_code,
        'visits'                 as kpi,
        count(distinct visit_id) as value
    from visits
    where is_counted
    group by month, site_code

),

-- Rule: attended contacts, and the counted social prescriptions made at them,
-- by the contact's month and site (UNKNOWN when the contact has no site).
counted_prescriptions_per_contact as (

    select
        contact_id,
        count(distinct prescription_id) as social_prescriptions
    from social_prescriptions
    where is_counted
    group by contact_id

),

pathway_counts as (

    select
        pathway_contacts.month,
        coalesce(pathway_contacts.site_code, 'UNKNOWN') as site_code,
        count(distinct pathway_contacts.contact_id)     as pathway_contacts,
        coalesce(sum(counted_prescriptions_per_contact.social_prescriptions), 0) as social_prescriptions
    from pathway_contacts
    left join counted_prescriptions_per_contact
        on pathway_contacts.contact_id = counted_prescriptions_per_contact.contact_id
    where pathway_contacts.is_attended
    group by 1, 2

),

-- Rule: delivered sessions and non-staff attendances, site ZOOM.
zoom_counts as (

    select
        zoom_sessions.month,
        'ZOOM'                                         as site_code,
        count(distinct zoom_sessions.session_id)       as zoom_sessions,
        sum(zoom_sessions.member_attendances)          as zoom_attendances
    from zoom_sessions
    where zoom_sessions.is_delivered
    group by 1, 2

),

-- Rule: distinct calls and successful calls, site PHONE.
call_counts as (

    select
        month,
        'PHONE'                                              as site_code,
        count(distinct call_id)                              as wellbeing_calls,
        count(distinct call_id) filter (where is_successful) as wellbeing_successful_contacts
    from wellbeing_calls
    group by 1, 2

),

unpivoted as (

    select month, site_code, kpi, value from visit_counts
    union all
    select month, site_code, 'pathway_contacts', pathway_contacts from pathway_counts
    union all
    select month, site_code, 'social_prescriptions', social_prescriptions from pathway_counts
    union all
    select month, site_code, 'zoom_sessions', zoom_sessions from zoom_counts
    union all
    select month, site_code, 'zoom_attendances', zoom_attendances from zoom_counts
    union all
    select month, site_code, 'wellbeing_calls', wellbeing_calls from call_counts
    union all
    select month, site_code, 'wellbeing_successful_contacts', wellbeing_successful_contacts from call_counts

)

select
    cast({{ financial_year('month') }} as varchar) as financial_year,
    cast(month as date)                            as month,
    cast(site_code as varchar)                     as site_code,
    cast(kpi as varchar)                           as kpi,
    cast(value as bigint)                          as value
from unpivoted
order by month, site_code, kpi
