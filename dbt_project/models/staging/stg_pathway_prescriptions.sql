-- Staging: raw.pathway_prescriptions renamed/cast only. No rules applied here.
with source as (

    select * from {{ source('raw', 'pathway_prescriptions') }}

)

select
    cast(prescription_id as varchar) as prescription_id,
    cast(contact_id as varchar)      as contact_id,
    cast(category as varchar)        as category,
    cast(referred_to as varchar)     as referred_to,
    cast(created_date as date)       as created_date,
    cast(status as varchar)          as status,
    cast(updated_at as timestamp)    as updated_at,
    -- lineage
    cast(file_path as varchar)       as file_path,
    cast(line_number as integer)     as line_number,
    cast(file_sha256 as varchar)     as file_sha256,
    cast(loaded_at as timestamp)     as loaded_at
from source
