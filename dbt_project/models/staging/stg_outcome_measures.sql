-- Staging: raw.outcome_measures renamed/cast only. No rules applied here.
select
    cast(response_id as {{ dbt.type_string() }})  as response_id,
    cast(member_id as {{ dbt.type_string() }})    as member_id,
    cast(measure as {{ dbt.type_string() }})      as measure,
    cast(timepoint as {{ dbt.type_string() }})    as timepoint,
    cast(completed_on as date)    as completed_on,
    cast(item_1 as integer)       as item_1,
    cast(item_2 as integer)       as item_2,
    cast(item_3 as integer)       as item_3,
    cast(item_4 as integer)       as item_4,
    cast(item_5 as integer)       as item_5,
    cast(item_6 as integer)       as item_6,
    cast(item_7 as integer)       as item_7,
    cast(file_path as {{ dbt.type_string() }})    as file_path,
    cast(line_number as integer)  as line_number,
    cast(file_sha256 as {{ dbt.type_string() }})  as file_sha256,
    cast(loaded_at as timestamp)  as loaded_at
from {{ source('raw', 'outcome_measures') }}
