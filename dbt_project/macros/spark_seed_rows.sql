{#-
    Spark only: dbt-spark 1.11's session cursor quotes seed values without escaping them and
    loads an empty cell as the text 'None' (SessionConnectionWrapper._fix_binding). The KPI
    registry holds apostrophes and empty cells, so its rows are written here as escaped literals,
    NULL for an empty cell (found by dispatch before the adapter's own spark__load_csv_rows).
-#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {% set column_override = model['config'].get('column_types', {}) %}
    {% set statements = [] %}
    {% for chunk in agate_table.rows | batch(get_batch_size()) %}
        {% set sql %}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    {%- set value = row[loop.index0] -%}
                    cast({% if value is none %}null{% else %}'{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'{% endif %} as {{ type }})
                    {%- if not loop.last %}, {% endif %}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {%- endfor %}
        {% endset %}
        {% do adapter.add_query(sql, abridge_sql_log=True) %}
        {% if loop.index0 == 0 %}{% do statements.append(sql) %}{% endif %}
    {% endfor %}
    {{ return(statements[0]) }}
{% endmacro %}
