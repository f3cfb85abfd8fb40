-- Grain: one row per session = one meeting occurrence (meeting_id, start_time)
-- (contract, zoom/: "A session is one meeting occurrence").

with meetings as (

    select * from {{ ref('stg_zoom_meetings') }}

),

attendances as (

    select * from {{ ref('int_zoom_attendances') }}

),

-- Rule: the same occurrence exported twice is one session; a recurring
-- Meeting ID with a different Start Time is a different session.
sessions as (

    select
        meeting_id,
        start_time,
        -- descriptive fields from the file with the highest sha (deterministic)
        {{ value_at_max('topic', 'file_sha256') }} as topic,
        max(end_time)                   as end_time,
        max(duration_minutes)           as duration_minutes,
        max(participants_reported)      as participants_reported,
        count(distinct host_email_pseudonym) as hosts_seen,
        count(*)                        as files_loaded
    from meetings
    group by meeting_id, start_time

),

attendance_counts as (

    select
        meeting_id,
        start_time,
        count(*)                          as attendances,
        count(*) filter (where is_member) as member_attendances,
        count(*) filter (where is_staff)  as staff_attendances
    from attendances
    group by meeting_id, start_time

),

final as (

    select
        sessions.meeting_id || '@' || {{ iso_timestamp('sessions.start_time') }} as session_id,
        sessions.meeting_id,
        sessions.start_time,
        sessions.end_time,
        sessions.topic,
        sessions.duration_minutes,
        sessions.participants_reported,
        sessions.hosts_seen,
        sessions.files_loaded,
        coalesce(attendance_counts.attendances, 0)        as attendances,
        coalesce(attendance_counts.member_attendances, 0) as member_attendances,
        coalesce(attendance_counts.staff_attendances, 0)  as staff_attendances,
        -- Rule: a session is delivered when it has >= 1 non-staff attendance.
        coalesce(attendance_counts.member_attendances, 0) > 0 as is_delivered,
        -- Rule: year of the local date of Start Time.
        cast(sessions.start_time as date)                       as session_date,
        cast(date_trunc('month', sessions.start_time) as date)  as month,
        {{ financial_year('sessions.start_time') }}             as financial_year
    from sessions
    left join attendance_counts
        on sessions.meeting_id = attendance_counts.meeting_id
        and sessions.start_time = attendance_counts.start_time

)

select * from final
