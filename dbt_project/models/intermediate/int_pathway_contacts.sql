-- Grain: one row per contact_id: its latest version (contract, pathways/:
-- "the version with the latest updated_at wins").
-- Incremental: the contact_ids in changed files, from all their versions (macros/incremental.sql).

{{ config(materialized=versioned_materialization(), incremental_strategy='delete+insert', unique_key='contact_id', on_schema_change='fail') }}

with contacts as (

    select * from {{ ref('stg_pathway_contacts') }}
    {{- only_changed_keys('contact_id', ref('stg_pathway_contacts')) }}

),

-- Rule: latest updated_at wins; ties broken by file_sha256 desc, then
-- line_number desc, so the result never depends on load order.
ranked_versions as (

    select
        contacts.*,
        row_number() over (
            partition by contact_id
            order by updated_at desc, file_sha256 desc, line_number desc
        ) as version_rank,
        count(*) over (partition by contact_id) as versions_loaded
    from contacts

),

latest_versions as (

    select * from ranked_versions
    where version_rank = 1

),

final as (

    select
        contact_id,
        member_id,
        advisor_id,
        site_code,
        contact_date,
        mode,
        outcome,
        updated_at,
        outcome = 'deleted'                               as is_deleted,
        -- Rule: pathway_contacts = contacts whose latest version is attended.
        outcome = 'attended'                              as is_attended,
        -- Rule: year of contact_date (a local calendar date).
        cast(date_trunc('month', contact_date) as date)   as month,
        {{ financial_year('contact_date') }}              as financial_year,
        versions_loaded,
        -- lineage of the latest version
        file_path,
        line_number,
        file_sha256
    from latest_versions

)

select * from final
