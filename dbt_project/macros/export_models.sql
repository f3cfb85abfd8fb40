{#-
    Spark only (docs/spark.md): at the end of `dbt build` / `dbt run`, every model and seed that
    succeeded is written as Parquet to <OUTCOMES_SPARK_DIR>/export/<name>/, from which the
    pipeline copies it into the home's DuckDB warehouse (pipelines/lib/engine.py), where the
    checks, trace, dashboards and snapshots read it. Views are exported with their rows.
-#}
{% macro export_models(results) %}{{ return(adapter.dispatch('export_models', 'outcomes')(results)) }}{% endmacro %}

{% macro default__export_models(results) %}{% endmacro %}

{% macro spark__export_models(results) %}
    {% if execute and flags.WHICH in ('build', 'run') %}
        {% set root = (var('outcomes_spark_dir', '') or env_var('OUTCOMES_SPARK_DIR', '')) ~ '/export/' %}
        {% for result in results if result.node.resource_type in ('model', 'seed') and result.status in ('success', 'pass') %}
            {% do run_query("insert overwrite directory '" ~ root ~ result.node.name ~ "' using parquet select * from "
                            ~ adapter.quote(result.node.schema) ~ '.' ~ adapter.quote(result.node.alias or result.node.name)) %}
        {% endfor %}
    {% endif %}
{% endmacro %}
