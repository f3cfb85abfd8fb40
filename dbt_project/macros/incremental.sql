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
    {{ key }} in ({{ changed_key_values(key, relation) }})
{%- endmacro %}

{#- The keys found in the changed files of relation (a staging view), as a select. On DuckDB an
    incremental build finds them once, when it starts (record_changed_keys): every model and test
    narrowed to them then reads a small table instead of scanning its staging view's whole
    history again (at 100x, seconds a test). -#}
{% macro changed_key_values(key, relation) -%}
    {%- if changed_keys_recorded() and [relation.identifier, key] in changed_key_columns() -%}
    select key_value as {{ key }} from {{ changed_keys_table() }}
    where relation_name = '{{ relation.identifier }}' and key_name = '{{ key }}'
    {%- else -%}
    select {{ key }} from {{ relation }} where {{ in_changed_files() }}
    {%- endif -%}
{%- endmacro %}

{#- The (staging view, key) pairs record_changed_keys finds: the incremental models' keys. -#}
{% macro changed_key_columns() -%}
    {{ return([['stg_visits', 'visit_id'], ['stg_pathway_contacts', 'contact_id'],
               ['stg_pathway_prescriptions', 'prescription_id'], ['stg_wellbeing_calls', 'call_id']]) }}
{%- endmacro %}

{% macro changed_keys_table() -%}
    {{ return(api.Relation.create(database=target.database, schema='build_state', identifier='changed_keys')) }}
{%- endmacro %}

{#- An incremental build on DuckDB: the changed files are a table (lib/dbt_increments.py), the
    staging views are those of the last build (a changed project builds whole). -#}
{% macro changed_keys_recorded() -%}
    {{ return(execute and target.type == 'duckdb' and var('changed_files', none) is string and not flags.FULL_REFRESH) }}
{%- endmacro %}

{#- on-run-start (dbt_project.yml): the changed keys of this build, before any model runs. -#}
{% macro record_changed_keys() -%}
    {%- if changed_keys_recorded() -%}
    {%- do adapter.create_schema(changed_keys_table()) -%}
    create or replace table {{ changed_keys_table() }} as
    {% for relation_name, key in changed_key_columns() -%}
    select distinct '{{ relation_name }}' as relation_name, '{{ key }}' as key_name, cast({{ key }} as varchar) as key_value
    from {{ node_relation('model.outcomes.' ~ relation_name) }}
    where {{ in_changed_files() }} and {{ key }} is not null
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- The Zoom sessions an incremental build recomputes (int_zoom_attendances): those in a
    changed file, and every session joined by someone who hosts for the first time in a
    changed file (a host is staff in every session they join). A select of (meeting_id,
    start_time), read by int_zoom_attendances, its tests and int_kpi_units' pre-hooks: on DuckDB
    found once, when the build starts (record_changed_zoom_sessions). `meetings`, `participants`:
    stg_zoom_meetings and stg_zoom_participants (a model passes its ref()s, a test their
    relations: a test may not ref what it does not test). -#}
{% macro changed_zoom_sessions(meetings, participants) -%}
    {%- if changed_keys_recorded() -%}
    select meeting_id, start_time from {{ changed_zoom_sessions_table() }}
    {%- else -%}
    {{ find_changed_zoom_sessions(meetings, participants) }}
    {%- endif -%}
{%- endmacro %}

{% macro find_changed_zoom_sessions(meetings, participants) -%}
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

{% macro changed_zoom_sessions_table() -%}
    {{ return(api.Relation.create(database=target.database, schema='build_state', identifier='changed_zoom_sessions')) }}
{%- endmacro %}

{#- on-run-start (dbt_project.yml), after record_changed_keys: the Zoom sessions this build recomputes. -#}
{% macro record_changed_zoom_sessions() -%}
    {%- if changed_keys_recorded() -%}
    create or replace table {{ changed_zoom_sessions_table() }} as
    {{ find_changed_zoom_sessions(node_relation('model.outcomes.stg_zoom_meetings'),
                                  node_relation('model.outcomes.stg_zoom_participants')) }}
    {%- endif -%}
{%- endmacro %}

{#- The financial years whose figures a build can change: every year in which a changed key
    sits now, or its unit sat in the last build (`units`: int_kpi_units before this build), and
    nothing else. Every count KPI is decided within one financial year (a person KPI is a
    person-year), so a year's figures depend only on that year's records. int_kpi_units rebuilds
    by unit (record_rebuilt_units); the models built by year (kpi_annual, the marts, the
    reconciliation) rebuild these years. A select of year keys (financial_year; '~' for the
    units with no year: orphan prescriptions). -#}
{% macro kpi_unit_rebuilt_years(units) -%}
    with changed_keys as (
        {%- for relation_name, key in changed_key_columns() %}
        select {{ key }} as record_key
        from ({{ changed_key_values(key, node_relation('model.outcomes.' ~ relation_name)) }}) as changed_{{ key }}
        {%- if not loop.last %}
        union
        {%- endif %}
        {%- endfor %}
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
    say where the changed keys sat) with the build's invocation_id, and read by the models built by
    year, which depend on int_kpi_units; '*' when int_kpi_units is built whole (every year). -#}
{% macro rebuilt_years_table() -%}
    {{ return(api.Relation.create(database=target.database, schema='build_state', identifier='kpi_rebuilt_years')) }}
{%- endmacro %}

{% macro record_rebuilt_years() %}{{ return(adapter.dispatch('record_rebuilt_years', 'outcomes')()) }}{% endmacro %}
{% macro default__record_rebuilt_years() -%}
    {%- do adapter.create_schema(rebuilt_years_table()) -%}
    create or replace table {{ rebuilt_years_table() }} as
    select year_key, '{{ invocation_id }}' as invocation_id from (
    {% if is_incremental() -%}
        {{ kpi_unit_rebuilt_years(this) }}
    {%- else -%}
        select '*' as year_key
    {%- endif %}
        union
        select '-'  -- no year: marks the table as this build's even when it rebuilds no year
    ) as years
{%- endmacro %}
{#- Spark builds every model whole (versioned_materialization): nothing to record. -#}
{% macro spark__record_rebuilt_years() %}{% endmacro %}

{#- In an incremental build of a model rebuilt by year, `where <year column> in (rebuilt years)`. -#}
{% macro only_rebuilt_years(column='financial_year', relation=none) -%}
    {%- if is_incremental() %}
    where {{ in_rebuilt_years(column, relation) }}
    {%- endif -%}
{%- endmacro %}

{#- Every year when this invocation did not build int_kpi_units (a hand-run selection of a model
    built by year without it): the table is then another build's. `relation`: the model built by
    year (its strategy passes its target); one resting on the members register and the
    deprivation lookups (rests_on_register) is rebuilt whole when a file of theirs changed.
    Once this build's years are recorded (every node compiled after int_kpi_units' pre-hook) they
    are written into the SQL as constants: DuckDB then prunes the other years' row groups, where
    the subqueries below, evaluated per row beside an OR, scan every year (~1 s a node at 100x). -#}
{% macro in_rebuilt_years(column='financial_year', relation=none) -%}
    {%- set register = relation is not none and relation.identifier in rests_on_register() -%}
    {%- set recorded = recorded_rebuilt_years(register) -%}
    {%- if recorded is none -%}
    {%- set years -%}
        (select year_key from {{ rebuilt_years_table() }} where invocation_id = '{{ invocation_id }}')
    {%- endset -%}
    (coalesce({{ column }}, '~') in {{ years }} or '*' in {{ years }} or not exists {{ years }}
    {%- if register %}
        or exists ({{ changed_register_files() }})
    {%- endif %})
    {%- elif '*' in recorded -%}
    true
    {%- else -%}
    (coalesce({{ column }}, '~') in ('{{ recorded | join("', '") }}'))
    {%- endif -%}
{%- endmacro %}

{#- The year keys this invocation recorded (['*']: every year, also when a register or lookup
    file changed and `register`), or none while they are not recorded (a parse; another build's
    table): the caller then reads them in SQL. The table is written once a build, before any node that reads it. -#}
{% macro recorded_rebuilt_years(register=false) -%}
    {%- if not execute or target.type != 'duckdb' -%}{{ return(none) }}{%- endif -%}
    {#- once recorded they do not change within the build: read once (a third of an incremental
        build's queries were these look-ups, two or three for every node built or tested by year) -#}
    {%- set cache = invocation_cache() -%}
    {%- set key = 'rebuilt_years_register' if register else 'rebuilt_years' -%}
    {%- if key in cache -%}{{ return(cache[key]) }}{%- endif -%}
    {%- set table = rebuilt_years_table() -%}
    {%- set found = run_query("select count(*) from duckdb_tables() where database_name = '" ~ table.database
                              ~ "' and schema_name = '" ~ table.schema ~ "' and table_name = '" ~ table.identifier ~ "'") -%}
    {%- if found.columns[0].values()[0] == 0 -%}{{ return(none) }}{%- endif -%}
    {%- set years = run_query("select year_key from " ~ table ~ " where invocation_id = '" ~ invocation_id ~ "'").columns[0].values() | list -%}
    {%- if years | length == 0 -%}{{ return(none) }}{%- endif -%}
    {%- if register and run_query("select count(*) from (" ~ changed_register_files() ~ ") as changed").columns[0].values()[0] > 0 -%}
        {%- set years = ['*'] -%}
    {%- endif -%}
    {%- do cache.update({key: years | map('replace', "'", "''") | sort | list}) -%}
    {{ return(cache[key]) }}
{%- endmacro %}

{#- A dictionary that lives as long as this dbt invocation (a build), for what is looked up once a
    build: dbt gives every node's context the same `graph` (the manifest's, built when it is
    parsed or loaded), which a process building many times (`outcomes watch`) keeps: hence the
    invocation id, and a new dictionary for each build. -#}
{% macro invocation_cache() -%}
    {%- set caches = graph.setdefault('outcomes_invocation_cache', {}) -%}
    {%- if invocation_id not in caches -%}
        {%- do caches.clear() -%}
        {%- do caches.update({invocation_id: {}}) -%}
    {%- endif -%}
    {{ return(caches[invocation_id]) }}
{%- endmacro %}

{#- The changed files of the members register and the deprivation lookups, as a select. -#}
{% macro changed_register_files() -%}
    select 1 from ledger.files where source in ('members', 'reference') and {{ in_changed_files() }}
{%- endmacro %}

{#- The models built by year from the members register and the deprivation lookups (a member's
    decile), which no KPI unit records (int_members_reached, built by member: in_rebuilt_members). -#}
{% macro rests_on_register() -%}
    {{ return(['mart_reach_by_deprivation']) }}
{%- endmacro %}

{#- The members int_members_reached recomputes (strategy replace_members), in every year, as a
    table beside the models (schema build_state) written by its pre-hook with the build's
    invocation_id: the member ids (as it keys them) of every version, old and new, of the changed
    visits and contacts: their members now and at the last build (a correction may move a visit to
    another member), and perhaps a few more, which are recomputed to the same rows. A member's row
    of a year rests only on their counted visits and attended contacts of that year and on the
    register and the deprivation lookups; when a file of those changed, or the rebuilt years are
    not this build's (a hand-run selection without int_kpi_units), every member is recomputed. -#}
{% macro rebuilt_members_table() -%}
    {{ return(api.Relation.create(database=target.database, schema='build_state', identifier='rebuilt_members')) }}
{%- endmacro %}

{% macro record_rebuilt_members() %}{{ return(adapter.dispatch('record_rebuilt_members', 'outcomes')()) }}{% endmacro %}
{% macro default__record_rebuilt_members() -%}
    {%- if is_incremental() -%}
    {%- do adapter.create_schema(rebuilt_members_table()) -%}
    create or replace table {{ rebuilt_members_table() }} as
    select distinct upper(trim(member_id)) as member_id, '{{ invocation_id }}' as invocation_id from (
        select member_id from {{ ref('stg_visits') }} where {{ changed_keys('visit_id', ref('stg_visits')) }}
        union all
        select member_id from {{ ref('stg_pathway_contacts') }} where {{ changed_keys('contact_id', ref('stg_pathway_contacts')) }}
    ) as versions
    where nullif(trim(member_id), '') is not null
    {%- endif -%}
{%- endmacro %}
{% macro spark__record_rebuilt_members() %}{% endmacro %}

{#- A predicate on a row of int_members_reached (or of its inputs, `column` = their member id as it
    keys them): its member is one this build recomputes. -#}
{% macro in_rebuilt_members(column='member_id') -%}
    {%- set years = recorded_rebuilt_years(register=true) -%}
    {%- if years is none or '*' in years -%}
    true
    {%- else -%}
    ({{ column }} in (select member_id from {{ rebuilt_members_table() }} where invocation_id = '{{ invocation_id }}'))
    {%- endif -%}
{%- endmacro %}

{#- dbt incremental strategy `replace_members` (int_members_reached): the rows of the recomputed
    members are deleted, in every year, then the build's rows inserted. -#}
{% macro get_incremental_replace_members_sql(arg_dict) -%}
    {{ delete_then_insert(arg_dict, in_rebuilt_members()) }}
{%- endmacro %}

{#- dbt incremental strategy `replace_years` (the models built by year from int_kpi_units'
    years): the target's rows of the rebuilt years are deleted, then the build's rows (exactly
    those years') inserted. The years come from the table int_kpi_units recorded, so that a
    year left with no units loses its old rows too. -#}
{% macro get_incremental_replace_years_sql(arg_dict) -%}
    {{ delete_then_insert(arg_dict, in_rebuilt_years(relation=arg_dict['target_relation'])) }}
{%- endmacro %}

{#- The strategies below: the target's rows matching `condition` (a predicate) deleted, then the
    build's rows (its temporary relation) inserted. -#}
{% macro delete_then_insert(arg_dict, condition) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') %}
    delete from {{ target }} where {{ condition }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ arg_dict['temp_relation'] }}
{%- endmacro %}

{#- The keys an incremental build of a model keyed by `unique_key` recomputes (strategy
    replace_keys), when its rows rest on more than its own staging rows: a select of key values.
    int_social_prescriptions: the prescriptions in a changed file, and those whose contact is in one
    (a late contact un-orphans them; a corrected one moves their year or count). Relations from
    the graph, not ref(): the model's tests call it too; all are upstream of the model. -#}
{% macro recomputed_keys(relation) -%}
    {%- if relation.identifier == 'int_social_prescriptions' -%}
    {{ changed_key_values('prescription_id', outcomes.node_relation('model.outcomes.stg_pathway_prescriptions')) }}
    union
    select prescription_id from {{ outcomes.node_relation('model.outcomes.int_pathway_prescriptions') }}
    where {{ changed_keys('contact_id', outcomes.node_relation('model.outcomes.stg_pathway_contacts')) }}
    {%- else -%}
    {{ exceptions.raise_compiler_error('recomputed_keys: no rule for ' ~ relation.identifier) }}
    {%- endif -%}
{%- endmacro %}

{#- dbt incremental strategy `replace_keys`: the target's rows of the recomputed keys are deleted,
    whether the build still yields them or not (a prescription withdrawn since leaves the model),
    then the build's rows inserted. -#}
{% macro get_incremental_replace_keys_sql(arg_dict) -%}
    {{ delete_then_insert(arg_dict, arg_dict['unique_key'] ~ ' in (' ~ recomputed_keys(arg_dict['target_relation']) ~ ')') }}
{%- endmacro %}

{#- The units int_kpi_units recomputes by key (strategy replace_units), as a table beside the
    models (schema build_state) written by its second pre-hook with the build's invocation_id: the
    changed visits, contacts, prescriptions (recomputed_keys: also those resting on a changed
    contact) and calls, and the person-years (a member's or a service user's year) one of those
    rests on now or rested on at the last build (`this`: its units' records); Zoom's recomputed
    sessions, their attendances and the person-years of those (zoom_rebuilt_units). financial_year
    is '*' for the units keyed by their record alone. -#}
{% macro rebuilt_units_table() -%}
    {{ return(api.Relation.create(database=target.database, schema='build_state', identifier='kpi_rebuilt_units')) }}
{%- endmacro %}

{% macro person_year_units() %}{{ return(['member', 'service_user', 'person']) }}{% endmacro %}

{% macro record_rebuilt_units() %}{{ return(adapter.dispatch('record_rebuilt_units', 'outcomes')()) }}{% endmacro %}
{% macro default__record_rebuilt_units() -%}
    {%- do adapter.create_schema(rebuilt_units_table()) -%}
    {%- set visits = changed_key_values('visit_id', ref('stg_visits')) -%}
    {%- set calls = changed_key_values('call_id', ref('stg_wellbeing_calls')) -%}
    create or replace table {{ rebuilt_units_table() }} as
    select distinct unit_kind, unit_key, financial_year, '{{ invocation_id }}' as invocation_id from (
    {%- if is_incremental() %}
        select 'visit' as unit_kind, visit_id as unit_key, '*' as financial_year from ({{ visits }}) as changed_visits
        union all
        {{ person_years('member', ref('int_visits'), 'member_id', 'visit', 'visit_id', visits) }}
        union all
        select 'contact', contact_id, '*' from ({{ changed_key_values('contact_id', ref('stg_pathway_contacts')) }}) as changed_contacts
        union all
        select 'prescription', prescription_id, '*'
        from ({{ recomputed_keys(node_relation('model.outcomes.int_social_prescriptions')) }}) as recomputed_prescriptions
        union all
        select 'call', call_id, '*' from ({{ calls }}) as changed_calls
        union all
        {{ person_years('service_user', ref('int_wellbeing_calls'), 'service_user_pseudonym', 'call', 'call_id', calls) }}
        union all
        select unit_kind, unit_key, financial_year from ({{ zoom_rebuilt_units() }}) as zoom_units
    {%- else %}
        select cast(null as varchar) as unit_kind, cast(null as varchar) as unit_key, cast(null as varchar) as financial_year
        where false
    {%- endif %}
    ) as units
    where unit_key is not null
{%- endmacro %}
{% macro spark__record_rebuilt_units() %}{% endmacro %}

{#- Zoom's units a build recomputes (a select of unit_kind, unit_key, financial_year): the sessions
    int_zoom_attendances recomputed (changed_zoom_sessions: those in a changed file, and those a new
    host joined), their attendances and the person-years of those. A session's attendances only
    ever grow (a re-export is a union: int_zoom_attendances), so those it has now include those it
    had at the last build, and their persons too. -#}
{% macro zoom_rebuilt_units() -%}
    with changed as (
        {{ changed_zoom_sessions(ref('stg_zoom_meetings'), ref('stg_zoom_participants')) | indent(8) }}
    ),

    sessions as (
        select sessions.session_id
        from {{ ref('int_zoom_sessions') }} as sessions
        inner join changed
            on sessions.meeting_id = changed.meeting_id and sessions.start_time = changed.start_time
    ),

    attendances as (
        select session_id || '|' || person_key as unit_key, person_key, coalesce(financial_year, '~') as financial_year
        from {{ ref('int_zoom_attendances') }}
        where session_id in (select session_id from sessions)
    )

    select 'session' as unit_kind, session_id as unit_key, '*' as financial_year from sessions
    union all
    select 'attendance', unit_key, '*' from attendances
    union all
    select 'person', person_key, financial_year from attendances
{%- endmacro %}

{#- The person-years (unit kind `kind`) resting on the changed records (`changed`: a select of
    `key` values of `records`, the model holding the person column): the person of each record's
    current version in its year, and the person units whose records named it at the last build. -#}
{% macro person_years(kind, records, person, record_kind, key, changed) -%}
        select '{{ kind }}', {{ person }}, coalesce(financial_year, '~') from {{ records }}
        where {{ person }} is not null and {{ key }} in ({{ changed }})
        union all
        select '{{ kind }}', unit_key, coalesce(financial_year, '~') from {{ this }}
        where unit_kind = '{{ kind }}' and record_kind = '{{ record_kind }}' and record_key in ({{ changed }})
{%- endmacro %}

{#- A predicate: a row's unit is one this build recomputes. With kind and column: the rows of an
    import CTE holding that kind's keys (person kinds: in the recomputed years). Without: a row of
    int_kpi_units (or int_kpi_counted_units), the unit_key alone first, which leaves few rows to
    build the text for (4.3 s -> 2.2 s at 100x). Read only by int_kpi_units, the models built from
    it by unit, their strategy and their tests: after its pre-hooks. Keys are compared as one text
    (kind|year|key: kind and year never hold '|'): DuckDB plans a row-valued IN beside an OR as a
    nested loop (70 s at 100x, against 0.6 s). -#}
{% macro in_rebuilt_units(kind=none, column=none) -%}
    {%- set this_build = "invocation_id = '" ~ invocation_id ~ "'" -%}
    {%- if kind in person_year_units() -%}
    (coalesce(financial_year, '~') || '|' || {{ column }} in
        (select financial_year || '|' || unit_key from {{ rebuilt_units_table() }} where unit_kind = '{{ kind }}' and {{ this_build }}))
    {%- elif kind is not none -%}
    ({{ column }} in (select unit_key from {{ rebuilt_units_table() }} where unit_kind = '{{ kind }}' and {{ this_build }}))
    {%- else -%}
    (unit_key in (select unit_key from {{ rebuilt_units_table() }} where {{ this_build }})
         and unit_kind || '|' || (case when unit_kind in ('{{ person_year_units() | join("', '") }}')
                                       then coalesce(financial_year, '~') else '*' end) || '|' || unit_key
             in (select unit_kind || '|' || financial_year || '|' || unit_key from {{ rebuilt_units_table() }}
                 where {{ this_build }}))
    {%- endif -%}
{%- endmacro %}

{#- dbt incremental strategy `replace_units` (int_kpi_units, int_kpi_counted_units): the target's
    rows of the recomputed units are deleted, whether the build still yields them or not, then the build's rows inserted. -#}
{% macro get_incremental_replace_units_sql(arg_dict) -%}
    {{ delete_then_insert(arg_dict, in_rebuilt_units()) }}
{%- endmacro %}
