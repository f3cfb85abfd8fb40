{#-
    The engine differences of the project, and only they (docs/spark.md): each macro is
    dispatched (adapter.dispatch) to a duckdb__ and a spark__ spelling of one operation, so
    that every model and every KPI rule is written once. The duckdb__ spellings are the SQL the
    models held before the Spark option: DuckDB's results are unchanged. dbt's own
    cross-database macros (dbt.type_string, dbt.datediff, dbt.right) are used where they exist.
    Lists are DuckDB LISTs and Spark ARRAYs; structs DuckDB STRUCTs and Spark STRUCTs, with the
    same field names, so the audit trail reads the same on either.
-#}

{#- How the version-resolving models are built: incremental (delete+insert on their key,
    macros/incremental.sql) on DuckDB; on Spark a whole table each build, because dbt-spark's
    only key-replacing strategy (merge) needs Delta, Iceberg or Hudi tables, and the local
    session writes plain Parquet (docs/spark.md). -#}
{% macro versioned_materialization() %}{{ return(adapter.dispatch('versioned_materialization', 'outcomes')()) }}{% endmacro %}
{% macro default__versioned_materialization() %}{{ return('incremental') }}{% endmacro %}
{% macro spark__versioned_materialization() %}{{ return('table') }}{% endmacro %}

{#- A record as a struct: fields is a list of (name, SQL expression) pairs. -#}
{% macro struct_of(fields) %}{{ return(adapter.dispatch('struct_of', 'outcomes')(fields)) }}{% endmacro %}
{% macro default__struct_of(fields) -%}
    struct_pack({% for name, expr in fields %}{{ name }} := {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
{% macro spark__struct_of(fields) -%}
    named_struct({% for name, expr in fields %}'{{ name }}', {{ expr }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- A struct as JSON text (decided_by): NULL fields kept, timestamps as DuckDB writes them. -#}
{% macro json_text(struct_expr) %}{{ return(adapter.dispatch('json_text', 'outcomes')(struct_expr)) }}{% endmacro %}
{% macro default__json_text(struct_expr) -%}
    cast(to_json({{ struct_expr }}) as varchar)
{%- endmacro %}
{% macro spark__json_text(struct_expr) -%}
    to_json({{ struct_expr }}, map('ignoreNullFields', 'false', 'timestampFormat', 'yyyy-MM-dd HH:mm:ss'))
{%- endmacro %}

{#- An aggregate: the values of expr as a list in the order of the sort keys (ascending, never
    NULL: give an explicit key column; none: any order), NULL values and the rows not meeting
    `where` left out; NULL when there are none. -#}
{% macro ordered_list(expr, sort_keys, where=none) %}{{ return(adapter.dispatch('ordered_list', 'outcomes')(expr, sort_keys, where)) }}{% endmacro %}
{% macro default__ordered_list(expr, sort_keys, where) -%}
    list({{ expr }}{% if sort_keys %} order by {{ sort_keys | join(', ') }}{% endif %}) filter (where ({{ expr }}) is not null{% if where %} and ({{ where }}){% endif %})
{%- endmacro %}
{% macro spark__ordered_list(expr, sort_keys, where) -%}
    nullif(transform(array_sort(collect_list(case when ({{ expr }}) is not null{% if where %} and ({{ where }}){% endif %} then named_struct(
        {%- for k in sort_keys %}'k{{ loop.index }}', {{ k }}, {% endfor %}'v', {{ expr }}) end)), e -> e.v), array())
{%- endmacro %}

{#- An aggregate: the lists of expr concatenated, in the order of the sort keys (as ordered_list). -#}
{% macro concat_lists(expr, sort_keys) %}{{ return(adapter.dispatch('concat_lists', 'outcomes')(expr, sort_keys)) }}{% endmacro %}
{% macro default__concat_lists(expr, sort_keys) -%}
    flatten({{ outcomes.ordered_list(expr, sort_keys) }})
{%- endmacro %}
{% macro spark__concat_lists(expr, sort_keys) -%}
    flatten({{ outcomes.ordered_list(expr, sort_keys) }})
{%- endmacro %}

{#- An aggregate: the distinct non-NULL values of expr, sorted. -#}
{% macro sorted_set(expr) %}{{ return(adapter.dispatch('sorted_set', 'outcomes')(expr)) }}{% endmacro %}
{% macro default__sorted_set(expr) -%}
    list(distinct {{ expr }} order by {{ expr }})
{%- endmacro %}
{% macro spark__sorted_set(expr) -%}
    array_sort(collect_set({{ expr }}))
{%- endmacro %}

{#- An empty list of text. -#}
{% macro empty_text_list() %}{{ return(adapter.dispatch('empty_text_list', 'outcomes')()) }}{% endmacro %}
{% macro default__empty_text_list() %}[]{% endmacro %}
{% macro spark__empty_text_list() %}cast(array() as array<string>){% endmacro %}

{#- A list of the given SQL expressions. -#}
{% macro list_of(exprs) %}{{ return(adapter.dispatch('list_of', 'outcomes')(exprs)) }}{% endmacro %}
{% macro default__list_of(exprs) %}[{{ exprs | join(', ') }}]{% endmacro %}
{% macro spark__list_of(exprs) %}array({{ exprs | join(', ') }}){% endmacro %}

{#- Two or more lists, one after the other. -#}
{% macro list_concat(lists) %}{{ return(adapter.dispatch('list_concat', 'outcomes')(lists)) }}{% endmacro %}
{% macro default__list_concat(lists) %}list_concat({{ lists | join(', ') }}){% endmacro %}
{#- Spark's concat() is NULL when one list is: NULL lists are left out, as DuckDB does. -#}
{% macro spark__list_concat(lists) %}flatten(filter(array({{ lists | join(', ') }}), x -> x is not null)){% endmacro %}

{#- An empty list of the type of list_expr (Spark: NULL, which list_concat leaves out). -#}
{% macro empty_list_like(list_expr) %}{{ return(adapter.dispatch('empty_list_like', 'outcomes')(list_expr)) }}{% endmacro %}
{% macro default__empty_list_like(list_expr) %}[]{% endmacro %}
{% macro spark__empty_list_like(list_expr) %}null{% endmacro %}

{#- Each element e of a list mapped by expr (which names the element `e`). -#}
{% macro list_transform(list_expr, expr) %}{{ return(adapter.dispatch('list_transform', 'outcomes')(list_expr, expr)) }}{% endmacro %}
{% macro default__list_transform(list_expr, expr) %}list_transform({{ list_expr }}, lambda e: {{ expr }}){% endmacro %}
{% macro spark__list_transform(list_expr, expr) %}transform({{ list_expr }}, e -> {{ expr }}){% endmacro %}

{#- The number of elements of a list; with a condition on `e`, of those meeting it. -#}
{% macro list_length(list_expr, condition=none) %}{{ return(adapter.dispatch('list_length', 'outcomes')(list_expr, condition)) }}{% endmacro %}
{% macro default__list_length(list_expr, condition) -%}
    {%- if condition %}len(list_filter({{ list_expr }}, lambda e: {{ condition }})){% else %}len({{ list_expr }}){% endif -%}
{%- endmacro %}
{% macro spark__list_length(list_expr, condition) -%}
    {%- if condition %}size(filter({{ list_expr }}, e -> {{ condition }})){% else %}size({{ list_expr }}){% endif -%}
{%- endmacro %}

{#- One row per element of a list (in a select list). -#}
{% macro unnest_list(list_expr) %}{{ return(adapter.dispatch('unnest_list', 'outcomes')(list_expr)) }}{% endmacro %}
{% macro default__unnest_list(list_expr) %}unnest({{ list_expr }}){% endmacro %}
{% macro spark__unnest_list(list_expr) %}explode({{ list_expr }}){% endmacro %}

{#- An aggregate: the value of the row with the greatest key (a SQL expression, or a list of
    them compared in order). -#}
{% macro value_at_max(value, keys) %}{{ return(adapter.dispatch('value_at_max', 'outcomes')(value, keys)) }}{% endmacro %}
{% macro default__value_at_max(value, keys) -%}
    {%- if keys is string %}arg_max({{ value }}, {{ keys }}){% else %}any_value({{ value }} order by {% for k in keys %}{{ k }} desc{% if not loop.last %}, {% endif %}{% endfor %}){% endif -%}
{%- endmacro %}
{% macro spark__value_at_max(value, keys) -%}
    {%- if keys is string %}max_by({{ value }}, {{ keys }}){% else %}max_by({{ value }}, struct({{ keys | join(', ') }})){% endif -%}
{%- endmacro %}

{#- A timestamp as ISO 8601 text, 2021-10-07T10:00:00, with an optional literal suffix ('Z'). -#}
{% macro iso_timestamp(ts, suffix='') %}{{ return(adapter.dispatch('iso_timestamp', 'outcomes')(ts, suffix)) }}{% endmacro %}
{% macro default__iso_timestamp(ts, suffix) %}strftime({{ ts }}, '%Y-%m-%dT%H:%M:%S{{ suffix }}'){% endmacro %}
{% macro spark__iso_timestamp(ts, suffix) %}date_format({{ ts }}, "yyyy-MM-dd'T'HH:mm:ss{% if suffix %}'{{ suffix }}'{% endif %}"){% endmacro %}

{#- The text matches the regular expression whole. -#}
{% macro full_match(text, pattern) %}{{ return(adapter.dispatch('full_match', 'outcomes')(text, pattern)) }}{% endmacro %}
{% macro default__full_match(text, pattern) %}regexp_full_match({{ text }}, '{{ pattern }}'){% endmacro %}
{% macro spark__full_match(text, pattern) %}({{ text }} rlike '^(?:{{ pattern }})$'){% endmacro %}

{#- The integers from..to (inclusive) as a one-column relation named `alias(column)`. -#}
{% macro integers(start, stop, alias, column) %}{{ return(adapter.dispatch('integers', 'outcomes')(start, stop, alias, column)) }}{% endmacro %}
{% macro default__integers(start, stop, alias, column) %}range({{ start }}, {{ stop + 1 }}) {{ alias }}({{ column }}){% endmacro %}
{% macro spark__integers(start, stop, alias, column) %}(select explode(sequence({{ start }}, {{ stop }})) as {{ column }}) {{ alias }}{% endmacro %}
