-- Grain: one row per count KPI, financial year and COUNTED unit (a visit, a
-- member, a contact, a prescription, a session, an attendance, a Zoom person,
-- a call, a service user), so that count(*) per (kpi, financial_year) equals
-- kpi_annual, and per (kpi, financial_year, month, site_code) equals
-- mart_monthly_by_site (tested in audit_kpi_reconciliation).
-- The units are int_kpi_units' counted ones: no rule is restated here.
-- decided_by: the fields that decided the unit's inclusion (JSON object).
-- evidence: every raw row behind the unit (audit_record_evidence), the
-- winning version first; person units list their counted units' rows.

with units as (

    {{ units_with_evidence(true) }}

),

registry as (

    select * from {{ ref('kpi_registry') }}

)

select
    units.kpi,
    units.financial_year,
    units.month,
    units.site_code,
    units.unit_kind,
    units.unit_key,
    units.decided_by,
    units.records_loaded,
    cast({{ list_length('units.evidence', 'e.role = registry.own_role') }} as bigint) as own_evidence_rows,
    cast({{ list_length('units.evidence') }} as bigint)            as evidence_rows,
    units.evidence
from units
inner join registry
    on units.kpi = registry.kpi
