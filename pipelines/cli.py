"""`outcomes`: the command line for data engineers, auditors and the README's two commands.

Exit codes: 0 the command completed (a run with quarantined files or rejected rows still
completed); 1 the run failed or a blocking check stopped publication; 2 bad usage or input
(missing landing folder, no warehouse yet, a home that holds data without its whole key).
Errors are one line on stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from pathlib import Path

from pipelines.audit.manifest import record_run
from pipelines.lib.dbt_increments import FULL_REFRESH_TAG
from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home
from pipelines.lib.kpi_table import read_kpis, render_kpis

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


# Commands that live with their domain: each module exposes `register(subparsers)`.
COMMAND_MODULES: tuple[str, ...] = ("pipelines.audit.cli", "pipelines.quality.cli")


# --- running the pipeline -----------------------------------------------------------------------

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


def check_key(home: Home) -> None:
    """A home that holds data needs its pseudonymisation key, whole: one line before the job
    starts (ingestion would refuse it too, but inside Dagster's step failures)."""
    from pipelines.lib.pseudonym import SecretInvalid, SecretMissing, check_secret

    try:
        check_secret(home.secret, create=home.is_new)
    except (SecretMissing, SecretInvalid) as exc:
        raise UsageError(str(exc)) from None


def run_pipeline(home: Home, landing: Path, asset_selection=None, tags=None) -> dict:
    """Run the asset graph (or a selection of it) in process against `landing`, state under `home`."""
    if not landing.is_dir():
        raise UsageError(f"landing folder {landing} does not exist or is not a folder")
    check_key(home)
    from pipelines.lib.dbt_project import prepare_manifest

    prepare_manifest()
    os.environ["OUTCOMES_HOME"] = str(home.root)
    os.environ["OUTCOMES_LANDING"] = str(landing.resolve())
    from pipelines.definitions import defs

    from dagster import DagsterInstance

    job = defs.resolve_job_def("refresh_all")
    home.ensure().logs.mkdir(parents=True, exist_ok=True)
    # An in-memory instance: the SQLite event log costs ~30 ms an event (~700 events a run). The
    # run's record is the manifest under <home>/runs (pipelines/audit/manifest.py); runs launched
    # by `dagster dev` or the daemon are recorded in the home's Dagster instance as usual.
    # dbt's own event stream goes to stdout: keep it in the run log, not on the terminal.
    with DagsterInstance.ephemeral() as instance, \
            open(home.logs / "last-run.log", "w") as log, contextlib.redirect_stdout(log):
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, asset_selection=asset_selection, tags=tags,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
        return summarise_run(result)


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
            "failed_checks": failed_checks, "failed_steps": failed_steps}


def print_run_summary(summary: dict, home: Home) -> None:
    print(f"run {summary['run_id']}")
    for source, m in summary["ingested"].items():
        print(f"  {source:<16} files: {m.get('files_loaded', 0)} loaded, {m.get('files_quarantined', 0)} quarantined, "
              f"{m.get('files_duplicate', 0)} duplicate, {m.get('files_already_seen', 0)} already seen; "
              f"rows: {m.get('rows_loaded', 0)} loaded, {m.get('rows_rejected', 0)} rejected")
        for q in m.get("quarantined") or []:
            print(f"    quarantined {q}")


# --- reading the KPIs ---------------------------------------------------------------------------

# --- commands -----------------------------------------------------------------------------------

def finish_run(summary: dict, home: Home) -> int:
    print_run_summary(summary, home)
    print(f"run record: {record_run(home, summary)}")
    if not summary["success"]:
        what = ", ".join(summary["failed_checks"] or summary["failed_steps"]) or "see the Dagster run log"
        print(f"outcomes: run did not complete: {what}", file=sys.stderr)
        return 1
    print()
    print(render_kpis(read_kpis(home), "table"), end="")
    print(f"\ndashboards: {home.dashboards / 'index.html'}")
    return 0


def run_whole_job(home: Home, landing: Path, full_refresh: bool = False) -> int:
    """The whole job, unless nothing it is computed from changed since it last succeeded
    (pipelines.lib.run_inputs): then no Dagster, no dbt, nothing published anew."""
    from pipelines.lib import run_inputs

    if not landing.is_dir():
        raise UsageError(f"landing folder {landing} does not exist or is not a folder")
    check_key(home)  # a home that lost its key is refused, changed or not
    inputs = run_inputs.fingerprint(landing)
    last = None if full_refresh else run_inputs.unchanged_since(home, inputs)
    if last is not None:
        print(f"nothing new: the {inputs['landing_files']:,} files under {landing} were all processed by run "
              f"{last['run_id']}, and the code and settings are unchanged (`outcomes run --full-refresh` runs "
              "anyway)\n")
        print(render_kpis(read_kpis(home), "table"), end="")
        print(f"\ndashboards: {home.dashboards / 'index.html'}")
        return 0
    run_inputs.forget(home)  # until this run succeeds, the last record no longer describes the outputs
    # --full-refresh also rebuilds the incremental dbt models whole
    summary = run_pipeline(home, landing, tags={FULL_REFRESH_TAG: "true"} if full_refresh else None)
    code = finish_run(summary, home)
    if code == 0:
        run_inputs.save(home, inputs, summary["run_id"])
    return code


def cmd_run(args) -> int:
    return run_whole_job(Home.resolve(args.home), Path(args.landing), args.full_refresh)


def cmd_demo(args) -> int:
    from pipelines.demo.generator import write_demo_landing

    home = Home.resolve(args.home).ensure()
    landing = home.default_landing
    # A hidden marker (ignored by ingestion) makes `outcomes demo` safe to repeat.
    marker = landing / ".demo.json"
    wanted = {"seed": args.seed, "scale": args.scale, "years": args.years}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        print(f"demo landing zone: {landing} (already written)")
    elif landing.exists() and any(landing.iterdir()):
        raise UsageError(f"{landing} already holds other exports: use a new --home for different demo settings")
    else:
        summary = write_demo_landing(landing, **wanted)
        marker.write_text(json.dumps(wanted))
        print(f"demo landing zone: {landing} ({summary['files']['total']['written']} files)")
    return run_whole_job(home, landing, args.full_refresh)


def cmd_watch(args) -> int:
    """The landing sensor without a daemon: tick, run what it requests in process, repeat."""
    import time

    import dagster as dg

    home = Home.resolve(args.home).ensure()
    landing = Path(args.landing)
    if not landing.is_dir():
        raise UsageError(f"landing folder {landing} does not exist or is not a folder")
    os.environ["OUTCOMES_HOME"], os.environ["OUTCOMES_LANDING"] = str(home.root), str(landing.resolve())
    from pipelines.definitions import defs
    from pipelines.resources import OutcomesResource
    from pipelines.sensors import landing_sensor

    cursor_file = home.root / "sensor-cursor.txt"
    print(f"watching {landing} every {args.interval}s (Ctrl-C to stop)", flush=True)
    while True:
        cursor = cursor_file.read_text() if cursor_file.exists() else None
        with dagster_instance(home) as instance:
            context = dg.build_sensor_context(
                cursor=cursor, definitions=defs, instance=instance,
                resources={"outcomes": OutcomesResource(home=str(home.root), landing=str(landing.resolve()))})
            request = landing_sensor(context)
        if isinstance(request, dg.RunRequest):
            print(f"new files: {request.tags['outcomes/new_files']} ({request.tags['outcomes/sources']})", flush=True)
            summary = run_pipeline(home, landing, asset_selection=request.asset_selection,
                                   tags={**request.tags, "dagster/run_key": request.run_key})
            if finish_run(summary, home) == 0:  # a failed run keeps the old cursor: retried next tick
                with dagster_instance(home) as instance:  # what the sensor's next selection reads
                    for key in summary["materialized"]:
                        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
                cursor_file.write_text(context.cursor)
        elif args.once:
            print("no new export files")
        if args.once:
            return 0
        time.sleep(args.interval)


def cmd_kpis(args) -> int:
    print(render_kpis(read_kpis(Home.resolve(args.home), args.year), args.format), end="")
    return 0


def cmd_prepare(args) -> int:
    from pipelines.lib.dbt_project import prepare_manifest

    print(f"dbt manifest: {prepare_manifest(force=args.force)}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="outcomes", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)

    def add(name, func, help_):
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        if name != "prepare":
            p.add_argument("--home", help="state folder (default $OUTCOMES_HOME or ./.outcomes)")
        if name in ("run", "demo", "watch"):  # the engine that runs dbt (pipelines/lib/engine.py, docs/spark.md)
            p.add_argument("--engine", choices=["duckdb", "spark"], help="dbt's engine (default $OUTCOMES_ENGINE or duckdb)")
        return p

    p = add("run", cmd_run, "Process every file under the landing root and refresh KPIs and dashboards.")
    p.add_argument("--landing", required=True, help="landing root holding visits/, zoom/, pathways/, wellbeing_calls/ "
                   "(and, optional, members/, reference/, outcome_measures/)")
    full = ("run the whole job even when no file, code or setting changed since it last succeeded, and rebuild "
            "every incremental dbt model whole")
    p.add_argument("--full-refresh", action="store_true", help=full)
    p = add("demo", cmd_demo, "Write synthetic demo exports into <home>/landing and run the pipeline on them.")
    p.add_argument("--seed", type=int, default=2122)
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--years", type=int, default=5)
    p.add_argument("--full-refresh", action="store_true", help=full)
    p = add("watch", cmd_watch, "Watch a landing root and process new files as they land (no daemon needed).")
    p.add_argument("--landing", required=True)
    p.add_argument("--interval", type=float, default=30.0, help="seconds between ticks")
    p.add_argument("--once", action="store_true", help="one tick, then exit")
    p = add("kpis", cmd_kpis, "Print the annual KPIs.")
    p.add_argument("--year", help="financial year, e.g. 2021/22")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p = add("prepare", cmd_prepare, "Parse the dbt project into its manifest (done automatically when stale).")
    p.add_argument("--force", action="store_true")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "engine", None):
        os.environ["OUTCOMES_ENGINE"] = args.engine
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"outcomes: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one line for the user; OUTCOMES_DEBUG=1 shows the traceback
        if os.environ.get("OUTCOMES_DEBUG"):
            raise
        print(f"outcomes: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
