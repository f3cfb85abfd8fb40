-- Grain: one row per financial year and member reached (contract, reference/,
-- "Reach by deprivation"): distinct members with a counted visit
-- (int_visits.is_counted) or a counted pathway contact
-- (int_pathway_contacts.is_attended) in the year, each with the IMD decile of
-- the LSOA of their register row (int_members), or 'unknown' with the reason.
-- Never dropped: a member not in the register, with no usable postcode, or
-- whose LSOA the IMD lookup lacks is reached, at decile 'unknown'.

-- Incremental by member (macros/incremental.sql, strategy replace_members): the members of the
-- changed visits and contacts, now and at the last build, are recomputed in every year; every
-- member when a register or deprivation lookup file changed.
-- depends_on: {{ ref('int_kpi_units') }}, {{ ref('stg_visits') }}, {{ ref('stg_pathway_contacts') }}

{{ config(materialized=versioned_materialization(), incremental_strategy='replace_members', on_schema_change='fail',
          pre_hook="{{ record_rebuilt_members() }}") }}

with visits as (

    select financial_year, upper(trim(member_id)) as member_id, site_code, visit_id
    from {{ ref('int_visits') }}
    where is_counted and member_id is not null
    {%- if is_incremental() %} and {{ in_rebuilt_members('upper(trim(member_id))') }}{% endif %}

),

contacts as (

    select financial_year, upper(trim(member_id)) as member_id, contact_id
    from {{ ref('int_pathway_contacts') }}
    where is_attended and nullif(trim(member_id), '') is not null
    {%- if is_incremental() %} and {{ in_rebuilt_members('upper(trim(member_id))') }}{% endif %}

),

activity as (

    select financial_year, member_id, count(*) as counted_visits, 0 as counted_contacts,
           {{ sorted_set('site_code') }} as visit_sites
    from visits
    group by all
    union all
    select financial_year, member_id, 0, count(*), {{ empty_text_list() }}
    from contacts
    group by all

),

reached as (

    select
        financial_year,
        member_id,
        sum(counted_visits)::bigint    as counted_visits,
        sum(counted_contacts)::bigint  as counted_contacts,
        {{ concat_lists('visit_sites', []) }} as visit_sites
    from activity
    group by financial_year, member_id

),

members as (

    select * from {{ ref('int_members') }}

),

imd as (

    select * from {{ ref('int_imd_deciles') }}

),

has_imd as (

    select count(*) > 0 as any_imd from imd

)

select
    reached.financial_year,
    reached.member_id,
    reached.counted_visits,
    reached.counted_contacts,
    reached.visit_sites,
    members.member_id is not null                          as in_register,
    members.postcode_status,
    members.lsoa11cd,
    imd.imd_decile,
    coalesce(cast(imd.imd_decile as {{ dbt.type_string() }}), 'unknown')   as imd_decile_label,
    case
        when imd.imd_decile is not null then null
        when members.member_id is null then 'not_in_register'
        when members.postcode_status <> 'resolved' then members.postcode_status
        when not has_imd.any_imd then 'no_imd_lookup'
        else 'lsoa_not_in_imd'
    end                                                    as unknown_reason,
    -- lineage: the register row and the IMD row that decided the decile
    members.file_path                                      as register_file_path,
    members.line_number                                    as register_line_number,
    members.file_sha256                                    as register_file_sha256,
    imd.file_path                                          as imd_file_path,
    imd.line_number                                        as imd_line_number,
    imd.file_sha256                                        as imd_file_sha256
from reached
cross join has_imd
left join members on members.member_id = reached.member_id
left join imd on imd.lsoa11cd = members.lsoa11cd
