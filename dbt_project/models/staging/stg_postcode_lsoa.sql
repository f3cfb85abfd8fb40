-- Staging: raw.postcode_lsoa renamed/cast only (postcodes as keyed pseudonyms).
select
    cast(postcode_key as {{ dbt.type_string() }}) as postcode_key,
    cast(lsoa11cd as {{ dbt.type_string() }})     as lsoa11cd,
    cast(file_path as {{ dbt.type_string() }})    as file_path,
    cast(line_number as integer)  as line_number,
    cast(file_sha256 as {{ dbt.type_string() }})  as file_sha256,
    cast(loaded_at as timestamp)  as loaded_at
from {{ source('raw', 'postcode_lsoa') }}
