"""The quality report's sample of a failing dbt test's rows (pipelines/quality/dbt_results.py)."""
from __future__ import annotations

import json

import dagster as dg
import duckdb

from pipelines.lib.home import Home
from pipelines.quality import report
from pipelines.quality.dbt_results import sample_failing_rows
from pipelines.quality.results import REPORT_RESOURCE, QualityReport, record_check, record_publication
from pipelines.quality.store import last_run_path, report_path
from pipelines.resources import OutcomesResource

FAILING = "select id, site_code, member_id from rows_ where id % 7 = 0"  # as dbt compiles a test


def con_with_rows(seed: int) -> duckdb.DuckDBPyConnection:
    """200,000 rows stored in another order for each seed."""
    con = duckdb.connect()
    con.execute("SET threads = 4")
    con.execute(f"""CREATE TABLE rows_ AS
        SELECT range::INTEGER AS id, 'S' || (range % 5) AS site_code, 'M' || range AS member_id
          FROM range(1, 200001) ORDER BY hash(range + {int(seed)})""")
    return con


def test_the_sample_is_the_first_failing_rows_in_order_whatever_the_storage_order():
    samples = []
    for seed in (1, 2, 3):
        with con_with_rows(seed) as con:
            samples.append(sample_failing_rows(con, FAILING, 3))
    assert samples[0] == [{"id": 7, "site_code": "S2", "member_id": "(withheld)"},
                          {"id": 14, "site_code": "S4", "member_id": "(withheld)"},
                          {"id": 21, "site_code": "S1", "member_id": "(withheld)"}]
    assert samples[1] == samples[0] and samples[2] == samples[0]


class NoOrderBy:
    """A connection on which ORDER BY ALL fails, as for columns that cannot be ordered."""

    def __init__(self, con):
        self.con = con

    def execute(self, sql):
        if "ORDER BY ALL" in sql:
            raise duckdb.BinderException("cannot order")
        return self.con.execute(sql)


def test_a_test_that_cannot_be_ordered_is_still_sampled_and_bad_sql_gives_none():
    with con_with_rows(1) as con:
        rows = sample_failing_rows(NoOrderBy(con), FAILING, 3)
        assert len(rows) == 3 and all(r["id"] % 7 == 0 for r in rows)
        assert sample_failing_rows(con, "select * from no_such_table", 3) == []


# --- the report is rendered once per run, when the run ends, however it ends ---------------------

def _tiny_job(home):
    """Two recording checks (one blocking and failing) and a publication skipped because of it."""
    seen_during_run = []

    @dg.asset
    def source():
        return 1

    @dg.asset(deps=[source])
    def publication(context):
        record_publication(context, home, "dashboards", path="x")

    @dg.asset_check(asset=source, name="keys_unique", blocking=True, resource_defs=REPORT_RESOURCE)
    def keys_unique(context, quality_report: QualityReport):
        return record_check(context, quality_report, dg.AssetCheckResult(passed=False), kind="python", data="d")

    @dg.asset_check(asset=source, name="fresh", blocking=False, resource_defs=REPORT_RESOURCE)
    def fresh(context, quality_report: QualityReport):
        seen_during_run.append(report_path(home).exists())
        return record_check(context, quality_report, dg.AssetCheckResult(passed=True), kind="python", data="d")

    defs = dg.Definitions(assets=[source, publication], asset_checks=[keys_unique, fresh],
                          jobs=[dg.define_asset_job("job", selection=dg.AssetSelection.all())],
                          resources={"outcomes": OutcomesResource(home=str(home.root))},
                          executor=dg.in_process_executor)
    return defs.resolve_job_def("job"), seen_during_run


def test_the_report_is_rendered_once_when_the_run_ends_even_when_a_blocking_check_stops_it(tmp_path, monkeypatch):
    home = Home.resolve(tmp_path / "home").ensure()
    rendered = []
    real = report.render_report
    monkeypatch.setattr(report, "render_report", lambda h, run_id: rendered.append(run_id) or real(h, run_id))
    job, seen_during_run = _tiny_job(home)
    result = job.execute_in_process(raise_on_error=False)
    assert not result.success  # the blocking check failed: the publication was skipped
    assert rendered == [result.run_id]
    assert seen_during_run == [False]  # no check re-renders the report as it records
    summary = json.loads(last_run_path(home).read_text())
    statuses = {c["check"]: c["status"] for c in summary["checks"]}
    assert statuses == {"source:keys_unique": "failed", "source:fresh": "passed"}
    assert summary["verdict"] == "withheld" and summary["published_this_run"]["dashboards"] is None
    assert "source:keys_unique" in report_path(home).read_text()
