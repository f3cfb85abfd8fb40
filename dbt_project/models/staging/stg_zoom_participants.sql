-- Staging: raw.zoom_participants renamed/cast only. No rules applied here.
with source as (

    select * from {{ source('raw', 'zoom_participants') }}

)

select
    cast(meeting_id as {{ dbt.type_string() }})       as meeting_id,
    cast(start_time as timestamp)     as start_time,
    cast(email_pseudonym as {{ dbt.type_string() }})  as email_pseudonym,
    cast(email_domain as {{ dbt.type_string() }})     as email_domain,
    cast(name_pseudonym as {{ dbt.type_string() }})   as name_pseudonym,
    cast(join_time as timestamp)      as join_time,
    cast(leave_time as timestamp)     as leave_time,
    cast(duration_minutes as integer) as duration_minutes,
    cast(guest as boolean)            as guest,
    -- lineage
    cast(file_path as {{ dbt.type_string() }})        as file_path,
    cast(line_number as integer)      as line_number,
    cast(file_sha256 as {{ dbt.type_string() }})      as file_sha256,
    cast(loaded_at as timestamp)      as loaded_at
from source
