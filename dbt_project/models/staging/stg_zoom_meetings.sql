-- Staging: raw.zoom_meetings renamed/cast only. No rules applied here.
with source as (

    select * from {{ source('raw', 'zoom_meetings') }}

)

select
    cast(meeting_id as {{ dbt.type_string() }})            as meeting_id,
    cast(topic as {{ dbt.type_string() }})                 as topic,
    cast(start_time as timestamp)          as start_time,
    cast(end_time as timestamp)            as end_time,
    cast(host_email_pseudonym as {{ dbt.type_string() }})  as host_email_pseudonym,
    cast(host_email_domain as {{ dbt.type_string() }})     as host_email_domain,
    cast(duration_minutes as integer)      as duration_minutes,
    cast(participants_reported as integer) as participants_reported,
    cast(participant_form as {{ dbt.type_string() }})      as participant_form,
    -- lineage
    cast(file_path as {{ dbt.type_string() }})             as file_path,
    cast(line_number as integer)           as line_number,
    cast(file_sha256 as {{ dbt.type_string() }})           as file_sha256,
    cast(loaded_at as timestamp)           as loaded_at
from source
