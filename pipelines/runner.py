"""Running the pipeline for the commands: the job in process, the nothing-new check, the watch
loop, and what a run prints. Argument parsing is the CLI's (pipelines.cli); the definitions are
built here from the home and landing given (pipelines.assemble), and no setting goes through the
environment. Dagster, dbt and the definitions are imported when a run starts, so that the
commands that only read (`outcomes kpis`) start fast (bench/startup.py).
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from pipelines.audit.manifest import record_run
from pipelines.lib import memory
from pipelines.lib.dbt_increments import FULL_REFRESH_TAG
from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home
from pipelines.lib.kpi_table import read_kpis, render_kpis

DAGSTER_YAML = """\
# Written by `outcomes` for this home. Runs launched by the daemon or `dagster dev` queue here:
# one at a time, because DuckDB has one writer (see docs/orchestration.md for a Trust deployment).
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
"""


def dagster_instance(home: Home):
    from dagster import DagsterInstance

    home.dagster.mkdir(parents=True, exist_ok=True)
    config = home.dagster / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    return DagsterInstance.from_config(str(home.dagster))


def check_landing(landing: Path) -> None:
    if not landing.is_dir():
        raise UsageError(f"landing folder {landing} does not exist or is not a folder")


def check_key(home: Home) -> None:
    """A home that holds data needs its pseudonymisation key, whole: one line before the job
    starts (ingestion would refuse it too, but inside Dagster's step failures)."""
    from pipelines.lib.pseudonym import SecretInvalid, SecretMissing, check_secret

    try:
        check_secret(home.secret, create=home.is_new)
    except (SecretMissing, SecretInvalid) as exc:
        raise UsageError(str(exc)) from None


def definitions_for(home: Home, landing: Path, engine: str = ""):
    """The definitions with this home and landing (the dbt manifest brought up to date first);
    dbt runs in this process (pipelines/lib/dbt_in_process.py): one build per `outcomes run`, one
    per file under `outcomes watch`, and no dbt process starting for either."""
    from pipelines.assemble import build_definitions
    from pipelines.lib.dbt_project import prepare_manifest
    from pipelines.resources import OutcomesResource

    prepare_manifest()
    defs = build_definitions(OutcomesResource(home=str(home.root), landing=str(landing.resolve()), engine=engine,
                                              dbt_in_process=True))
    memory.freeze()  # Dagster's modules and these definitions: out of every later collection's walk
    return defs


def run_pipeline(home: Home, landing: Path, asset_selection=None, tags=None, engine: str = "", defs=None) -> dict:
    """Run the asset graph (or a selection of it) in process against `landing`, state under `home`
    (`defs`: the definitions for them, when the caller has built them); the run's summary (what
    `finish_run` prints and records)."""
    check_landing(landing)
    check_key(home)
    from dagster import DagsterInstance

    job = (defs or definitions_for(home, landing, engine)).resolve_job_def("refresh_all")
    home.ensure().logs.mkdir(parents=True, exist_ok=True)
    # An in-memory instance: the SQLite event log costs ~30 ms an event (~700 events a run). The
    # run's record is the manifest under <home>/runs (pipelines/audit/manifest.py); runs launched
    # by `dagster dev` or the daemon are recorded in the home's Dagster instance as usual.
    # dbt's own event stream goes to stdout: keep it in the run log, not on the terminal (a line
    # at a time: what a watcher of the log sees is what has run).
    with DagsterInstance.ephemeral() as instance, \
            open(home.logs / "last-run.log", "w", buffering=1) as log, contextlib.redirect_stdout(log):
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, asset_selection=asset_selection, tags=tags,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
        return {**summarise_run(result), "landing": str(landing.resolve())}


def summarise_run(result) -> dict:
    from dagster import AssetCheckSeverity

    ingested, failed_checks, materialized = {}, [], []
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            materialized.append(mat.asset_key)
            if mat.asset_key.path[0] == "raw":
                ingested[mat.asset_key.path[1]] = {k: v.value for k, v in mat.metadata.items()}
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            ev = event.event_specific_data
            if not ev.passed and ev.severity == AssetCheckSeverity.ERROR:  # warnings do not fail a run
                failed_checks.append(f"{ev.asset_key.to_user_string()}:{ev.check_name}")
    failed_steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    return {"success": result.success, "run_id": result.run_id, "ingested": ingested, "materialized": materialized,
            "failed_checks": failed_checks, "failed_steps": failed_steps, "step_seconds": step_seconds(result)}


def step_seconds(result) -> dict[str, float]:
    """Wall seconds of each step that succeeded (Dagster's own measure): where a run's time went."""
    return {e.step_key: round(e.event_specific_data.duration_ms / 1000, 2)
            for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}


def print_run_summary(summary: dict) -> None:
    print(f"run {summary['run_id']}")
    for source, m in summary["ingested"].items():
        print(f"  {source:<16} files: {m.get('files_loaded', 0)} loaded, {m.get('files_quarantined', 0)} quarantined, "
              f"{m.get('files_duplicate', 0)} duplicate, {m.get('files_already_seen', 0)} already seen; "
              f"rows: {m.get('rows_loaded', 0)} loaded, {m.get('rows_rejected', 0)} rejected")
        for q in m.get("quarantined") or []:
            print(f"    quarantined {q}")


def print_kpis_and_dashboards(home: Home) -> None:
    print(render_kpis(read_kpis(home), "table"), end="")
    print(f"\ndashboards: {home.dashboards / 'index.html'}")


def finish_run(summary: dict, home: Home) -> int:
    """Record the run, print what it did and the KPIs; the exit code (1: the run did not complete)."""
    print_run_summary(summary)
    print(f"run record: {record_run(home, summary)}")
    if not summary["success"]:
        what = ", ".join(summary["failed_checks"] or summary["failed_steps"]) or "see the Dagster run log"
        print(f"outcomes: run did not complete: {what}", file=sys.stderr)
        return 1
    print()
    print_kpis_and_dashboards(home)
    return 0


def new_sources(home: Home, files: list[tuple[str, str, str]]) -> set[str]:
    """The sources holding a file (path and content) the ledger has not seen."""
    from pipelines.lib.locking import warehouse_lock
    from pipelines.lib.warehouse import connect

    with warehouse_lock(home.warehouse, exclusive=False), connect(home.warehouse, read_only=True) as con:
        seen = set(con.execute("SELECT file_path, file_sha256 FROM ledger.files").fetchall())
    return {source for source, rel, digest in files if (rel, digest) not in seen}


def run_whole_job(home: Home, landing: Path, full_refresh: bool = False, engine: str = "") -> int:
    """The job, unless nothing it is computed from changed since it last succeeded
    (pipelines.lib.run_inputs): then no Dagster, no dbt, nothing published anew. When only new
    files arrived since then, the run is the sensor's selection: the sources that received them
    and everything downstream (pipelines.sensors.affected_assets); anything else runs it whole."""
    from pipelines.lib import run_inputs
    from pipelines.lib.digests import DigestCache

    check_landing(landing)
    check_key(home)  # a home that lost its key is refused, changed or not
    listed = run_inputs.listing(landing)
    stats = run_inputs.stats_fingerprint(listed)
    computed = run_inputs.computed_from(landing, engine)  # the code's digest reads every source file: once
    last = None if full_refresh else run_inputs.unchanged_by_stats(home, computed, listed, stats)
    if last is None:  # a file new, changed or touched since (or code, settings): the contents decide
        digests = DigestCache(home.state)
        files = run_inputs.landing_files(landing, digests, listed)
        digests.save()  # ingestion, in this process's job, reads what is new only
        inputs = run_inputs.fingerprint(landing, files, stats=stats, computed=computed)
        last = None if full_refresh else run_inputs.unchanged_since(home, inputs, ignore=("landing_stats",))
        if last is not None:  # the same contents, touched: their new stat keys remembered
            run_inputs.save(home, inputs, last["run_id"])
    if last is not None:
        print(f"nothing new: the {len(listed):,} files under {landing} were all processed by run "
              f"{last['run_id']}, and the code and settings are unchanged (`outcomes run --full-refresh` runs "
              "anyway)\n")
        print_kpis_and_dashboards(home)
        return 0
    sources = set() if full_refresh or not run_inputs.only_landing_changed(home, inputs) else new_sources(home, files)
    listed_files = len(listed)
    del listed, files  # their ~1 M objects (160 MB at 100x) are not kept through the run
    if not sources:  # the whole job: each load reads the remembered digests it needs (a day's run shares these)
        del digests
        memory.release(listed_files)
    run_inputs.forget(home)  # until this run succeeds, the last record no longer describes the outputs
    selection = defs = None
    if sources:
        from pipelines.sensors import affected_assets

        defs = definitions_for(home, landing, engine)
        graph = defs.resolve_asset_graph()
        selection = sorted(affected_assets(graph, sources), key=lambda k: k.to_user_string())
        print(f"new files in: {', '.join(sorted(sources))}; running what they affect "
              f"({len(selection)} of {len(graph.get_all_asset_keys())} assets)", flush=True)
    # --full-refresh also rebuilds the incremental dbt models whole
    summary = run_pipeline(home, landing, asset_selection=selection,
                           tags={FULL_REFRESH_TAG: "true"} if full_refresh else None, engine=engine, defs=defs)
    code = finish_run(summary, home)
    if code == 0:
        run_inputs.save(home, inputs, summary["run_id"])
    return code


def seed_cursor(home: Home, landing: Path, engine: str = "") -> str | None:
    """The landing sensor's cursor for a home whose last whole run (`outcomes run`) succeeded on
    this landing root with this code, settings and engine: every file the ledger holds was
    processed by it, so `watch` starts from there instead of requesting them all again."""
    from pipelines.lib import run_inputs
    from pipelines.lib.locking import warehouse_lock
    from pipelines.lib.warehouse import connect
    from pipelines.sensors import encode_cursor

    if not run_inputs.only_landing_changed(home, run_inputs.computed_from(landing, engine)):
        return None
    with warehouse_lock(home.warehouse, exclusive=False), connect(home.warehouse, read_only=True) as con:
        return encode_cursor(d for (d,) in con.execute("SELECT DISTINCT file_sha256 FROM ledger.files").fetchall())


def warm_up(home: Home, engine: str = "") -> None:
    """Do now what every run needs, once for the process: import dagster-dbt and Great
    Expectations, and on DuckDB parse the dbt project its builds run in this process."""
    import dagster_dbt  # noqa: F401

    from pipelines.lib import dbt_in_process
    from pipelines.lib.dbt_increments import CHANGED_FILES_TABLE
    from pipelines.lib.dbt_project import base_args, home_build_args, project_fingerprint
    from pipelines.lib.engine import engine as resolve_engine
    from pipelines.quality.ge import context

    context()
    if resolve_engine(engine or None) == "duckdb":
        # a failure here is the first build's too, and reported there
        dbt_in_process.parse([*home_build_args(CHANGED_FILES_TABLE), *base_args(home.dbt_target),
                              "--log-path", str(home.dbt_target)], project_fingerprint(), home.root)


def watch(home: Home, landing: Path, interval: float, once: bool, engine: str = "") -> int:
    """The landing sensor without a daemon: tick, run what it requests in process, repeat. The
    process stays warm between files: the definitions are built once, dbt and Great Expectations
    are imported before the first file lands, and dbt runs in this process with its manifest kept
    (docs/orchestration.md)."""
    import time

    import dagster as dg

    from pipelines.lib import run_inputs
    from pipelines.resources import OutcomesResource
    from pipelines.sensors import landing_sensor

    check_landing(landing)
    outcomes = OutcomesResource(home=str(home.root), landing=str(landing.resolve()))
    defs = definitions_for(home, landing, engine)
    cursor_file = home.root / "sensor-cursor.txt"
    if not cursor_file.exists() and (seed := seed_cursor(home, landing, engine)) is not None:
        # that run (in its own in-memory instance) built every asset: the sensor's selection
        # reads what is built from this home's instance
        with dagster_instance(home) as instance:
            for key in defs.resolve_asset_graph().get_all_asset_keys():
                if instance.get_latest_materialization_event(key) is None:
                    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
        cursor_file.write_text(seed)
    warm_up(home, engine)
    print(f"scanning {landing}", flush=True)
    ticks = 0
    while True:
        cursor = cursor_file.read_text() if cursor_file.exists() else None
        with dagster_instance(home) as instance:
            context = dg.build_sensor_context(cursor=cursor, definitions=defs, instance=instance,
                                              resources={"outcomes": outcomes})
            request = landing_sensor(context)
        if isinstance(request, dg.RunRequest):
            print(f"new files: {request.tags['outcomes/new_files']} ({request.tags['outcomes/sources']})", flush=True)
            run_inputs.forget(home)  # `outcomes run` must not take this run's outputs for its own
            summary = run_pipeline(home, landing, asset_selection=request.asset_selection, engine=engine, defs=defs,
                                   tags={**request.tags, "dagster/run_key": request.run_key})
            if finish_run(summary, home) == 0:  # a failed run keeps the old cursor: retried next tick
                with dagster_instance(home) as instance:  # what the sensor's next selection reads
                    for key in summary["materialized"]:
                        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
                cursor_file.write_text(context.cursor)
        elif once:
            print("no new export files")
        if once:
            return 0
        ticks += 1
        if ticks == 1:  # the landing root is scanned and what was new is done: from here on, each file as it lands
            print(f"watching {landing} every {interval}s (Ctrl-C to stop)", flush=True)
        time.sleep(interval)
