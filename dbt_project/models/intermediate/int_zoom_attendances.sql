-- Grain: one row per (session, person), session = (meeting_id, start_time)
-- (contract, zoom/: "one attendance per (session, person)").
-- Incremental by session (see the changed_sessions CTE).

{{ config(materialized=versioned_materialization(), incremental_strategy='delete+insert',
          unique_key=['meeting_id', 'start_time'], on_schema_change='fail') }}

with meetings as (

    select * from {{ ref('stg_zoom_meetings') }}

),

{% if is_incremental() %}
-- Incremental (macros/incremental.sql, changed_zoom_sessions): whole sessions are recomputed,
-- those in a changed file, and every session joined by someone who hosts for the first time in
-- a changed file. A session's attendances only ever grow (a re-export is a union), so
-- replacing its (session, person) rows is exact.
changed_sessions as (

    {{ changed_zoom_sessions(ref('stg_zoom_meetings'), ref('stg_zoom_participants')) | indent(4) }}

),
{% endif %}

participants as (

    select stg.* from {{ ref('stg_zoom_participants') }} as stg
    {%- if is_incremental() %}
    inner join changed_sessions
        on stg.meeting_id = changed_sessions.meeting_id
        and stg.start_time = changed_sessions.start_time
    {%- endif %}

),

-- Rule: the host is staff, and "staff are never members": someone who hosts any
-- session (the Trust's Zoom account holders) is staff in every session they join.
hosts as (

    select distinct host_email_pseudonym
    from meetings
    where host_email_pseudonym is not null

),

-- Rule: person = the email (pseudonym) when present, else the normalised
-- display name (pseudonym). Pseudonyms are keyed by kind, so they never collide.
participant_rows as (

    select
        participants.*,
        coalesce(email_pseudonym, name_pseudonym)                      as person_key,
        case when email_pseudonym is not null then 'email' else 'name' end as person_key_type
    from participants

),

-- Rule: staff = a host, or an email domain that is (a sub-domain
-- of) a staff domain (var staff_domains, case-insensitive).
flagged_rows as (

    select
        participant_rows.*,
        hosts.host_email_pseudonym is not null as is_host_row,
        {{ is_staff_domain('participant_rows.email_domain') }} as is_staff_domain_row
    from participant_rows
    left join hosts
        on participant_rows.email_pseudonym = hosts.host_email_pseudonym

),

-- Minutes per person per file: a session exported twice must not double the time.
minutes_per_file as (

    select
        meeting_id,
        start_time,
        person_key,
        file_sha256,
        cast(sum(duration_minutes) as bigint) as duration_minutes
    from flagged_rows
    group by meeting_id, start_time, person_key, file_sha256

),

-- Rule: rejoins collapse to one attendance per (session, person), and the same
-- occurrence exported twice is the union of its participants. A person is
-- staff in the session when ANY of their rows is staff-flagged.
attendances as (

    select
        meeting_id,
        start_time,
        person_key,
        any_value(person_key_type)           as person_key_type,
        bool_or(is_host_row)                 as is_host,
        bool_or(is_staff_domain_row)         as is_staff_domain,
        bool_or(is_host_row or is_staff_domain_row) as is_staff,
        count(*)                             as participant_rows,
        count(distinct file_sha256)          as files_loaded,
        min(join_time)                       as first_join_time,
        max(leave_time)                      as last_leave_time
    from flagged_rows
    group by meeting_id, start_time, person_key

),

minutes as (

    select
        meeting_id,
        start_time,
        person_key,
        max(duration_minutes) as duration_minutes
    from minutes_per_file
    group by meeting_id, start_time, person_key

),

final as (

    select
        attendances.meeting_id || '@' || {{ iso_timestamp('attendances.start_time') }} as session_id,
        attendances.meeting_id,
        attendances.start_time,
        attendances.person_key,
        attendances.person_key_type,
        attendances.is_host,
        attendances.is_staff_domain,
        attendances.is_staff,
        -- Rule: staff are never members; a non-staff attendance counts.
        not attendances.is_staff                                   as is_member,
        -- Rule: session year = year of the local date of Start Time (Zoom
        -- times are already Europe/London local).
        cast(attendances.start_time as date)                       as session_date,
        cast(date_trunc('month', attendances.start_time) as date)  as month,
        {{ financial_year('attendances.start_time') }}             as financial_year,
        attendances.participant_rows,
        attendances.files_loaded,
        attendances.first_join_time,
        attendances.last_leave_time,
        minutes.duration_minutes
    from attendances
    left join minutes
        on attendances.meeting_id = minutes.meeting_id
        and attendances.start_time = minutes.start_time
        and attendances.person_key = minutes.person_key

)

select * from final
