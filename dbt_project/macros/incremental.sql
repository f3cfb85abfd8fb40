{#-
    Incremental refresh (docs/performance.md, "Incremental refresh").

    The orchestrator passes `changed_files`: the content digests (file_sha256) of the raw
    files loaded since the last successful build (pipelines/lib/dbt_increments.py), or the
    name of a table holding them (DuckDB: the var stays the same from build to build, so
    dbt keeps its partial parse). A
    version-resolving model (one row per key: visit_id, contact_id, prescription_id,
    call_id, Zoom attendance) recomputes only the keys that appear in those files, from
    ALL their versions, old and new, and replaces those keys' rows (delete+insert on the
    key). Raw tables only grow, and these models keep every key they have ever seen
    (void, deleted, withdrawn are flags, not filters), so a key never has to disappear.

    Without the var (a hand-run `dbt build`) every key is recomputed: slower, never stale.
    A first build, `--full-refresh`, or a changed project (the orchestrator passes
    --full-refresh) builds the whole table.
-#}

{#- A predicate on a raw row: its file is one of the changed files. -#}
{% macro in_changed_files(column='file_sha256') -%}
    {%- set files = var('changed_files', none) -%}
    {%- if files is none -%}
        true
    {%- elif files is string -%}
        {{ column }} in (select file_sha256 from {{ files }})
    {%- elif files | length == 0 -%}
        false
    {%- else -%}
        {{ column }} in ({% for f in files %}'{{ f | replace("'", "") }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{#- In an incremental build, `where <key> in (keys found in the changed files of relation)`;
    in a full build nothing (every key). -#}
{% macro only_changed_keys(key, relation) -%}
    {%- if is_incremental() %}
    where {{ key }} in (select {{ key }} from {{ relation }} where {{ in_changed_files() }})
    {%- endif -%}
{%- endmacro %}
