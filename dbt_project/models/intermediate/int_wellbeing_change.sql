-- Grain: one row per pair (int_wellbeing_pairs) and scored item: SWEMWBS has
-- one (the metric score), ONS4 four (life_satisfaction, worthwhile,
-- happiness, anxiety). change = follow-up - baseline; improvement is the
-- change in the better direction (a fall in anxiety is an improvement).
-- SWEMWBS improved / worsened: a change of 3 metric points or more up / down.

with pairs as (

    select * from {{ ref('int_wellbeing_pairs') }}

),

items as (

    select member_id, measure, financial_year, baseline_response_id, follow_up_response_id, days_between,
           'swemwbs' as item, 1 as item_order, true as higher_is_better,
           baseline_swemwbs as baseline_value, follow_up_swemwbs as follow_up_value
    from pairs where measure = 'swemwbs'
    {% for item, n, higher in [('life_satisfaction', 1, true), ('worthwhile', 2, true),
                               ('happiness', 3, true), ('anxiety', 4, false)] %}
    union all
    select member_id, measure, financial_year, baseline_response_id, follow_up_response_id, days_between,
           '{{ item }}', {{ n }}, {{ higher }},
           baseline_{{ item }}, follow_up_{{ item }}
    from pairs where measure = 'ons4'
    {% endfor %}

),

-- metric scores have two decimals: the change is rounded to them, so that a
-- change of exactly 3.00 is 3.00 and not 2.9999999 in floating point
changes as (

    select *, round(follow_up_value - baseline_value, 2) as change
    from items

)

select
    *,
    case when higher_is_better then change else -change end                                 as improvement,
    case when measure = 'swemwbs' then change >= {{ var('swemwbs_meaningful_change', 3) }} end  as improved,
    case when measure = 'swemwbs' then change <= -{{ var('swemwbs_meaningful_change', 3) }} end as worsened
from changes
