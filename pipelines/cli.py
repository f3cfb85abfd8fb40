"""`outcomes`: the command line for data engineers, auditors and the README's two commands.

Exit codes: 0 the command completed (a run with quarantined files or rejected rows still
completed); 1 the run failed or a blocking check stopped publication; 2 bad usage or input
(missing landing folder, no warehouse yet, a home that holds data without its whole key).
Errors are one line on stderr.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

from pipelines import runner
from pipelines.lib import memory
from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home
from pipelines.lib.kpi_table import read_kpis, render_kpis

# Commands that live with their domain: each module exposes `register(subparsers)`. A command
# that runs the pipeline gets the runner's `run_pipeline` as `args.run_pipeline` (the domains
# sit below the runner and never import it: pyproject's import-linter layers).
COMMAND_MODULES: tuple[str, ...] = ("pipelines.audit.cli", "pipelines.quality.cli")


def cmd_run(args) -> int:
    return runner.run_whole_job(Home.resolve(args.home), Path(args.landing), args.full_refresh, args.engine or "")


def cmd_demo(args) -> int:
    from pipelines.demo import background
    from pipelines.demo.targets import check_args

    home = Home.resolve(args.home).ensure()
    landing = home.default_landing
    # A hidden marker (ignored by ingestion) makes `outcomes demo` safe to repeat.
    marker = landing / ".demo.json"
    wanted = {"seed": args.seed, "scale": args.scale, "years": args.years}
    try:
        check_args(args.scale, args.years)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        print(f"demo landing zone: {landing} (already written)")
    elif landing.exists() and any(landing.iterdir()):
        raise UsageError(f"{landing} already holds other exports: use a new --home for different demo settings")
    else:
        writer = background.start(landing, **wanted)
        try:
            runner.warm_up(home, args.engine or "")  # the run's imports and dbt parse, while the demo is written
            summary = background.finish(writer)
        finally:
            background.stop(writer)
        marker.write_text(json.dumps(wanted))
        print(f"demo landing zone: {landing} ({summary['files']['total']['written']} files)")
    return runner.run_whole_job(home, landing, args.full_refresh, args.engine or "")


def cmd_watch(args) -> int:
    return runner.watch(Home.resolve(args.home).ensure(), Path(args.landing), args.interval, args.once,
                        args.engine or "")


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
    ap.set_defaults(run_pipeline=runner.run_pipeline)
    return ap


def main(argv: list[str] | None = None) -> int:
    memory.fewer_collections()  # before the imports of any command
    args = parser().parse_args(argv)
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
