-- Reconciliation: for every additive KPI, kpi_annual equals the sum of
-- mart_monthly_by_site over months and sites (docs/architecture.md).
-- Returns the (year, KPI) pairs that disagree.

with annual as (

    select financial_year, kpi, value
    from {{ ref('kpi_annual') }}
    where kpi in (
        'visits', 'pathway_contacts', 'social_prescriptions', 'zoom_sessions',
        'zoom_attendances', 'wellbeing_calls', 'wellbeing_successful_contacts'
    )

),

monthly as (

    select financial_year, kpi, sum(value) as value
    from {{ ref('mart_monthly_by_site') }}
    group by financial_year, kpi

)

select
    coalesce(annual.financial_year, monthly.financial_year) as financial_year,
    coalesce(annual.kpi, monthly.kpi)                       as kpi,
    annual.value                                            as annual_value,
    monthly.value                                           as monthly_value
from annual
full outer join monthly
    on annual.financial_year = monthly.financial_year
    and annual.kpi = monthly.kpi
where coalesce(annual.value, 0) <> coalesce(monthly.value, 0)
   -- a monthly total for a year kpi_annual does not report at all
   or annual.financial_year is null
