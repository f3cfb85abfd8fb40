-- Staging: raw.pathway_contacts renamed/cast only. No rules applied here.
with source as (

    select * from {{ source('raw', 'pathway_contacts') }}

)

select
    cast(contact_id as varchar)   as contact_id,
    cast(member_id as varchar)    as member_id,
    cast(advisor_id as varchar)   as advisor_id,
    cast(site_code as varchar)    as site_code,
    cast(contact_date as date)    as contact_date,
    cast(mode as varchar)         as mode,
    cast(outcome as varchar)      as outcome,
    cast(updated_at as timestamp) as updated_at,
    -- lineage
    cast(file_path as varchar)    as file_path,
    cast(line_number as integer)  as line_number,
    cast(file_sha256 as varchar)  as file_sha256,
    cast(loaded_at as timestamp)  as loaded_at
from source
