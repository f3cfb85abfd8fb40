"""The dbt project as Dagster assets: staging -> intermediate -> marts, dbt tests as checks."""

import re
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext, AssetsDefinition
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from pipelines.lib import dbt_in_process, engine, lake, memory, warehouse
from pipelines.lib.dbt_increments import (FULL_REFRESH_TAG, changed_files_var, finishes_the_graph, plan_build,
                                          record_build)
from pipelines.lib.home import Home
from pipelines.lib.locking import warehouse_lock
from pipelines.lib.dbt_project import (DBT_MEMORY_ENV, MANIFEST_PATH, NOT_IN_PIPELINE, base_args, build_args, dbt_vars,
                                       home_build_args, home_partial_parse, project_fingerprint)
from pipelines.quality.results import record_dbt_events
from pipelines.resources import OutcomesResource, guarded


class OutcomesTranslator(DagsterDbtTranslator):
    """Groups follow the dbt folders; raw sources map to the ingestion assets via source meta."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2 else None

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """dbt data tests are asset checks (enable_asset_checks); a test of severity error is
        blocking (dagster-dbt's default, kept: a failure also fails the dbt step, so nothing
        downstream runs), severity warn is not. The description is the test's own, or says
        which test on which column it is, for the quality report."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None:
            return None
        return spec._replace(description=dbt_test_description(manifest["nodes"].get(unique_id, {})))


def dbt_test_description(test: Mapping[str, Any]) -> str:
    text = (test.get("description") or "").strip()
    if not text:
        meta = test.get("test_metadata") or {}
        column = test.get("column_name")
        model = (test.get("attached_node") or "").rsplit(".", 1)[-1]
        text = f"dbt test {meta.get('name') or test.get('name')} on {model}{'.' + column if column else ''}"
    return text


TRANSLATOR = OutcomesTranslator(settings=DagsterDbtTranslatorSettings(
    enable_asset_checks=True, enable_duplicate_source_asset_keys=True))


def load_manifest():
    if not MANIFEST_PATH.exists():
        raise FileNotFoundError(
            f"dbt manifest {MANIFEST_PATH} is missing: run `outcomes prepare` (or `make setup`) first")
    return MANIFEST_PATH


def build_dbt_models() -> AssetsDefinition:
    """The dbt models as one multi-asset, from the manifest `outcomes prepare` wrote: read here,
    when the definitions are built (pipelines.assemble), never when this module is imported."""

    @dbt_assets(manifest=load_manifest(), exclude=NOT_IN_PIPELINE, dagster_dbt_translator=TRANSLATOR)
    def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, outcomes: OutcomesResource):
        home, engine_name = outcomes.home_dir, outcomes.engine_name
        with warehouse_lock(home.warehouse, exclusive=True):
            # incremental models take in the files loaded since the last build (lib/dbt_increments.py)
            # another engine builds anew: its name is part of the vars a build is recorded with
            project = project_fingerprint()
            variables = dbt_vars(paths=None if engine_name == "duckdb" else {"engine": engine_name})
            with warehouse.connect(home.warehouse) as con:
                plan = plan_build(con, project, variables, context.run.tags.get(FULL_REFRESH_TAG) == "true")
                raw_rows = con.execute("SELECT coalesce(sum(estimated_size), 0) FROM duckdb_tables() "
                                       "WHERE schema_name = 'raw'").fetchone()[0]
                if engine_name != "duckdb":  # Spark reads the lake: complete, whichever sources this run ingested
                    lake.sync_all(con, lake.lake_root(home.root))
            context.log.info(plan.describe())
            # the warehouse goes to dbt as a var (the profile reads it), not through os.environ: on
            # DuckDB relative to the home, where dbt runs (home_build_args)
            in_process = outcomes.dbt_in_process and engine_name == "duckdb"
            if engine_name == "duckdb":
                args = home_build_args(changed_files_var(plan), plan.full_refresh, raw_rows)
            else:
                args = build_args(changed_files=changed_files_var(plan, engine_name), full_refresh=plan.full_refresh,
                                  warehouse=home.warehouse, target=engine_name,
                                  paths=engine.spark_vars(engine_name, home.root))
            # dbt is started and streamed to the end in this thread, as the guard needs
            # (pipelines/lib/dbt_guard.py); each dbt test's result is also recorded for the
            # quality report (pipelines.quality)
            # the load's leftovers, before dbt builds (in this process, or in its own beside it; the
            # load and the validation collected their own garbage when they were large)
            memory.release(rows=0)
            if in_process:  # the `outcomes` commands: dbt in this process (no dbt process starting)
                events = in_process_events(context, args, project, home)
            else:
                home_partial_parse(home.dbt_target)
                events = guarded(dbt, cwd=home.root).cli(args, context=context, target_path=home.dbt_target).stream()
            yield from record_dbt_events(context, home, events, home.dbt_target)
            models = {k.path[-1] for k in context.selected_asset_keys} if context.is_subset else None
            finished = models is None or finishes_the_graph(models, model_parents(context.assets_def))
            with warehouse.connect(home.warehouse) as con:
                engine.import_spark_outputs(con, home.root, engine_name)  # Spark's models into the warehouse
                record_build(con, plan, project, variables, models, finished)

    return dbt_models


def model_parents(dbt_assets_def: AssetsDefinition) -> dict[str, set[str]]:
    """Each dbt model's parents among the dbt models: the whole graph's, whichever subset runs."""
    deps = dbt_assets_def.asset_deps
    return {key.path[-1]: {dep.path[-1] for dep in parents if dep in deps} for key, parents in deps.items()}


def in_process_events(context: AssetExecutionContext, args: list[str], project: str, home: Home):
    """The build's Dagster events from dbt run in this process (pipelines/lib/dbt_in_process.py),
    converted by dagster-dbt as it converts the CLI's; a failed build fails the step, as the
    CLI's exit code does, after its events (the failing tests' results) are yielded."""
    from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context
    from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

    # the run's subset of models and tests, selected as DbtCliResource.cli selects it
    cleaned, selects, excludes = extract_runtime_selection_from_args(args)
    params = get_updated_cli_invocation_params_for_context(context, {}, TRANSLATOR, runtime_selects=selects,
                                                           runtime_excludes=excludes)
    manifest, translator, dbt_project = params.manifest, params.dagster_dbt_translator, params.dbt_project
    indirect = ["--indirect-selection", params.indirect_selection] if params.indirect_selection else []
    # dbt.log beside the build's artifacts, where dagster-dbt has dbt's own process write it
    target_path = home.dbt_target
    build = dbt_in_process.build([*cleaned, *params.selection_args, *indirect, *base_args(target_path),
                                  "--log-path", str(target_path)], project, home.root)
    for raw in build.events:  # dagster-dbt makes Dagster events of the result events only
        event = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
        yield from event.to_default_asset_events(manifest=manifest, dagster_dbt_translator=translator,
                                                 context=context, target_path=target_path, project=dbt_project)
    if not build.success:
        # dbt's error lines without their terminal colours (they reach the user's log)
        errors = [re.sub(r"\x1b\[[0-9;]*m", "", e["info"]["msg"]) for e in build.events
                  if e.get("info", {}).get("level") == "error"]
        hint = (f"\nDuckDB ran out of memory in dbt: set {DBT_MEMORY_ENV} above the build's limit (e.g. 4GB) "
                "for the next run (docs/performance.md)" if any("Out of Memory Error" in e for e in errors) else "")
        raise dg.Failure(f"dbt build failed in process: {build.exception or chr(10).join(errors[-6:])}{hint}",
                         metadata={"errors": "\n".join(errors[-20:])})
