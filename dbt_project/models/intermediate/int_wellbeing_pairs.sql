-- Grain: one row per member and measure with a pair (contract,
-- outcome_measures/): "the member's earliest baseline and the latest follow-up
-- completed at least 42 days after it; it belongs to the financial year of the
-- follow-up". Ties: the earliest baseline by response_id asc, the latest
-- follow-up by response_id desc (docs/decisions.md). Unpaired responses (no
-- follow-up 42+ days after the first baseline) are in no change figure.

with responses as (

    select * from {{ ref('int_outcome_responses') }}

),

baselines as (

    select *,
        row_number() over (partition by member_id, measure order by completed_on, response_id) as rank_
    from responses
    where timepoint = 'baseline'

),

first_baseline as (

    select * from baselines where rank_ = 1

),

follow_ups as (

    select
        f.*,
        b.response_id  as baseline_response_id,
        row_number() over (partition by f.member_id, f.measure
                           order by f.completed_on desc, f.response_id desc) as rank_
    from responses f
    inner join first_baseline b
        on b.member_id = f.member_id and b.measure = f.measure
        and f.completed_on >= b.completed_on + interval {{ var('pairing_min_days', 42) }} day
    where f.timepoint = 'follow_up'

)

select
    b.member_id,
    b.measure,
    {{ financial_year('f.completed_on') }}             as financial_year,
    b.response_id                                      as baseline_response_id,
    f.response_id                                      as follow_up_response_id,
    b.completed_on                                     as baseline_on,
    f.completed_on                                     as follow_up_on,
    {{ dbt.datediff('b.completed_on', 'f.completed_on', 'day') }} as days_between,
    b.swemwbs_metric_score                             as baseline_swemwbs,
    f.swemwbs_metric_score                             as follow_up_swemwbs,
    b.life_satisfaction as baseline_life_satisfaction, f.life_satisfaction as follow_up_life_satisfaction,
    b.worthwhile        as baseline_worthwhile,        f.worthwhile        as follow_up_worthwhile,
    b.happiness         as baseline_happiness,         f.happiness         as follow_up_happiness,
    b.anxiety           as baseline_anxiety,           f.anxiety           as follow_up_anxiety
from first_baseline b
inner join follow_ups f
    on f.member_id = b.member_id and f.measure = b.measure and f.rank_ = 1
