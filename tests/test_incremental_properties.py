"""Property: after every delivery, the incremental warehouse equals a --full-refresh of it.

Random histories (tests/random_history.py: the four activity exports over four financial years,
with late corrections to old years, voids, orphans, stale versions, calls re-delivered with
another outcome, re-exported Zoom meetings, new hosts, and redeliveries byte for byte and with
changed content) are delivered batch by batch. After EVERY batch the KPIs, every mart, the
version-resolving models, the KPI units (int_kpi_units, rebuilt by unit and person-year), the
members reached (by member) and the trace (audit_kpi_units, audit_kpi_exclusions,
audit_kpi_reconciliation) of the warehouse refreshed incrementally are compared, row for row and exactly, with those of a copy of
the same warehouse rebuilt with --full-refresh; and the conflicting redeliveries kept in the
warehouse (pipelines/quality/redelivery.py: only the new files' keys compared again) equal those
found from the whole history.

The seeds are fixed (reproducible in CI; bounded by example count, not by time). The fast path
is the real one minus Dagster: the real ingestion (ingest_source), then dbt as the pipeline runs
it (home_build_args, plan_build, record_build: pipelines/assets/dbt.py), in this process with the
manifest kept between builds as `outcomes watch` keeps it (a dbt process for each build paid its
start-up and a parse each time). One seed goes through `outcomes run` end to end instead.

Pipeline work in this file: SEEDS x BATCHES x 2 dbt builds, plus 2 x E2E_BATCHES - 1 `outcomes run`
(~3 minutes of one worker in CI).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from pipelines.lib import dbt_in_process, warehouse
from pipelines.lib import dbt_increments as inc
from pipelines.lib.dbt_project import (DBT_PROJECT_DIR, WAREHOUSE_IN_HOME, base_args, dbt_vars, home_build_args,
                                       project_fingerprint)
from pipelines.lib.ingest import ingest_source
from pipelines.lib.pseudonym import Pseudonymiser
from pipelines.quality.redelivery import SOURCES as REDELIVERY_SOURCES
from pipelines.quality.redelivery import conflicts
from tests.random_history import history
from tests.support import outcomes

SEEDS = [11, 23]
BATCHES = 4
E2E_SEED, E2E_BATCHES = 5, 2
ACTIVITY_SOURCES = ("visits", "zoom", "pathways", "wellbeing_calls")
MARTS = tuple(sorted(p.stem for p in (DBT_PROJECT_DIR / "models" / "marts").glob("*.sql")))
COMPARED = MARTS + ("audit_kpi_units", "audit_kpi_exclusions", "audit_kpi_reconciliation", "int_kpi_units", "int_visits",
                    "int_pathway_contacts", "int_pathway_prescriptions", "int_social_prescriptions",
                    "int_wellbeing_calls", "int_zoom_attendances", "int_zoom_sessions", "int_members_reached")
P = Pseudonymiser(b"incremental-property-key-0123456")

pytestmark = pytest.mark.slow


def deliver(landing: Path, batch: list[tuple[str, bytes]]) -> None:
    for path, data in batch:
        (landing / path).parent.mkdir(parents=True, exist_ok=True)
        (landing / path).write_bytes(data)


def dbt_build(home: Path, full_refresh: bool = False) -> None:
    """`dbt build` of the whole project in the home, in this process, as `outcomes watch` builds:
    the home's arguments (the warehouse relative to it, the vars the same in every home and build),
    the manifest parsed once and kept between builds (pipelines/lib/dbt_in_process.py)."""
    args = [*home_build_args(inc.CHANGED_FILES_TABLE, full_refresh), *base_args(home / "target")]
    project = project_fingerprint()
    assert dbt_in_process.parse(args, project, home) is None
    build = dbt_in_process.build(args, project, home)
    errors = [e["info"]["msg"] for e in build.events if e["info"]["level"] == "error"]
    assert build.success, f"dbt build failed in {home}: {build.exception}\n" + "\n".join(errors)[-4000:]


def incremental_build(home: Path) -> inc.BuildPlan:
    """What pipelines/assets/dbt.py does for a whole-project run."""
    project, variables = project_fingerprint(), dbt_vars()
    with warehouse.connect(home / WAREHOUSE_IN_HOME) as con:
        plan = inc.plan_build(con, project, variables)
    dbt_build(home, plan.full_refresh)
    with warehouse.connect(home / WAREHOUSE_IN_HOME) as con:
        inc.record_build(con, plan, project, variables)
    return plan


def tables(db: Path) -> dict[str, list]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {m: con.execute(f"SELECT * FROM main.{m} ORDER BY ALL").fetchall() for m in COMPARED}


def differences(incremental: dict[str, list], full: dict[str, list]) -> str:
    out = []
    for m in COMPARED:
        if incremental[m] != full[m]:
            a, b = set(map(repr, incremental[m])), set(map(repr, full[m]))
            out.append(f"{m}: only incremental {sorted(a - b)[:3]}; only full {sorted(b - a)[:3]}")
    return "\n".join(out)


def test_the_comparison_covers_every_mart_and_the_trace_units():
    assert {"kpi_annual", "mart_monthly_by_site", "mart_prescriptions_by_category", "mart_pathway_funnel"} <= set(MARTS)
    assert len(MARTS) == len(list((DBT_PROJECT_DIR / "models" / "marts").glob("*.sql")))


@pytest.mark.parametrize("seed", SEEDS)
def test_incremental_equals_full_refresh_after_every_batch(seed, tmp_path):
    landing, home, full = tmp_path / "landing", tmp_path / "incremental", tmp_path / "full"
    db, copy = home / WAREHOUSE_IN_HOME, full / WAREHOUSE_IN_HOME
    home.mkdir(), full.mkdir()
    counted, conflicted, members, moved = set(), set(), {}, 0
    for number, batch in enumerate(history(seed, BATCHES)):
        deliver(landing, batch)
        with warehouse.connect(db) as con:
            for source in ACTIVITY_SOURCES:
                ingest_source(con, landing, source, P)
            assert con.execute("SELECT count(*) FROM ledger.rejected_rows").fetchone() == (0,)
            assert con.execute("SELECT count(*) FROM ledger.files WHERE status = 'quarantined'").fetchone() == (0,)
            kept = {source: conflicts(con, source) for source in REDELIVERY_SOURCES}  # the new files' keys only
        plan = incremental_build(home)
        # the first build is a full one; every later one must really be incremental
        assert plan.full_refresh == (number == 0), plan.describe()
        shutil.copyfile(db, copy)
        with duckdb.connect(str(copy), read_only=True) as con:  # read-only: every key compared
            assert kept == {source: conflicts(con, source) for source in REDELIVERY_SOURCES}, f"seed {seed}, batch {number}"
            now = dict(con.execute("SELECT visit_id, member_id FROM main.int_visits").fetchall())
        moved += sum(1 for visit, member in now.items() if visit in members and members[visit] != member)
        members = now
        conflicted |= {source for source, found in kept.items() if found}
        dbt_build(full, full_refresh=True)
        rebuilt = tables(copy)
        diff = differences(tables(db), rebuilt)
        assert not diff, f"seed {seed}, after batch {number} (tests/random_history.py):\n{diff}"
        counted |= {(y, k) for y, k, v, *_ in rebuilt["kpi_annual"] if v}
    # the history is not trivial: it reaches several years and every source's KPIs
    years = {y for y, _ in counted}
    assert conflicted, "the history redelivers nothing with changed content"
    assert moved, "the history moves no visit to another member"
    assert len(years) >= 3 and {"visits", "pathway_contacts", "social_prescriptions", "zoom_attendances",
                                "wellbeing_successful_contacts"} <= {k for _, k in counted}


def test_outcomes_run_end_to_end_equals_full_refresh(tmp_path):
    landing, home, full = tmp_path / "landing", tmp_path / "home", tmp_path / "full"
    for number, batch in enumerate(history(E2E_SEED, E2E_BATCHES)):
        deliver(landing, batch)
        if number > 0:
            with warehouse.connect(home / "warehouse.duckdb") as con:
                # a build recorded with this project and vars, few files pending: the run is incremental
                plan = inc.plan_build(con, project_fingerprint(), dbt_vars())
            assert not plan.full_refresh, plan.describe()
        outcomes("run", "--landing", str(landing), "--home", str(home))
        if number == 0:
            continue  # the first run is a full build
        shutil.rmtree(full, ignore_errors=True)
        shutil.copytree(home, full)
        outcomes("run", "--landing", str(landing), "--home", str(full), "--full-refresh")
        diff = differences(tables(home / "warehouse.duckdb"), tables(full / "warehouse.duckdb"))
        assert not diff, f"seed {E2E_SEED}, after batch {number} (tests/random_history.py):\n{diff}"
