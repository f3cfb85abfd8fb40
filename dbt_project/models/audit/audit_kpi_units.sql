-- Grain: one row per count KPI, financial year and COUNTED unit (a visit, a
-- member, a contact, a prescription, a session, an attendance, a Zoom person,
-- a call, a service user), so that count(*) per (kpi, financial_year) equals
-- kpi_annual, and per (kpi, financial_year, month, site_code) equals
-- mart_monthly_by_site (tested in audit_kpi_reconciliation).
-- Units are selected with the intermediate models' own flags (is_counted,
-- is_attended, is_delivered, is_member, is_successful): no rule is restated.
-- decided_by: the fields that decided the unit's inclusion (JSON object).
-- evidence: every raw row behind the unit (audit_record_evidence), the
-- winning version first; person units list their counted units' rows.

with visits as (

    select * from {{ ref('int_visits') }}

),

contacts as (

    select * from {{ ref('int_pathway_contacts') }}

),

social_prescriptions as (

    select * from {{ ref('int_social_prescriptions') }}

),

prescriptions as (

    select * from {{ ref('int_pathway_prescriptions') }}

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

-- visits: never void in any delivery, not staff (int_visits.is_counted).
counted_visits as (

    select
        visits.*,
        record_evidence.evidence
    from visits
    inner join record_evidence
        on record_evidence.record_kind = 'visit'
        and record_evidence.record_key = visits.visit_id
    where visits.is_counted

),

visit_units as (

    select
        'visits'                                   as kpi,
        financial_year,
        month,
        site_code,
        'visit'                                    as unit_kind,
        visit_id                                   as unit_key,
        cast(to_json(struct_pack(
            visit_date := visit_date,
            signed_in_at := signed_in_at,
            visitor_type := visitor_type,
            void_in_any_delivery := is_void,
            deliveries := versions_loaded
        )) as varchar)                             as decided_by,
        cast(versions_loaded as bigint)            as records_loaded,
        'visit'                                    as own_role,
        evidence
    from counted_visits

),

-- visiting_members: distinct non-empty member_ids among the counted visits.
member_units as (

    select
        'visiting_members'                         as kpi,
        financial_year,
        cast(null as date)                         as month,
        cast(null as varchar)                      as site_code,
        'member'                                   as unit_kind,
        member_id                                  as unit_key,
        cast(to_json(struct_pack(
            counted_visits := count(*),
            first_visit := min(visit_date),
            last_visit := max(visit_date),
            visit_ids := list(visit_id order by signed_in_at, visit_id)
        )) as varchar)                             as decided_by,
        cast(sum(versions_loaded) as bigint)       as records_loaded,
        'visit'                                    as own_role,
        flatten(list(evidence order by signed_in_at, visit_id)) as evidence
    from counted_visits
    where member_id is not null
    group by financial_year, member_id

),

-- pathway_contacts: latest version attended, year of contact_date.
contact_units as (

    select
        'pathway_contacts'                         as kpi,
        contacts.financial_year,
        contacts.month,
        coalesce(contacts.site_code, 'UNKNOWN')    as site_code,
        'contact'                                  as unit_kind,
        contacts.contact_id                        as unit_key,
        cast(to_json(struct_pack(
            contact_date := contacts.contact_date,
            latest_outcome := contacts.outcome,
            latest_updated_at := contacts.updated_at,
            versions := contacts.versions_loaded
        )) as varchar)                             as decided_by,
        cast(contacts.versions_loaded as bigint)   as records_loaded,
        'contact'                                  as own_role,
        record_evidence.evidence
    from contacts
    inner join record_evidence
        on record_evidence.record_kind = 'contact'
        and record_evidence.record_key = contacts.contact_id
    where contacts.is_attended

),

-- social_prescriptions: latest status not withdrawn/deleted, contact loaded
-- and attended (is_counted), in the contact's year; month and site are the
-- contact's (as in mart_monthly_by_site). Evidence: the prescription's rows,
-- then its contact's rows.
prescription_units as (

    select
        'social_prescriptions'                     as kpi,
        social_prescriptions.financial_year,
        social_prescriptions.month,
        coalesce(social_prescriptions.contact_site_code, 'UNKNOWN') as site_code,
        'prescription'                             as unit_kind,
        social_prescriptions.prescription_id       as unit_key,
        cast(to_json(struct_pack(
            latest_status := social_prescriptions.status,
            latest_updated_at := social_prescriptions.updated_at,
            contact_id := social_prescriptions.contact_id,
            contact_outcome := social_prescriptions.contact_outcome,
            contact_date := social_prescriptions.contact_date,
            versions := prescriptions.versions_loaded
        )) as varchar)                             as decided_by,
        cast(prescriptions.versions_loaded as bigint) as records_loaded,
        'prescription'                             as own_role,
        list_concat(prescription_evidence.evidence, contact_evidence.evidence) as evidence
    from social_prescriptions
    inner join prescriptions
        on social_prescriptions.prescription_id = prescriptions.prescription_id
    inner join record_evidence as prescription_evidence
        on prescription_evidence.record_kind = 'prescription'
        and prescription_evidence.record_key = social_prescriptions.prescription_id
    inner join record_evidence as contact_evidence
        on contact_evidence.record_kind = 'contact'
        and contact_evidence.record_key = social_prescriptions.contact_id
    where social_prescriptions.is_counted

),

-- Zoom attendances of members (non-staff), with their participant rows.
member_attendances as (

    select
        attendances.*,
        record_evidence.evidence
    from attendances
    inner join record_evidence
        on record_evidence.record_kind = 'attendance'
        and record_evidence.record_key = attendances.session_id || '|' || attendances.person_key
    where attendances.is_member

),

-- zoom_sessions: delivered (>= 1 non-staff attendance). Evidence: the
-- meeting row of every export of the occurrence, then the participant rows
-- of its member attendances.
session_units as (

    select
        'zoom_sessions'                            as kpi,
        sessions.financial_year,
        sessions.month,
        'ZOOM'                                     as site_code,
        'session'                                  as unit_kind,
        sessions.session_id                        as unit_key,
        cast(to_json(struct_pack(
            meeting_id := sessions.meeting_id,
            start_time := sessions.start_time,
            member_attendances := sessions.member_attendances,
            staff_attendances := sessions.staff_attendances,
            exports := sessions.files_loaded
        )) as varchar)                             as decided_by,
        cast(sessions.files_loaded as bigint)      as records_loaded,
        'session'                                  as own_role,
        list_concat(
            any_value(session_evidence.evidence),
            flatten(list(member_attendances.evidence order by member_attendances.person_key))
        )                                          as evidence
    from sessions
    inner join record_evidence as session_evidence
        on session_evidence.record_kind = 'session'
        and session_evidence.record_key = sessions.session_id
    inner join member_attendances
        on member_attendances.session_id = sessions.session_id
    where sessions.is_delivered
    group by all

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
        cast(to_json(struct_pack(
            session_id := session_id,
            person_key := person_key,
            person_key_type := person_key_type,
            is_host := is_host,
            is_staff_domain := is_staff_domain,
            participant_rows := participant_rows,
            exports := files_loaded
        )) as varchar)                             as decided_by,
        cast(participant_rows as bigint)           as records_loaded,
        'attendance'                               as own_role,
        evidence
    from member_attendances

),

-- zoom_members: distinct non-staff persons who attended in the year.
zoom_member_units as (

    select
        'zoom_members'                             as kpi,
        financial_year,
        cast(null as date)                         as month,
        cast(null as varchar)                      as site_code,
        'person'                                   as unit_kind,
        person_key                                 as unit_key,
        cast(to_json(struct_pack(
            person_key_type := any_value(person_key_type),
            attendances := count(*),
            sessions := list(session_id order by start_time, session_id)
        )) as varchar)                             as decided_by,
        cast(sum(participant_rows) as bigint)      as records_loaded,
        'attendance'                               as own_role,
        flatten(list(evidence order by start_time, session_id)) as evidence
    from member_attendances
    group by financial_year, person_key

),

call_evidence as (

    select
        calls.*,
        record_evidence.evidence
    from calls
    inner join record_evidence
        on record_evidence.record_kind = 'call'
        and record_evidence.record_key = calls.call_id

),

-- wellbeing_calls: distinct call_ids, year of the Europe/London local date.
call_units as (

    select
        'wellbeing_calls'                          as kpi,
        financial_year,
        month,
        'PHONE'                                    as site_code,
        'call'                                     as unit_kind,
        call_id                                    as unit_key,
        cast(to_json(struct_pack(
            call_started_at_utc := call_started_at_utc,
            call_started_at_local := call_started_at_local,
            outcome := outcome,
            deliveries := versions_loaded
        )) as varchar)                             as decided_by,
        cast(versions_loaded as bigint)            as records_loaded,
        'call'                                     as own_role,
        evidence
    from call_evidence

),

-- wellbeing_successful_contacts: calls with outcome successful.
successful_call_units as (

    select call_units.* replace ('wellbeing_successful_contacts' as kpi)
    from call_units
    inner join call_evidence
        on call_units.unit_key = call_evidence.call_id
    where call_evidence.is_successful

),

-- wellbeing_people_reached: distinct service users (pseudonyms) with a
-- successful call in the year.
people_reached_units as (

    select
        'wellbeing_people_reached'                 as kpi,
        financial_year,
        cast(null as date)                         as month,
        cast(null as varchar)                      as site_code,
        'service_user'                             as unit_kind,
        service_user_pseudonym                     as unit_key,
        cast(to_json(struct_pack(
            successful_calls := count(*),
            call_ids := list(call_id order by call_started_at_utc, call_id)
        )) as varchar)                             as decided_by,
        cast(sum(versions_loaded) as bigint)       as records_loaded,
        'call'                                     as own_role,
        flatten(list(evidence order by call_started_at_utc, call_id)) as evidence
    from call_evidence
    where is_successful
        and service_user_pseudonym is not null
    group by financial_year, service_user_pseudonym

),

unioned as (

    select * from visit_units
    union all by name
    select * from member_units
    union all by name
    select * from contact_units
    union all by name
    select * from prescription_units
    union all by name
    select * from session_units
    union all by name
    select * from attendance_units
    union all by name
    select * from zoom_member_units
    union all by name
    select * from call_units
    union all by name
    select * from successful_call_units
    union all by name
    select * from people_reached_units

)

select
    cast(kpi as varchar)                           as kpi,
    cast(financial_year as varchar)                as financial_year,
    cast(month as date)                            as month,
    cast(site_code as varchar)                     as site_code,
    cast(unit_kind as varchar)                     as unit_kind,
    cast(unit_key as varchar)                      as unit_key,
    decided_by,
    records_loaded,
    cast(len(list_filter(evidence, lambda e: e.role = own_role)) as bigint) as own_evidence_rows,
    cast(len(evidence) as bigint)                  as evidence_rows,
    evidence
from unioned
