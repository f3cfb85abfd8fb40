-- Grain: one row: which outcome inputs have arrived (contract, "The landing
-- zone": a landing zone without members/, outcome_measures/ or reference/ still
-- runs, and the figures that need them say that their data has not arrived).
-- The dashboards read this to say so, and name the register and lookups in force.

with register as (

    select count(*) as members, max(export_date) as latest_export_date,
           count(*) filter (where postcode_status = 'resolved') as members_with_lsoa
    from {{ ref('int_members') }}

),

postcode_lookup as (

    select {{ value_at_max('file_path', ['loaded_at', 'file_path']) }} as file_path, count(distinct file_sha256) as files
    from {{ ref('stg_postcode_lsoa') }}

),

imd as (

    select any_value(file_path) as file_path, count(*) as lsoas from {{ ref('int_imd_deciles') }}

),

responses as (

    select count(*) as responses,
           count(*) filter (where measure = 'swemwbs') as swemwbs_responses,
           count(*) filter (where measure = 'ons4') as ons4_responses
    from {{ ref('int_outcome_responses') }}

)

select
    register.members                       as register_members,
    register.latest_export_date            as register_latest_export_date,
    register.members_with_lsoa             as register_members_with_lsoa,
    postcode_lookup.file_path              as postcode_lookup_file,
    imd.file_path                          as imd_lookup_file,
    imd.lsoas                              as imd_lsoas,
    responses.responses                    as outcome_responses,
    responses.swemwbs_responses,
    responses.ons4_responses
from register, postcode_lookup, imd, responses
