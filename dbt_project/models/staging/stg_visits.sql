-- Staging: raw.visits renamed/cast only. No rules applied here.
with source as (

    select * from {{ source('raw', 'visits') }}

)

select
    cast(visit_id as varchar)       as visit_id,
    cast(site_code as varchar)      as site_code,
    cast(signed_in_at as timestamp) as signed_in_at,
    cast(member_id as varchar)      as member_id,
    cast(visitor_type as varchar)   as visitor_type,
    cast(purpose as varchar)        as purpose,
    cast(status as varchar)         as status,
    -- lineage
    cast(file_path as varchar)      as file_path,
    cast(line_number as integer)    as line_number,
    cast(file_sha256 as varchar)    as file_sha256,
    cast(loaded_at as timestamp)    as loaded_at
from source
