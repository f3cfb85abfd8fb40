-- Grain: one row per KPI, considered unit and record behind the unit
-- (docs/architecture.md, "One definition per KPI"). Every count KPI of the
-- registry (seed kpi_registry) has its units here, counted (is_counted) or
-- left out by a rule (rule, detail); kpi_annual and mart_monthly_by_site count
-- the distinct counted units, the audit models join the records' evidence.
-- Units are selected with the intermediate models' own flags (is_counted,
-- is_attended, is_delivered, is_member, is_successful): no rule is restated.
-- A unit's records (record_kind, record_key, in record_order) are the source
-- records of audit_record_evidence it rests on: its own, or for a person the
-- units that make them one.
-- Adding a count KPI: one registry row plus one arm here.
-- Incremental by unit (macros/incremental.sql, strategy replace_units): a build records
-- (pre-hooks) the years its changed keys sit in, now or at the last build, and the units
-- they touch: the visits, contacts, prescriptions, calls and Zoom sessions and attendances
-- themselves and every person (member, service user, Zoom person) one of them rests on now or
-- rested on at the last build, in all their years. It recomputes those units from the import
-- CTEs below, which then hold only the records they need (Zoom's person units read the
-- attendances of their person-years, the other Zoom units those of their sessions). A whole
-- table on Spark, on a first build and on --full-refresh.
-- depends_on: {{ ref('stg_pathway_prescriptions') }}, {{ ref('stg_wellbeing_calls') }}
-- depends_on: {{ ref('stg_zoom_meetings') }}, {{ ref('stg_zoom_participants') }}

{{ config(materialized=versioned_materialization(), incremental_strategy='replace_units', on_schema_change='fail',
          pre_hook=["{{ record_rebuilt_years() }}", "{{ record_rebuilt_units() }}"]) }}

with visits as (

    select * from {{ ref('int_visits') }}
    {%- if is_incremental() %}
    where {{ in_rebuilt_units('visit', 'visit_id') }} or {{ in_rebuilt_units('member', 'member_id') }}
    {%- endif %}

),

visit_rows as (

    select * from {{ ref('stg_visits') }}
    {%- if is_incremental() %}
    where visit_id in (select visit_id from visits)
    {%- endif %}

),

contacts as (

    select * from {{ ref('int_pathway_contacts') }}
    {%- if is_incremental() %}
    where {{ in_rebuilt_units('contact', 'contact_id') }}
        or contact_id in (select contact_id from {{ ref('int_pathway_prescriptions') }}
                          where {{ in_rebuilt_units('prescription', 'prescription_id') }})
    {%- endif %}

),

contact_rows as (

    select * from {{ ref('stg_pathway_contacts') }}
    {%- if is_incremental() %}
    where contact_id in (select contact_id from contacts)
    {%- endif %}

),

-- a prescription's year is its contact's; none (an orphan, year key '~') while the contact
-- has not arrived
prescriptions as (

    select * from {{ ref('int_pathway_prescriptions') }}
    {%- if is_incremental() %}
    where {{ in_rebuilt_units('prescription', 'prescription_id') }}
    {%- endif %}

),

social_prescriptions as (

    select * from {{ ref('int_social_prescriptions') }}
    {%- if is_incremental() %}
    where {{ in_rebuilt_units('prescription', 'prescription_id') }}
    {%- endif %}

),

sessions as (

    select * from {{ ref('int_zoom_sessions') }}
    {%- if is_incremental() %}
    where {{ in_rebuilt_units('session', 'session_id') }}
    {%- endif %}

),

-- the attendances of the recomputed sessions (their session and attendance units)
attendances as (

    select * from {{ ref('int_zoom_attendances') }}
    {%- if is_incremental() %}
    where {{ in_rebuilt_units('session', 'session_id') }}
    {%- endif %}

),

-- every attendance of the recomputed Zoom person-years (their person units)
person_attendances as (

    select * from {{ ref('int_zoom_attendances') }}
    {%- if is_incremental() %}
    where {{ in_rebuilt_units('person', 'person_key') }}
    {%- endif %}

),

calls as (

    select * from {{ ref('int_wellbeing_calls') }}
    {%- if is_incremental() %}
    where {{ in_rebuilt_units('call', 'call_id') }} or {{ in_rebuilt_units('service_user', 'service_user_pseudonym') }}
    {%- endif %}

),

-- visits: never void in any delivery, not staff (int_visits.is_counted).
visit_deliveries as (

    select
        visit_id,
        count(*) filter (where status = 'void')                             as void_deliveries,
        min(file_path || ':' || line_number) filter (where status = 'void') as first_void_row
    from visit_rows
    group by visit_id

),

visit_units as (

    select
        'visits'                                   as kpi,
        visits.financial_year,
        visits.month,
        visits.site_code,
        'visit'                                    as unit_kind,
        visits.visit_id                            as unit_key,
        visits.is_counted,
        case when visits.is_counted then null when visits.is_void then 'void' else 'staff' end as rule,
        case
            when visits.is_counted then null
            when visits.is_void then 'void in ' || visit_deliveries.void_deliveries || ' of '
                || visits.versions_loaded || ' deliveries (first void row ' || visit_deliveries.first_void_row || ')'
            else 'visitor_type staff'
        end                                        as detail,
        {{ json_text(struct_of([('visit_date', "visits.visit_date"), ('signed_in_at', "visits.signed_in_at"), ('visitor_type', "visits.visitor_type"), ('void_in_any_delivery', "visits.is_void"), ('deliveries', "visits.versions_loaded")])) }}                             as decided_by,
        visits.versions_loaded                     as records_loaded,
        'visit'                                    as record_kind,
        visits.visit_id                            as record_key,
        1                                          as record_order
    from visits
    inner join visit_deliveries
        on visits.visit_id = visit_deliveries.visit_id

),

-- visiting_members: distinct non-empty member_ids among the counted visits;
-- a member whose visits in the year were all excluded is left out, and so is
-- a counted visit with no membership number.
member_years as (

    select
        financial_year,
        member_id,
        bool_or(is_counted)                                          as is_counted,
        count(*) filter (where is_counted)                           as counted_visits,
        min(visit_date) filter (where is_counted)                    as first_visit,
        max(visit_date) filter (where is_counted)                    as last_visit,
        {{ ordered_list('visit_id', ['signed_in_at', 'visit_id'], where='is_counted') }} as visit_ids,
        sum(versions_loaded) filter (where is_counted)               as records_loaded,
        count(*)                                                     as visits_in_year,
        count(*) filter (where is_void)                              as void_visits,
        count(*) filter (where is_staff and not is_void)             as staff_visits
    from visits
    where member_id is not null
    group by financial_year, member_id

),

member_units as (

    select
        'visiting_members'                         as kpi,
        member_years.financial_year,
        cast(null as date)                         as month,
        cast(null as {{ dbt.type_string() }})                      as site_code,
        'member'                                   as unit_kind,
        member_years.member_id                     as unit_key,
        member_years.is_counted,
        case when not member_years.is_counted then 'no_counted_visit' end as rule,
        case when not member_years.is_counted then
            member_years.visits_in_year || ' visit(s) in the year, none counted: '
                || member_years.void_visits || ' void, ' || member_years.staff_visits || ' staff'
        end                                        as detail,
        case when member_years.is_counted then {{ json_text(struct_of([('counted_visits', "member_years.counted_visits"), ('first_visit', "member_years.first_visit"), ('last_visit', "member_years.last_visit"), ('visit_ids', "member_years.visit_ids")])) }} end                         as decided_by,
        member_years.records_loaded,
        'visit'                                    as record_kind,
        visits.visit_id                            as record_key,
        row_number() over (
            partition by member_years.financial_year, member_years.member_id
            order by visits.signed_in_at, visits.visit_id
        )                                          as record_order
    from member_years
    inner join visits
        on visits.financial_year = member_years.financial_year
        and visits.member_id = member_years.member_id
        -- a counted member rests on its counted visits; an excluded one on all of them
        and (visits.is_counted or not member_years.is_counted)

),

visits_without_member as (

    select
        'visiting_members'                         as kpi,
        financial_year,
        cast(null as date)                         as month,
        cast(null as {{ dbt.type_string() }})                      as site_code,
        'visit'                                    as unit_kind,
        visit_id                                   as unit_key,
        false                                      as is_counted,
        'no_member_id'                             as rule,
        'counted visit with no membership number (visitor_type ' || visitor_type || ')' as detail,
        cast(null as {{ dbt.type_string() }})                      as decided_by,
        versions_loaded                            as records_loaded,
        'visit'                                    as record_kind,
        visit_id                                   as record_key,
        1                                          as record_order
    from visits
    where is_counted
        and member_id is null

),

-- pathway_contacts: latest version attended, year of contact_date.
contact_history as (

    select
        contact_id,
        bool_or(outcome = 'attended') as ever_attended
    from contact_rows
    group by contact_id

),

contact_units as (

    select
        'pathway_contacts'                         as kpi,
        contacts.financial_year,
        contacts.month,
        coalesce(contacts.site_code, 'UNKNOWN')    as site_code,
        'contact'                                  as unit_kind,
        contacts.contact_id                        as unit_key,
        contacts.is_attended                       as is_counted,
        case
            when contacts.is_attended then null
            when contact_history.ever_attended then 'superseded'
            else 'not_attended'
        end                                        as rule,
        case when not contacts.is_attended then
            'latest version (updated_at ' || {{ iso_timestamp('contacts.updated_at', 'Z') }} || ') is '
                || contacts.outcome
                || case when contact_history.ever_attended then '; an earlier version was attended' else '' end
        end                                        as detail,
        {{ json_text(struct_of([('contact_date', "contacts.contact_date"), ('latest_outcome', "contacts.outcome"), ('latest_updated_at', "contacts.updated_at"), ('versions', "contacts.versions_loaded")])) }}                             as decided_by,
        contacts.versions_loaded                   as records_loaded,
        'contact'                                  as record_kind,
        contacts.contact_id                        as record_key,
        1                                          as record_order
    from contacts
    inner join contact_history
        on contacts.contact_id = contact_history.contact_id

),

-- social_prescriptions: latest status not withdrawn/deleted, contact loaded
-- and attended (int_social_prescriptions.is_counted), in the contact's year,
-- month and site. Withdrawn or deleted ones never reach
-- int_social_prescriptions. Records: the prescription, then its contact.
prescriptions_considered as (

    select
        prescriptions.prescription_id,
        prescriptions.contact_id,
        prescriptions.status,
        prescriptions.updated_at,
        prescriptions.versions_loaded,
        coalesce(social_prescriptions.is_counted, false)  as is_counted,
        social_prescriptions.prescription_id is null      as is_withdrawn,
        social_prescriptions.is_orphan,
        case when social_prescriptions.is_counted then social_prescriptions.financial_year
             else contacts.financial_year end             as financial_year,
        case when social_prescriptions.is_counted then social_prescriptions.month
             else contacts.month end                      as month,
        case
            when social_prescriptions.is_counted then coalesce(social_prescriptions.contact_site_code, 'UNKNOWN')
            when contacts.contact_id is not null then coalesce(contacts.site_code, 'UNKNOWN')
        end                                               as site_code,
        contacts.outcome                                  as contact_outcome,
        social_prescriptions.status                       as counted_status,
        social_prescriptions.updated_at                   as counted_updated_at,
        social_prescriptions.contact_outcome              as counted_contact_outcome,
        social_prescriptions.contact_date                 as counted_contact_date
    from prescriptions
    left join social_prescriptions
        on prescriptions.prescription_id = social_prescriptions.prescription_id
    left join contacts
        on prescriptions.contact_id = contacts.contact_id

),

prescription_facts as (

    select
        'social_prescriptions'                     as kpi,
        considered.financial_year,
        considered.month,
        considered.site_code,
        'prescription'                             as unit_kind,
        considered.prescription_id                 as unit_key,
        considered.is_counted,
        case
            when considered.is_counted then null
            when considered.is_withdrawn then 'withdrawn'
            when considered.is_orphan then 'orphan'
            else 'contact_not_attended'
        end                                        as rule,
        case
            when considered.is_counted then null
            when considered.is_withdrawn then 'latest status ' || considered.status
                || ' (updated_at ' || {{ iso_timestamp('considered.updated_at', 'Z') }} || ')'
            when considered.is_orphan then 'contact ' || considered.contact_id || ' not loaded (yet)'
            else 'contact ' || considered.contact_id || ' latest outcome ' || considered.contact_outcome
        end                                        as detail,
        case when considered.is_counted then {{ json_text(struct_of([('latest_status', "considered.counted_status"), ('latest_updated_at', "considered.counted_updated_at"), ('contact_id', "considered.contact_id"), ('contact_outcome', "considered.counted_contact_outcome"), ('contact_date', "considered.counted_contact_date"), ('versions', "considered.versions_loaded")])) }} end                         as decided_by,
        considered.versions_loaded                 as records_loaded,
        considered.contact_id
    from prescriptions_considered as considered

),

prescription_units as (

    select kpi, financial_year, month, site_code, unit_kind, unit_key, is_counted, rule, detail, decided_by, records_loaded,
        'prescription' as record_kind, unit_key as record_key, 1 as record_order
    from prescription_facts
    union all
    select kpi, financial_year, month, site_code, unit_kind, unit_key, is_counted, rule, detail, decided_by, records_loaded,
        'contact', contact_id, 2
    from prescription_facts

),

-- Zoom sessions: delivered (>= 1 non-staff attendance). Records: the session
-- (its meeting rows), then its member attendances (all of its attendances
-- when it was not delivered), by person.
session_facts as (

    select
        'zoom_sessions'                            as kpi,
        sessions.financial_year,
        sessions.month,
        'ZOOM'                                     as site_code,
        'session'                                  as unit_kind,
        sessions.session_id                        as unit_key,
        sessions.is_delivered                      as is_counted,
        case
            when sessions.is_delivered then null
            when sessions.staff_attendances > 0 then 'staff_only'
            else 'no_attendance'
        end                                        as rule,
        case when not sessions.is_delivered then
            'no non-staff attendance (' || sessions.staff_attendances || ' staff attendance(s))'
        end                                        as detail,
        {{ json_text(struct_of([('meeting_id', "sessions.meeting_id"), ('start_time', "sessions.start_time"), ('member_attendances', "sessions.member_attendances"), ('staff_attendances', "sessions.staff_attendances"), ('exports', "sessions.files_loaded")])) }}                             as decided_by,
        sessions.files_loaded                      as records_loaded
    from sessions

),

session_units as (

    select kpi, financial_year, month, site_code, unit_kind, unit_key, is_counted, rule, detail, decided_by, records_loaded,
        'session' as record_kind, unit_key as record_key, 0 as record_order
    from session_facts
    union all
    select
        session_facts.kpi,
        session_facts.financial_year,
        session_facts.month,
        session_facts.site_code,
        session_facts.unit_kind,
        session_facts.unit_key,
        session_facts.is_counted,
        session_facts.rule,
        session_facts.detail,
        session_facts.decided_by,
        session_facts.records_loaded,
        'attendance',
        attendances.session_id || '|' || attendances.person_key,
        row_number() over (partition by session_facts.unit_key order by attendances.person_key)
    from session_facts
    inner join attendances
        on attendances.session_id = session_facts.unit_key
        and (attendances.is_member or not session_facts.is_counted)

),

-- zoom_attendances: non-staff (session, person) pairs; rejoins count once.
attendance_units as (

    select
        'zoom_attendances'                         as kpi,
        financial_year,
        month,
        'ZOOM'                                     as site_code,
        'attendance'                               as unit_kind,
        session_id || '|' || person_key            as unit_key,
        is_member                                  as is_counted,
        case when is_staff then 'staff' end        as rule,
        case
            when not is_staff then null
            when is_host and is_staff_domain then 'host of a session, staff e-mail domain'
            when is_host then 'host of a session'
            else 'staff e-mail domain'
        end                                        as detail,
        {{ json_text(struct_of([('session_id', "session_id"), ('person_key', "person_key"), ('person_key_type', "person_key_type"), ('is_host', "is_host"), ('is_staff_domain', "is_staff_domain"), ('participant_rows', "participant_rows"), ('exports', "files_loaded")])) }}                             as decided_by,
        participant_rows                           as records_loaded,
        'attendance'                               as record_kind,
        session_id || '|' || person_key            as record_key,
        1                                          as record_order
    from attendances

),

-- zoom_members: distinct non-staff persons who attended in the year; a
-- person who was staff in all their attendances of the year is left out.
zoom_people as (

    select
        financial_year,
        person_key,
        bool_or(is_member)                                                 as is_counted,
        any_value(person_key_type) filter (where is_member)                as person_key_type,
        count(*) filter (where is_member)                                  as member_attendances,
        {{ ordered_list('session_id', ['start_time', 'session_id'], where='is_member') }} as session_ids,
        sum(participant_rows) filter (where is_member)                     as records_loaded,
        count(*)                                                           as attendances_in_year,
        bool_or(is_host)                                                   as ever_host,
        bool_or(is_staff_domain)                                           as ever_staff_domain
    from person_attendances
    group by financial_year, person_key

),

zoom_member_units as (

    select
        'zoom_members'                             as kpi,
        zoom_people.financial_year,
        cast(null as date)                         as month,
        cast(null as {{ dbt.type_string() }})                      as site_code,
        'person'                                   as unit_kind,
        zoom_people.person_key                     as unit_key,
        zoom_people.is_counted,
        case when not zoom_people.is_counted then 'staff' end as rule,
        case when not zoom_people.is_counted then
            'staff in all ' || zoom_people.attendances_in_year || ' attendance(s) of the year ('
                || case
                    when zoom_people.ever_host and zoom_people.ever_staff_domain then 'host, staff e-mail domain'
                    when zoom_people.ever_host then 'host'
                    else 'staff e-mail domain'
                end || ')'
        end                                        as detail,
        case when zoom_people.is_counted then {{ json_text(struct_of([('person_key_type', "zoom_people.person_key_type"), ('attendances', "zoom_people.member_attendances"), ('sessions', "zoom_people.session_ids")])) }} end                         as decided_by,
        zoom_people.records_loaded,
        'attendance'                               as record_kind,
        attendances.session_id || '|' || attendances.person_key as record_key,
        row_number() over (
            partition by zoom_people.financial_year, zoom_people.person_key
            order by attendances.start_time, attendances.session_id
        )                                          as record_order
    from zoom_people
    inner join person_attendances as attendances
        on attendances.financial_year = zoom_people.financial_year
        and attendances.person_key = zoom_people.person_key
        and (attendances.is_member or not zoom_people.is_counted)

),

-- wellbeing_calls: distinct call_ids, year of the Europe/London local date;
-- wellbeing_successful_contacts: those with outcome successful.
call_facts as (

    select
        calls.*,
        {{ json_text(struct_of([('call_started_at_utc', "call_started_at_utc"), ('call_started_at_local', "call_started_at_local"), ('outcome', "outcome"), ('deliveries', "versions_loaded")])) }}                             as call_decided_by
    from calls

),

call_units as (

    select
        kpis.kpi,
        call_facts.financial_year,
        call_facts.month,
        'PHONE'                                    as site_code,
        'call'                                     as unit_kind,
        call_facts.call_id                         as unit_key,
        kpis.kpi = 'wellbeing_calls' or call_facts.is_successful as is_counted,
        case when kpis.kpi <> 'wellbeing_calls' and not call_facts.is_successful then 'not_successful' end as rule,
        case when kpis.kpi <> 'wellbeing_calls' and not call_facts.is_successful then
            'outcome ' || call_facts.outcome
        end                                        as detail,
        call_facts.call_decided_by                 as decided_by,
        call_facts.versions_loaded                 as records_loaded,
        'call'                                     as record_kind,
        call_facts.call_id                         as record_key,
        1                                          as record_order
    from call_facts
    cross join (
        select 'wellbeing_calls' as kpi
        union all
        select 'wellbeing_successful_contacts'
    ) as kpis

),

-- wellbeing_people_reached: distinct service users (pseudonyms) with a
-- successful call in the year; a service user without one is left out, and
-- so is a successful call with no service user reference.
service_users as (

    select
        financial_year,
        service_user_pseudonym,
        bool_or(is_successful)                                             as is_counted,
        count(*) filter (where is_successful)                              as successful_calls,
        {{ ordered_list('call_id', ['call_started_at_utc', 'call_id'], where='is_successful') }} as call_ids,
        sum(versions_loaded) filter (where is_successful)                  as records_loaded,
        count(*)                                                           as calls_in_year
    from calls
    where service_user_pseudonym is not null
    group by financial_year, service_user_pseudonym

),

service_user_units as (

    select
        'wellbeing_people_reached'                 as kpi,
        service_users.financial_year,
        cast(null as date)                         as month,
        cast(null as {{ dbt.type_string() }})                      as site_code,
        'service_user'                             as unit_kind,
        service_users.service_user_pseudonym       as unit_key,
        service_users.is_counted,
        case when not service_users.is_counted then 'not_successful' end as rule,
        case when not service_users.is_counted then
            service_users.calls_in_year || ' call(s) in the year, none successful'
        end                                        as detail,
        case when service_users.is_counted then {{ json_text(struct_of([('successful_calls', "service_users.successful_calls"), ('call_ids', "service_users.call_ids")])) }} end                         as decided_by,
        service_users.records_loaded,
        'call'                                     as record_kind,
        calls.call_id                              as record_key,
        row_number() over (
            partition by service_users.financial_year, service_users.service_user_pseudonym
            order by calls.call_started_at_utc, calls.call_id
        )                                          as record_order
    from service_users
    inner join calls
        on calls.financial_year = service_users.financial_year
        and calls.service_user_pseudonym = service_users.service_user_pseudonym
        and (calls.is_successful or not service_users.is_counted)

),

calls_without_service_user as (

    select
        'wellbeing_people_reached'                 as kpi,
        financial_year,
        cast(null as date)                         as month,
        cast(null as {{ dbt.type_string() }})                      as site_code,
        'call'                                     as unit_kind,
        call_id                                    as unit_key,
        false                                      as is_counted,
        'no_service_user_ref'                      as rule,
        'successful call with no service_user_ref' as detail,
        cast(null as {{ dbt.type_string() }})                      as decided_by,
        versions_loaded                            as records_loaded,
        'call'                                     as record_kind,
        call_id                                    as record_key,
        1                                          as record_order
    from calls
    where is_successful
        and service_user_pseudonym is null

),

unioned as (

    select * from visit_units
    union all
    select * from member_units
    union all
    select * from visits_without_member
    union all
    select * from contact_units
    union all
    select * from prescription_units
    union all
    select * from session_units
    union all
    select * from attendance_units
    union all
    select * from zoom_member_units
    union all
    select * from call_units
    union all
    select * from service_user_units
    union all
    select * from calls_without_service_user

)

select
    cast(kpi as {{ dbt.type_string() }})                           as kpi,
    cast(financial_year as {{ dbt.type_string() }})                as financial_year,
    cast(month as date)                            as month,
    cast(site_code as {{ dbt.type_string() }})                     as site_code,
    cast(unit_kind as {{ dbt.type_string() }})                     as unit_kind,
    cast(unit_key as {{ dbt.type_string() }})                      as unit_key,
    cast(is_counted as boolean)                    as is_counted,
    cast(rule as {{ dbt.type_string() }})                          as rule,
    cast(detail as {{ dbt.type_string() }})                        as detail,
    cast(decided_by as {{ dbt.type_string() }})                    as decided_by,
    cast(records_loaded as bigint)                 as records_loaded,
    cast(record_kind as {{ dbt.type_string() }})                   as record_kind,
    cast(record_key as {{ dbt.type_string() }})                    as record_key,
    cast(record_order as bigint)                   as record_order
from unioned
{%- if is_incremental() %}
where {{ in_rebuilt_units() }}
{%- endif %}
