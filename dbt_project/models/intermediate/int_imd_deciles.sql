-- Grain: one row per LSOA of the IMD lookup in force (contract, reference/:
-- "a newer lookup replaces the older one"): the imd2019*.csv file loaded last,
-- ties by file_path desc (docs/decisions.md). An LSOA listed twice in that file
-- keeps its first row.

with imd as (

    select * from {{ ref('stg_imd_deciles') }}

),

lookup_in_force as (

    select file_sha256
    from imd
    group by file_sha256, file_path
    order by max(loaded_at) desc, file_path desc
    limit 1

),

ranked as (

    select
        imd.*,
        row_number() over (partition by lsoa11cd order by line_number) as row_rank
    from imd
    inner join lookup_in_force using (file_sha256)

)

select lsoa11cd, imd_decile, file_path, line_number, file_sha256
from ranked
where row_rank = 1
