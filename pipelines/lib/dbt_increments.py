"""Which raw files a dbt build has to take in: the state behind incremental refresh.

The version-resolving dbt models (macros/incremental.sql) recompute only the keys found in the
files loaded since the last successful build. Which files those are is kept in the warehouse
itself (`ledger.dbt_built_files`, with the project and vars it was built with in
`ledger.dbt_build`), so a warehouse copied or restored from a backup carries its own state and
can never be refreshed from another warehouse's. Files are named by content digest, never by
load time.

A full build instead when asked (`outcomes run --full-refresh`), on the first build, when the
dbt project or its vars changed since the last build (a model, a macro, the staff domains), or
when more files are pending than an incremental build is worth (MAX_CHANGED_FILES; this also
keeps the --vars argument far below the kernel's limit on one argument).

A run of a part of the graph (the landing sensor runs the changed sources' models only) records
a file as built only when every incremental model of its source was in the build; the others
stay pending for the next build that has them. Only a build of the whole project records the
project and vars it was built with.

A build that did not finish makes the next one full: one that failed (a node or a test in
error skips what is downstream of it), was stopped, or built a part of the graph that leaves
out a model downstream of one it built. Its incremental models may then be ahead of the models
built from them, and the next incremental build would lose what they moved: the years, units
and members that rebuild are found from the models' last state (a visit corrected into
another year leaves its old year's figure stale once int_kpi_units holds the new year). Each
plan marks the warehouse (`ledger.dbt_build_unfinished`); a finished build clears the mark.

On DuckDB the files a build takes in are a table the plan fills (`ledger.dbt_changed_files`),
named by a var that never changes: dbt parses the whole project again whenever its --vars
change (~3 s a run when the digests themselves were the var); with the same vars it reuses its
partial parse. Spark's session cannot read the warehouse: it is given the digests.
"""
from __future__ import annotations

from dataclasses import dataclass

import duckdb

MAX_CHANGED_FILES = 400
CHANGED_FILES_TABLE = "ledger.dbt_changed_files"
# A run with this tag "true" rebuilds every incremental model whole (`outcomes run --full-refresh`).
FULL_REFRESH_TAG = "outcomes/full_refresh"
# The incremental models of each source (macros/incremental.sql); the other models are tables,
# rebuilt whole from these whenever they run.
INCREMENTAL_MODELS: dict[str, frozenset[str]] = {
    "visits": frozenset({"int_visits"}),
    "zoom": frozenset({"int_zoom_attendances"}),
    "pathways": frozenset({"int_pathway_contacts", "int_pathway_prescriptions"}),
    "wellbeing_calls": frozenset({"int_wellbeing_calls"}),
}

STATE_DDL = """
CREATE TABLE IF NOT EXISTS ledger.dbt_build (project_fingerprint VARCHAR NOT NULL, dbt_vars VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS ledger.dbt_built_files (file_sha256 VARCHAR PRIMARY KEY);
CREATE TABLE IF NOT EXISTS ledger.dbt_changed_files (file_sha256 VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS ledger.dbt_build_unfinished (reason VARCHAR NOT NULL);
"""


@dataclass(frozen=True)
class BuildPlan:
    full_refresh: bool
    reason: str
    changed_files: tuple[str, ...]  # the files an incremental build takes in (empty for a full build)
    files: tuple[str, ...]  # the files it takes in, built once it succeeds: a full build every file in the ledger

    def describe(self) -> str:
        if self.full_refresh:
            return f"full dbt build: {self.reason}"
        return f"incremental dbt build: {len(self.changed_files)} new file(s) since the last build"


def plan_build(con: duckdb.DuckDBPyConnection, project_fingerprint: str, dbt_vars: str,
               full_refresh: bool = False) -> BuildPlan:
    con.execute(STATE_DDL)
    last = con.execute("SELECT project_fingerprint, dbt_vars FROM ledger.dbt_build").fetchall()
    pending = tuple(r[0] for r in con.execute(
        "SELECT DISTINCT file_sha256 FROM ledger.files WHERE file_sha256 NOT IN "
        "(SELECT file_sha256 FROM ledger.dbt_built_files) ORDER BY 1").fetchall())
    reason = None
    if full_refresh:
        reason = "asked for (--full-refresh)"
    elif not last:
        reason = "no earlier build in this warehouse"
    elif con.execute("SELECT count(*) FROM ledger.dbt_build_unfinished").fetchone()[0]:
        reason = "the last dbt build did not finish (failed, stopped, or built part of the graph)"
    elif last[0][0] != project_fingerprint:
        reason = "the dbt project changed since the last build"
    elif last[0][1] != dbt_vars:
        reason = "the dbt vars (staff domains) changed since the last build"
    elif len(pending) > MAX_CHANGED_FILES:
        reason = f"{len(pending)} new files (more than {MAX_CHANGED_FILES})"
    if reason:
        every_file = tuple(r[0] for r in con.execute("SELECT DISTINCT file_sha256 FROM ledger.files ORDER BY 1").fetchall())
        plan = BuildPlan(True, reason, (), every_file)
    else:  # the ledger's other files are built already: an incremental build costs what is new, not the history
        plan = BuildPlan(False, "", pending, pending)
    con.execute(f"DELETE FROM {CHANGED_FILES_TABLE}")
    con.execute(f"INSERT INTO {CHANGED_FILES_TABLE} SELECT unnest(?::VARCHAR[])", [list(plan.changed_files)])
    con.execute("DELETE FROM ledger.dbt_build_unfinished")  # until record_build says it finished
    con.execute("INSERT INTO ledger.dbt_build_unfinished VALUES (?)", [plan.describe()])
    return plan


def changed_files_var(plan: BuildPlan, engine_name: str = "duckdb") -> str | tuple[str, ...] | None:
    """The `changed_files` var of the build (macros/incremental.sql). On DuckDB always the table
    `plan_build` filled, for full builds too (they read no changed files: the models are not
    incremental then), so that the vars never change; on Spark the digests, none for a full build."""
    if engine_name == "duckdb":
        return CHANGED_FILES_TABLE
    return None if plan.full_refresh else plan.changed_files


def built_sources(models: set[str] | None) -> list[str]:
    """The sources whose files a build of `models` (None: every model) took in whole."""
    return [s for s, needs in INCREMENTAL_MODELS.items() if models is None or needs <= models]


def finishes_the_graph(built: set[str], parents: dict[str, set[str]]) -> bool:
    """Whether a build of `built` left out no model downstream of one it built (`parents`: every
    model's parents among the models, the whole graph's)."""
    return not any(parents[model] & built for model in parents.keys() - built)


def record_build(con: duckdb.DuckDBPyConnection, plan: BuildPlan, project_fingerprint: str, dbt_vars: str,
                 models: set[str] | None = None, finished: bool = True) -> None:
    """After a successful build of `models` (None: the whole project): the files it took in
    are built (files of sources with no incremental model are built by any build); `finished`:
    it left out nothing downstream of what it built (finishes_the_graph), so the next build may
    be incremental."""
    con.execute(STATE_DDL)
    con.execute("BEGIN")
    if finished:
        con.execute("DELETE FROM ledger.dbt_build_unfinished")
    con.execute(
        "INSERT OR IGNORE INTO ledger.dbt_built_files SELECT DISTINCT file_sha256 FROM ledger.files "
        "WHERE file_sha256 IN (SELECT unnest(?::VARCHAR[])) AND (source IN (SELECT unnest(?::VARCHAR[])) "
        "OR source NOT IN (SELECT unnest(?::VARCHAR[])))",
        [list(plan.files), built_sources(models), list(INCREMENTAL_MODELS)])
    if models is None:
        con.execute("DELETE FROM ledger.dbt_build")
        con.execute("INSERT INTO ledger.dbt_build VALUES (?, ?)", [project_fingerprint, dbt_vars])
    con.execute("COMMIT")
