-- Reconciliation: prescriptions_per_contact = social_prescriptions /
-- pathway_contacts and sessions_per_member = zoom_attendances / zoom_members,
-- unrounded, NULL exactly when the denominator is 0.
-- Returns the (year, ratio) pairs that disagree.

with annual as (

    select * from {{ ref('kpi_annual') }}

),

by_year as (

    select
        financial_year,
        max(value) filter (where kpi = 'social_prescriptions')      as social_prescriptions,
        max(value) filter (where kpi = 'pathway_contacts')          as pathway_contacts,
        max(value) filter (where kpi = 'prescriptions_per_contact') as prescriptions_per_contact,
        max(value) filter (where kpi = 'zoom_attendances')          as zoom_attendances,
        max(value) filter (where kpi = 'zoom_members')              as zoom_members,
        max(value) filter (where kpi = 'sessions_per_member')       as sessions_per_member
    from annual
    group by financial_year

),

checks as (

    select
        financial_year,
        'prescriptions_per_contact' as kpi,
        prescriptions_per_contact   as reported,
        case when pathway_contacts > 0 then social_prescriptions / pathway_contacts end as expected
    from by_year
    union all
    select
        financial_year,
        'sessions_per_member',
        sessions_per_member,
        case when zoom_members > 0 then zoom_attendances / zoom_members end
    from by_year

)

select *
from checks
where (reported is null) <> (expected is null)
   or abs(reported - expected) > 1e-9 * greatest(1, abs(expected))
