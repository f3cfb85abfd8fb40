-- Every outcome figure equals the count of its traced units (audit_outcome_units):
-- members reached per year and IMD decile (mart_reach_by_deprivation, site ALL) and
-- SWEMWBS paired members per year (mart_wellbeing_change). Rows returned = mismatches.
-- In an incremental build the members reached are compared in the years it rebuilt
-- (in_rebuilt_years: every year when a register or lookup file changed); the other years'
-- figures and units are those the last build compared. The SWEMWBS pairs always whole.
{%- set reach_years -%}
    (kpi <> 'members_reached'
        {%- if changed_keys_recorded() %}
        or {{ in_rebuilt_years(relation=node_relation('model.outcomes.mart_reach_by_deprivation')) }}
        {%- else %} or true{% endif %})
{%- endset %}

with traced as (

    select kpi, financial_year, coalesce(imd_decile, '') as imd_decile, count(*) as units
    from {{ ref('audit_outcome_units') }}
    where {{ reach_years }}
    group by all

),

published as (

    select * from (
        select 'members_reached' as kpi, financial_year, imd_decile, members as value
        from {{ ref('mart_reach_by_deprivation') }}
        where site_code = 'ALL'
    ) as reach
    where {{ reach_years }}
    union all
    select 'swemwbs_paired_members', financial_year, '', paired_members
    from {{ ref('mart_wellbeing_change') }}
    where measure = 'swemwbs'

)

select coalesce(p.kpi, t.kpi) as kpi, coalesce(p.financial_year, t.financial_year) as financial_year,
       coalesce(p.imd_decile, t.imd_decile) as imd_decile, p.value as published, coalesce(t.units, 0) as traced
from published p
full outer join traced t
    on t.kpi = p.kpi and t.financial_year = p.financial_year and t.imd_decile = p.imd_decile
where coalesce(p.value, 0) <> coalesce(t.units, 0)
