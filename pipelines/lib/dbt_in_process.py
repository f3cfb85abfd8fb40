"""dbt in this process: the dbt of the `outcomes` commands (`run`, `demo`, `watch`; docs/orchestration.md).

A dbt process per build pays ~2 s before its first node (an interpreter, dbt's imports, which
the run's process has mostly paid already through dagster-dbt, the adapter, loading the partial
parse). The commands call dbt's programmatic entry point (`dbtRunner`) with the same `dbt build`
arguments a process would get, in the home as dbt's process runs (the profile names the
warehouse relative to it: the vars `outcomes prepare` parsed with, so its partial parse serves);
dagster-dbt turns its events into Dagster's as it does the CLI's JSON log lines (the same
dictionaries). `outcomes watch` builds once per file that lands and keeps the parsed manifest
in memory between builds.

DuckDB only (Spark's session has its own start-up and runs in dbt's process). No dbt process is
started, so none can outlive the run (what pipelines/lib/dbt_guard.py is for). DuckDB lets one
process at a time open a database file for writing, and dbt-duckdb keeps its database open after
a build: it is closed after every build, so that `outcomes kpis`, the dashboards and the next
run's own connections (another configuration: refused while dbt's is open) can open the file.
"""
from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

_MANIFESTS: dict[str, object] = {}  # dbt project fingerprint -> dbt's parsed Manifest
# the events a build's caller reads: dagster-dbt's result events (Dagster's materializations and
# check results), and warnings and errors (a failed build's message); a build fires ~25 a node,
# and turning each into a dictionary was ~7% of a small build's time
KEPT_EVENTS = frozenset({"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"})
RUN_RESULTS = "run_results.json"


@dataclass
class Build:
    success: bool
    events: list[dict] = field(default_factory=list)  # dbt's result, warning and error events, as --log-format json
    exception: BaseException | None = None


def parse_args(build_args: list[str]) -> list[str]:
    """`dbt parse` with what a build's arguments say about the project, profile and target (what
    the manifest depends on), without what only a build takes (selection, --full-refresh, threads)."""
    args, skip = ["parse"], False
    for arg in build_args[1:]:
        if skip:
            skip = False
        elif arg in ("--exclude", "--select", "-s", "--selector", "--indirect-selection", "--threads"):
            skip = True
        elif arg != "--full-refresh":
            args.append(arg)
    return args


def parse(args: list[str], project: str, home: Path) -> BaseException | None:
    """Parse the project for builds with these arguments, in the home, once per project
    fingerprint (`outcomes watch` does it before the first file lands); the error, if dbt could not."""
    from dbt.cli.main import dbtRunner

    name_flag_sources_from_frames()
    if project in _MANIFESTS:
        return None
    try:
        with in_home(home, args):
            parsed = dbtRunner().invoke(parse_args(args))
    finally:
        close_duckdb()
    if not parsed.success:
        return parsed.exception or RuntimeError("dbt parse failed")
    _MANIFESTS.clear()
    _MANIFESTS[project] = parsed.result
    return None


def build(args: list[str], project: str, home: Path) -> Build:
    """`dbt <args>` in this process, in the home; `project` = the dbt project's fingerprint. A
    process that keeps a parsed manifest (`watch`, parsed by `parse` before its first file) builds
    with it, parsed again once when the project changed; a process that builds once (`outcomes
    run`) lets the build parse, as dbt's own process does (a separate parse is a second
    invocation: its set-up again, and a manifest.json written by each)."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    name_flag_sources_from_frames()
    write_only_lines_logged()
    if _MANIFESTS and (error := parse(args, project, home)) is not None:
        return Build(False, exception=error)
    events: list[dict] = []

    def keep(message) -> None:
        if message.info.name in KEPT_EVENTS or message.info.level in ("warn", "error"):
            events.append(msg_to_dict(message))

    try:
        # dbt.log as the CLI's (--log-format json): structured lines. --no-write-json: dbt wrote the
        # whole manifest (~1.8 MB of JSON, every node and macro) into the target after every
        # build, ~1 s of a small run, for no reader: the test names come from the prepared
        # manifest, the compiled SQL from the target's compiled folder (still written); the
        # run's results are written here, as dbt's process writes them.
        with in_home(home, args):
            result = dbtRunner(manifest=_MANIFESTS.get(project), callbacks=[keep]).invoke(
                [*args, "--log-format-file", "json", "--no-write-json"])
            if hasattr(result.result, "write"):
                result.result.write(str(target_path(args) / RUN_RESULTS))
        return Build(result.success, events, result.exception)
    finally:
        close_duckdb()


def write_only_lines_logged() -> None:
    """dbt formats every event for each of its loggers (a JSON line for dbt.log, a text line for
    the run's log) and only then lets Python's logger drop it below the logger's level: ~25 events
    a node, of which the log at info keeps one or two. An event below a logger's level is not
    formatted at all (what reaches the logs is unchanged): ~1 s of a small home's first build."""
    import logging

    from dbt_common.events import logger as dbt_logger

    write_line = dbt_logger._Logger.write_line
    if getattr(write_line, "only_lines_logged", False):
        return
    levels = {"test": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
              "error": logging.ERROR}

    def write_logged_line(self, msg) -> None:
        log = self._python_logger
        if log is None or (not dbt_logger._is_print_event(msg) and not log.isEnabledFor(levels[msg.info.level])):
            return
        write_line(self, msg)

    write_logged_line.only_lines_logged = True
    dbt_logger._Logger.write_line = write_logged_line


def name_flag_sources_from_frames() -> None:
    """dbt names the package of each behaviour flag an adapter declares without one by walking
    `inspect.stack()` when the adapter is made, every build: that reads the source lines of every
    frame and asks every loaded module for its file, which executes a module imported lazily
    (scipy.stats, pipelines/quality/ge.py: ~0.6 s of a one-day run at 1x, for nothing) and costs
    ~0.05 s more at a deep stack. The same name (the module of the first caller outside
    dbt_common.behavior_flags) read from the frames' globals; it only labels a behaviour-change
    message."""
    from dbt_common import behavior_flags

    def caller_module() -> str:
        frame = sys._getframe(1)
        while frame is not None:
            if (name := frame.f_globals.get("__name__")) and name != behavior_flags.__name__:
                return name
            frame = frame.f_back
        return "Unknown"

    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(caller_module)


def target_path(args: list[str]) -> Path:
    return Path(args[args.index("--target-path") + 1])


@contextlib.contextmanager
def in_home(home: Path, args: list[str]):
    """dbt in the home's folder, as its process would run (the warehouse named relative to it),
    with a partial parse from this checkout in its target path (`home_partial_parse`). The run's
    own paths are absolute (`Home.resolve`); one thread runs the steps (the in-process executor),
    so nothing else reads the folder meanwhile."""
    from pipelines.lib.dbt_project import home_partial_parse

    home_partial_parse(target_path(args))
    with contextlib.chdir(home):
        yield


def close_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open between builds of one process."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    DuckDBConnectionManager.close_all_connections()
    if env is not None:
        env.close()
