{#-
    Helper for tests and fresh warehouses ONLY (never called by a model or
    hook):  dbt run-operation create_raw_tables_if_missing
    Creates the raw schema and any MISSING raw.* table, empty, with the
    columns and types declared in models/staging/_sources.yml (which mirror
    docs/architecture.md). Existing tables are never touched. Ingestion
    remains the owner of raw.*.
    Why: dbt unit tests read their inputs' column types from the warehouse,
    so on a fresh warehouse run this, then `dbt run --empty`, then
    `dbt test --select "resource_type:unit_test"`.
-#}
{% macro create_raw_tables_if_missing() %}
    {% if execute %}
        {% for source in graph.sources.values() | selectattr('source_name', 'equalto', 'raw') | sort(attribute='name') %}
            {% set column_defs = [] %}
            {% for column in source.columns.values() %}
                {% do column_defs.append(adapter.quote(column.name) ~ ' ' ~ column.data_type) %}
            {% endfor %}
            {% set sql %}
                create schema if not exists {{ source.schema }};
                create table if not exists {{ source.schema }}.{{ source.identifier }} (
                    {{ column_defs | join(',\n                    ') }}
                );
            {% endset %}
            {% do run_query(sql) %}
            {% do log('ensured ' ~ source.schema ~ '.' ~ source.identifier ~ ' (' ~ column_defs | length ~ ' columns)', info=true) %}
        {% endfor %}
    {% endif %}
{% endmacro %}
