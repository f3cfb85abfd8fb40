{#-
    Contract, "Time and the financial year": the financial year runs 1 April
    to 31 March and is labelled like '2021/22'. date_expr must already be a
    Europe/London LOCAL date or timestamp (convert UTC first).
    Shifting the date back three months puts 1 April..31 March into one
    calendar year, the year the financial year starts in.
    NULL in -> NULL out.
-#}
{%- macro financial_year(date_expr) -%}
    {%- set start_year = "year(cast(" ~ date_expr ~ " as date) - interval 3 month)" -%}
    (cast({{ start_year }} as {{ dbt.type_string() }}) || '/' || lpad(cast(({{ start_year }} + 1) % 100 as {{ dbt.type_string() }}), 2, '0'))
{%- endmacro -%}
