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
    where {{ changed_keys(key, relation) }}
    {%- endif -%}
{%- endmacro %}

{#- A predicate on a row: its key is one found in the changed files of relation (a staging
    view): the keys an incremental build recomputes (macros/tests/tested_rows.sql too). -#}
{% macro changed_keys(key, relation) -%}
    {{ key }} in (select {{ key }} from {{ relation }} where {{ in_changed_files() }})
{%- endmacro %}

{#- The Zoom sessions an incremental build recomputes (int_zoom_attendances): those in a
    changed file, and every session joined by someone who hosts for the first time in a
    changed file (a host is staff in every session they join). A select of (meeting_id,
    start_time). `meetings`, `participants`: stg_zoom_meetings and stg_zoom_participants (a
    model passes its ref()s, a test their relations: a test may not ref what it does not test). -#}
{% macro changed_zoom_sessions(meetings, participants) -%}
    with new_hosts as (
        select host_email_pseudonym from {{ meetings }}
        where {{ in_changed_files() }} and host_email_pseudonym is not null
        except
        select host_email_pseudonym from {{ meetings }}
        where not ({{ in_changed_files() }}) and host_email_pseudonym is not null
    )
    select meeting_id, start_time from {{ meetings }} where {{ in_changed_files() }}
    union
    select meeting_id, start_time from {{ participants }} where {{ in_changed_files() }}
    union
    select meeting_id, start_time from {{ participants }}
    where email_pseudonym in (select host_email_pseudonym from new_hosts)
{%- endmacro %}

{#- KPI units (int_kpi_units) are rebuilt by financial year: every unit of a year in which a
    changed key sits now, or sat in the last build (`units`: the model's table before this
    build), and nothing else. Every count KPI is decided within one financial year (a person
    KPI is a person-year), so a year's units depend only on that year's records. A select of
    year keys (financial_year; '~' for the units with no year: orphan prescriptions). -#}
{% macro kpi_unit_rebuilt_years(units) -%}
    with changed_keys as (
        select visit_id as record_key from {{ ref('stg_visits') }} where {{ in_changed_files() }}
        union
        select contact_id from {{ ref('stg_pathway_contacts') }} where {{ in_changed_files() }}
        union
        select prescription_id from {{ ref('stg_pathway_prescriptions') }} where {{ in_changed_files() }}
        union
        select call_id from {{ ref('stg_wellbeing_calls') }} where {{ in_changed_files() }}
    ),

    zoom_sessions as (
        {{ changed_zoom_sessions(ref('stg_zoom_meetings'), ref('stg_zoom_participants')) | indent(8) }}
    )

    -- the years the changed keys sit in now (a prescription: its contact's year; none while
    -- its contact has not arrived)
    select coalesce(financial_year, '~') as year_key from {{ ref('int_visits') }}
    where visit_id in (select record_key from changed_keys)
    union
    select coalesce(financial_year, '~') from {{ ref('int_pathway_contacts') }}
    where contact_id in (select record_key from changed_keys)
    union
    select coalesce(contacts.financial_year, '~')
    from {{ ref('int_pathway_prescriptions') }} as prescriptions
    left join {{ ref('int_pathway_contacts') }} as contacts
        on prescriptions.contact_id = contacts.contact_id
    where prescriptions.prescription_id in (select record_key from changed_keys)
    union
    select coalesce(financial_year, '~') from {{ ref('int_wellbeing_calls') }}
    where call_id in (select record_key from changed_keys)
    union
    select {{ financial_year('start_time') }} from zoom_sessions
    union
    -- the years their units sat in at the last build (a contact also names the year of its
    -- prescriptions, which rest on it: record_key)
    select coalesce(financial_year, '~') from {{ units }}
    where record_key in (select record_key from changed_keys)
{%- endmacro %}

{#- The years this build recomputes, as a table beside the models (schema build_state), written
    by int_kpi_units before it builds (its pre-hook: the last build's units are still there to
    say where the changed keys sat) and read by the models built from it by year; '*' when
    int_kpi_units is built whole (every year). -#}
{% macro rebuilt_years_table() -%}
    {{ return(api.Relation.create(database=target.database, schema='build_state', identifier='kpi_rebuilt_years')) }}
{%- endmacro %}

{% macro record_rebuilt_years() %}{{ return(adapter.dispatch('record_rebuilt_years', 'outcomes')()) }}{% endmacro %}
{% macro default__record_rebuilt_years() -%}
    {%- do adapter.create_schema(rebuilt_years_table()) -%}
    create or replace table {{ rebuilt_years_table() }} as
    {% if is_incremental() -%}
        {{ kpi_unit_rebuilt_years(this) }}
    {%- else -%}
        select '*' as year_key
    {%- endif %}
{%- endmacro %}
{#- Spark builds every model whole (versioned_materialization): nothing to record. -#}
{% macro spark__record_rebuilt_years() %}{% endmacro %}

{#- In an incremental build of a model rebuilt by year, `where <year column> in (rebuilt years)`. -#}
{% macro only_rebuilt_years(column='financial_year') -%}
    {%- if is_incremental() %}
    where {{ in_rebuilt_years(column) }}
    {%- endif -%}
{%- endmacro %}

{% macro in_rebuilt_years(column='financial_year') -%}
    (coalesce({{ column }}, '~') in (select year_key from {{ rebuilt_years_table() }})
        or '*' in (select year_key from {{ rebuilt_years_table() }}))
{%- endmacro %}

{#- dbt incremental strategy `replace_years` (int_kpi_units and the models built from it by
    year): the target's rows of the rebuilt years are deleted, then the build's rows (exactly
    those years') inserted. The years come from the table int_kpi_units recorded, so that a
    year left with no units loses its old rows too. -#}
{% macro get_incremental_replace_years_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    delete from {{ target }} where {{ in_rebuilt_years() }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}
