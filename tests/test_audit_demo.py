"""The audit trail on generated exports: every count KPI traces to exactly as many units as it counts,
every cited file and line holds that record, and a published snapshot is reproduced from its manifest;
a late correction makes a new version and leaves the old one as it was."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
import stat
import subprocess
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from pipelines.audit.manifest import files_in_scope
from pipelines.lib import kpi_registry
from pipelines.lib import dbt_project
from tests.support import demo_run, kpis, outcomes
from tests.test_audit_evidence import LandingIndex, check_evidence

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return demo_run(tmp_path_factory)  # landing, home (a copy: tests may change it), the run's output


def test_audit_trail_views_pass_their_structural_tests(demo, tmp_path):
    """The audit views' own dbt tests (grain, one winning version, evidence present) are left out
    of pipeline builds for speed; they run here, on a warehouse the pipeline built."""
    _, home, _ = demo
    proc = subprocess.run([str(dbt_project.dbt_executable()), *dbt_project.audit_trail_test_args(),
                           *dbt_project.base_args(tmp_path / "target")],
                          env=dbt_project.dbt_env(home / "warehouse.duckdb"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    tests = [r for r in results if r["unique_id"].startswith("test.")]  # not the run's hooks
    assert len(tests) >= 20 and all(r["status"] == "pass" for r in tests), [r for r in tests if r["status"] != "pass"]
    assert {r["unique_id"].split(".")[2].split("_audit_")[0] for r in results} >= {"unique_combination_of_columns"}


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_every_count_kpi_traces_to_as_many_units_as_it_counts(demo):
    landing, home, _ = demo
    published = kpis(home)
    years = sorted({y for y, _ in published})
    for kpi in kpi_registry.counts():
        rows = csv_rows(outcomes("trace", kpi, "--home", str(home), "--format", "csv").stdout)
        per_year = Counter(r["financial_year"] for r in rows)
        assert {y: per_year.get(y, 0) for y in years} == {y: published[(y, kpi)] for y in years}, kpi
        assert all(r["kpi"] == kpi and r["unit_key"] and int(r["evidence_rows"]) >= 1 for r in rows), kpi
        assert len({(r["financial_year"], r["unit_key"]) for r in rows}) == len(rows), kpi


def test_the_reconciliation_counts_the_rows_of_the_audit_trail(demo):
    """audit_kpi_reconciliation counts the counted units without building their evidence
    (macros/units_with_evidence.sql, unit_columns): its traced units are audit_kpi_units' rows."""
    _, home, _ = demo
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        def rows(sql):
            return sorted(con.execute(sql).fetchall(), key=repr)
        trail_annual = rows("SELECT financial_year, kpi, count(*) FROM main.audit_kpi_units GROUP BY ALL")
        traced_annual = rows("SELECT financial_year, kpi, traced_units FROM main.audit_kpi_reconciliation "
                             "WHERE scope = 'annual' AND traced_units > 0")
        trail_monthly = rows("SELECT financial_year, kpi, month, site_code, count(*) FROM main.audit_kpi_units "
                             "WHERE month IS NOT NULL GROUP BY ALL")
        traced_monthly = rows("SELECT financial_year, kpi, month, site_code, traced_units FROM "
                              "main.audit_kpi_reconciliation WHERE scope = 'monthly_by_site' AND traced_units > 0")
    assert len(trail_annual) > 20 and trail_annual == traced_annual
    assert len(trail_monthly) > 100 and trail_monthly == traced_monthly


def test_the_outcome_figures_test_counts_the_rows_of_the_audit_trail(demo):
    """dbt_project/tests/audit_outcome_figures_equal_their_traced_units.sql counts the outcome
    units without their evidence: its counts are audit_outcome_units' rows."""
    _, home, _ = demo
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        trail = sorted(con.execute("SELECT kpi, financial_year, coalesce(imd_decile, ''), count(*) "
                                   "FROM main.audit_outcome_units GROUP BY ALL").fetchall())
        counted = sorted(con.execute(
            "SELECT 'members_reached', financial_year, imd_decile_label, count(*) FROM main.int_members_reached "
            "GROUP BY ALL UNION ALL SELECT 'swemwbs_paired_members', financial_year, '', count(*) "
            "FROM main.int_wellbeing_pairs WHERE measure = 'swemwbs' GROUP BY ALL").fetchall())
    assert {k for k, *_ in trail} == {"members_reached", "swemwbs_paired_members"} and trail == counted


def test_every_cited_file_and_line_holds_the_record(demo):
    landing, home, _ = demo
    index = LandingIndex(landing, bytes.fromhex((home / "secret.key").read_text().strip()))
    for kpi in kpi_registry.counts():
        doc = json.loads(outcomes("trace", kpi, "--year", "2021/22", "--home", str(home), "--format", "json").stdout)
        (trace,) = doc["traces"]
        assert trace["units_count"] == trace["published"] == len(trace["units"]), kpi
        problems = [p for unit in trace["units"] for p in check_evidence(index, unit, kpi)]
        assert problems == [], problems[:10]
        for unit in trace["units"]:  # the winning version comes first
            assert unit["evidence"][0]["is_winning"] in (True, None), (kpi, unit["unit_key"])


def test_overlapping_deliveries_and_rejoins_are_all_cited(demo):
    _, home, _ = demo
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        visit_id, versions = con.execute(
            "SELECT visit_id, versions_loaded FROM int_visits WHERE is_counted AND financial_year = '2021/22' "
            "ORDER BY versions_loaded DESC, visit_id LIMIT 1").fetchone()
        attendance, rows = con.execute(
            "SELECT session_id || '|' || person_key, participant_rows FROM int_zoom_attendances "
            "WHERE is_member ORDER BY participant_rows DESC, session_id LIMIT 1").fetchone()
    assert versions >= 3 and rows >= 2
    visits = {r["unit_key"]: r for r in csv_rows(outcomes(
        "trace", "visits", "--year", "2021/22", "--home", str(home), "--format", "csv").stdout)}
    assert len(visits[visit_id]["evidence"].split(";")) == versions
    attendances = {r["unit_key"]: r for r in csv_rows(outcomes(
        "trace", "zoom_attendances", "--home", str(home), "--format", "csv").stdout)}
    assert len(attendances[attendance]["evidence"].split(";")) == rows


def test_table_format_has_one_line_per_unit(demo):
    _, home, _ = demo
    out = outcomes("trace", "pathway_contacts", "--year", "2021/22", "--home", str(home)).stdout
    lines = out.splitlines()
    units = [ln for ln in lines if not ln.startswith(("#", " "))]
    assert len(units) == kpis(home)[("2021/22", "pathway_contacts")]
    assert all(ln.startswith("contact ") for ln in units)
    assert lines[0].startswith("# pathway_contacts 2021/22: published 241 (kpi_annual); traced 241 units")


def test_ratios_trace_to_numerator_and_denominator(demo):
    _, home, _ = demo
    published = kpis(home)
    rows = csv_rows(outcomes("trace", "prescriptions_per_contact", "--year", "2021/22", "--home", str(home),
                             "--format", "csv").stdout)
    count = Counter(r["kpi"] for r in rows)
    assert count == {"social_prescriptions": published[("2021/22", "social_prescriptions")],
                     "pathway_contacts": published[("2021/22", "pathway_contacts")]}
    assert count["social_prescriptions"] / count["pathway_contacts"] == published[("2021/22", "prescriptions_per_contact")]
    table = outcomes("trace", "sessions_per_member", "--year", "2021/22", "--home", str(home)).stdout
    assert table.startswith("# sessions_per_member 2021/22 = zoom_attendances / zoom_members = ")


def test_explain_shows_each_models_sql_as_the_homes_builds_compiled_it(demo):
    """A build in the run's process writes no manifest.json (pipelines/lib/dbt_in_process.py); the
    SQL `outcomes explain` shows is each model's as dbt last compiled it in the home."""
    _, home, _ = demo
    target = home / "dbt" / "target"
    assert (target / "run_results.json").exists() and not (target / "manifest.json").exists()
    out = outcomes("explain", "visits", "--home", str(home)).stdout
    models = re.findall(r"^-- =+ (\w+) \((\S+), (compiled|as written)\) =+$", out, re.M)
    assert {"stg_visits", "int_visits", "kpi_annual"} <= {m for m, _, _ in models}
    assert {how for _, _, how in models} == {"compiled"}
    sql = out.split("-- ", 1)[1]
    assert "{{" not in sql and "ref(" not in sql and '"main"."stg_visits"' in sql


def test_monthly_site_figures_trace_too(demo):
    _, home, _ = demo
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        picks = con.execute(
            "SELECT DISTINCT ON (kpi) kpi, site_code, strftime(month, '%Y-%m'), value FROM mart_monthly_by_site "
            "WHERE financial_year = '2021/22' AND value > 0 ORDER BY kpi, value DESC").fetchall()
    assert len(picks) == 7
    for kpi, site, month, value in picks:
        rows = csv_rows(outcomes("trace", kpi, "--site", site, "--month", month, "--home", str(home),
                                 "--format", "csv").stdout)
        assert len(rows) == value and {(r["site_code"], r["month"]) for r in rows} == {(site, month)}, kpi
    proc = outcomes("trace", "zoom_members", "--month", "2021-11", "--home", str(home), check=False)
    assert proc.returncode == 2 and "per year only" in proc.stderr


def test_traces_carry_no_personal_data(demo):
    landing, home, _ = demo
    out = "".join(outcomes("trace", k, "--year", "2021/22", "--home", str(home), "--format", "json").stdout
                  for k in ("zoom_members", "zoom_attendances", "wellbeing_people_reached"))
    out += "".join(outcomes("trace", k, "--year", "2021/22", "--excluded", "--home", str(home)).stdout
                   for k in ("zoom_members", "wellbeing_people_reached"))
    assert "@example" not in out and "@merseycare" not in out and "DEMO" not in out


def test_run_manifest_records_files_results_and_kpis(demo):
    _, home, run = demo
    (path,) = (home / "runs").glob("*.json")
    assert re.search(rf"^run record: \S+/home/runs/{re.escape(path.name)}$", run, re.M)  # in the home copied
    m = json.loads(path.read_text())
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        ledger = con.execute("SELECT file_path, file_sha256, status FROM ledger.files ORDER BY 1, 2").fetchall()
    assert [(f["path"], f["sha256"], f["status"]) for f in files_in_scope(m)] == ledger
    assert m["success"] is True and m["code_version"]["git_commit"] and m["dbt"]["counts"].get("success", 0) > 20
    assert {(r["financial_year"], r["kpi"]): r["value"] for r in m["kpis"]} == kpis(home)
    assert m["landing"] == str(demo[0].resolve()) and m["pseudonym_key_check"]


def test_docs_are_generated_beside_the_dashboards(demo):
    _, home, _ = demo
    out = outcomes("docs", "--home", str(home)).stdout
    index = home / "dashboards" / "dbt-docs" / "index.html"
    assert f"dbt docs: {index}" in out
    page = index.read_text()
    assert "audit_kpi_units" in page and "int_visits" in page
    assert not (home / "dbt" / "target" / "catalog.json").exists()  # the run's own target is left alone


def tree(path: Path) -> dict:
    return {str(p.relative_to(path)): (hashlib.sha256(p.read_bytes()).hexdigest(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(path.rglob("*")) if p.is_file()}


LATE_VISITS = ("visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
               "LATE-0001,WAL,2022-03-15 10:05,M9999901,member,course,ok\n"
               "LATE-0002,WAL,2022-03-15 10:20,,guest,cafe,ok\n")


def test_snapshot_is_reproduced_and_a_correction_makes_a_new_version(demo, tmp_path):
    landing, home, _ = demo
    # A copy of the home and landing, so that the other tests keep the original.
    home2, landing2 = tmp_path / "home", tmp_path / "landing"
    shutil.copytree(home, home2)
    shutil.copytree(landing, landing2)

    listing = outcomes("snapshots", "--home", str(home2)).stdout
    assert "2021-22/v1    provisional" in listing
    frozen = outcomes("snapshots", "--home", str(home2), "--freeze", "2021/22").stdout
    assert "2021/22 closed: snapshot 2021-22/v2" in frozen
    v2 = home2 / "snapshots" / "2021-22" / "v2"
    before = {v: tree(home2 / "snapshots" / "2021-22" / v) for v in ("v1", "v2")}
    assert json.loads((v2 / "manifest.json").read_text())["kind"] == "final"

    # A late kiosk file: one more 2021/22 visit by a new member, and a guest's.
    (landing2 / "visits" / "late").mkdir()
    (landing2 / "visits" / "late" / "kiosk_WAL_2022-03-15_late.csv").write_text(LATE_VISITS)
    outcomes("run", "--landing", str(landing2), "--home", str(home2))
    v3 = home2 / "snapshots" / "2021-22" / "v3"
    m3 = json.loads((v3 / "manifest.json").read_text())
    assert m3["kind"] == "correction" and m3["previous"] == "2021-22/v2"
    assert {c["kpi"]: c["change"] for c in m3["changes"]} == {"visits": "+2", "visiting_members": "+1"}
    assert (v3 / "diff.csv").read_text().splitlines()[1:] == [
        f"visits,{int(kpis(home)[('2021/22', 'visits')])},{int(kpis(home2)[('2021/22', 'visits')])},+2",
        f"visiting_members,{int(kpis(home)[('2021/22', 'visiting_members')])},"
        f"{int(kpis(home2)[('2021/22', 'visiting_members')])},+1"]
    assert {v: tree(home2 / "snapshots" / "2021-22" / v) for v in ("v1", "v2")} == before
    assert not (home2 / "snapshots" / "2022-23" / "v2").exists()  # other years did not change
    trace = csv_rows(outcomes("trace", "visits", "--year", "2021/22", "--site", "WAL", "--month", "2022-03",
                              "--home", str(home2), "--format", "csv").stdout)
    late = [r for r in trace if r["unit_key"].startswith("LATE-")]
    assert [r["evidence"].split(":")[:2] for r in late] == [
        ["visits/late/kiosk_WAL_2022-03-15_late.csv", "2"], ["visits/late/kiosk_WAL_2022-03-15_late.csv", "3"]]

    # The frozen v2 is rebuilt from the files named in its manifest: the late file is not among them.
    scratch = tmp_path / "scratch"
    proc = outcomes("reproduce", "2021-22/v2", "--home", str(home2), "--landing", str(landing2),
                    "--scratch", str(scratch), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reproduced: all 12 KPIs of 2021-22/v2 match" in proc.stdout
    assert not (scratch / "landing" / "visits" / "late").exists()
    key = scratch / "home" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_bytes() == (home2 / "secret.key").read_bytes()
    assert not (scratch / "home" / "snapshots").exists()  # nothing but the key came from the old home
    assert len(list((scratch / "home" / "runs").glob("*.json"))) == 1
