-- Staging: raw.members renamed/cast only. No rules applied here. The postcode and
-- year of birth never reached the warehouse (resolved/validated at ingestion).
select
    cast(member_id as {{ dbt.type_string() }})              as member_id,
    cast(export_date as date)               as export_date,
    cast(registered_on as date)             as registered_on,
    cast(referral_source as {{ dbt.type_string() }})        as referral_source,
    cast(postcode_status as {{ dbt.type_string() }})        as postcode_status,
    cast(lsoa11cd as {{ dbt.type_string() }})               as lsoa11cd,
    cast(postcode_lookup_sha256 as {{ dbt.type_string() }}) as postcode_lookup_sha256,
    cast(file_path as {{ dbt.type_string() }})              as file_path,
    cast(line_number as integer)            as line_number,
    cast(file_sha256 as {{ dbt.type_string() }})            as file_sha256,
    cast(loaded_at as timestamp)            as loaded_at
from {{ source('raw', 'members') }}
