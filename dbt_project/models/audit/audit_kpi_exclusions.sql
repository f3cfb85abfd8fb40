-- Grain: one row per count KPI and unit that was CONSIDERED and left out by
-- a rule of the intermediate models, with the rule, a detail in words and
-- every raw row behind the unit (winning version first). financial_year,
-- month and site_code are the unit's own (NULL when it has none, e.g. an
-- orphan prescription). File- and row-level exclusions (rejected rows,
-- quarantined files, duplicate deliveries) live in ledger.* and "outside the
-- year" depends on the year asked for: `outcomes trace --excluded` adds them.
-- Rules (column rule):
--   void                 visit void in at least one delivery
--   staff                staff visitor / staff attendance (host or staff domain) / staff person
--   no_counted_visit     a member whose visits in the year were all excluded
--   no_member_id         a counted visit with no membership number (not a member)
--   superseded           contact attended in an earlier version, latest version not attended
--   not_attended         contact whose versions were never attended
--   withdrawn            prescription whose latest status is withdrawn or deleted
--   orphan               prescription whose contact has not (yet) arrived
--   contact_not_attended prescription whose contact's latest version is not attended
--   staff_only           Zoom session with staff attendances only
--   no_attendance        Zoom session with no participant rows
--   not_successful       call (or service user) without a successful outcome
--   no_service_user_ref  successful call with no service user reference

with visits as (

    select * from {{ ref('int_visits') }}

),

visit_rows as (

    select * from {{ ref('stg_visits') }}

),

contacts as (

    select * from {{ ref('int_pathway_contacts') }}

),

contact_rows as (

    select * from {{ ref('stg_pathway_contacts') }}

),

prescriptions as (

    select * from {{ ref('int_pathway_prescriptions') }}

),

social_prescriptions as (

    select * from {{ ref('int_social_prescriptions') }}

),

sessions as (

    select * from {{ ref('int_zoom_sessions') }}

),

attendances as (

    select * from {{ ref('int_zoom_attendances') }}

),

calls as (

    select * from {{ ref('int_wellbeing_calls') }}

),

record_evidence as (

    select * from {{ ref('audit_record_evidence') }}

),

visit_deliveries as (

    select
        visit_id,
        count(*) filter (where status = 'void')                           as void_deliveries,
        min(file_path || ':' || line_number) filter (where status = 'void') as first_void_row
    from visit_rows
    group by visit_id

),

visits_with_evidence as (

    select
        visits.*,
        visit_deliveries.void_deliveries,
        visit_deliveries.first_void_row,
        record_evidence.evidence
    from visits
    inner join visit_deliveries
        on visits.visit_id = visit_deliveries.visit_id
    inner join record_evidence
        on record_evidence.record_kind = 'visit'
        and record_evidence.record_key = visits.visit_id

),

excluded_visits as (

    select
        'visits'                                   as kpi,
        financial_year,
        month,
        site_code,
        'visit'                                    as unit_kind,
        visit_id                                   as unit_key,
        case when is_void then 'void' else 'staff' end as rule,
        case
            when is_void then 'void in ' || void_deliveries || ' of ' || versions_loaded
                || ' deliveries (first void row ' || first_void_row || ')'
            else 'visitor_type staff'
        end                                        as detail,
        evidence
    from visits_with_evidence
    where not is_counted

),

excluded_members as (

    select
        'visiting_members'                         as kpi,
        financial_year,
        cast(null as date)                         as month,
        cast(null as varchar)                      as site_code,
        'member'                                   as unit_kind,
        member_id                                  as unit_key,
        'no_counted_visit'                         as rule,
        count(*) || ' visit(s) in the year, none counted: '
            || count(*) filter (where is_void) || ' void, '
            || count(*) filter (where is_staff and not is_void) || ' staff' as detail,
        flatten(list(evidence order by signed_in_at, visit_id)) as evidence
    from visits_with_evidence
    where member_id is not null
    group by financial_year, member_id
    having not bool_or(is_counted)

),

visits_without_member as (

    select
        'visiting_members'                         as kpi,
        financial_year,
        cast(null as date)                         as month,
        cast(null as varchar)                      as site_code,
        'visit'                                    as unit_kind,
        visit_id                                   as unit_key,
        'no_member_id'                             as rule,
        'counted visit with no membership number (visitor_type ' || visitor_type || ')' as detail,
        evidence
    from visits_with_evidence
    where is_counted
        and member_id is null

),

contact_history as (

    select
        contact_id,
        bool_or(outcome = 'attended') as ever_attended
    from contact_rows
    group by contact_id

),

excluded_contacts as (

    select
        'pathway_contacts'                         as kpi,
        contacts.financial_year,
        contacts.month,
        coalesce(contacts.site_code, 'UNKNOWN')    as site_code,
        'contact'                                  as unit_kind,
        contacts.contact_id                        as unit_key,
        case when contact_history.ever_attended then 'superseded' else 'not_attended' end as rule,
        'latest version (updated_at ' || strftime(contacts.updated_at, '%Y-%m-%dT%H:%M:%SZ') || ') is '
            || contacts.outcome
            || case when contact_history.ever_attended then '; an earlier version was attended' else '' end
                                                   as detail,
        record_evidence.evidence
    from contacts
    inner join contact_history
        on contacts.contact_id = contact_history.contact_id
    inner join record_evidence
        on record_evidence.record_kind = 'contact'
        and record_evidence.record_key = contacts.contact_id
    where not contacts.is_attended

),

-- Prescriptions: withdrawn/deleted (never reach int_social_prescriptions),
-- then orphans and those whose contact is not attended.
prescriptions_considered as (

    select
        prescriptions.prescription_id,
        prescriptions.contact_id,
        prescriptions.status,
        prescriptions.updated_at,
        contacts.financial_year,
        contacts.month,
        case when contacts.contact_id is not null then coalesce(contacts.site_code, 'UNKNOWN') end as site_code,
        contacts.outcome                           as contact_outcome,
        social_prescriptions.is_orphan,
        social_prescriptions.is_counted,
        list_concat(prescription_evidence.evidence, contact_evidence.evidence) as evidence
    from prescriptions
    left join social_prescriptions
        on prescriptions.prescription_id = social_prescriptions.prescription_id
    left join contacts
        on prescriptions.contact_id = contacts.contact_id
    inner join record_evidence as prescription_evidence
        on prescription_evidence.record_kind = 'prescription'
        and prescription_evidence.record_key = prescriptions.prescription_id
    left join record_evidence as contact_evidence
        on contact_evidence.record_kind = 'contact'
        and contact_evidence.record_key = prescriptions.contact_id

),

excluded_prescriptions as (

    select
        'social_prescriptions'                     as kpi,
        financial_year,
        month,
        site_code,
        'prescription'                             as unit_kind,
        prescription_id                            as unit_key,
        case
            when social_prescriptions_row_missing then 'withdrawn'
            when is_orphan then 'orphan'
            else 'contact_not_attended'
        end                                        as rule,
        case
            when social_prescriptions_row_missing then 'latest status ' || status
                || ' (updated_at ' || strftime(updated_at, '%Y-%m-%dT%H:%M:%SZ') || ')'
            when is_orphan then 'contact ' || contact_id || ' not loaded (yet)'
            else 'contact ' || contact_id || ' latest outcome ' || contact_outcome
        end                                        as detail,
        evidence
    from (
        select *, is_counted is null as social_prescriptions_row_missing
        from prescriptions_considered
    ) as considered
    where not coalesce(is_counted, false)

),

attendances_with_evidence as (

    select
        attendances.*,
        record_evidence.evidence
    from attendances
    inner join record_evidence
        on record_evidence.record_kind = 'attendance'
        and record_evidence.record_key = attendances.session_id || '|' || attendances.person_key

),

session_attendance_evidence as (

    select
        session_id,
        flatten(list(evidence order by person_key)) as evidence
    from attendances_with_evidence
    group by session_id

),

excluded_sessions as (

    select
        'zoom_sessions'                            as kpi,
        sessions.financial_year,
        sessions.month,
        'ZOOM'                                     as site_code,
        'session'                                  as unit_kind,
        sessions.session_id                        as unit_key,
        case when sessions.staff_attendances > 0 then 'staff_only' else 'no_attendance' end as rule,
        'no non-staff attendance (' || sessions.staff_attendances || ' staff attendance(s))' as detail,
        list_concat(session_evidence.evidence, session_attendance_evidence.evidence) as evidence
    from sessions
    inner join record_evidence as session_evidence
        on session_evidence.record_kind = 'session'
        and session_evidence.record_key = sessions.session_id
    left join session_attendance_evidence
        on sessions.session_id = session_attendance_evidence.session_id
    where not sessions.is_delivered

),

excluded_attendances as (

    select
        'zoom_attendances'                         as kpi,
        financial_year,
        month,
        'ZOOM'                                     as site_code,
        'attendance'                               as unit_kind,
        session_id || '|' || person_key            as unit_key,
        'staff'                                    as rule,
        case
            when is_host and is_staff_domain then 'host of a session, staff e-mail domain'
            when is_host then 'host of a session'
            else 'staff e-mail domain'
        end                                        as detail,
        evidence
    from attendances_with_evidence
    where is_staff

),

excluded_zoom_people as (

    select
        'zoom_members'                             as kpi,
        financial_year,
        cast(null as date)                         as month,
        cast(null as varchar)                      as site_code,
        'person'                                   as unit_kind,
        person_key                                 as unit_key,
        'staff'                                    as rule,
        'staff in all ' || count(*) || ' attendance(s) of the year ('
            || case
                when bool_or(is_host) and bool_or(is_staff_domain) then 'host, staff e-mail domain'
                when bool_or(is_host) then 'host'
                else 'staff e-mail domain'
            end || ')'                             as detail,
        flatten(list(evidence order by start_time, session_id)) as evidence
    from attendances_with_evidence
    group by financial_year, person_key
    having not bool_or(is_member)

),

calls_with_evidence as (

    select
        calls.*,
        record_evidence.evidence
    from calls
    inner join record_evidence
        on record_evidence.record_kind = 'call'
        and record_evidence.record_key = calls.call_id

),

unsuccessful_calls as (

    select
        'wellbeing_successful_contacts'            as kpi,
        financial_year,
        month,
        'PHONE'                                    as site_code,
        'call'                                     as unit_kind,
        call_id                                    as unit_key,
        'not_successful'                           as rule,
        'outcome ' || outcome                      as detail,
        evidence
    from calls_with_evidence
    where not is_successful

),

people_not_reached as (

    select
        'wellbeing_people_reached'                 as kpi,
        financial_year,
        cast(null as date)                         as month,
        cast(null as varchar)                      as site_code,
        'service_user'                             as unit_kind,
        service_user_pseudonym                     as unit_key,
        'not_successful'                           as rule,
        count(*) || ' call(s) in the year, none successful' as detail,
        flatten(list(evidence order by call_started_at_utc, call_id)) as evidence
    from calls_with_evidence
    where service_user_pseudonym is not null
    group by financial_year, service_user_pseudonym
    having not bool_or(is_successful)

),

successful_calls_without_person as (

    select
        'wellbeing_people_reached'                 as kpi,
        financial_year,
        cast(null as date)                         as month,
        cast(null as varchar)                      as site_code,
        'call'                                     as unit_kind,
        call_id                                    as unit_key,
        'no_service_user_ref'                      as rule,
        'successful call with no service_user_ref' as detail,
        evidence
    from calls_with_evidence
    where is_successful
        and service_user_pseudonym is null

),

unioned as (

    select * from excluded_visits
    union all by name
    select * from excluded_members
    union all by name
    select * from visits_without_member
    union all by name
    select * from excluded_contacts
    union all by name
    select * from excluded_prescriptions
    union all by name
    select * from excluded_sessions
    union all by name
    select * from excluded_attendances
    union all by name
    select * from excluded_zoom_people
    union all by name
    select * from unsuccessful_calls
    union all by name
    select * from people_not_reached
    union all by name
    select * from successful_calls_without_person

)

select
    cast(kpi as varchar)                           as kpi,
    cast(financial_year as varchar)                as financial_year,
    cast(month as date)                            as month,
    cast(site_code as varchar)                     as site_code,
    cast(unit_kind as varchar)                     as unit_kind,
    cast(unit_key as varchar)                      as unit_key,
    cast(rule as varchar)                          as rule,
    cast(detail as varchar)                        as detail,
    cast(len(evidence) as bigint)                  as evidence_rows,
    evidence
from unioned
