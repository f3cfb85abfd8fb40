-- Staging: raw.wellbeing_calls renamed/cast only. No rules applied here.
with source as (

    select * from {{ source('raw', 'wellbeing_calls') }}

)

select
    cast(call_id as {{ dbt.type_string() }})                as call_id,
    cast(service_user_pseudonym as {{ dbt.type_string() }}) as service_user_pseudonym,
    cast(call_started_at_utc as timestamp)  as call_started_at_utc,
    cast(staff_id as {{ dbt.type_string() }})               as staff_id,
    cast(direction as {{ dbt.type_string() }})              as direction,
    cast(outcome as {{ dbt.type_string() }})                as outcome,
    cast(duration_seconds as integer)       as duration_seconds,
    -- lineage
    cast(file_path as {{ dbt.type_string() }})              as file_path,
    cast(line_number as integer)            as line_number,
    cast(file_sha256 as {{ dbt.type_string() }})            as file_sha256,
    cast(loaded_at as timestamp)            as loaded_at
from source
