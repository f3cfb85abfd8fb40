-- Grain: one row per response_id (contract, outcome_measures/: "a response_id
-- delivered again is one response"). Its fields come from the version in the
-- newest export (the file whose latest completed_on is latest), ties by
-- file_sha256 desc then line_number desc: content only, as for visits.
-- SWEMWBS: raw score = sum of the 7 items (7-35), metric score by the
-- conversion table (seed swemwbs_conversion). ONS4: items 1-4 by name.

with responses as (

    select * from {{ ref('stg_outcome_measures') }}

),

file_watermarks as (

    select file_sha256, max(completed_on) as file_watermark
    from responses
    group by file_sha256

),

ranked as (

    select
        responses.*,
        row_number() over (
            partition by response_id
            order by file_watermarks.file_watermark desc, responses.file_sha256 desc, responses.line_number desc
        ) as version_rank,
        count(*) over (partition by response_id) as versions_loaded
    from responses
    inner join file_watermarks using (file_sha256)

),

latest as (

    select * from ranked where version_rank = 1

),

conversion as (

    select * from {{ ref('swemwbs_conversion') }}

)

select
    latest.response_id,
    upper(latest.member_id)                                           as member_id,
    latest.measure,
    latest.timepoint,
    latest.completed_on,
    {{ financial_year('latest.completed_on') }}                       as financial_year,
    case when latest.measure = 'swemwbs' then
        latest.item_1 + latest.item_2 + latest.item_3 + latest.item_4
        + latest.item_5 + latest.item_6 + latest.item_7 end           as swemwbs_raw_score,
    conversion.metric_score                                           as swemwbs_metric_score,
    case when latest.measure = 'ons4' then latest.item_1 end          as life_satisfaction,
    case when latest.measure = 'ons4' then latest.item_2 end          as worthwhile,
    case when latest.measure = 'ons4' then latest.item_3 end          as happiness,
    case when latest.measure = 'ons4' then latest.item_4 end          as anxiety,
    latest.versions_loaded,
    latest.file_path,
    latest.line_number,
    latest.file_sha256
from latest
left join conversion
    on latest.measure = 'swemwbs'
    and conversion.raw_score = latest.item_1 + latest.item_2 + latest.item_3 + latest.item_4
        + latest.item_5 + latest.item_6 + latest.item_7
