{#-
    Data tests in an incremental build look at the rows the build changed, not at the whole
    history (docs/performance.md, "Incremental refresh"): dbt's get_where_subquery, which gives
    every generic test the relation it tests, is overridden to narrow that relation to

    - a staging view (a row per raw row): the rows of the changed files;
    - a model rebuilt by key (incremental, delete+insert): the keys the build recomputed, those
      in its staging models' changed files (Zoom: the recomputed sessions; replace_keys: its
      recomputed_keys);
    - a model rebuilt by financial year (replace_years): the rebuilt years.
    - int_kpi_units and int_kpi_counted_units (replace_units): the rebuilt units;
    - int_members_reached (replace_members): the recomputed members.

    Only tests that judge each row, or each group of rows sharing a key or year, on its own are
    narrowed (row_tests below): every other row is as the last build left it, and passed its tests
    then. A warning (severity warn: orphan prescriptions, an unexpected site code) reports the
    data as it is, not what changed: it sees every row, so that it is reported at every build for
    as long as it holds. one_row_per_delivered_id compares a model keyed like its staging with that staging: both
    sides are narrowed to the same keys (the recomputed ones). Other tests comparing a model with
    another relation, the singular tests (the reconciliation of every published figure) and every test of a whole
    build (--full-refresh, a first build, a hand-run `dbt build` without changed_files) see
    every row. DuckDB only: Spark builds every model whole.
-#}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set changed = outcomes.tested_rows(relation) if target.type == 'duckdb' else '' -%}
    {%- set conditions = [] -%}
    {%- if where %}{% do conditions.append('(' ~ where ~ ')') %}{% endif -%}
    {%- if changed %}{% do conditions.append('(' ~ changed ~ ')') %}{% endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro tested_rows(relation) -%}
    {%- set row_tests = ['not_null', 'accepted_values', 'unique', 'relationships', 'unique_combination_of_columns',
                         'expression_is_true', 'is_financial_year_label', 'is_first_of_month', 'has_valid_lineage',
                         'one_row_per_delivered_id'] -%}
    {%- set test_name = (model.get('test_metadata') or {}).get('name') -%}
    {%- if not execute or var('changed_files', none) is none or flags.FULL_REFRESH or test_name not in row_tests
          or (model.config.severity | lower) == 'warn' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set node = graph.nodes.get(model.get('attached_node') or '') -%}
    {%- if node is none or node.resource_type != 'model' -%}
        {{ return('') }}
    {%- endif -%}
    {%- set config = node.config -%}
    {%- if node.name.startswith('stg_') -%}
        {{ return(outcomes.in_changed_files()) }}
    {%- elif config.materialized != 'incremental' -%}
        {{ return('') }}
    {%- elif config.incremental_strategy == 'replace_years' -%}
        {{ return(outcomes.in_rebuilt_years(relation=outcomes.node_relation(node.unique_id))) }}
    {%- elif config.incremental_strategy == 'replace_units' -%}
        {{ return(outcomes.in_rebuilt_units()) }}
    {%- elif config.incremental_strategy == 'replace_members' -%}
        {{ return(outcomes.in_rebuilt_members()) }}
    {%- elif config.incremental_strategy == 'replace_keys' -%}
        {{ return(config.unique_key ~ ' in (' ~ outcomes.recomputed_keys(outcomes.node_relation(node.unique_id)) ~ ')') }}
    {%- elif config.unique_key is string -%}
        {%- set staged = [] -%}
        {%- for parent in node.depends_on.nodes if parent.startswith('model.outcomes.stg_') -%}
            {%- do staged.append(outcomes.changed_keys(config.unique_key, outcomes.node_relation(parent))) -%}
        {%- endfor -%}
        {{ return(staged | join(' or ')) }}
    {%- else -%}
        {{ return('(meeting_id, start_time) in (' ~ outcomes.changed_zoom_sessions(
            outcomes.node_relation('model.outcomes.stg_zoom_meetings'),
            outcomes.node_relation('model.outcomes.stg_zoom_participants')) ~ ')') }}
    {%- endif -%}
{%- endmacro %}

{#- A model's relation from the graph (a test may not ref() a model it does not test). -#}
{% macro node_relation(unique_id) -%}
    {%- set node = graph.nodes[unique_id] -%}
    {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}
