-- Reconciliation: every ratio KPI of the registry equals its numerator /
-- denominator in kpi_annual, unrounded, NULL exactly when the denominator
-- is 0. Returns the (year, ratio) pairs that disagree.

with annual as (

    select * from {{ ref('kpi_annual') }}

),

ratios as (

    select * from {{ ref('kpi_registry') }} where kind = 'ratio'

),

checks as (

    select
        reported.financial_year,
        ratios.kpi,
        reported.value as reported,
        case when denominator.value > 0 then numerator.value / denominator.value end as expected
    from ratios
    inner join annual as reported
        on reported.kpi = ratios.kpi
    left join annual as numerator
        on numerator.kpi = ratios.numerator
        and numerator.financial_year = reported.financial_year
    left join annual as denominator
        on denominator.kpi = ratios.denominator
        and denominator.financial_year = reported.financial_year

)

select *
from checks
where (reported is null) <> (expected is null)
   or abs(reported - expected) > 1e-9 * greatest(1, abs(expected))
