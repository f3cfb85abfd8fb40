-- Grain: one row per member_id (contract, members/): "the row of the newest
-- export date wins; a member missing from a newer export keeps the last row
-- seen". Ties (the same export date delivered twice, a member twice in one
-- export) are broken by file_sha256 desc, then line_number desc: content only.

with register as (

    select * from {{ ref('stg_members') }}

),

ranked as (

    select
        register.*,
        row_number() over (
            partition by member_id
            order by export_date desc, file_sha256 desc, line_number desc
        ) as version_rank,
        count(*) over (partition by member_id) as versions_loaded
    from register

)

select
    member_id,
    export_date,
    registered_on,
    referral_source,
    postcode_status,
    lsoa11cd,
    postcode_lookup_sha256,
    versions_loaded,
    file_path,
    line_number,
    file_sha256
from ranked
where version_rank = 1
