-- Grain: one row per prescription_id whose latest status is not withdrawn or
-- deleted, with its contact's latest version (contract, pathways/
-- "social_prescriptions").

-- Incremental by key (macros/incremental.sql, recomputed_keys): the prescriptions in the changed
-- files and those resting on a contact in them are recomputed, withdrawn ones deleted.

{{ config(materialized=versioned_materialization(), incremental_strategy='replace_keys', unique_key='prescription_id',
          on_schema_change='fail') }}

with prescriptions as (

    select * from {{ ref('int_pathway_prescriptions') }}
    {%- if is_incremental() %}
    where prescription_id in ({{ recomputed_keys(this) }})
    {%- endif %}

),

contacts as (

    select * from {{ ref('int_pathway_contacts') }}

),

-- Rule: prescriptions whose latest status is withdrawn or deleted never count.
active_prescriptions as (

    select * from prescriptions
    where status not in ('withdrawn', 'deleted')

),

-- Rule: join to the contact's LATEST version; a prescription whose contact has
-- not (yet) arrived is an orphan (kept here, flagged, not counted).
joined as (

    select
        active_prescriptions.*,
        contacts.contact_id is null        as is_orphan,
        contacts.contact_date,
        contacts.outcome                   as contact_outcome,
        contacts.site_code                 as contact_site_code,
        coalesce(contacts.is_attended, false) as is_contact_attended
    from active_prescriptions
    left join contacts
        on active_prescriptions.contact_id = contacts.contact_id

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
        contact_date,
        contact_outcome,
        contact_site_code,
        is_orphan,
        is_contact_attended,
        -- Rule: counted when the contact is loaded and its latest outcome is attended.
        not is_orphan and is_contact_attended                 as is_counted,
        -- Rule: the year is that of the CONTACT's contact_date (not created_date).
        cast(date_trunc('month', contact_date) as date)       as month,
        {{ financial_year('contact_date') }}                  as financial_year,
        -- lineage of the prescription's latest version
        file_path,
        line_number,
        file_sha256
    from joined

)

select * from final
