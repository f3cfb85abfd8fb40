{#-
    Contract, "Time and the financial year": an event belongs to the
    financial year of its Europe/London local date; UTC sources must be
    converted first. ts_utc is a naive TIMESTAMP holding UTC; the result is
    a naive TIMESTAMP holding Europe/London wall time (GMT or BST).
    Independent of the DuckDB session TimeZone (ICU is built in).
-#}
{%- macro utc_to_london(ts_utc) -%}{{ return(adapter.dispatch('utc_to_london', 'outcomes')(ts_utc)) }}{%- endmacro -%}
{%- macro default__utc_to_london(ts_utc) -%}
    timezone('Europe/London', ({{ ts_utc }}) at time zone 'UTC')
{%- endmacro -%}
{#- Spark: naive timestamps are read in the session zone, UTC (dbt_project/profiles.yml). -#}
{%- macro spark__utc_to_london(ts_utc) -%}
    from_utc_timestamp({{ ts_utc }}, 'Europe/London')
{%- endmacro -%}
