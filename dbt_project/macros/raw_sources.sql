{#-
    The raw layer each engine reads (docs/spark.md). DuckDB: raw.* in the warehouse, written by
    ingestion (nothing to do here). Spark: the lake's Parquet files, the same rows written by
    ingestion beside raw.* (pipelines/lib/lake.py): at the start of every dbt invocation each
    raw source is declared afresh as an external table over its folder, with the columns and
    types of models/staging/_sources.yml. Dropping an external table leaves its files; declaring
    it anew drops Spark's cached listing of them, so files landed since are read.
-#}
{% macro declare_raw_sources() %}{{ return(adapter.dispatch('declare_raw_sources', 'outcomes')()) }}{% endmacro %}

{% macro default__declare_raw_sources() %}{% endmacro %}

{% macro spark__declare_raw_sources() %}
    {% if execute %}
        {% set lake = var('outcomes_lake', '') or env_var('OUTCOMES_LAKE', '') %}
        {% if not lake %}
            {% do exceptions.raise_compiler_error("no lake (var outcomes_lake, else OUTCOMES_LAKE): the Spark engine reads the raw layer from the lake (docs/spark.md)") %}
        {% endif %}
        {% set spark_types = {'varchar': 'string', 'integer': 'int'} %}
        {% do run_query('create database if not exists raw') %}
        {% for source in graph.sources.values() | selectattr('source_name', 'equalto', 'raw') | sort(attribute='name') %}
            {% set columns = [] %}
            {% for column in source.columns.values() %}
                {% do columns.append(column.name ~ ' ' ~ spark_types.get(column.data_type, column.data_type)) %}
            {% endfor %}
            {% set meta = source.meta or source.config.meta %}
            {% set folder = lake ~ '/raw/' ~ source.identifier ~ '/source=' ~ meta['dagster']['asset_key'][1] %}
            {% do run_query('drop table if exists raw.' ~ source.identifier) %}
            {% do run_query('create table raw.' ~ source.identifier ~ ' (' ~ columns | join(', ') ~ ') using parquet location \'' ~ folder ~ '\'') %}
        {% endfor %}
    {% endif %}
{% endmacro %}
