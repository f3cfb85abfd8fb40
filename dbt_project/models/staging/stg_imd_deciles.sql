-- Staging: raw.imd_deciles renamed/cast only.
select
    cast(lsoa11cd as {{ dbt.type_string() }})    as lsoa11cd,
    cast(imd_decile as integer)  as imd_decile,
    cast(file_path as {{ dbt.type_string() }})   as file_path,
    cast(line_number as integer) as line_number,
    cast(file_sha256 as {{ dbt.type_string() }}) as file_sha256,
    cast(loaded_at as timestamp) as loaded_at
from {{ source('raw', 'imd_deciles') }}
