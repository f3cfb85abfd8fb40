{#-
    Contract, "Time and the financial year": an event belongs to the
    financial year of its Europe/London local date; UTC sources must be
    converted first. ts_utc is a naive TIMESTAMP holding UTC; the result is
    a naive TIMESTAMP holding Europe/London wall time (GMT or BST).
    Independent of the DuckDB session TimeZone (ICU is built in).
-#}
{%- macro utc_to_london(ts_utc) -%}
    timezone('Europe/London', ({{ ts_utc }}) at time zone 'UTC')
{%- endmacro -%}
