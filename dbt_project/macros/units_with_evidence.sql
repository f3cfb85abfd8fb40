{#- The one evidence join of the audit trail: the units of int_kpi_units
    (counted or left out), each with every raw row behind its records
    (audit_record_evidence), in record order, the winning version first.
    A record with no evidence (an orphan's contact that has not arrived)
    adds nothing. -#}
{% macro units_with_evidence(counted) %}
    select
        units.kpi,
        units.financial_year,
        units.month,
        units.site_code,
        units.unit_kind,
        units.unit_key,
        units.rule,
        units.detail,
        units.decided_by,
        units.records_loaded,
        {{ concat_lists('record_evidence.evidence', ['units.record_order']) }} as evidence
    from {{ ref('int_kpi_units') }} as units
    left join {{ ref('audit_record_evidence') }} as record_evidence
        on record_evidence.record_kind = units.record_kind
        and record_evidence.record_key = units.record_key
    where units.is_counted = {{ counted }}
    group by all
{% endmacro %}
