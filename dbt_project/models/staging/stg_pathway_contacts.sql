-- Staging: raw.pathway_contacts renamed/cast only. No rules applied here.
with source as (

    select * from {{ source('raw', 'pathway_contacts') }}

)

select
    cast(contact_id as {{ dbt.type_string() }})   as contact_id,
    cast(member_id as {{ dbt.type_string() }})    as member_id,
    cast(advisor_id as {{ dbt.type_string() }})   as advisor_id,
    cast(site_code as {{ dbt.type_string() }})    as site_code,
    cast(contact_date as date)    as contact_date,
    cast(mode as {{ dbt.type_string() }})         as mode,
    cast(outcome as {{ dbt.type_string() }})      as outcome,
    cast(updated_at as timestamp) as updated_at,
    -- lineage
    cast(file_path as {{ dbt.type_string() }})    as file_path,
    cast(line_number as integer)  as line_number,
    cast(file_sha256 as {{ dbt.type_string() }})  as file_sha256,
    cast(loaded_at as timestamp)  as loaded_at
from source
