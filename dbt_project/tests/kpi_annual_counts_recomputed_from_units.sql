-- Reconciliation: every count KPI of kpi_annual recomputed a second way.
-- kpi_annual aggregates one CTE per source and joins them on the year; here
-- every counted unit of every KPI is listed once (year, kpi, unit) and
-- counted per (year, kpi), with the year set and the zero-filling derived
-- from the units themselves. A fan-out, a lost join or a wrong zero-fill in
-- kpi_annual shows up as a difference. Returns the (year, KPI) pairs that
-- disagree (or exist on one side only).

with units as (

    select financial_year, 'visits' as kpi, visit_id as unit
    from {{ ref('int_visits') }} where is_counted
    union all
    select financial_year, 'visiting_members', member_id
    from {{ ref('int_visits') }} where is_counted and member_id is not null
    union all
    select financial_year, 'pathway_contacts', contact_id
    from {{ ref('int_pathway_contacts') }} where is_attended
    union all
    select financial_year, 'social_prescriptions', prescription_id
    from {{ ref('int_social_prescriptions') }} where is_counted
    union all
    select financial_year, 'zoom_sessions', session_id
    from {{ ref('int_zoom_sessions') }} where is_delivered
    union all
    select financial_year, 'zoom_members', person_key
    from {{ ref('int_zoom_attendances') }} where is_member
    union all
    select financial_year, 'zoom_attendances', session_id || '|' || person_key
    from {{ ref('int_zoom_attendances') }} where is_member
    union all
    select financial_year, 'wellbeing_calls', call_id
    from {{ ref('int_wellbeing_calls') }}
    union all
    select financial_year, 'wellbeing_successful_contacts', call_id
    from {{ ref('int_wellbeing_calls') }} where is_successful
    union all
    select financial_year, 'wellbeing_people_reached', service_user_pseudonym
    from {{ ref('int_wellbeing_calls') }} where is_successful and service_user_pseudonym is not null

),

count_kpis as (

    select unnest([
        'visits', 'visiting_members', 'pathway_contacts', 'social_prescriptions',
        'zoom_sessions', 'zoom_members', 'zoom_attendances', 'wellbeing_calls',
        'wellbeing_successful_contacts', 'wellbeing_people_reached'
    ]) as kpi

),

years as (

    select distinct financial_year from units

),

recomputed as (

    select
        years.financial_year,
        count_kpis.kpi,
        count(distinct units.unit) as value
    from years
    cross join count_kpis
    left join units
        on units.financial_year = years.financial_year
        and units.kpi = count_kpis.kpi
    group by years.financial_year, count_kpis.kpi

),

annual as (

    select financial_year, kpi, value
    from {{ ref('kpi_annual') }}
    where kpi in (select kpi from count_kpis)

)

select
    coalesce(annual.financial_year, recomputed.financial_year) as financial_year,
    coalesce(annual.kpi, recomputed.kpi)                       as kpi,
    annual.value                                               as kpi_annual_value,
    recomputed.value                                           as recomputed_value
from annual
full outer join recomputed
    on annual.financial_year = recomputed.financial_year
    and annual.kpi = recomputed.kpi
where annual.value is distinct from recomputed.value
