-- Every outcome figure equals the count of its traced units (audit_outcome_units):
-- members reached per year and IMD decile (mart_reach_by_deprivation, site ALL) and
-- SWEMWBS paired members per year (mart_wellbeing_change). Rows returned = mismatches.
-- The units are counted without building their evidence lists (seconds a build at 100x):
-- audit_outcome_units has one row per int_members_reached row (its decile label) and one per
-- SWEMWBS pair of int_wellbeing_pairs (tests/test_audit_demo.py checks those counts are its rows).
-- depends_on: {{ ref('audit_outcome_units') }}

with traced as (

    select 'members_reached' as kpi, financial_year, imd_decile_label as imd_decile, count(*) as units
    from {{ ref('int_members_reached') }}
    group by all
    union all
    select 'swemwbs_paired_members', financial_year, '', count(*)
    from {{ ref('int_wellbeing_pairs') }}
    where measure = 'swemwbs'
    group by all

),

published as (

    select 'members_reached' as kpi, financial_year, imd_decile, members as value
    from {{ ref('mart_reach_by_deprivation') }}
    where site_code = 'ALL'
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
