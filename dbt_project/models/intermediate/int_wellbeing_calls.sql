-- Grain: one row per call_id (contract, wellbeing_calls/: "a call_id
-- delivered twice is one call").
-- Incremental: the call_ids in changed files, from all their versions (macros/incremental.sql).

{{ config(materialized=versioned_materialization(), incremental_strategy='delete+insert', unique_key='call_id', on_schema_change='fail') }}

with calls as (

    select * from {{ ref('stg_wellbeing_calls') }}
    {{- only_changed_keys('call_id', ref('stg_wellbeing_calls')) }}

),

-- Rule: "newest export" is judged from file content only (never load order):
-- a file's watermark is the latest call_started_at_utc it contains.
file_watermarks as (

    select
        file_sha256,
        max(call_started_at_utc) as file_watermark
    from {{ ref('stg_wellbeing_calls') }}
    -- the whole file's rows, not only the changed keys' ones
    where file_sha256 in (select file_sha256 from calls)
    group by file_sha256

),

-- Rule: one call per call_id; the version in the newest export wins,
-- ties broken by file_sha256 desc, then line_number desc.
ranked_versions as (

    select
        calls.*,
        file_watermarks.file_watermark,
        row_number() over (
            partition by calls.call_id
            order by
                file_watermarks.file_watermark desc,
                calls.file_sha256 desc,
                calls.line_number desc
        ) as version_rank,
        count(*) over (partition by calls.call_id) as versions_loaded
    from calls
    inner join file_watermarks
        on calls.file_sha256 = file_watermarks.file_sha256

),

winning_versions as (

    select * from ranked_versions
    where version_rank = 1

),

-- Rule: UTC sources are converted to Europe/London local time before the
-- financial year is taken (2022-03-31T23:30Z is 00:30 BST on 1 April 2022).
localised as (

    select
        *,
        {{ utc_to_london('call_started_at_utc') }} as call_started_at_local
    from winning_versions

),

final as (

    select
        call_id,
        service_user_pseudonym,
        call_started_at_utc,
        call_started_at_local,
        cast(call_started_at_local as date)                     as call_date,
        cast(date_trunc('month', call_started_at_local) as date) as month,
        {{ financial_year('call_started_at_local') }}           as financial_year,
        staff_id,
        direction,
        outcome,
        duration_seconds,
        -- Rule: wellbeing_successful_contacts = calls with outcome successful.
        outcome = 'successful'                                  as is_successful,
        versions_loaded,
        -- lineage of the winning version
        file_path,
        line_number,
        file_sha256,
        file_watermark
    from localised

)

select * from final
