{#- Reconciliation between layers (docs/quality.md): every id delivered in
    `delivered` (staging: one row per raw row) is in the tested model exactly
    once, and the model holds no id that was not delivered. `delivered_where` narrows
    the delivered rows (e.g. live prescriptions only). NULL ids are left to
    the not_null tests. Returns the ids missing, extra or duplicated. In an incremental build
    of a model keyed like its staging (macros/tests/tested_rows.sql), both sides hold the keys
    the build recomputed only: every other key is as the last build left it, and passed then. -#}
{% test one_row_per_delivered_id(model, delivered, id_columns, delivered_where=none) %}
    {%- set ids = id_columns | join(', ') -%}
    {%- set not_null = [] -%}
    {%- for c in id_columns %}{% do not_null.append(c ~ ' is not null') %}{% endfor -%}
    with delivered_ids as (
        select distinct {{ ids }}
        from {{ delivered }}
        where {{ not_null | join(' and ') }}
        {%- if delivered_where %} and ({{ delivered_where }}){% endif %}
        {%- set recomputed = outcomes.tested_rows(delivered) if target.type == 'duckdb' else '' %}
        {%- if recomputed %} and ({{ recomputed }}){% endif %}
    ),
    modelled as (
        select {{ ids }}, count(*) as model_rows
        from {{ model }}
        group by {{ ids }}
    )
    select
        {% for c in id_columns %}coalesce(d.{{ c }}, m.{{ c }}) as {{ c }}, {% endfor %}
        d.{{ id_columns[0] }} is not null as delivered,
        coalesce(m.model_rows, 0)         as model_rows
    from delivered_ids d
    full outer join modelled m
        on {% for c in id_columns %}{% if not loop.first %} and {% endif %}d.{{ c }} = m.{{ c }}{% endfor %}
    where d.{{ id_columns[0] }} is null
       or m.{{ id_columns[0] }} is null
       or m.model_rows <> 1
{% endtest %}
