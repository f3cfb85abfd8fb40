"""The Great Expectations suites and the warning checks on small hand-made warehouses.

No pipeline run: a warehouse is filled by the real ingestion from tiny exports (so rows are
typed and pseudonymised exactly as in production), then a row is broken with SQL and the
suite is run the way its Dagster check runs it (pipelines.quality.validation.run_suite).
Great Expectations is imported once for the module.
"""
from __future__ import annotations

import json
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.lib import kpi_registry
from pipelines.lib.ingest import ingest_source
from pipelines.lib.members import resolve_members
from pipelines.lib.pseudonym import Pseudonymiser
from pipelines.lib.warehouse import connect
from pipelines.quality import validation
from pipelines.quality.config import load
from pipelines.quality.suites import load_suites, parse_suite
from pipelines.quality.validation import run_suite

SUITES = {s.name: s for s in load_suites()}


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


VISITS = d("""
    visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status
    V1,WAL,2023-05-02 10:15,M1,member,course,ok
    V2,SOU,2023-05-03 11:00,,guest,cafe,ok
    V3,BOO,2023-05-04 12:00:30,M3,member,library,void
""")
ZOOM = d("""
    Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,
    812 3456 7890,Anxiety Management (Week 2),05/10/2023 10:00:12 AM,05/10/2023 11:31:40 AM,host@merseycare.nhs.uk,92,3,

    Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,
    Ann Example,ann@example.org,05/10/2023 09:58:31 AM,05/10/2023 10:40:02 AM,42,No,
    Jo B (Joanne Bloggs),,05/10/2023 10:01:00 AM,05/10/2023 11:30:00 AM,89,Yes,
""")
CONTACTS = d("""
    contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at
    C1,M1,A1,WAL,2023-05-02,face_to_face,attended,2023-05-02T15:22:10+01:00
    C2,M2,A1,,2023-05-03,phone,booked,2023-05-01T09:00:00+01:00
""")
PRESCRIPTIONS = d("""
    prescription_id,contact_id,category,referred_to,created_date,status,updated_at
    P1,C1,housing,Riverside Housing,2023-05-02,made,2023-05-02T15:30:00+01:00
    P2,C1,debt,Citizens Advice,2023-05-02,accepted,2023-05-09T10:00:00+01:00
""")
CALLS = d("""
    call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds
    W1,RMY0000101,2023-05-02T09:00:00Z,ST01,outbound,successful,600
    W2,RMY0000102,2023-05-02T09:30:00Z,ST01,outbound,no_answer,0
""")
MEMBERS = d("""
    member_id,registered_on,postcode,year_of_birth,referral_source
    M1,2020-01-10,L4 0TH,1970,gp
    M2,2021-02-11,l5 1ab,,self
""")
POSTCODES = d("""
    pcd7,pcds,dointr,lsoa11cd,msoa11cd
    L4  0TH,L4 0TH,199901,E01000001,E02000001
    L5  1AB,L5 1AB,199901,E01000002,E02000001
""")
IMD = ("LSOA code (2011),LSOA name (2011),Local Authority District name (2019),"
       "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived),"
       "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)\n"
       "E01000001,Liverpool 001A,Liverpool,100,1\nE01000002,Liverpool 001B,Liverpool,4000,2\n")
RESPONSES = d("""
    response_id,member_id,measure,timepoint,completed_on,item_1,item_2,item_3,item_4,item_5,item_6,item_7
    R1,M1,swemwbs,baseline,2023-05-02,3,3,2,3,4,3,2
    R2,M1,ons4,baseline,2023-05-02,6,7,5,4,,,
""")
FILES = {
    "visits": {"visits/kiosk_2023-05-07.csv": VISITS},
    "zoom": {"zoom/participants_81234567890.csv": ZOOM},
    "pathways": {"pathways/contacts_2023-05-08.csv": CONTACTS, "pathways/prescriptions_2023-05-08.csv": PRESCRIPTIONS},
    "wellbeing_calls": {"wellbeing_calls/calls_2023-05-08.csv": CALLS},
    # (the lookups before the register, as the pipeline orders them: members resolve on arrival)
    "reference": {"reference/postcode_lsoa_2021.csv": POSTCODES, "reference/imd2019_file7.csv": IMD},
    "members": {"members/members_20230501.csv": MEMBERS},
    "outcome_measures": {"outcome_measures/responses_2023-05-08.csv": RESPONSES},
}
KEY = Pseudonymiser(b"k" * 32)


def write_landing(root: Path, files: dict[str, dict[str, str]] = FILES) -> Path:
    for by_path in files.values():
        for rel, text in by_path.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
    return root


def ingest(warehouse: Path, landing: Path, run_id: str = "run-1") -> None:
    with connect(warehouse) as con:
        for source in FILES:
            ingest_source(con, landing, source, KEY, run_id=run_id)
        resolve_members(con, landing, KEY)  # as the members asset does after loading the register


@pytest.fixture
def wh(tmp_path) -> Path:
    """A warehouse holding one valid export per source; the home is tmp_path."""
    warehouse = tmp_path / "warehouse.duckdb"
    ingest(warehouse, write_landing(tmp_path / "landing"))
    return warehouse


def validate(warehouse: Path, name: str, home: Path | None = None, run_id: str = "check-run"):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return run_suite(con, SUITES[name], home or warehouse.parent, run_id, sample_rows=5)


def sql(warehouse: Path, statement: str) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute(statement)


def failed_rules(run) -> dict[str, str]:
    return {f["what"]: f["severity"] for f in run.failures}


@pytest.fixture(scope="module", autouse=True)
def _great_expectations_once():
    from pipelines.quality import ge

    ge.context()  # the one import, timed in ge.IMPORT_SECONDS


# --- valid data passes ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(n for n, s in SUITES.items() if s.scope == "new_files"))
def test_valid_exports_pass_every_raw_suite(wh, name):
    run = validate(wh, name)
    assert run.failures == [], json.dumps(run.failures, indent=1, default=str)
    assert run.rows_validated > 0 and not run.cached


# --- every kind of break is caught, named, and sampled by file and line -----------------------------

BREAKS = [
    # (suite, SQL breaking the rows, the rule reported, severity)
    ("raw_visits", "UPDATE raw.visits SET site_code = 'XXX' WHERE visit_id = 'V2'",
     "site_code is one of the contract's sites", "error"),
    ("raw_visits", "UPDATE raw.visits SET visit_id = NULL WHERE visit_id = 'V2'", "visit_id is present", "error"),
    ("raw_visits", "UPDATE raw.visits SET visitor_type = 'alien' WHERE visit_id = 'V1'",
     "visitor_type is a contract code", "error"),
    ("raw_visits", "UPDATE raw.visits SET member_id = 'X12' WHERE visit_id = 'V1'",
     "member_id is M followed by digits (or empty)", "error"),
    ("raw_visits", "UPDATE raw.visits SET signed_in_at = loaded_at + INTERVAL 2 HOUR WHERE visit_id = 'V1'",
     "signed_in_at is not after the time the row was loaded (London time)", "error"),
    ("raw_visits", "ALTER TABLE raw.visits ADD COLUMN surname VARCHAR",
     "raw.visits has exactly its contract columns, in order, then lineage", "error"),
    ("raw_visits", "ALTER TABLE raw.visits ALTER line_number TYPE BIGINT", "line_number is INTEGER", "error"),
    ("raw_visits", "INSERT INTO raw.visits SELECT * FROM raw.visits WHERE visit_id = 'V1'",
     "one row per file and line", "error"),
    ("raw_visits", "UPDATE raw.visits SET line_number = 1 WHERE visit_id = 'V1'",
     "line_number is after the header (>= 2)", "error"),
    ("raw_zoom_meetings", "UPDATE raw.zoom_meetings SET duration_minutes = -5", "duration_minutes >= 0", "error"),
    ("raw_zoom_meetings", "UPDATE raw.zoom_meetings SET host_email_pseudonym = 'host@merseycare.nhs.uk'",
     "host_email_pseudonym is a 16-hex-digit pseudonym", "error"),
    ("raw_zoom_meetings", "UPDATE raw.zoom_meetings SET meeting_id = '812 3456 7890'",
     "meeting_id is digits only (spaces removed)", "error"),
    ("raw_zoom_meetings", "UPDATE raw.zoom_meetings SET end_time = start_time - INTERVAL 1 HOUR",
     "end_time is not before start_time", "warn"),
    ("raw_zoom_participants", "UPDATE raw.zoom_participants SET name_pseudonym = 'ann example'",
     "name_pseudonym is a 16-hex-digit pseudonym", "error"),
    ("raw_zoom_participants", "UPDATE raw.zoom_participants SET email_domain = 'ann@example.org'",
     "email_domain holds no '@' or space (a domain, not an address)", "error"),
    ("raw_zoom_participants", "UPDATE raw.zoom_participants SET duration_minutes = -1 WHERE line_number = 5",
     "duration_minutes >= 0", "error"),
    ("raw_zoom_participants", "UPDATE raw.zoom_participants SET join_time = loaded_at + INTERVAL 3 HOUR",
     "join_time is not after the time the file was loaded (London time)", "error"),
    ("raw_pathway_contacts", "UPDATE raw.pathway_contacts SET outcome = 'maybe' WHERE contact_id = 'C2'",
     "outcome is a contract code", "error"),
    ("raw_pathway_contacts",
     "UPDATE raw.pathway_contacts SET contact_date = CAST(loaded_at AS DATE) + 2 WHERE contact_id = 'C2'",
     "contact_date is not after the day the row was loaded (London date)", "error"),
    ("raw_pathway_prescriptions", "UPDATE raw.pathway_prescriptions SET category = 'misc' WHERE prescription_id = 'P2'",
     "category is a contract code", "error"),
    ("raw_pathway_prescriptions", "UPDATE raw.pathway_prescriptions SET updated_at = loaded_at + INTERVAL 1 MINUTE",
     "updated_at is not after the time the row was loaded (both UTC)", "error"),
    ("raw_pathway_prescriptions", "UPDATE raw.pathway_prescriptions SET contact_id = NULL WHERE prescription_id = 'P1'",
     "contact_id is present", "error"),
    ("raw_wellbeing_calls", "UPDATE raw.wellbeing_calls SET duration_seconds = -1 WHERE call_id = 'W2'",
     "duration_seconds >= 0", "error"),
    ("raw_wellbeing_calls", "UPDATE raw.wellbeing_calls SET service_user_pseudonym = 'RMY0000101'",
     "service_user_pseudonym is a 16-hex-digit pseudonym", "error"),
    ("raw_wellbeing_calls", "UPDATE raw.wellbeing_calls SET call_started_at_utc = loaded_at + INTERVAL 1 MINUTE",
     "call_started_at_utc is not after the time the row was loaded (both UTC)", "error"),
    ("raw_wellbeing_calls", "UPDATE raw.wellbeing_calls SET direction = 'sideways'",
     "direction is a contract code", "error"),
]


@pytest.mark.parametrize("name,statement,rule,severity", BREAKS, ids=[f"{b[0]}:{b[2][:40]}" for b in BREAKS])
def test_a_broken_row_is_caught_with_its_rule_and_severity(wh, name, statement, rule, severity):
    sql(wh, statement)
    run = validate(wh, name)
    assert failed_rules(run).get(rule) == severity, json.dumps(run.failures, indent=1, default=str)
    assert (run.errors != []) == (severity == "error")


def test_samples_point_at_file_and_line_and_withhold_personal_columns(wh):
    sql(wh, "UPDATE raw.visits SET member_id = 'X12' WHERE visit_id = 'V1'")
    run = validate(wh, "raw_visits")
    [f] = [f for f in run.failures if f["what"].startswith("member_id")]
    assert f["count"] == 1
    assert f["samples"] == [{"member_id": "(withheld)", "file_path": "visits/kiosk_2023-05-07.csv", "line_number": 2}]


def test_not_in_the_future_compares_local_times_with_the_load_time_in_london_time(wh):
    # Loaded 09:45 UTC on a summer day = 10:45 BST. A sign-in at 10:30 local (09:30 UTC) was
    # before the load: fine, although 10:30 > 09:45 naively. A sign-in at 10:50 local is after.
    sql(wh, "UPDATE raw.visits SET loaded_at = TIMESTAMP '2023-07-01 09:45:00'")
    sql(wh, "UPDATE raw.visits SET signed_in_at = TIMESTAMP '2023-07-01 10:30:00' WHERE visit_id = 'V1'")
    assert validate(wh, "raw_visits").failures == []
    sql(wh, "UPDATE raw.visits SET signed_in_at = TIMESTAMP '2023-07-01 10:50:00' WHERE visit_id = 'V2'")
    (tmp := wh.parent / "again").mkdir()
    run = validate(wh, "raw_visits", home=tmp)
    [f] = run.failures
    assert f["what"].startswith("signed_in_at is not after") and f["samples"][0]["line_number"] == 3


# --- paying only for new data ---------------------------------------------------------------------

def test_unchanged_raw_data_is_not_validated_again_and_a_failure_stays(wh, monkeypatch):
    sql(wh, "UPDATE raw.wellbeing_calls SET duration_seconds = -1 WHERE call_id = 'W2'")
    first = validate(wh, "raw_wellbeing_calls", run_id="first")
    assert first.errors and first.rows_validated == 2

    from pipelines.quality import ge

    monkeypatch.setattr(ge, "validate", lambda *a, **k: pytest.fail("Great Expectations called on unchanged data"))
    again = validate(wh, "raw_wellbeing_calls", run_id="second")
    assert again.cached and again.rows_validated == 0 and again.ge_import_s == 0
    assert again.failures == first.failures, "a failure found once stays until the data or suite changes"
    assert again.failures[0]["found_in_run"] == "first"


def test_only_the_rows_of_new_files_are_validated(wh):
    assert validate(wh, "raw_visits").rows_validated == 3
    landing = wh.parent / "landing"
    (landing / "visits" / "kiosk_2023-05-14.csv").write_text(
        "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\nV9,PCL,2023-05-10 10:00,,guest,cafe,ok\n")
    ingest(wh, landing, run_id="run-2")
    run = validate(wh, "raw_visits")
    assert (run.rows_validated, run.files_validated, run.files_validated_before, run.cached) == (1, 1, 1, False)
    assert "1 row from 1 new file validated" in run.data


def test_a_large_file_is_validated_in_line_ranges_with_the_same_result(wh, tmp_path, monkeypatch):
    """pipelines.quality.validation: a file of more than CHUNK_ROWS rows is read a range of lines
    at a time (a register export holds the whole register) when every expectation judges a row
    alone or uniqueness over the file and line: the failures are those of the whole file at once."""
    assert SUITES["raw_members"].splits_by_line and not SUITES["raw_zoom_meetings"].splits_by_line
    # a bad code on line 2, a bad date on line 3, and line 3 twice (one row per file and line)
    sql(wh, "UPDATE raw.members SET referral_source = 'carrier_pigeon' WHERE line_number = 2")
    sql(wh, "UPDATE raw.members SET registered_on = NULL WHERE line_number = 3")
    sql(wh, "INSERT INTO raw.members SELECT * FROM raw.members WHERE line_number = 3")
    whole = validate(wh, "raw_members", home=tmp_path / "whole")
    frames = []
    read = validation._read
    monkeypatch.setattr(validation, "_read", lambda *a: frames.append(read(*a)) or frames[-1])
    monkeypatch.setattr(validation, "CHUNK_ROWS", 1)
    ranged = validate(wh, "raw_members", home=tmp_path / "ranged")
    assert [len(f) for f in frames] == [0, 0, 1, 2]  # lines 0, 1, 2, 3 (twice): one line a frame
    assert (ranged.rows_validated, ranged.files_validated) == (whole.rows_validated, whole.files_validated) == (3, 1)
    def by_rule(run):
        return sorted(run.failures, key=lambda f: f["what"])
    assert len(whole.errors) == 3 and by_rule(ranged) == by_rule(whole)


def test_a_rebuilt_warehouse_and_an_edited_suite_are_validated_again(wh, tmp_path):
    assert validate(wh, "raw_wellbeing_calls").rows_validated == 2
    sql(wh, "UPDATE ledger.files SET run_id = 'rebuilt'")  # every file loaded again by another run
    run = validate(wh, "raw_wellbeing_calls")
    assert run.rows_validated == 2 and "re-validated" in run.data

    edited = tmp_path / "raw_wellbeing_calls.yml"
    edited.write_text(SUITES["raw_wellbeing_calls"].text.replace("duration_seconds >= 0", "duration_seconds >= 0 (s)"))
    with duckdb.connect(str(wh), read_only=True) as con:
        run = run_suite(con, parse_suite(edited), tmp_path, "edited", 5)
    assert run.rows_validated == 2 and not run.cached


# --- the KPI marts --------------------------------------------------------------------------------

KPI_ROWS = {
    "visits": 40, "visiting_members": 30, "pathway_contacts": 10, "social_prescriptions": 17,
    "prescriptions_per_contact": 1.7, "zoom_sessions": 5, "zoom_members": 8, "zoom_attendances": 20,
    "sessions_per_member": 2.5, "wellbeing_calls": 12, "wellbeing_successful_contacts": 6,
    "wellbeing_people_reached": 4,
}


def marts_warehouse(path: Path, years=("2022/23", "2023/24"), change=None) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE main.kpi_annual (financial_year VARCHAR, kpi VARCHAR, value DOUBLE)")
    # the seed dbt loads before the marts: the kpi_annual suite reads the registry's bounds
    con.execute("CREATE TABLE main.kpi_registry AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
                [str(kpi_registry.registry_path())])
    con.execute("""ALTER TABLE main.kpi_registry ALTER plausible_min TYPE DOUBLE;
                   ALTER TABLE main.kpi_registry ALTER plausible_max TYPE DOUBLE""")
    for y in years:
        for k, v in KPI_ROWS.items():
            con.execute("INSERT INTO main.kpi_annual VALUES (?, ?, ?)", [y, k, v])
    con.execute("""CREATE TABLE main.mart_monthly_by_site (financial_year VARCHAR, month DATE, site_code VARCHAR,
                   kpi VARCHAR, value BIGINT)""")
    for y in years:
        start = int(y[:4])
        for i in range(12):
            month = f"{start + (i + 3) // 12}-{(i + 3) % 12 + 1:02d}-01"
            con.execute("INSERT INTO main.mart_monthly_by_site VALUES (?, ?, 'WAL', 'visits', 3)", [y, month])
    if change:
        con.execute(change)
    con.close()
    return path


MART_BREAKS = [
    # a KPI missing from a year is dbt's to catch (kpi_annual.yml: every registry KPI once a year)
    ("kpi_annual", "INSERT INTO main.kpi_annual VALUES ('2023/24', 'visitors', 3)",
     "every KPI is in the KPI registry", "error"),
    ("kpi_annual", "UPDATE main.kpi_annual SET value = -1 WHERE kpi = 'visits' AND financial_year = '2022/23'",
     "counts are whole numbers >= 0", "error"),
    ("kpi_annual", "UPDATE main.kpi_annual SET value = 2.5 WHERE kpi = 'zoom_sessions'",
     "counts are whole numbers >= 0", "error"),
    ("kpi_annual", "UPDATE main.kpi_annual SET value = NULL WHERE kpi = 'wellbeing_calls'",
     "counts are whole numbers >= 0", "error"),
    ("kpi_annual", "UPDATE main.kpi_annual SET value = 11 WHERE kpi = 'prescriptions_per_contact'",
     "ratios are within the registry's plausible bounds", "error"),
    ("kpi_annual", "UPDATE main.kpi_annual SET value = 0.5 WHERE kpi = 'sessions_per_member'",
     "ratios are within the registry's plausible bounds", "error"),
    ("kpi_annual", "UPDATE main.kpi_annual SET value = 41 WHERE kpi = 'visiting_members'",
     "no count exceeds the count that bounds it (registry at_most)", "error"),
    ("kpi_annual", "UPDATE main.kpi_annual SET financial_year = '2025/26' WHERE financial_year = '2023/24'",
     "no financial year is missing between the first and the last", "warn"),
    ("mart_monthly_by_site", "UPDATE main.mart_monthly_by_site SET site_code = 'XXX' WHERE month = DATE '2022-05-01'",
     "site_code is a site, ZOOM, PHONE or UNKNOWN", "error"),
    ("mart_monthly_by_site", "UPDATE main.mart_monthly_by_site SET month = DATE '2022-05-15' WHERE month = DATE '2022-05-01'",
     "month is the first day of a month", "error"),
    ("mart_monthly_by_site", "UPDATE main.mart_monthly_by_site SET financial_year = '2023/24' WHERE month = DATE '2023-03-01'",
     "each month is in its row's financial year", "error"),
    ("mart_monthly_by_site", "UPDATE main.mart_monthly_by_site SET value = -3 WHERE month = DATE '2022-05-01'",
     "value >= 0", "error"),
    ("mart_monthly_by_site", "UPDATE main.mart_monthly_by_site SET kpi = 'visiting_members' WHERE month = DATE '2022-05-01'",
     "kpi is one of the 7 additive KPIs", "error"),
    ("mart_monthly_by_site", "DELETE FROM main.mart_monthly_by_site WHERE month = DATE '2022-08-01'",
     "every financial year before the latest has all 12 months (a missing month suggests a lost delivery)", "warn"),
]


def test_valid_marts_pass(tmp_path):
    wh = marts_warehouse(tmp_path / "warehouse.duckdb")
    for name in ("kpi_annual", "mart_monthly_by_site"):
        run = validate(wh, name)
        assert run.failures == [], run.failures


@pytest.mark.parametrize("name,statement,rule,severity", MART_BREAKS, ids=[f"{b[0]}:{b[2][:40]}" for b in MART_BREAKS])
def test_a_broken_mart_is_caught(tmp_path, name, statement, rule, severity):
    wh = marts_warehouse(tmp_path / "warehouse.duckdb", change=statement)
    run = validate(wh, name)
    assert failed_rules(run).get(rule) == severity, json.dumps(run.failures, indent=1, default=str)
    assert (run.errors != []) == (severity == "error")


def test_an_unchanged_mart_keeps_its_result_without_validating(tmp_path, monkeypatch):
    wh = marts_warehouse(tmp_path / "warehouse.duckdb", change="UPDATE main.kpi_annual SET value = -1 WHERE kpi = 'visits'")
    first = validate(wh, "kpi_annual", run_id="one")
    from pipelines.quality import ge

    monkeypatch.setattr(ge, "validate", lambda *a, **k: pytest.fail("validated unchanged data"))
    again = validate(wh, "kpi_annual", run_id="two")
    assert again.cached and again.failures == first.failures and "unchanged since run one" in again.data
    monkeypatch.undo()
    sql(wh, "UPDATE main.kpi_annual SET value = 40 WHERE kpi = 'visits'")
    fixed = validate(wh, "kpi_annual", run_id="three")
    assert not fixed.cached and fixed.failures == []


# --- warning checks: freshness and year-on-year movement ----------------------------------------

def test_freshness_flags_a_source_silent_for_longer_than_declared(wh, monkeypatch):
    from pipelines.quality.freshness import freshness

    now = datetime.utcnow()
    sql(wh, f"UPDATE ledger.files SET loaded_at = TIMESTAMP '{now - timedelta(days=10):%Y-%m-%d %H:%M:%S}' "
            "WHERE source = 'zoom'")
    sql(wh, "DELETE FROM ledger.files WHERE source = 'wellbeing_calls'")
    with duckdb.connect(str(wh), read_only=True) as con:
        got = {f["source"]: f for f in freshness(con, load(), now=now)}
    assert not got["visits"]["stale"] and not got["pathways"]["stale"]
    assert got["zoom"]["stale"] and got["zoom"]["age_days"] == pytest.approx(10, abs=0.01)
    assert got["wellbeing_calls"]["stale"] and got["wellbeing_calls"]["last_file_at"] is None
    assert got["zoom"]["latest_event_date"] == "2023-05-10"
    monkeypatch.setenv("OUTCOMES_FRESHNESS_DAYS_ZOOM", "30")
    with duckdb.connect(str(wh), read_only=True) as con:
        assert not {f["source"]: f for f in freshness(con, load(), now=now)}["zoom"]["stale"]


def test_movement_compares_the_same_months_of_the_year_before(tmp_path, monkeypatch):
    from pipelines.quality.movement import movement

    wh = marts_warehouse(tmp_path / "warehouse.duckdb", change="""
        DELETE FROM main.mart_monthly_by_site WHERE financial_year = '2023/24' AND month > DATE '2023-06-01';
        UPDATE main.mart_monthly_by_site SET value = 10 WHERE month BETWEEN DATE '2022-04-01' AND DATE '2022-06-01';
        UPDATE main.mart_monthly_by_site SET value = 13 WHERE month BETWEEN DATE '2023-04-01' AND DATE '2023-06-01';
        INSERT INTO main.mart_monthly_by_site VALUES ('2023/24', DATE '2023-05-01', 'PHONE', 'wellbeing_calls', 5);
    """)
    with duckdb.connect(str(wh), read_only=True) as con:
        m = movement(con, load())
    visits = next(k for k in m["kpis"] if k["kpi"] == "visits")
    # April-June 2023 (39) against April-June 2022 (30), not against all of 2022/23: +30% > 25%.
    assert (visits["current"], visits["previous"], visits["change_pct"], visits["moved"]) == (39, 30, 30.0, True)
    calls = next(k for k in m["kpis"] if k["kpi"] == "wellbeing_calls")
    assert not calls["comparable"] and not calls["moved"], "no base last year: not compared"
    assert m["moved"] == ["visits"] and m["period"] == "April 2023 to June 2023"
    monkeypatch.setenv("OUTCOMES_KPI_MOVEMENT_PCT", "35")
    with duckdb.connect(str(wh), read_only=True) as con:
        assert movement(con, load())["moved"] == []
    monkeypatch.setenv("OUTCOMES_KPI_MOVEMENT_PCT", "lots")
    with pytest.raises(ValueError, match="OUTCOMES_KPI_MOVEMENT_PCT"):
        load()


def test_validation_state_is_kept_under_the_home(wh):
    validate(wh, "raw_visits")
    state = json.loads(validation.state_path(wh.parent, SUITES["raw_visits"]).read_text())
    assert state["fingerprint"] == SUITES["raw_visits"].fingerprint and len(state["validated"]) == 1
