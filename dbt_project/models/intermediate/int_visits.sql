-- Grain: one row per visit_id (contract, visits/).
-- Incremental: the visit_ids in changed files, from all their versions (macros/incremental.sql).
-- Kiosk exports overlap, so a visit_id arrives in several files. Its fields
-- come from the version in the "newest export"; void-ness from ALL versions.

{{ config(materialized=versioned_materialization(), incremental_strategy='delete+insert', unique_key='visit_id', on_schema_change='fail') }}

with visits as (

    select * from {{ ref('stg_visits') }}
    {{- only_changed_keys('visit_id', ref('stg_visits')) }}

),

-- Rule: "newest export" is judged from file content only (never load order):
-- a file's watermark is the latest signed_in_at it contains.
file_watermarks as (

    select
        file_sha256,
        max(signed_in_at) as file_watermark
    from {{ ref('stg_visits') }}
    -- the whole file's rows, not only the changed keys' ones
    where file_sha256 in (select file_sha256 from visits)
    group by file_sha256

),

-- Rule: the winning version of a visit is the one in the newest export;
-- ties broken by file_sha256 desc, then line_number desc (deterministic).
ranked_versions as (

    select
        visits.*,
        file_watermarks.file_watermark,
        row_number() over (
            partition by visits.visit_id
            order by
                file_watermarks.file_watermark desc,
                visits.file_sha256 desc,
                visits.line_number desc
        ) as version_rank,
        count(*) over (partition by visits.visit_id) as versions_loaded
    from visits
    inner join file_watermarks
        on visits.file_sha256 = file_watermarks.file_sha256

),

-- Rule: a visit that is void in ANY delivery is void.
void_in_any_delivery as (

    select
        visit_id,
        bool_or(status = 'void') as is_void
    from visits
    group by visit_id

),

winning_versions as (

    select * from ranked_versions
    where version_rank = 1

),

final as (

    select
        winning_versions.visit_id,
        winning_versions.site_code,
        winning_versions.signed_in_at,
        nullif(trim(winning_versions.member_id), '')       as member_id,
        winning_versions.visitor_type,
        winning_versions.purpose,
        winning_versions.status                            as latest_status,
        void_in_any_delivery.is_void,
        -- Rule: staff visitors are not counted.
        winning_versions.visitor_type = 'staff'            as is_staff,
        -- Rule: visits = never void, visitor_type not staff.
        not void_in_any_delivery.is_void
            and winning_versions.visitor_type <> 'staff'   as is_counted,
        -- Rule: year of the Europe/London local date (kiosk times are local).
        cast(winning_versions.signed_in_at as date)        as visit_date,
        cast(date_trunc('month', winning_versions.signed_in_at) as date) as month,
        {{ financial_year('winning_versions.signed_in_at') }} as financial_year,
        winning_versions.versions_loaded,
        -- lineage of the winning version
        winning_versions.file_path,
        winning_versions.line_number,
        winning_versions.file_sha256,
        winning_versions.file_watermark
    from winning_versions
    inner join void_in_any_delivery
        on winning_versions.visit_id = void_in_any_delivery.visit_id

)

select * from final
