-- Grain: one row per count KPI and unit that was CONSIDERED and left out by
-- a rule of the intermediate models (int_kpi_units, not counted), with the rule, a detail in words and
-- every raw row behind the unit (winning version first). financial_year,
-- month and site_code are the unit's own (NULL when it has none, e.g. an
-- orphan prescription). File- and row-level exclusions (rejected rows,
-- quarantined files, duplicate deliveries) live in ledger.* and "outside the
-- year" depends on the year asked for: `outcomes trace --excluded` adds them.
-- Rules (column rule):
--   void                 visit void in at least one delivery
--   staff                staff visitor / staff attendance (host or staff domain) / staff person
--   no_counted_visit     a member whose visits in the year were all excluded
--   no_member_id         a counted visit with no membership number (not a member)
--   superseded           contact attended in an earlier version, latest version not attended
--   not_attended         contact whose versions were never attended
--   withdrawn            prescription whose latest status is withdrawn or deleted
--   orphan               prescription whose contact has not (yet) arrived
--   contact_not_attended prescription whose contact's latest version is not attended
--   staff_only           Zoom session with staff attendances only
--   no_attendance        Zoom session with no participant rows
--   not_successful       call (or service user) without a successful outcome
--   no_service_user_ref  successful call with no service user reference

with units as (

    {{ units_with_evidence(false) }}

)

select
    kpi,
    financial_year,
    month,
    site_code,
    unit_kind,
    unit_key,
    rule,
    detail,
    cast({{ list_length('evidence') }} as bigint)                  as evidence_rows,
    evidence
from units
