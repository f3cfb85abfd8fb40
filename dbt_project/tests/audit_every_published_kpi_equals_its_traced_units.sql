-- Every published figure (kpi_annual, mart_monthly_by_site) equals the count of
-- its traced units in the audit trail. Returns the figures that do not.

select * from {{ ref('audit_kpi_reconciliation') }}
where not matches
