-- Grain: one row per prescription_id: its latest version (contract,
-- pathways/: "the version with the latest updated_at wins").
-- Incremental: the prescription_ids in changed files, from all their versions (macros/incremental.sql).

{{ config(materialized=versioned_materialization(), incremental_strategy='delete+insert', unique_key='prescription_id', on_schema_change='fail') }}

with prescriptions as (

    select * from {{ ref('stg_pathway_prescriptions') }}
    {{- only_changed_keys('prescription_id', ref('stg_pathway_prescriptions')) }}

),

-- Rule: latest updated_at wins; ties broken by file_sha256 desc, then
-- line_number desc, so the result never depends on load order.
ranked_versions as (

    select
        prescriptions.*,
        row_number() over (
            partition by prescription_id
            order by updated_at desc, file_sha256 desc, line_number desc
        ) as version_rank,
        count(*) over (partition by prescription_id) as versions_loaded
    from prescriptions

),

latest_versions as (

    select * from ranked_versions
    where version_rank = 1

),

final as (

    select
        prescription_id,
        contact_id,
        category,
        referred_to,
        created_date,
        status,
        updated_at,
        versions_loaded,
        -- lineage of the latest version
        file_path,
        line_number,
        file_sha256
    from latest_versions

)

select * from final
