"""Incremental refresh (pipelines/lib/dbt_increments.py, dbt_project/macros/incremental.sql).

A history is loaded, then later deliveries that reach back into it: a `void` in a later kiosk
export, a visit re-delivered with another site and member, a call to another service user, a correction that moves a contact into another
year, a late contact that un-orphans a prescription, a re-export of an old Zoom meeting with one
more participant, a participant of an old session who now hosts (so is staff there too), a call
re-delivered with another outcome. The incremental run must give the figures worked out by hand
below, touch only the keys in the new files, and leave every model exactly as a full rebuild of
the same warehouse does.

Pipeline runs in this file: 9 (history; the deliveries, incremental; a --full-refresh copy; then one
kiosk export, and then a register and lookup with a kiosk export, each incremental and on a --full-refresh copy;
the deliveries built up to int_kpi_units only, then a whole run).
"""
from __future__ import annotations

import json
import shutil
import textwrap

import duckdb
import pytest

from pipelines.lib import dbt_increments as inc
from pipelines.lib.dbt_project import build_args, dbt_vars
from tests.support import kpis, outcomes, selected_run, write_export

VISITS = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
CONTACTS = "contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at\n"
PRESCRIPTIONS = "prescription_id,contact_id,category,referred_to,created_date,status,updated_at\n"
CALLS = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"
MEMBERS = "member_id,registered_on,postcode,year_of_birth,referral_source\n"
IMD = "LSOA code (2011),Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)\n"


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def zoom(meeting: str, start: str, host: str, people: list[tuple[str, str]]) -> str:
    """A Zoom participants export, per-join form: (name, email) each joining for 50 minutes."""
    date, _ = start.split(" ", 1)
    rows = "".join(f"{name},{email},{date} 10:00:00 AM,{date} 10:50:00 AM,50,No,\n" for name, email in people)
    return (f"Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,\n"
            f"{meeting},Coffee Morning,{start},{date} 11:00:00 AM,{host},60,{len(people)},\n\n"
            f"Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,\n{rows}")


HOST = "helen.host@merseycare.nhs.uk"
MEETING_1 = ("820 0000 0001", "06/05/2019 10:00:00 AM")


def history(landing):
    write_export(landing / "visits" / "kiosk_2019-06-07.csv", VISITS + d("""
        V-A,WAL,2019-06-01 10:00,M1,member,course,ok
        V-B,WAL,2019-06-02 10:00,M2,member,cafe,ok
        V-C,SOU,2019-06-03 10:00,M3,member,cafe,ok
    """))
    write_export(landing / "wellbeing_calls" / "calls_2019-06-07.csv", CALLS + d("""
        W-A,RMY0000001,2019-06-01T10:00:00Z,ST01,outbound,successful,300
        W-B,RMY0000002,2019-06-02T10:00:00Z,ST01,outbound,no_answer,0
    """))
    write_export(landing / "pathways" / "contacts_2019-06.csv", CONTACTS + d("""
        C-A,M1,A01,WAL,2019-06-01,face_to_face,attended,2019-06-01T12:00:00+01:00
        C-B,M2,A01,WAL,2019-06-02,face_to_face,attended,2019-06-02T12:00:00+01:00
    """))
    write_export(landing / "pathways" / "prescriptions_2019-06.csv", PRESCRIPTIONS + d("""
        RX-A,C-A,debt,StepChange,2019-06-01,made,2019-06-01T12:30:00+01:00
        RX-B,C-B,housing,Sefton Housing Options,2019-06-02,made,2019-06-02T12:30:00+01:00
        RX-O,C-O,learning,Recovery College,2019-06-03,made,2019-06-03T12:30:00+01:00
    """))
    write_export(landing / "zoom" / "participants_82000000001.csv", zoom(*MEETING_1, HOST, [
        ("Helen Host", HOST), ("Pat Parr", "pat@example.org"), ("Quinn Quay", "quinn@example.org")]))
    # Pat joins a 2020/21 session too; that file is never delivered again.
    write_export(landing / "zoom" / "participants_82000000003.csv", zoom("820 0000 0003", "09/01/2020 10:00:00 AM", HOST, [
        ("Helen Host", HOST), ("Pat Parr", "pat@example.org"), ("Tom Tate", "tom@example.org")]))
    # The register and its lookups: M1 in LSOA ..01 (decile 1), M3 in ..02 (decile 5), M6 with no
    # postcode; M2, M4, M5, M9 are in no register.
    write_export(landing / "members" / "members_20190601.csv", MEMBERS + d("""
        M1,2019-01-01,l4 0th,,self
        M3,2019-01-01,L20 1AA,,gp
        M6,2019-01-01,,,
    """))
    write_export(landing / "reference" / "postcode_lsoa.csv",
                 "pcds,lsoa11cd\nL4 0TH,E01000001\nL20 1AA,E01000002\nL30 5QQ,E01000003\n")
    write_export(landing / "reference" / "imd2019.csv", IMD + "E01000001,1\nE01000002,5\nE01000003,9\n")


def deliveries(landing):
    # V-A void in a later export (void in any delivery); V-B re-delivered at another site and
    # with its member number corrected from M2 to M6 (the newest export wins: M2, whose only
    # visit it was, is no longer a member of 2019/20); V-D new in 2021/22.
    write_export(landing / "visits" / "kiosk_2021-06-07.csv", VISITS + d("""
        V-A,WAL,2019-06-01 10:00,M1,member,course,void
        V-B,BOO,2019-06-02 10:00,M6,member,cafe,ok
        V-D,BOO,2021-06-01 10:00,M4,member,course,ok
    """))
    # C-B corrected: its contact_date moves into 2020/21 (and RX-B, which takes its contact's
    # year, with it); C-O arrives late and un-orphans RX-O in 2019/20.
    write_export(landing / "pathways" / "contacts_2020-07.csv", CONTACTS + d("""
        C-B,M2,A01,WAL,2020-07-01,face_to_face,attended,2020-07-02T09:00:00+01:00
        C-O,M5,A01,WAL,2019-06-03,phone,attended,2019-06-03T12:00:00+01:00
    """))
    # W-B re-delivered in a newer export as successful, and as a call to RMY0000001 (so
    # RMY0000002 is reached by no call); W-C new in 2021/22.
    write_export(landing / "wellbeing_calls" / "calls_2021-06-07.csv", CALLS + d("""
        W-B,RMY0000001,2019-06-02T10:00:00Z,ST01,outbound,successful,240
        W-C,RMY0000003,2021-06-01T10:00:00Z,ST01,outbound,successful,300
    """))
    # Meeting 1 re-exported with Rita too; Pat hosts a new meeting in 2021/22, so Pat is staff
    # in meetings 1 and 3 as well (meeting 3 is in no new file).
    write_export(landing / "zoom" / "re-export" / "participants_82000000001.csv", zoom(*MEETING_1, HOST, [
        ("Helen Host", HOST), ("Pat Parr", "pat@example.org"), ("Quinn Quay", "quinn@example.org"),
        ("Rita Rowe", "rita@example.org")]))
    write_export(landing / "zoom" / "participants_82000000002.csv", zoom(
        "820 0000 0002", "06/10/2021 10:00:00 AM", "pat@example.org",
        [("Pat Parr", "pat@example.org"), ("Sam Shaw", "sam@example.org")]))


MODELS = ("int_visits", "int_pathway_contacts", "int_pathway_prescriptions", "int_social_prescriptions",
          "int_wellbeing_calls", "int_zoom_attendances", "int_zoom_sessions", "kpi_annual",
          "mart_monthly_by_site", "mart_pathway_funnel", "mart_prescriptions_by_category", "int_kpi_units",
          "int_members_reached", "mart_reach_by_deprivation")


def tables(home) -> dict[str, list]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        # int_visits.versions_loaded of V-C is the tampered marker (test_only_changed_keys_recomputed)
        return {m: con.execute(f"SELECT * {'EXCLUDE (versions_loaded)' if m == 'int_visits' else ''} "
                               f"FROM main.{m} ORDER BY ALL").fetchall() for m in MODELS}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    landing, home = root / "landing", root / "home"
    history(landing)
    outcomes("run", "--landing", str(landing), "--home", str(home))
    before = kpis(home)
    shutil.copytree(home, root / "history-home")  # for test_an_unfinished_build_makes_the_next_one_full
    # A marker no rebuild of V-C would keep: proves V-C (in no new file) is not recomputed.
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("UPDATE main.int_visits SET versions_loaded = 99 WHERE visit_id = 'V-C'")
    deliveries(landing)
    outcomes("run", "--landing", str(landing), "--home", str(home))
    full = root / "full"
    shutil.copytree(home, full)
    outcomes("run", "--landing", str(landing), "--home", str(full), "--full-refresh")
    return before, home, full


pytestmark = pytest.mark.slow


def test_history_figures(runs):
    before, _, _ = runs
    expected = {"visits": 3, "visiting_members": 3, "pathway_contacts": 2, "social_prescriptions": 2,
                "zoom_sessions": 1, "zoom_members": 2, "zoom_attendances": 2,
                "wellbeing_calls": 2, "wellbeing_successful_contacts": 1, "wellbeing_people_reached": 1}
    assert {k: before[("2019/20", k)] for k in expected} == expected
    assert (before[("2020/21", "zoom_sessions")], before[("2020/21", "zoom_members")]) == (1, 2)  # Pat, Tom


def test_incremental_run_gives_the_hand_worked_figures(runs):
    _, home, _ = runs
    k = kpis(home)
    # 2019/20: V-A void -> V-B, V-C, members M6 and M3; contacts C-A, C-O (C-B moved out); RX-A,
    # RX-O (RX-B moved with C-B); meeting 1: Quinn, Rita (Pat now staff); W-A, W-B both
    # successful, both to RMY0000001.
    assert {n: k[("2019/20", n)] for n in ("visits", "visiting_members", "pathway_contacts", "social_prescriptions",
                                           "zoom_sessions", "zoom_members", "zoom_attendances", "wellbeing_calls",
                                           "wellbeing_successful_contacts", "wellbeing_people_reached")} == {
        "visits": 2, "visiting_members": 2, "pathway_contacts": 2, "social_prescriptions": 2,
        "zoom_sessions": 1, "zoom_members": 2, "zoom_attendances": 2,
        "wellbeing_calls": 2, "wellbeing_successful_contacts": 2, "wellbeing_people_reached": 1}
    # the member units: M2 left with its only visit, M6 came with it, M1's is void
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        members = con.execute("SELECT DISTINCT unit_key, is_counted, rule FROM main.int_kpi_units "
                              "WHERE unit_kind = 'member' AND financial_year = '2019/20' ORDER BY 1").fetchall()
        people = con.execute("SELECT count(DISTINCT unit_key) FROM main.int_kpi_units "
                             "WHERE unit_kind = 'service_user' AND financial_year = '2019/20'").fetchone()[0]
    assert members == [("M1", False, "no_counted_visit"), ("M3", True, None), ("M6", True, None)]
    assert people == 1
    # 2020/21: C-B and RX-B; meeting 3 with Tom only (Pat now staff).
    assert (k[("2020/21", "pathway_contacts")], k[("2020/21", "social_prescriptions")], k[("2020/21", "visits")],
            k[("2020/21", "zoom_sessions")], k[("2020/21", "zoom_members")], k[("2020/21", "zoom_attendances")]) \
        == (1, 1, 0, 1, 1, 1)
    # 2021/22: V-D; meeting 2 with Sam (Pat hosts); W-C.
    assert (k[("2021/22", "visits")], k[("2021/22", "zoom_sessions")], k[("2021/22", "zoom_members")],
            k[("2021/22", "wellbeing_successful_contacts")]) == (1, 1, 1, 1)


@pytest.fixture(scope="module")
def unfinished(runs, tmp_path_factory):
    """The history's home; the deliveries built up to int_kpi_units only; then a whole run."""
    _, home, _ = runs
    root = tmp_path_factory.mktemp("unfinished")
    landing, partial = root / "landing", root / "home"
    shutil.copytree(home.parent / "landing", landing)
    shutil.copytree(home.parent / "history-home", partial)
    # a data engineer materialises int_kpi_units and what it rests on (Dagster's "materialize
    # selected"), not the models built from it: a build that does not finish the graph
    proc = selected_run(partial, landing, ["int_kpi_units"], "upstream")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with duckdb.connect(str(partial / "warehouse.duckdb"), read_only=True) as con:
        marked = con.execute("SELECT count(*) FROM ledger.dbt_build_unfinished").fetchone()[0]
    outcomes("run", "--landing", str(landing), "--home", str(partial))
    return partial, marked


def test_an_unfinished_build_makes_the_next_one_full(runs, unfinished):
    """int_kpi_units now holds C-B in 2020/21 and V-B with M6: an incremental build would find no
    new file, or if it had one, the years and members from where the units sit now, and leave
    2019/20's figures stale. The build that did not finish the graph marked the warehouse; the next
    one is full and gives exactly the full rebuild's models."""
    _, _, full = runs
    partial, marked = unfinished
    assert marked == 1
    assert tables(partial) == tables(full)
    assert json.loads((partial / "dbt" / "target" / "run_results.json").read_text())["args"].get("full_refresh") is True
    with duckdb.connect(str(partial / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ledger.dbt_build_unfinished").fetchone() == (0,)


def test_only_changed_keys_recomputed(runs):
    _, home, full = runs
    query = "SELECT visit_id, versions_loaded, site_code FROM main.int_visits ORDER BY 1"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        incremental = con.execute(query).fetchall()
    with duckdb.connect(str(full / "warehouse.duckdb"), read_only=True) as con:
        rebuilt = con.execute(query).fetchall()
    # V-A, V-B (in the new file) recomputed from both versions; V-C (in no new file) untouched.
    assert incremental == [("V-A", 2, "WAL"), ("V-B", 2, "BOO"), ("V-C", 99, "SOU"), ("V-D", 1, "BOO")]
    assert rebuilt == [("V-A", 2, "WAL"), ("V-B", 2, "BOO"), ("V-C", 1, "SOU"), ("V-D", 1, "BOO")]


def test_incremental_equals_full_rebuild(runs):
    _, home, full = runs
    assert tables(home) == tables(full)


def test_every_file_is_recorded_as_built(runs):
    _, home, _ = runs
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ledger.files WHERE file_sha256 NOT IN "
                           "(SELECT file_sha256 FROM ledger.dbt_built_files)").fetchone() == (0,)
        assert con.execute("SELECT dbt_vars FROM ledger.dbt_build").fetchall() == [(dbt_vars(),)]


def compiled_test(home, model: str, test: str) -> str:
    return (home / "dbt" / "target" / "compiled" / "outcomes" / "models" / "intermediate" / f"{model}.yml"
            / f"{test}.sql").read_text()


def test_an_incremental_build_tests_only_the_rows_it_changed(runs):
    """dbt_project/macros/tests/tested_rows.sql: in the incremental build a row test sees the
    recomputed keys (int_visits: the keys the build found in its changed files when it started;
    int_zoom_attendances: the sessions it found then)
    or units (int_kpi_units); a model compared with its staging is compared on the
    recomputed keys on both sides; a warning and every test of a --full-refresh build see every row."""
    _, home, full = runs
    narrowed = {("int_visits", "not_null_int_visits_visit_id"): '"changed_keys"',
                ("int_kpi_units", "int_kpi_units_rule_exactly_when_not_counted"): "kpi_rebuilt_units",
                ("int_zoom_attendances", "not_null_int_zoom_attendances_person_key"): '"changed_zoom_sessions"',
                ("int_visits", "int_visits_one_row_per_delivered_id"): '"changed_keys"'}
    for (model, test), marker in narrowed.items():
        assert marker in compiled_test(home, model, test), test
        assert marker not in compiled_test(full, model, test), test
    assert compiled_test(home, "int_visits", "int_visits_one_row_per_delivered_id").count('"changed_keys"') == 2
    # int_kpi_units' rebuilt units, every kind by unit (Zoom's too): one predicate, the unit key first
    units = compiled_test(home, "int_kpi_units", "int_kpi_units_rule_exactly_when_not_counted")
    assert "(unit_key in (select unit_key from" in units and "union all" not in units
    # a warning reports the data as it is: the orphans of every build, not only of the changed keys
    orphans = compiled_test(home, "int_social_prescriptions", "orphan_social_prescriptions")
    assert "changed_keys" not in orphans and "dbt_changed_files" not in orphans


def test_models_built_by_year_read_the_recorded_years_as_constants(runs):
    """macros/incremental.sql: in_rebuilt_years. A node compiled after int_kpi_units' pre-hook
    recorded this build's years names them in its SQL (DuckDB prunes the other years); int_kpi_units
    itself is built by unit, every kind (Zoom's too), and reads no years."""
    _, home, full = runs
    compiled = home / "dbt" / "target" / "compiled" / "outcomes" / "models"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        years = sorted(y for (y,) in con.execute("SELECT year_key FROM build_state.kpi_rebuilt_years").fetchall())
    assert "-" in years and len(years) > 1 and "*" not in years
    constants = "coalesce(financial_year, '~') in (" + ", ".join(f"'{y}'" for y in years) + ")"
    for model in ("marts/kpi_annual.sql", "marts/mart_monthly_by_site.sql", "audit/audit_kpi_reconciliation.sql"):
        sql = (compiled / model).read_text()
        assert constants in sql and "kpi_rebuilt_years" not in sql, model
    units = (compiled / "intermediate" / "int_kpi_units.sql").read_text()
    assert "kpi_rebuilt_years" not in units and "coalesce(financial_year, '~') in ('" not in units \
        and "kpi_rebuilt_units" in units
    assert "in ('" not in (full / "dbt" / "target" / "compiled" / "outcomes" / "models" / "marts" / "kpi_annual.sql").read_text()


@pytest.fixture(scope="module")
def one_source(runs, tmp_path_factory):
    """After the deliveries, one more kiosk export alone: `outcomes run` runs only what visits
    affect, and a --full-refresh of a copy gives the same warehouse. It adds to the landing of
    `runs`, so its test comes after theirs."""
    _, home, _ = runs
    landing = home.parent / "landing"
    write_export(landing / "visits" / "kiosk_2022-02-01.csv", VISITS + "V-E,WAL,2022-02-01 10:00,M9,member,cafe,ok\n")
    proc = outcomes("run", "--landing", str(landing), "--home", str(home))
    full = tmp_path_factory.mktemp("one-source") / "full"
    shutil.copytree(home, full)
    outcomes("run", "--landing", str(landing), "--home", str(full), "--full-refresh")
    return proc.stdout, home, full


def test_a_run_with_one_source_new_runs_only_what_it_affects(one_source):
    stdout, home, full = one_source
    assert "new files in: visits; running what they affect" in stdout
    ingested = {line.split()[0] for line in stdout.splitlines() if "files:" in line}
    assert ingested == {"visits"}, stdout
    assert kpis(home)[("2021/22", "visits")] == 2  # V-D and V-E
    assert tables(home) == tables(full)
    # the same --vars as the build before: dbt reused its partial parse (a whole parse is ~3 s)
    assert "Unable to do partial parsing" not in (home / "logs" / "last-run.log").read_text()


def reach(home, year: str) -> dict[tuple[str, str], int]:
    """mart_reach_by_deprivation of one year: (site, decile) -> members, the non-zero cells."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT site_code, imd_decile, members FROM main.mart_reach_by_deprivation "
                           "WHERE financial_year = ? AND members > 0", [year]).fetchall()
    return {(site, decile): n for site, decile, n in rows}


@pytest.fixture(scope="module")
def register(one_source, tmp_path_factory):
    """Then a newer register export and a newer IMD lookup with a kiosk export of 2021/22:
    int_kpi_units records 2021/22 alone, yet every year's reach by deprivation is rebuilt
    (macros/incremental.sql: changed_register_files), 2019/20 too. (A register file with no
    activity file rebuilds every year anyway: no years are recorded.) After one_source (its landing)."""
    _, home, _ = one_source
    before = reach(home, "2019/20"), kpis(home)
    landing = home.parent / "landing"
    # M3 moves to ..03; M6 gives L4 0TH (..01); M1, missing from the newer export, keeps its row.
    write_export(landing / "members" / "members_20220301.csv", MEMBERS + d("""
        M3,2019-01-01,L30 5QQ,,gp
        M6,2019-01-01,L4 0TH,,
    """))
    # the newer lookup replaces the older: ..01 is decile 2 now
    write_export(landing / "reference" / "imd2019_2024.csv", IMD + "E01000001,2\nE01000002,5\nE01000003,9\n")
    write_export(landing / "visits" / "kiosk_2022-02-02.csv", VISITS + "V-F,WAL,2022-02-02 10:00,M9,member,cafe,ok\n")
    proc = outcomes("run", "--landing", str(landing), "--home", str(home))
    full = tmp_path_factory.mktemp("register") / "full"
    shutil.copytree(home, full)
    outcomes("run", "--landing", str(landing), "--home", str(full), "--full-refresh")
    return before, proc.stdout, home, full


def test_a_register_file_rebuilds_every_years_deciles(register):
    (reach_before, kpis_before), stdout, home, full = register
    assert "new files in: members, reference, visits; running what they affect" in stdout
    # 2019/20's members reached: M1 (contact C-A), M3 (visit V-C at SOU), M5 (contact C-O, in no
    # register), M6 (visit V-B at BOO). Before: M1 decile 1, M3 decile 5, M5 and M6 unknown.
    assert reach_before == {("ALL", "1"): 1, ("ALL", "5"): 1, ("ALL", "unknown"): 2,
                            ("SOU", "5"): 1, ("BOO", "unknown"): 1}
    # After: M1 and M6 in ..01 = decile 2 (the newer lookup), M3 in ..03 = decile 9, M5 unknown.
    assert reach(home, "2019/20") == {("ALL", "2"): 2, ("ALL", "9"): 1, ("ALL", "unknown"): 1,
                                      ("SOU", "9"): 1, ("BOO", "2"): 1}
    after = kpis(home)
    assert after.pop(("2021/22", "visits")) == kpis_before.pop(("2021/22", "visits")) + 1 == 3  # V-F
    assert after == kpis_before  # no activity figure rests on the register
    assert tables(home) == tables(full)


# --- the plan, on a ledger written by hand ----------------------------------------------------

@pytest.fixture
def ledger():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA ledger; CREATE TABLE ledger.files (source VARCHAR, file_sha256 VARCHAR)")
    con.execute("INSERT INTO ledger.files VALUES ('visits', 'a'), ('zoom', 'b'), ('members', 'c')")
    yield con
    con.close()


def test_first_build_is_full_then_incremental(ledger):
    first = inc.plan_build(ledger, "P", "V")
    assert (first.full_refresh, first.reason, first.files) == (True, "no earlier build in this warehouse", ("a", "b", "c"))
    inc.record_build(ledger, first, "P", "V")
    ledger.execute("INSERT INTO ledger.files VALUES ('visits', 'd')")
    second = inc.plan_build(ledger, "P", "V")
    assert (second.full_refresh, second.changed_files) == (False, ("d",))
    # what dbt reads on DuckDB (the var names the table, the same at every build)
    assert ledger.execute(f"SELECT * FROM {inc.CHANGED_FILES_TABLE}").fetchall() == [("d",)]
    inc.record_build(ledger, second, "P", "V")
    assert inc.plan_build(ledger, "P", "V").changed_files == ()
    assert ledger.execute(f"SELECT count(*) FROM {inc.CHANGED_FILES_TABLE}").fetchone() == (0,)


def test_the_changed_files_var_is_a_table_on_duckdb_and_the_digests_on_spark(ledger):
    full = inc.plan_build(ledger, "P", "V")
    inc.record_build(ledger, full, "P", "V")
    ledger.execute("INSERT INTO ledger.files VALUES ('visits', 'd')")
    incremental = inc.plan_build(ledger, "P", "V")
    assert inc.changed_files_var(full) == inc.changed_files_var(incremental) == inc.CHANGED_FILES_TABLE
    assert (inc.changed_files_var(full, "spark"), inc.changed_files_var(incremental, "spark")) == (None, ("d",))


def test_changed_project_vars_or_request_force_a_full_build(ledger):
    def after_a_finished_build(project, variables, full_refresh=False):
        inc.record_build(ledger, inc.plan_build(ledger, "P", "V"), "P", "V")
        return inc.plan_build(ledger, project, variables, full_refresh)

    assert after_a_finished_build("P2", "V").reason == "the dbt project changed since the last build"
    assert after_a_finished_build("P", "V2").reason == "the dbt vars (staff domains) changed since the last build"
    assert after_a_finished_build("P", "V", full_refresh=True).reason == "asked for (--full-refresh)"
    assert not after_a_finished_build("P", "V").full_refresh


def test_too_many_new_files_build_in_full(ledger, monkeypatch):
    inc.record_build(ledger, inc.plan_build(ledger, "P", "V"), "P", "V")
    ledger.execute("INSERT INTO ledger.files VALUES ('visits', 'd'), ('visits', 'e')")
    monkeypatch.setattr(inc, "MAX_CHANGED_FILES", 1)
    assert inc.plan_build(ledger, "P", "V").reason == "2 new files (more than 1)"


def test_a_build_that_did_not_finish_makes_the_next_one_full(ledger):
    inc.record_build(ledger, inc.plan_build(ledger, "P", "V"), "P", "V")
    ledger.execute("INSERT INTO ledger.files VALUES ('visits', 'd')")
    assert not inc.plan_build(ledger, "P", "V").full_refresh  # ... and it fails, or is stopped
    ledger.execute("INSERT INTO ledger.files VALUES ('visits', 'e')")
    again = inc.plan_build(ledger, "P", "V")
    assert again.reason == "the last dbt build did not finish (failed, stopped, or built part of the graph)"
    inc.record_build(ledger, again, "P", "V", models={"int_visits"}, finished=False)  # a part of the graph
    assert inc.plan_build(ledger, "P", "V").full_refresh
    inc.record_build(ledger, inc.plan_build(ledger, "P", "V"), "P", "V")
    assert not inc.plan_build(ledger, "P", "V").full_refresh


def test_a_build_finishes_the_graph_when_it_leaves_out_nothing_downstream():
    parents = {"stg": set(), "int": {"stg"}, "units": {"int"}, "kpi": {"units"}, "other": set()}
    assert inc.finishes_the_graph(set(parents), parents)
    assert inc.finishes_the_graph({"int", "units", "kpi"}, parents)  # the sensor's: downstream of a source
    assert inc.finishes_the_graph({"kpi"}, parents)
    assert not inc.finishes_the_graph({"stg", "int", "units"}, parents)
    assert not inc.finishes_the_graph({"int"}, parents)


def test_a_partial_build_records_only_the_sources_it_built(ledger):
    inc.record_build(ledger, inc.plan_build(ledger, "P", "V"), "P", "V")
    ledger.execute("INSERT INTO ledger.files VALUES ('visits', 'd'), ('zoom', 'e'), ('members', 'f')")
    plan = inc.plan_build(ledger, "P2", "V")
    # the landing sensor's run of the visits models only: zoom's file stays pending, and so does
    # the project (the other models were not rebuilt with P2)
    inc.record_build(ledger, plan, "P2", "V", models={"int_visits", "kpi_annual"})
    assert ledger.execute("SELECT file_sha256 FROM ledger.files WHERE file_sha256 NOT IN "
                          "(SELECT file_sha256 FROM ledger.dbt_built_files)").fetchall() == [("e",)]
    assert ledger.execute("SELECT project_fingerprint FROM ledger.dbt_build").fetchall() == [("P",)]


def test_build_args_pass_the_changed_files_or_full_refresh():
    assert build_args(changed_files=["ab", "cd"])[-1] == dbt_vars(changed_files=["ab", "cd"])
    assert '"changed_files": "ledger.t"' in dbt_vars(changed_files="ledger.t")
    assert '"changed_files": ["ab", "cd"]' in dbt_vars(changed_files=["ab", "cd"])
    assert "changed_files" not in dbt_vars()
    assert build_args(full_refresh=True)[-1] == "--full-refresh"
