-- Grain: one row per financial year (of the follow-up), measure and item
-- (contract, "Wellbeing change"): SWEMWBS one row (item 'swemwbs', the metric
-- score), ONS4 four (life_satisfaction, worthwhile, happiness, anxiety).
-- paired_members; mean baseline, follow-up and change (follow-up - baseline);
-- mean_improvement (the change in the better direction: a fall in anxiety is an
-- improvement); SWEMWBS only: improved / worsened (3 metric points or more up
-- / down) and their shares of the paired members.
-- Means are exact (exact_mean): the same rows give the same figure in any order.

select
    financial_year,
    measure,
    item,
    any_value(item_order)                                  as item_order,
    any_value(higher_is_better)                            as higher_is_better,
    count(*)::bigint                                       as paired_members,
    {{ exact_mean("baseline_value") }} as mean_baseline,
    {{ exact_mean("follow_up_value") }} as mean_follow_up,
    {{ exact_mean("change") }} as mean_change,
    {{ exact_mean("improvement") }} as mean_improvement,
    case when measure = 'swemwbs' then count(*) filter (where improved)::bigint end as improved,
    case when measure = 'swemwbs' then count(*) filter (where worsened)::bigint end as worsened,
    case when measure = 'swemwbs' then (count(*) filter (where improved)) / count(*) end as share_improved,
    case when measure = 'swemwbs' then (count(*) filter (where worsened)) / count(*) end as share_worsened
from {{ ref('int_wellbeing_change') }}
group by financial_year, measure, item
order by 1, 2, 4
