-- Grain: one row per counted-or-considered source record (record_kind,
-- record_key): a visit, a contact, a prescription, a wellbeing call, a Zoom
-- attendance (session|person) or a Zoom session (its meeting rows), with
-- EVERY raw row behind it as evidence, the winning version first.
-- Audit only: no KPI reads this model. The record keys and winning versions
-- come from the intermediate models, so the evidence follows their rules.

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

prescription_rows as (

    select * from {{ ref('stg_pathway_prescriptions') }}

),

calls as (

    select * from {{ ref('int_wellbeing_calls') }}

),

call_rows as (

    select * from {{ ref('stg_wellbeing_calls') }}

),

attendances as (

    select * from {{ ref('int_zoom_attendances') }}

),

participant_rows as (

    select * from {{ ref('stg_zoom_participants') }}

),

sessions as (

    select * from {{ ref('int_zoom_sessions') }}

),

meeting_rows as (

    select * from {{ ref('stg_zoom_meetings') }}

),

-- Every raw row, tied to the record it is a version (or a part) of.
-- is_winning: the row is the version the intermediate model kept (its
-- lineage columns); NULL where every row contributes (Zoom rows).
source_rows as (

    select
        'visit'                                          as record_kind,
        visit_rows.visit_id                              as record_key,
        visit_rows.file_path,
        visit_rows.line_number,
        visit_rows.file_sha256,
        visit_rows.file_sha256 = visits.file_sha256
            and visit_rows.line_number = visits.line_number as is_winning
    from visit_rows
    inner join visits
        on visit_rows.visit_id = visits.visit_id

    union all

    select
        'contact',
        contact_rows.contact_id,
        contact_rows.file_path,
        contact_rows.line_number,
        contact_rows.file_sha256,
        contact_rows.file_sha256 = contacts.file_sha256
            and contact_rows.line_number = contacts.line_number
    from contact_rows
    inner join contacts
        on contact_rows.contact_id = contacts.contact_id

    union all

    select
        'prescription',
        prescription_rows.prescription_id,
        prescription_rows.file_path,
        prescription_rows.line_number,
        prescription_rows.file_sha256,
        prescription_rows.file_sha256 = prescriptions.file_sha256
            and prescription_rows.line_number = prescriptions.line_number
    from prescription_rows
    inner join prescriptions
        on prescription_rows.prescription_id = prescriptions.prescription_id

    union all

    select
        'call',
        call_rows.call_id,
        call_rows.file_path,
        call_rows.line_number,
        call_rows.file_sha256,
        call_rows.file_sha256 = calls.file_sha256
            and call_rows.line_number = calls.line_number
    from call_rows
    inner join calls
        on call_rows.call_id = calls.call_id

    union all

    -- An attendance is every participant row of its person in its session
    -- (rejoins, and the same occurrence exported twice). Person as in
    -- int_zoom_attendances: the email pseudonym, else the name pseudonym.
    select
        'attendance',
        attendances.session_id || '|' || attendances.person_key,
        participant_rows.file_path,
        participant_rows.line_number,
        participant_rows.file_sha256,
        cast(null as boolean)
    from participant_rows
    inner join attendances
        on participant_rows.meeting_id = attendances.meeting_id
        and participant_rows.start_time = attendances.start_time
        and coalesce(participant_rows.email_pseudonym, participant_rows.name_pseudonym) = attendances.person_key

    union all

    -- A session is the meeting row (line 2) of every file exporting the occurrence.
    select
        'session',
        sessions.session_id,
        meeting_rows.file_path,
        meeting_rows.line_number,
        meeting_rows.file_sha256,
        cast(null as boolean)
    from meeting_rows
    inner join sessions
        on meeting_rows.meeting_id = sessions.meeting_id
        and meeting_rows.start_time = sessions.start_time

),

final as (

    select
        record_kind,
        record_key,
        count(*)                                   as evidence_rows,
        {%- set evidence_row = struct_of([('role', "record_kind"), ('record_key', "record_key"), ('file_path', "file_path"), ('line_number', "line_number"), ('file_sha256', "file_sha256"), ('is_winning', "is_winning")]) %}
        -- the winning version first (is_winning desc nulls last), then file order
        {{ ordered_list(evidence_row, ["case when is_winning then 0 when not is_winning then 1 else 2 end",
                                       "file_path", "line_number"]) }} as evidence
    from source_rows
    group by record_kind, record_key

)

select * from final
