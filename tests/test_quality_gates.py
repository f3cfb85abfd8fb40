"""Quality gates end to end, through `outcomes run` and `outcomes checks`.

One small, valid landing zone is run once (the base). Each scenario copies the base home,
breaks one thing (a new export, or, where valid exports cannot break a check, the warehouse
itself with a direct DuckDB write while nothing runs) and runs again:

- blocking checks: the run exits 1 with a one-line message naming the check, the dashboards
  and the published KPI snapshot are byte for byte the previous ones, and `outcomes checks`
  and the report name the check;
- warning checks: the run publishes, and the warning is in `outcomes checks`, in the report
  and (for stale sources and KPI movement) on the dashboards;
- a run with nothing new validates nothing again with Great Expectations.

Pipeline runs in this file: base 1, stale/no-change 1, blocking scenarios 4, a partial run
after a failure 1 -> 7.
"""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from tests.support import outcomes, selected_run, write_export

pytestmark = pytest.mark.slow

VISITS_HEADER = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
CONTACTS_HEADER = "contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at\n"
PRESCRIPTIONS_HEADER = "prescription_id,contact_id,category,referred_to,created_date,status,updated_at\n"
CALLS_HEADER = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"


def zoom_file(meeting: str, day: date) -> str:
    us = f"{day:%m/%d/%Y}"
    return (
        "Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,\n"
        f"{meeting},Wellbeing Course,{us} 10:00:00 AM,{us} 11:00:00 AM,host@merseycare.nhs.uk,60,3,\n"
        "\n"
        "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,\n"
        f"Ann Example,ann@example.org,{us} 09:58:00 AM,{us} 11:00:00 AM,62,No,\n"
        f"Bob Example,bob@example.org,{us} 10:05:00 AM,{us} 10:50:00 AM,45,No,\n"
    )


def visits_file(prefix: str, first_day: date, n: int) -> str:
    rows = [f"{prefix}{i:03d},WAL,{first_day + timedelta(days=i % 5):%Y-%m-%d} 10:{i % 60:02d},M{i},member,course,ok"
            for i in range(n)]
    return VISITS_HEADER + "\n".join(rows) + "\n"


def base_landing(root: Path) -> Path:
    """Two financial years, every source; May 2023 against May 2022: visits 25 -> 40 (+60%: a
    movement warning); one prescription whose contact never arrived (an orphan: a warning)."""
    write_export(root / "visits" / "kiosk_2022-05-08.csv", visits_file("V22-", date(2022, 5, 2), 25))
    write_export(root / "visits" / "kiosk_2023-05-08.csv", visits_file("V23-", date(2023, 5, 1), 40))
    write_export(root / "zoom" / "participants_2022-05-10.csv", zoom_file("812 3456 7890", date(2022, 5, 10)))
    write_export(root / "zoom" / "participants_2023-05-09.csv", zoom_file("812 3456 7890", date(2023, 5, 9)))
    write_export(root / "pathways" / "contacts_2023-05-15.csv", CONTACTS_HEADER
                 + "C1,M1,A1,WAL,2022-05-03,face_to_face,attended,2022-05-03T15:00:00+01:00\n"
                 + "C2,M2,A1,SOU,2023-05-03,phone,attended,2023-05-03T15:00:00+01:00\n")
    write_export(root / "pathways" / "prescriptions_2023-05-15.csv", PRESCRIPTIONS_HEADER
                 + "P1,C1,housing,Riverside Housing,2022-05-03,made,2022-05-03T15:10:00+01:00\n"
                 + "P2,C2,debt,Citizens Advice,2023-05-03,accepted,2023-05-04T09:00:00+01:00\n"
                 + "P3,C99,benefits,Welfare Rights,2023-05-04,made,2023-05-04T10:00:00+01:00\n")
    write_export(root / "wellbeing_calls" / "calls_2023-05-15.csv", CALLS_HEADER
                 + "W1,RMY0000101,2022-05-04T09:00:00Z,ST01,outbound,successful,600\n"
                 + "W2,RMY0000102,2022-05-05T09:00:00Z,ST01,outbound,no_answer,0\n"
                 + "W3,RMY0000101,2023-05-04T09:00:00Z,ST01,outbound,successful,420\n"
                 + "W4,RMY0000103,2023-05-05T09:00:00Z,ST02,inbound,voicemail,30\n")
    return root


@dataclass
class Run:
    landing: Path
    home: Path
    proc: subprocess.CompletedProcess
    before: dict[str, bytes]  # published snapshot and dashboards before this run


def published_files(home: Path) -> dict[str, bytes]:
    files = {"published/kpi_annual.csv": (home / "published" / "kpi_annual.csv").read_bytes()}
    for page in sorted((home / "dashboards").glob("*.html")):
        if page.name != "quality.html":
            files[f"dashboards/{page.name}"] = page.read_bytes()
    return files


def run(landing: Path, home: Path) -> Run:
    before = published_files(home) if (home / "published" / "kpi_annual.csv").exists() else {}
    proc = outcomes("run", "--landing", str(landing), "--home", str(home), check=False)
    return Run(landing, home, proc, before)


def last_run(home: Path) -> dict:
    return json.loads((home / "quality" / "last_run.json").read_text())


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Run:
    landing = base_landing(tmp_path_factory.mktemp("quality_landing"))
    return run(landing, tmp_path_factory.mktemp("quality_home"))


def scenario(base: Run, tmp_path_factory, name: str) -> tuple[Path, Path]:
    """A copy of the base landing and home, to break one thing in."""
    assert base.proc.returncode == 0, base.proc.stderr
    root = tmp_path_factory.mktemp(name)
    landing, home = root / "landing", root / "home"
    shutil.copytree(base.landing, landing)
    shutil.copytree(base.home, home)
    return landing, home


def write_sql(home: Path, statement: str) -> None:
    """Change the warehouse directly (nothing else runs: one writer)."""
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(statement)


# --- the base run: publishes, with its warnings ---------------------------------------------------

def test_a_clean_run_publishes_the_kpis_exactly_as_outcomes_kpis_prints_them(base):
    assert base.proc.returncode == 0, base.proc.stderr
    snapshot = (base.home / "published" / "kpi_annual.csv").read_text()
    assert snapshot == outcomes("kpis", "--home", str(base.home), "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(snapshot)))
    assert {r["financial_year"] for r in rows} == {"2022/23", "2023/24"} and len(rows) == 24
    summary = last_run(base.home)
    assert summary["verdict"] == "published" and summary["counts"]["not_run"] == 0
    assert summary["counts"]["failed"] == 0
    assert summary["published_this_run"]["kpi_snapshot"]["path"].endswith("published/kpi_annual.csv")


def test_orphan_prescriptions_and_kpi_movement_are_warnings_that_do_not_block(base):
    summary = last_run(base.home)
    assert set(summary["warnings"]) >= {"int_social_prescriptions:orphan_social_prescriptions",
                                        "mart_monthly_by_site:kpi_year_on_year_movement"}
    checks = outcomes("checks", "--home", str(base.home), check=False)
    assert checks.returncode == 0, checks.stdout + checks.stderr
    assert "PUBLISHED" in checks.stdout
    assert "int_social_prescriptions:orphan_social_prescriptions" in checks.stdout
    assert "mart_monthly_by_site:kpi_year_on_year_movement" in checks.stdout
    # May 2022 -> May 2023 (April to May of each year): 25 -> 40 visits.
    assert "visits: 25 in April 2022 to May 2022 -> 40 in April 2023 to May 2023 (+60.0%" in checks.stdout
    report = (base.home / "dashboards" / "quality.html").read_text()
    for text in ("orphan_social_prescriptions", "kpi_year_on_year_movement", "+60.0%", "C99"):
        assert text in report, text
    index = (base.home / "dashboards" / "index.html").read_text()
    assert "Year-on-year movement: visits" in index and "Orphan social prescriptions" in index


def test_the_report_lists_every_check_with_the_data_it_ran_on_and_is_self_contained(base):
    summary = last_run(base.home)
    kinds = {c["kind"] for c in summary["checks"]}
    assert kinds == {"great_expectations", "dbt", "python"}
    ge = {c["check"]: c for c in summary["checks"] if c["kind"] == "great_expectations"}
    assert len(ge) == 12 and all(c["status"] in ("passed", "warning") for c in ge.values())
    assert "raw.visits: 65 rows from 2 new files validated" in ge["raw/visits:ge_raw_visits"]["data"]
    report = (base.home / "dashboards" / "quality.html").read_text()
    assert "<script" not in report and "http://" not in report and "https://" not in report
    assert all(c["check"] in report for c in summary["checks"])


# --- nothing new, one source silent: published again, nothing re-validated -------------------------

@pytest.fixture(scope="module")
def stale(base, tmp_path_factory) -> Run:
    landing, home = scenario(base, tmp_path_factory, "stale")
    # the newest Zoom export arrived 30 days ago (zoom is expected at least every 8 days)
    write_sql(home, "UPDATE ledger.files SET loaded_at = loaded_at - INTERVAL 30 DAY WHERE source = 'zoom'")
    return run(landing, home)


def test_a_stale_source_is_a_warning_in_checks_report_and_dashboards(stale):
    assert stale.proc.returncode == 0, stale.proc.stderr
    summary = last_run(stale.home)
    assert summary["verdict"] == "published" and "raw/zoom:source_freshness" in summary["warnings"]
    assert {f["source"]: f["stale"] for f in summary["freshness"]} == {
        "visits": False, "zoom": True, "pathways": False, "wellbeing_calls": False}
    checks = outcomes("checks", "--home", str(stale.home), check=False)
    assert checks.returncode == 0 and "raw/zoom:source_freshness" in checks.stdout
    assert "zoom STALE (30.0 days, expected at least every 8)" in checks.stdout
    assert "STALE" in (stale.home / "dashboards" / "quality.html").read_text()
    index = (stale.home / "dashboards" / "index.html").read_text()
    assert "Zoom: new exports" in index and "STALE: newest export loaded 30.0 days ago" in index


def test_a_run_with_nothing_new_does_not_validate_again(stale):
    ge = [c for c in last_run(stale.home)["checks"] if c["kind"] == "great_expectations"]
    assert len(ge) == 12  # the raw suites of the 7 sources' 10 tables and the 2 KPI marts
    for c in ge:
        assert c["details"]["cached"] and c["details"]["rows_validated"] == 0, c
        assert c["details"]["ge_import_s"] == 0 and "nothing re-validated" in c["data"], c


# --- blocking checks: publication withheld, previous versions kept ---------------------------------

def assert_withheld(r: Run, check: str) -> None:
    assert r.proc.returncode == 1, r.proc.stdout + r.proc.stderr
    last_line = r.proc.stderr.strip().splitlines()[-1]
    assert last_line.startswith("outcomes: run did not complete:") and check in last_line, last_line
    assert published_files(r.home) == r.before, "dashboards or published snapshot changed"
    summary = last_run(r.home)
    assert summary["verdict"] == "withheld" and check in summary["blocking_failures"]
    assert summary["published_this_run"] == {"kpi_snapshot": None, "dashboards": None}
    checks = outcomes("checks", "--home", str(r.home), check=False)
    assert checks.returncode == 1 and "publication WITHHELD" in checks.stdout and check in checks.stdout
    report = (r.home / "dashboards" / "quality.html").read_text()
    assert "Publication withheld" in report and check in report


@pytest.fixture(scope="module")
def bad_raw_row(base, tmp_path_factory) -> Run:
    """A code outside the contract in raw.visits. Ingestion rejects such rows (and future dates), so
    the warehouse is changed directly, and the suite's record of what it validated is removed, as
    on the first run after an upgrade: every visit row is validated again."""
    landing, home = scenario(base, tmp_path_factory, "bad_raw_row")
    write_sql(home, "UPDATE raw.visits SET site_code = 'XXX' WHERE visit_id = 'V23-005'")
    (home / "quality" / "state" / "raw_visits.json").unlink()
    return run(landing, home)


def test_a_raw_row_breaking_its_suite_stops_publication(bad_raw_row):
    assert_withheld(bad_raw_row, "raw/visits:ge_raw_visits")
    [c] = [c for c in last_run(bad_raw_row.home)["checks"] if c["check"] == "raw/visits:ge_raw_visits"]
    assert c["data"].startswith("raw.visits: 65 rows from 2 new files validated")
    [f] = c["failures"]
    assert f["what"] == "site_code is one of the contract's sites" and f["count"] == 1
    assert f["samples"] == [{"site_code": "XXX", "file_path": "visits/kiosk_2023-05-08.csv", "line_number": 7}]
    checks = outcomes("checks", "--home", str(bad_raw_row.home), check=False).stdout
    assert "e.g. visits/kiosk_2023-05-08.csv:7" in checks
    statuses = {c["check"]: c["status"] for c in last_run(bad_raw_row.home)["checks"]}
    assert statuses["kpi_annual:ge_kpi_annual"] == "not_run", "dbt and everything after it did not run"


@pytest.fixture(scope="module")
def lost_row(base, tmp_path_factory) -> Run:
    landing, home = scenario(base, tmp_path_factory, "lost_row")
    write_sql(home, "DELETE FROM raw.wellbeing_calls WHERE call_id = 'W4'")  # the ledger says 4 were loaded
    return run(landing, home)


def test_a_lost_raw_row_breaks_row_conservation_and_stops_publication(lost_row):
    assert_withheld(lost_row, "raw/wellbeing_calls:row_conservation")
    [c] = [c for c in last_run(lost_row.home)["checks"] if c["check"] == "raw/wellbeing_calls:row_conservation"]
    assert c["failures"][0]["samples"][0]["file_path"] == "wellbeing_calls/calls_2023-05-15.csv"
    assert c["failures"][0]["samples"][0]["rows_in_raw"] == 3


@pytest.fixture(scope="module")
def missing_date(base, tmp_path_factory) -> Run:
    landing, home = scenario(base, tmp_path_factory, "missing_date")
    # a contact's date lost in a file this build takes in (not yet built from: an incremental
    # build's row tests look at the rows of the files it takes in, dbt_project/macros/tests/tested_rows.sql),
    # after its raw suite validated the file: dbt's test of the contact's financial year sees it
    write_sql(home, "UPDATE raw.pathway_contacts SET contact_date = NULL WHERE contact_id = 'C2'; "
                    "DELETE FROM ledger.dbt_built_files WHERE file_sha256 IN "
                    "(SELECT file_sha256 FROM raw.pathway_contacts)")
    return run(landing, home)


def test_a_dbt_test_failure_stops_publication(missing_date):
    check = "int_pathway_contacts:not_null_int_pathway_contacts_financial_year"
    assert_withheld(missing_date, check)
    [c] = [c for c in last_run(missing_date.home)["checks"] if c["check"] == check]
    assert c["kind"] == "dbt" and c["blocking"] and c["failures"][0]["count"] == 1


@pytest.fixture(scope="module")
def implausible_ratio(base, tmp_path_factory) -> Run:
    landing, home = scenario(base, tmp_path_factory, "implausible_ratio")
    # 2021/22: one attended contact with eleven social prescriptions: 11 per contact.
    write_export(landing / "pathways" / "contacts_2021-06-07.csv",
                 CONTACTS_HEADER + "C-R1,M5,A2,BOO,2021-06-01,face_to_face,attended,2021-06-01T12:00:00+01:00\n")
    cats = ["housing", "debt", "benefits", "employment", "wellbeing", "learning", "volunteering", "community",
            "physical_activity", "other", "housing"]
    write_export(landing / "pathways" / "prescriptions_2021-06-07.csv", PRESCRIPTIONS_HEADER + "".join(
        f"P-R{i},C-R1,{cat},Org {i},2021-06-01,made,2021-06-01T12:30:00+01:00\n" for i, cat in enumerate(cats)))
    return run(landing, home)


def test_an_implausible_ratio_stops_publication(implausible_ratio):
    assert_withheld(implausible_ratio, "kpi_annual:ge_kpi_annual")
    [c] = [c for c in last_run(implausible_ratio.home)["checks"] if c["check"] == "kpi_annual:ge_kpi_annual"]
    [f] = c["failures"]
    assert f["what"] == "ratios are within the registry's plausible bounds"
    [sample] = f["samples"]
    assert (sample["financial_year"], sample["kpi"], sample["value"]) == ("2021/22", "prescriptions_per_contact", 11.0)
    # the new rows were loaded and modelled, but not published
    assert outcomes("kpis", "--home", str(implausible_ratio.home), "--year", "2021/22", "--format", "csv").stdout
    assert "2021/22" not in (implausible_ratio.home / "published" / "kpi_annual.csv").read_text()


# --- a partial run cannot publish over an earlier failure -------------------------------------------


@pytest.fixture(scope="module")
def partial_after_failure(bad_raw_row, tmp_path_factory) -> Run:
    """After the visits check failed, only Zoom has something new: a Zoom-only run."""
    assert bad_raw_row.proc.returncode == 1
    root = tmp_path_factory.mktemp("partial")
    landing, home = root / "landing", root / "home"
    shutil.copytree(bad_raw_row.landing, landing)
    shutil.copytree(bad_raw_row.home, home)
    write_export(landing / "zoom" / "participants_2023-05-16.csv", zoom_file("812 3456 7890", date(2023, 5, 16)))
    before = published_files(home)
    # what the landing sensor runs for new Zoom files: Zoom ingestion and everything downstream
    proc = selected_run(home, landing, ["raw", "zoom"], "downstream")
    return Run(landing, home, proc, before)


def test_a_partial_run_does_not_publish_over_an_earlier_blocking_failure(partial_after_failure):
    r = partial_after_failure
    assert_withheld(r, "kpi_annual:no_outstanding_blocking_failures")
    summary = last_run(r.home)
    statuses = {c["check"]: c["status"] for c in summary["checks"]}
    assert "raw/visits:ge_raw_visits" not in statuses, "the visits check was not part of this run"
    assert statuses["raw/zoom:ge_raw_zoom_meetings"] == "passed"
    [c] = [c for c in summary["checks"] if c["check"] == "kpi_annual:no_outstanding_blocking_failures"]
    assert c["failures"][0]["what"].startswith("raw/visits:ge_raw_visits failed in run")
