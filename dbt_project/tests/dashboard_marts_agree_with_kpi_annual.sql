-- Reconciliation of the dashboard marts with kpi_annual:
--   * mart_prescriptions_by_category summed over categories = social_prescriptions;
--   * mart_pathway_funnel contacts_attended = pathway_contacts and
--     prescriptions_made = social_prescriptions;
--   * the funnel narrows: attended <= recorded, accepted_or_completed <= made.
-- A year missing from one side counts as 0 there. Returns the disagreements.

with annual as (

    select financial_year, kpi, value
    from {{ ref('kpi_annual') }}

),

categories as (

    select financial_year, sum(social_prescriptions) as social_prescriptions
    from {{ ref('mart_prescriptions_by_category') }}
    group by financial_year

),

funnel as (

    select
        financial_year,
        max(value) filter (where stage = 'contacts_recorded')                   as contacts_recorded,
        max(value) filter (where stage = 'contacts_attended')                   as contacts_attended,
        max(value) filter (where stage = 'prescriptions_made')                  as prescriptions_made,
        max(value) filter (where stage = 'prescriptions_accepted_or_completed') as prescriptions_accepted_or_completed
    from {{ ref('mart_pathway_funnel') }}
    group by financial_year

),

years as (

    select financial_year from annual
    union
    select financial_year from categories
    union
    select financial_year from funnel

),

compared as (

    select
        years.financial_year,
        coalesce(max(annual.value) filter (where annual.kpi = 'pathway_contacts'), 0)     as kpi_pathway_contacts,
        coalesce(max(annual.value) filter (where annual.kpi = 'social_prescriptions'), 0) as kpi_social_prescriptions,
        coalesce(max(categories.social_prescriptions), 0)                  as category_total,
        coalesce(max(funnel.contacts_recorded), 0)                         as contacts_recorded,
        coalesce(max(funnel.contacts_attended), 0)                         as contacts_attended,
        coalesce(max(funnel.prescriptions_made), 0)                        as prescriptions_made,
        coalesce(max(funnel.prescriptions_accepted_or_completed), 0)       as prescriptions_accepted_or_completed
    from years
    left join annual     on years.financial_year = annual.financial_year
    left join categories on years.financial_year = categories.financial_year
    left join funnel     on years.financial_year = funnel.financial_year
    group by years.financial_year

)

select *
from compared
where category_total <> kpi_social_prescriptions
   or contacts_attended <> kpi_pathway_contacts
   or prescriptions_made <> kpi_social_prescriptions
   or contacts_attended > contacts_recorded
   or prescriptions_accepted_or_completed > prescriptions_made
