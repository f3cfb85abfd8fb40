{#- The one evidence join of the audit trail: the units of int_kpi_units
    (counted or left out), each with every raw row behind its records
    (audit_record_evidence), in record order, the winning version first.
    A record with no evidence (an orphan's contact that has not arrived)
    adds nothing. -#}
{% macro units_with_evidence(counted) %}
    select
        {%- for column in unit_columns() %}
        units.{{ column }},
        {%- endfor %}
        {{ concat_lists('record_evidence.evidence', ['units.record_order']) }} as evidence
    from {{ ref('int_kpi_units') }} as units
    left join {{ ref('audit_record_evidence') }} as record_evidence
        on record_evidence.record_kind = units.record_kind
        and record_evidence.record_key = units.record_key
    where units.is_counted = {{ counted }}
    group by all
{% endmacro %}

{#- The columns that make a unit of int_kpi_units one row of the audit trail (units_with_evidence
    groups by them): the same for every record of a unit. audit_kpi_reconciliation counts their
    distinct values (the rows of audit_kpi_units) without building the evidence lists. -#}
{% macro unit_columns() -%}
    {{ return(['kpi', 'financial_year', 'month', 'site_code', 'unit_kind', 'unit_key', 'rule', 'detail',
               'decided_by', 'records_loaded']) }}
{%- endmacro %}
