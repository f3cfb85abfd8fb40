-- Grain: one row per financial year, site and IMD decile ('1'..'10' and
-- 'unknown', every one present, 0 when none): members reached (contract,
-- "Reach by deprivation"). site_code 'ALL' = every member reached (a counted
-- visit or pathway contact); a site code = members with a counted visit at
-- that site (a member visiting two sites is in both). Years: those with a
-- member reached.

-- Incremental by financial year, the years int_kpi_units records (macros/incremental.sql): the rebuilt years'
-- rows are replaced, the other years' are those of the last build; every year when a register
-- or deprivation lookup file changed (rests_on_register).
-- depends_on: {{ ref('int_kpi_units') }}

{{ config(materialized=versioned_materialization(), incremental_strategy='replace_years', on_schema_change='fail') }}

with reached as (

    select * from {{ ref('int_members_reached') }}
    {{- only_rebuilt_years(relation=this) }}

),

by_site as (

    select financial_year, 'ALL' as site_code, member_id, imd_decile_label from reached
    union all
    select financial_year, {{ unnest_list('visit_sites') }} as site_code, member_id, imd_decile_label
    from reached where {{ list_length('visit_sites') }} > 0

),

grid as (

    select s.financial_year, s.site_code, d.imd_decile, d.decile_order
    from (select distinct financial_year, site_code from by_site) s
    cross join (
        select cast(n as {{ dbt.type_string() }}) as imd_decile, n as decile_order from {{ integers(1, 10, 't', 'n') }}
        union all select 'unknown', 11
    ) d

)

select
    grid.financial_year,
    grid.site_code,
    grid.imd_decile,
    grid.decile_order,
    count(distinct by_site.member_id) as members
from grid
left join by_site
    on by_site.financial_year = grid.financial_year
    and by_site.site_code = grid.site_code
    and by_site.imd_decile_label = grid.imd_decile
group by all
order by 1, 2, 4
