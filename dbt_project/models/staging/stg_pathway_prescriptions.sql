-- Staging: raw.pathway_prescriptions renamed/cast only. No rules applied here.
with source as (

    select * from {{ source('raw', 'pathway_prescriptions') }}

)

select
    cast(prescription_id as {{ dbt.type_string() }}) as prescription_id,
    cast(contact_id as {{ dbt.type_string() }})      as contact_id,
    cast(category as {{ dbt.type_string() }})        as category,
    cast(referred_to as {{ dbt.type_string() }})     as referred_to,
    cast(created_date as date)       as created_date,
    cast(status as {{ dbt.type_string() }})          as status,
    cast(updated_at as timestamp)    as updated_at,
    -- lineage
    cast(file_path as {{ dbt.type_string() }})       as file_path,
    cast(line_number as integer)     as line_number,
    cast(file_sha256 as {{ dbt.type_string() }})     as file_sha256,
    cast(loaded_at as timestamp)     as loaded_at
from source
