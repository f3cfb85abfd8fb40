-- Staging: raw.visits renamed/cast only. No rules applied here.
with source as (

    select * from {{ source('raw', 'visits') }}

)

select
    cast(visit_id as {{ dbt.type_string() }})       as visit_id,
    cast(site_code as {{ dbt.type_string() }})      as site_code,
    cast(signed_in_at as timestamp) as signed_in_at,
    cast(member_id as {{ dbt.type_string() }})      as member_id,
    cast(visitor_type as {{ dbt.type_string() }})   as visitor_type,
    cast(purpose as {{ dbt.type_string() }})        as purpose,
    cast(status as {{ dbt.type_string() }})         as status,
    -- lineage
    cast(file_path as {{ dbt.type_string() }})      as file_path,
    cast(line_number as integer)    as line_number,
    cast(file_sha256 as {{ dbt.type_string() }})    as file_sha256,
    cast(loaded_at as timestamp)    as loaded_at
from source
