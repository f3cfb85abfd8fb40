"""Where the dbt project lives, the dbt CLI arguments we use, and manifest preparation.

The manifest is prepared before Definitions load (`outcomes prepare`, run by `make` and by the
CLI when the project changed), never at import time.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pipelines.lib.contracts import DEFAULT_STAFF_DOMAINS
from pipelines.lib.dbt_guard import guard_executable, parent_pid_arg

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"
FINGERPRINT_PATH = DBT_PROJECT_DIR / "target" / "manifest.fingerprint"
PARTIAL_PARSE_PATH = DBT_PROJECT_DIR / "target" / "partial_parse.msgpack"  # every new home's first
PARSED_FROM = "parsed_from"  # beside a partial parse: the dbt project folder it was parsed from
UNIT_TESTS = "resource_type:unit_test"
AUDIT_TRAIL_TESTS = "tag:audit_trail"  # structural tests of the audit views (dbt_project.yml)
NOT_IN_PIPELINE = f"{UNIT_TESTS} {AUDIT_TRAIL_TESTS}"  # run by the test suite instead (one argument: a union)


WAREHOUSE_VAR = "outcomes_warehouse"  # profiles.yml: the DuckDB file, else $OUTCOMES_WAREHOUSE


def dbt_vars(staff_domains: Sequence[str] = DEFAULT_STAFF_DOMAINS, changed_files: Sequence[str] | str | None = None,
             warehouse: Path | None = None, paths: dict[str, str] | None = None) -> str:
    """The --vars payload: JSON is valid YAML and needs no quoting rules of its own.
    changed_files: the raw files an incremental build takes in, or a table naming them
    (macros/incremental.sql, lib/dbt_increments.changed_files_var).
    warehouse: the DuckDB file, for the profile (so that no environment variable is set for it);
    paths: the Spark engine's folders (lib/engine.spark_vars). Neither changes what is computed."""
    payload: dict = {"staff_domains": [d.strip().lower() for d in staff_domains]}
    if changed_files is not None:
        payload["changed_files"] = changed_files if isinstance(changed_files, str) else list(changed_files)
    if warehouse is not None:
        payload[WAREHOUSE_VAR] = str(warehouse)
    return json.dumps({**payload, **(paths or {})})


DBT_MEMORY_ENV = "OUTCOMES_DBT_MEMORY_LIMIT"
DBT_MEMORY_FLOOR = 512 * 2**20
BYTES_PER_RAW_ROW = 55
# Every build's ceiling. An incremental build reads a day's keys and the years, units and members
# they touch; a full build reads every raw row, one model at a time past the ceiling
# (dbt_threads); DuckDB spills the rest. At 100x (73 M raw rows) the process tree peaked at
# 1.83 GB in a day and 1.79 GB in a full build, against 6.6-7.0 GB and 8 GB at the raw-row rule's
# 8 GB (docs/performance.md).
DBT_MEMORY_CEILING = 1024 * 2**20


def dbt_memory_limit(raw_rows: int) -> str:
    """DuckDB's memory limit in dbt (the var `dbt_memory_limit`, profiles.yml): OUTCOMES_DBT_MEMORY_LIMIT
    when set, else the power of two at or above BYTES_PER_RAW_ROW a raw row, at least 512 MB and at
    most DBT_MEMORY_CEILING (and half the machine's memory). 512 MB keeps the process tree small
    to 10x (7.4 M raw rows); the 100x full build (73 M) ran out of memory at 512 MB (`int_visits`'
    window over every version), and at 1 GB with four models at once, none of them spilling enough
    (one at a time it completes: dbt_threads). Raw rows, not the warehouse file, which also holds
    the models. Powers of two: the var, and so dbt's partial parse, changes only when the data
    doubles, up to the ceiling."""
    if os.environ.get(DBT_MEMORY_ENV):
        return os.environ[DBT_MEMORY_ENV]
    limit = DBT_MEMORY_FLOOR
    while limit < raw_rows * BYTES_PER_RAW_ROW and limit < DBT_MEMORY_CEILING:
        limit *= 2
    half_ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    return f"{min(limit, max(half_ram, DBT_MEMORY_FLOOR)) // 2**20}MB"


DBT_THREADS_ENV = "OUTCOMES_DBT_THREADS"


def dbt_threads(raw_rows: int = 0, full_refresh: bool = False) -> int | None:
    """dbt's threads for a build (None: the profile's 4): OUTCOMES_DBT_THREADS when set; one for a
    full build of more raw rows than DBT_MEMORY_CEILING holds by the raw-row rule (~20 M, past
    25x the demo): its models each read the whole history and share the one limit."""
    if os.environ.get(DBT_THREADS_ENV):
        return int(os.environ[DBT_THREADS_ENV])
    if full_refresh and raw_rows * BYTES_PER_RAW_ROW > DBT_MEMORY_CEILING:
        return 1
    return None


# dbt runs in the home (the guard's --cwd) and names the warehouse relative to it: the same in every home
WAREHOUSE_IN_HOME = Path("warehouse.duckdb")


def home_build_args(changed_files: str, full_refresh: bool = False, raw_rows: int = 0) -> list[str]:
    """`dbt build` on DuckDB as the pipeline runs it in the home (dbt's process: `--cwd`,
    pipelines/lib/dbt_guard.py; dbt in the run's process: pipelines/lib/dbt_in_process.py). Its
    vars and profile are the same in every home (up to the memory limit, which doubles with the
    data up to its ceiling) and the same as `prepare_manifest`'s parse, whose partial parse is
    copied into a new home's target: a new home's first build skips the whole parse (~2.4 s)."""
    threads = dbt_threads(raw_rows, full_refresh)
    return build_args(changed_files=changed_files, full_refresh=full_refresh, warehouse=WAREHOUSE_IN_HOME,
                      target="duckdb", paths={"dbt_memory_limit": dbt_memory_limit(raw_rows)}) \
        + ([] if threads is None else ["--threads", str(threads)])


def build_args(staff_domains: Sequence[str] = DEFAULT_STAFF_DOMAINS, changed_files: Sequence[str] | str | None = None,
               full_refresh: bool = False, warehouse: Path | None = None, target: str | None = None,
               paths: dict[str, str] | None = None) -> list[str]:
    """`dbt build` as the pipeline runs it: models and data tests. Unit tests and the audit views'
    structural tests run in the test suite (each audit test recomputes a view over all history);
    the --exclude is needed even with `@dbt_assets(exclude=...)`, which a subset run drops.
    Incremental models take in `changed_files` only, or everything with `full_refresh`; `target`
    is the engine's profile target (docs/spark.md). dbt.log at info: a line per node and result,
    not every query's SQL (dbt's default, debug: ~25 lines a node, written for every build, and
    the log only grew); the SQL each node ran is in the target's run folder."""
    args = ["build", "--log-level-file", "info", *(["--target", target] if target else []), "--exclude", NOT_IN_PIPELINE,
            "--vars", dbt_vars(staff_domains, changed_files, warehouse, paths)]
    return args + ["--full-refresh"] if full_refresh else args


def unit_test_args() -> list[str]:
    """`dbt test` for the unit tests only: they need no data, so they run in the test suite."""
    return ["test", "--select", UNIT_TESTS]


def audit_trail_test_args() -> list[str]:
    """`dbt test` for the audit views' structural tests, on a warehouse the pipeline built."""
    return ["test", "--select", AUDIT_TRAIL_TESTS, "--vars", dbt_vars()]


def profiles_dir() -> Path:
    """The dbt profiles the pipeline's builds use: the project's own (DuckDB, local Spark), or the
    user's folder named by OUTCOMES_DBT_PROFILES_DIR (a Spark Thrift server, Databricks: docs/spark.md).
    The manifest is always parsed with the project's own (prepare_manifest)."""
    return Path(os.environ.get("OUTCOMES_DBT_PROFILES_DIR") or DBT_PROJECT_DIR)


def base_args(target_path: Path | None = None) -> list[str]:
    args = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    return args


def dbt_executable() -> Path:
    """What we run as dbt: `outcomes-dbt` (pipelines/lib/dbt_guard.py), the real dbt of this
    environment killed when the process that started it dies, so that no dbt outlives the
    warehouse lock its parent held. Start it from a thread that waits for it (see the guard)."""
    return guard_executable()


def dbt_command(*args: str) -> list[str]:
    """A dbt command line started by this process: the guard, told our pid (see dbt_guard)."""
    return [str(dbt_executable()), parent_pid_arg(), *args]


def dbt_env(warehouse: Path | None) -> dict[str, str]:
    """The environment of a dbt subprocess (given to it; this process's own is not changed)."""
    return {**os.environ, **({} if warehouse is None else {"OUTCOMES_WAREHOUSE": str(warehouse)}),
            "DO_NOT_TRACK": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def project_fingerprint() -> str:
    """Hash of every file dbt parses: a changed model means a stale manifest."""
    h = hashlib.sha256()
    for path in sorted(DBT_PROJECT_DIR.rglob("*")):
        rel = path.relative_to(DBT_PROJECT_DIR)
        if path.is_file() and rel.parts[0] not in ("target", "logs", "dbt_packages"):
            h.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def parsed_here(target: Path) -> bool:
    """Whether the partial parse in a dbt target path was made from this checkout's project. dbt
    keeps every node's absolute path in it and does not check that the project is still there:
    a parse made by a checkout since moved, or cloned again elsewhere, loads the seeds from the
    old folder and the build fails (a home outlives its checkout)."""
    marker = target / PARSED_FROM
    return marker.exists() and marker.read_text() == str(DBT_PROJECT_DIR)


def mark_parsed_here(target: Path) -> None:
    (target / PARSED_FROM).write_text(str(DBT_PROJECT_DIR))


def home_partial_parse(target: Path) -> None:
    """Before dbt builds in a home's target path: a partial parse made from this checkout, or
    none. A new home's, or one another checkout made, is replaced by the prepared one (`outcomes
    prepare`: parsed as every home's build, from this folder), which dbt brings up to date."""
    parse = target / PARTIAL_PARSE_PATH.name
    if parse.exists() and parsed_here(target):
        return
    target.mkdir(parents=True, exist_ok=True)
    if PARTIAL_PARSE_PATH.exists():
        shutil.copy(PARTIAL_PARSE_PATH, parse)
    else:
        parse.unlink(missing_ok=True)
    mark_parsed_here(target)


def manifest_is_current() -> bool:
    return MANIFEST_PATH.exists() and FINGERPRINT_PATH.exists() and parsed_here(MANIFEST_PATH.parent) and \
        FINGERPRINT_PATH.read_text().strip() == project_fingerprint()


def prepare_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when the project changed since the last manifest."""
    if force or not manifest_is_current():
        fingerprint = project_fingerprint()
        from pipelines.lib.dbt_in_process import parse_args
        from pipelines.lib.dbt_increments import CHANGED_FILES_TABLE

        # --no-partial-parse: a partial parse was seen to drop a singular test's `meta` (its Dagster
        # asset check vanished); a whole parse costs a few seconds, once per project change.
        # Parsed as a home's DuckDB build (home_build_args) whatever the engine: the manifest is the
        # asset graph, the same on every engine (a build on Spark parses again for its own target,
        # docs/spark.md), and its partial parse is every new home's.
        cmd = dbt_command(*parse_args(home_build_args(CHANGED_FILES_TABLE)), "--quiet", "--no-partial-parse",
                          *base_args(DBT_PROJECT_DIR / "target"))
        proc = subprocess.run(cmd, env=dbt_env(None), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{proc.stdout}\n{proc.stderr}")
        FINGERPRINT_PATH.write_text(fingerprint + "\n")
        mark_parsed_here(MANIFEST_PATH.parent)
    return MANIFEST_PATH
