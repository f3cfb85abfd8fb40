"""The same dbt project on Spark (docs/spark.md): a reduced demo run on DuckDB and on Spark gives
every KPI, every mart row and every trace count equal, and the dbt unit tests pass on Spark.

Needs the spark extra and Java (`make setup-spark`, `make java`): without them the tests skip
locally and fail under CI (CI=true), as the browser tests do. The Spark run is one pipeline run
(`outcomes run --engine spark`) whose dbt starts one local Spark session; the unit tests reuse its
home (metastore and tables), in one more dbt invocation.
"""
from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines.demo.generator import write_demo_landing
from tests.support import REPO, outcomes

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SCALE = 0.02  # the demo's rule edge cases are planted at every scale; 0.02 keeps Spark's run short

# every mart and the reconciliation, compared row for row
COMPARED = ("kpi_annual", "mart_monthly_by_site", "mart_pathway_funnel", "mart_prescriptions_by_category",
            "mart_reach_by_deprivation", "mart_reach_summary", "mart_wellbeing_change",
            "mart_wellbeing_change_distribution", "mart_outcome_inputs", "audit_kpi_reconciliation")


def spark_or_skip() -> None:
    missing = [what for what, ok in (("pyspark and dbt-spark (make setup-spark)",
                                      importlib.util.find_spec("pyspark") is not None
                                      and importlib.util.find_spec("dbt.adapters.spark") is not None),
                                     ("java (make java)", shutil.which("java") is not None)) if not ok]
    if not missing:
        return
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true but {', '.join(missing)} missing: .ci/run must install them first")
    pytest.skip(f"{', '.join(missing)} not installed")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    spark_or_skip()
    root = tmp_path_factory.mktemp("spark-engine")
    landing = root / "landing"
    write_demo_landing(landing, scale=SCALE)
    homes = {}
    for engine in ("duckdb", "spark"):
        homes[engine] = root / engine
        outcomes("run", "--engine", engine, "--landing", str(landing), "--home", str(homes[engine]))
    return homes


def rows(home: Path, query: str) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        return con.execute(query).fetchall()


def same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def table(home: Path, name: str, exclude=()) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        cols = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ? "
            "ORDER BY ordinal_position", [name]).fetchall() if c not in exclude]
        listed = ", ".join(f'"{c}"' for c in cols)
        return con.execute(f'SELECT {listed} FROM main."{name}" ORDER BY ALL').fetchall()


def test_every_kpi_is_equal_on_duckdb_and_spark(runs):
    duck = outcomes("kpis", "--home", str(runs["duckdb"]), "--format", "csv").stdout
    spark = outcomes("kpis", "--home", str(runs["spark"]), "--format", "csv").stdout
    assert duck.count("\n") > 12 and "2021/22" in duck
    assert spark == duck


@pytest.mark.parametrize("name", sorted(COMPARED))
def test_every_mart_row_is_equal(runs, name):
    duck, spark = table(runs["duckdb"], name), table(runs["spark"], name)
    assert duck, f"{name} is empty on DuckDB: the comparison would prove nothing"
    assert len(spark) == len(duck)
    diffs = [(d, s) for d, s in zip(duck, spark) if not all(same(x, y) for x, y in zip(d, s))]
    assert not diffs, diffs[:5]


def test_every_trace_count_is_equal(runs):
    """The audit trail `outcomes trace` reads: units counted and left out, by KPI, year and rule,
    and the evidence rows behind them."""
    q = ("SELECT kpi, financial_year, count(*), sum(evidence_rows), sum(own_evidence_rows) FROM main.audit_kpi_units "
         "GROUP BY ALL ORDER BY ALL")
    duck = rows(runs["duckdb"], q)
    assert len(duck) >= 12
    assert rows(runs["spark"], q) == duck
    q = "SELECT kpi, financial_year, rule, count(*), sum(evidence_rows) FROM main.audit_kpi_exclusions GROUP BY ALL ORDER BY ALL"
    assert rows(runs["spark"], q) == rows(runs["duckdb"], q)
    q = "SELECT kpi, financial_year, imd_decile, count(*), sum(len(evidence)) FROM main.audit_outcome_units GROUP BY ALL ORDER BY ALL"
    assert rows(runs["spark"], q) == rows(runs["duckdb"], q)


def test_the_trace_command_reads_sparks_output(runs):
    args = ["trace", "zoom_sessions", "--year", "2021/22", "--format", "csv"]
    duck = outcomes(*args, "--home", str(runs["duckdb"])).stdout
    assert duck.count("\n") > 5
    assert outcomes(*args, "--home", str(runs["spark"])).stdout.count("\n") == duck.count("\n")


def test_dbt_unit_tests_pass_on_spark(runs):
    home = runs["spark"]
    env = {**os.environ, "OUTCOMES_ENGINE": "spark", "OUTCOMES_SPARK_DIR": str(home / "spark"),
           "OUTCOMES_LAKE": str(home / "lake"), "OUTCOMES_WAREHOUSE": str(home / "warehouse.duckdb"),
           "DO_NOT_TRACK": "1"}
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run([str(dbt), "test", "--select", "resource_type:unit_test", "--project-dir", "dbt_project",
                           "--profiles-dir", "dbt_project", "--target-path", str(home / "dbt" / "unit-target")],
                          cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    done = re.search(r"Done\. PASS=(\d+) WARN=0 ERROR=0 SKIP=0 .*TOTAL=(\d+)", proc.stdout)
    assert done, proc.stdout[-2000:]
    assert int(done[1]) == int(done[2]) >= 20  # every unit test ran and passed
