-- Grain: one row per financial year and band of SWEMWBS change (metric points,
-- follow-up - baseline), every band present (0 when none): paired members. The
-- bands are 3 points wide and meet at -3 and +3, the improved / worsened
-- thresholds, so "3 or more up" is exactly the three top bands.

with changes as (

    select financial_year, change from {{ ref('int_wellbeing_change') }} where measure = 'swemwbs'

),

bands as (

    select * from (values
        (1, 'down 9 or more',     -1e9, -9),
        (2, 'down 6 to 9',        -9,   -6),
        (3, 'down 3 to 6',        -6,   -3),
        (4, 'down less than 3',   -3,    0),
        (5, 'same or up less than 3',      0,    3),
        (6, 'up 3 to 6',           3,    6),
        (7, 'up 6 to 9',           6,    9),
        (8, 'up 9 or more',        9,  1e9)
    ) t(band_order, band, low, high)

),

placed as (

    -- down bands hold (low, high], up bands [low, high): -3 is "down 3 to 6", +3 "up 3 to 6"
    select c.financial_year, b.band_order
    from changes c
    inner join bands b
        on (b.band_order <= 4 and c.change > b.low and c.change <= b.high and c.change < 0)
        or (b.band_order >= 5 and c.change >= b.low and c.change < b.high)

)

select
    y.financial_year,
    bands.band_order,
    bands.band,
    count(placed.band_order)::bigint as paired_members
from (select distinct financial_year from changes) y
cross join bands
left join placed on placed.financial_year = y.financial_year and placed.band_order = bands.band_order
group by all
order by 1, 2
