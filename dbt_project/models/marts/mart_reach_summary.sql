-- Grain: one row per financial year and site ('ALL' or a site code, as in
-- mart_reach_by_deprivation): members_reached, how many have a known IMD
-- decile, and the shares of the known-decile members in deciles 1-3 and in
-- decile 1 (the measures of the Life Rooms' published study: 14 of 18 at IMD 3
-- or below, 9 in decile 1). A share is NULL when no member has a known decile.

with by_decile as (

    select * from {{ ref('mart_reach_by_deprivation') }}

),

summed as (

    select
        financial_year,
        site_code,
        sum(members)::bigint                                                    as members_reached,
        sum(members) filter (where imd_decile <> 'unknown')::bigint             as members_known_decile,
        sum(members) filter (where imd_decile = 'unknown')::bigint              as members_unknown_decile,
        sum(members) filter (where imd_decile in ('1', '2', '3'))::bigint       as members_decile_1_3,
        sum(members) filter (where imd_decile = '1')::bigint                    as members_decile_1
    from by_decile
    group by all

)

select
    *,
    members_decile_1_3 / nullif(members_known_decile, 0) as share_decile_1_3,
    members_decile_1 / nullif(members_known_decile, 0)   as share_decile_1
from summed
order by 1, 2
