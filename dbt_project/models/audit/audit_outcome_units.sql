-- Grain: one row per outcome figure, financial year and COUNTED unit, so that
-- count(*) equals the published figure (tested in the singular test
-- audit_outcome_figures_equal_their_traced_units):
-- - members_reached: one row per member reached in the year (int_members_reached),
--   with imd_decile ('1'..'10' or 'unknown'): count per decile = mart_reach_by_deprivation
--   (site ALL); evidence: the winning register row, the IMD row of its LSOA, and
--   every raw row of the member's counted visits and pathway contacts of the year.
-- - swemwbs_paired_members: one row per member with a SWEMWBS pair whose
--   follow-up is in the year (int_wellbeing_pairs); evidence: every delivered row
--   of the baseline and of the follow-up response (the winning version first).
-- A view, like the other audit trail models: `outcomes trace` reads it.

with reached as (

    select * from {{ ref('int_members_reached') }}

),

record_evidence as (

    select * from {{ ref('audit_record_evidence') }}

),

visits as (

    select financial_year, upper(trim(member_id)) as member_id, visit_id, signed_in_at
    from {{ ref('int_visits') }}
    where is_counted and member_id is not null

),

contacts as (

    select financial_year, upper(trim(member_id)) as member_id, contact_id, contact_date
    from {{ ref('int_pathway_contacts') }}
    where is_attended and nullif(trim(member_id), '') is not null

),

activity_evidence as (

    select v.financial_year, v.member_id, {{ concat_lists('e.evidence', ['v.signed_in_at', 'v.visit_id']) }} as evidence
    from visits v
    inner join record_evidence e on e.record_kind = 'visit' and e.record_key = v.visit_id
    group by all
    union all
    select c.financial_year, c.member_id, {{ concat_lists('e.evidence', ['c.contact_date', 'c.contact_id']) }}
    from contacts c
    inner join record_evidence e on e.record_kind = 'contact' and e.record_key = c.contact_id
    group by all

),

activity_by_member as (

    select financial_year, member_id, {{ concat_lists('evidence', []) }} as evidence
    from activity_evidence
    group by all

),

reach_units as (

    select
        'members_reached'                               as kpi,
        r.financial_year,
        r.imd_decile_label                              as imd_decile,
        'member'                                        as unit_kind,
        r.member_id                                     as unit_key,
        {{ json_text(struct_of([('imd_decile', "r.imd_decile_label"), ('unknown_reason', "r.unknown_reason"), ('lsoa11cd', "r.lsoa11cd"), ('postcode_status', "r.postcode_status"), ('in_register', "r.in_register"), ('counted_visits', "r.counted_visits"), ('counted_contacts', "r.counted_contacts"), ('visit_sites', "r.visit_sites")])) }}                                  as decided_by,
        {%- set register_row = struct_of([('role', "'member'"), ('record_key', "r.member_id"), ('file_path', "r.register_file_path"), ('line_number', "r.register_line_number"), ('file_sha256', "r.register_file_sha256"), ('is_winning', "true")]) %}
        {%- set imd_row = struct_of([('role', "'imd'"), ('record_key', "r.lsoa11cd"), ('file_path', "r.imd_file_path"), ('line_number', "r.imd_line_number"), ('file_sha256', "r.imd_file_sha256"), ('is_winning', "true")]) %}
        {{ list_concat([
            'case when r.register_file_path is not null then ' ~ list_of([register_row]) ~ ' else ' ~ empty_list_like(list_of([register_row])) ~ ' end',
            'case when r.imd_file_path is not null then ' ~ list_of([imd_row]) ~ ' else ' ~ empty_list_like(list_of([imd_row])) ~ ' end',
            'coalesce(a.evidence, ' ~ empty_list_like('a.evidence') ~ ')']) }}                                               as evidence
    from reached r
    left join activity_by_member a
        on a.financial_year = r.financial_year and a.member_id = r.member_id

),

responses as (

    select * from {{ ref('stg_outcome_measures') }}

),

winning as (

    select response_id, file_sha256, line_number from {{ ref('int_outcome_responses') }}

),

response_evidence as (

    select
        responses.response_id,
        {%- set response_row = struct_of([('role', "'response'"), ('record_key', "responses.response_id"), ('file_path', "responses.file_path"), ('line_number', "responses.line_number"), ('file_sha256', "responses.file_sha256"), ('is_winning', "winning.response_id is not null")]) %}
        {{ ordered_list(response_row, ['winning.response_id is null', 'responses.file_path', 'responses.line_number']) }} as evidence
    from responses
    left join winning
        on winning.response_id = responses.response_id
        and winning.file_sha256 = responses.file_sha256
        and winning.line_number = responses.line_number
    group by responses.response_id

),

pairs as (

    select * from {{ ref('int_wellbeing_pairs') }} where measure = 'swemwbs'

),

pair_units as (

    select
        'swemwbs_paired_members'                        as kpi,
        p.financial_year,
        cast(null as {{ dbt.type_string() }})                           as imd_decile,
        'member'                                        as unit_kind,
        p.member_id                                     as unit_key,
        {{ json_text(struct_of([('baseline_response_id', "p.baseline_response_id"), ('baseline_on', "p.baseline_on"), ('baseline_score', "p.baseline_swemwbs"), ('follow_up_response_id', "p.follow_up_response_id"), ('follow_up_on', "p.follow_up_on"), ('follow_up_score', "p.follow_up_swemwbs"), ('days_between', "p.days_between"), ('change', "round(p.follow_up_swemwbs - p.baseline_swemwbs, 2)")])) }}                                  as decided_by,
        {%- set baseline_row = struct_of([('role', "'baseline'"), ('record_key', "e.record_key"), ('file_path', "e.file_path"), ('line_number', "e.line_number"), ('file_sha256', "e.file_sha256"), ('is_winning', "e.is_winning")]) %}
        {%- set follow_up_row = struct_of([('role', "'follow_up'"), ('record_key', "e.record_key"), ('file_path', "e.file_path"), ('line_number', "e.line_number"), ('file_sha256', "e.file_sha256"), ('is_winning', "e.is_winning")]) %}
        {{ list_concat([list_transform('b.evidence', baseline_row), list_transform('f.evidence', follow_up_row)]) }}                                               as evidence
    from pairs p
    inner join response_evidence b on b.response_id = p.baseline_response_id
    inner join response_evidence f on f.response_id = p.follow_up_response_id

)

select * from reach_units
union all
select * from pair_units
