"""Holes an independent probe found (issue 13), each with hand-worked expectations:

- a file symlink under the landing root that points outside it is quarantined, counts nothing,
  and is never read; a link inside the root is read like a file (a byte-identical duplicate of
  its target); a folder link is not followed;
- a record redelivered with different content is reported by the per-source warning check
  `redelivered_with_different_content` (keys, fields, both versions' file:line, no personal
  data) in `outcomes checks`, the quality page and the dashboards' data-quality section;
  pathways' versions (another `updated_at`) and a later `void` are not conflicts;
- a quarantined file records the rows it holds (`rows_read`, lines after the header), shown as
  uncounted rows per source on the quality page;
- `call_started_at` with a space for `T`, and with lower-case `t` / `z`, load alike (RFC 3339).

Unit tests first (ingestion into a bare warehouse, no Dagster), then ONE pipeline run.
"""
from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path, PurePosixPath

import duckdb
import pytest

from pipelines.lib.ingest import ingest_source
from pipelines.lib.landing import discover
from pipelines.lib.parsers import RowError, held_rows, iso_instant_utc
from pipelines.lib.pseudonym import Pseudonymiser
from pipelines.lib.warehouse import connect
from pipelines.quality.redelivery import RECORDS, conflicts, describe, state_tables
from tests.support import kpis, outcomes, write_export

P = Pseudonymiser(b"holes-test-key-" * 2)


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


VISITS_HEADER = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
CALLS_HEADER = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"
CONTACTS_HEADER = "contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at\n"
PRESCRIPTIONS_HEADER = "prescription_id,contact_id,category,referred_to,created_date,status,updated_at\n"
ZOOM = d("""
    Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,
    812 3456 7890,{topic},10/05/2021 10:00:12 AM,10/05/2021 11:31:40 AM,host@merseycare.nhs.uk,92,{participants},

    Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,
    Ann Example,ann@example.org,10/05/2021 09:58:31 AM,10/05/2021 10:40:02 AM,42,No,
    Bob Sample,bob@example.org,10/05/2021 10:01:00 AM,10/05/2021 11:00:00 AM,59,No,
    """)
PERSONAL = ("NHS0000001", "NHS0000002", "NHS0000003", "ann@example.org", "bob@example.org", "Ann Example",
            "Bob Sample", "host@merseycare.nhs.uk")


def build_landing(landing: Path, outside: Path) -> None:
    """The hand-made landing zone; the expected result of every file is in its comment."""
    # visits: kiosk_b (watermark 2021-10-06 12:00) is newer than kiosk_a (2021-10-05 09:30).
    write_export(landing / "visits/kiosk_a.csv", VISITS_HEADER + d("""
        V1,WAL,2021-10-04 10:00,M1001,member,course,ok
        V2,WAL,2021-10-04 11:00,M1002,member,cafe,ok
        V3,SOU,2021-10-05 09:30,,guest,drop_in,ok
        """))
    write_export(landing / "visits/kiosk_b.csv", VISITS_HEADER + d("""
        V2,SOU,2021-10-04 11:00,M1002,member,cafe,ok
        V3,SOU,2021-10-05 09:30,M1003,guest,drop_in,ok
        V4,BOO,2021-10-06 12:00,M1004,member,library,ok
        V1,WAL,2021-10-04 10:00,M1001,member,course,void
        """))
    # conflicts: V2 site_code (line 3 of a / line 2 of b), V3 member_id (a:4 / b:3); V1's void is a rule.
    # quarantined: a wrong header and 3 data rows (the blank line is not a row) -> rows_read 3.
    write_export(landing / "visits/kiosk_badheader.csv", d("""
        visit,site,when,member,type,purpose,status
        V7,WAL,2021-10-07 10:00,M1007,member,course,ok
        V8,WAL,2021-10-07 11:00,M1008,member,course,ok

        V9,WAL,2021-10-07 12:00,M1009,member,course,ok
        """))
    # a file link out of the landing zone: would add V10 if it were read.
    (outside / "dir").mkdir(parents=True)
    write_export(outside / "kiosk_outside.csv", VISITS_HEADER + "V10,WAL,2021-10-08 10:00,M1010,member,course,ok\n")
    write_export(outside / "dir/kiosk_in_dir.csv", VISITS_HEADER + "V11,WAL,2021-10-08 11:00,M1011,member,cafe,ok\n")
    os.symlink(outside / "kiosk_outside.csv", landing / "visits/linked_out.csv")
    os.symlink(outside / "dir", landing / "visits/linked_dir")  # a folder link: not followed
    (landing / "visits/sub").mkdir()
    os.symlink(landing / "visits/kiosk_a.csv", landing / "visits/sub/linked_in.csv")  # inside: a duplicate

    # zoom: the same occurrence exported twice with another topic and participant count.
    write_export(landing / "zoom/meeting_1.csv", ZOOM.format(topic="Anxiety Management (Week 2)", participants=2))
    write_export(landing / "zoom/meeting_1_again.csv",
                 ZOOM.format(topic="Anxiety Management (Week 2) rescheduled", participants=3))
    # quarantined: wrong meeting header; holds the meeting row and 2 participant rows -> rows_read 3.
    write_export(landing / "zoom/meeting_badheader.csv",
                 ZOOM.format(topic="X", participants=2).replace("Start Time,", "Start,", 1))

    # pathways: C1's same version (updated_at) with another advisor is a conflict; C2's second
    # version (a later updated_at) is a change by design. P1's same version with another category.
    write_export(landing / "pathways/contacts_1.csv", CONTACTS_HEADER + d("""
        C1,M1001,A1,WAL,2021-10-04,face_to_face,attended,2021-10-04T15:22:10+01:00
        C2,M1002,A1,SOU,2021-10-05,phone,booked,2021-10-05T09:00:00+01:00
        """))
    write_export(landing / "pathways/contacts_2.csv", CONTACTS_HEADER + d("""
        C1,M1001,A2,WAL,2021-10-04,face_to_face,attended,2021-10-04T15:22:10+01:00
        C2,M1002,A1,SOU,2021-10-05,phone,attended,2021-10-06T09:00:00+01:00
        """))
    write_export(landing / "pathways/prescriptions_1.csv", PRESCRIPTIONS_HEADER + d("""
        P1,C1,housing,Shelter,2021-10-04,made,2021-10-04T15:30:00+01:00
        P2,C2,debt,Citizens Advice,2021-10-06,made,2021-10-06T09:10:00+01:00
        """))
    write_export(landing / "pathways/prescriptions_2.csv", PRESCRIPTIONS_HEADER + d("""
        P1,C1,debt,Shelter,2021-10-04,made,2021-10-04T15:30:00+01:00
        """))

    # wellbeing calls: calls_b (watermark 2022-01-20) is newer than calls_a (2022-01-13 09:00):
    # W1 is successful. W2 is written with a space and `z`, W3 with `t` and `z`: both load.
    write_export(landing / "wellbeing_calls/calls_a.csv", CALLS_HEADER + d("""
        W1,NHS0000001,2022-01-12T14:03:00Z,S1,outbound,no_answer,0
        W2,NHS0000002,2022-01-12 15:00:00z,S1,outbound,successful,300
        W3,NHS0000003,2022-01-13t09:00:00z,S2,inbound,successful,120
        """))
    write_export(landing / "wellbeing_calls/calls_b.csv", CALLS_HEADER + d("""
        W1,NHS0000001,2022-01-12T14:03:00Z,S1,outbound,successful,240
        W4,NHS0000001,2022-01-20T10:00:00Z,S1,outbound,successful,60
        """))


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("holes")
    build_landing(root / "landing", root / "outside")
    return root / "landing"


@pytest.fixture(scope="module")
def warehouse(landing, tmp_path_factory):
    """Ingestion alone (no Dagster, no dbt) into a bare warehouse."""
    path = tmp_path_factory.mktemp("holes-wh") / "warehouse.duckdb"
    with connect(path) as con:
        for source in ("visits", "zoom", "pathways", "wellbeing_calls"):
            ingest_source(con, landing, source, P)
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def ledger(con) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in con.execute(
        "SELECT file_path, status, rows_read, rows_loaded, rows_rejected, reason FROM ledger.files").fetchall()}


# --- symlinks -----------------------------------------------------------------------------------

def test_discover_marks_a_file_link_out_of_the_landing_zone_and_skips_folder_links(landing):
    found = {str(f.rel_path): f for f in discover(landing, ("visits",))}
    assert set(found) == {"visits/kiosk_a.csv", "visits/kiosk_b.csv", "visits/kiosk_badheader.csv",
                          "visits/linked_out.csv", "visits/sub/linked_in.csv"}
    assert found["visits/linked_out.csv"].outside_target == str((landing.parent / "outside/kiosk_outside.csv").resolve())
    assert found["visits/sub/linked_in.csv"].outside_target is None
    data, _ = found["visits/linked_out.csv"].read()
    assert data == b""  # never read


def test_discover_skips_files_in_progress_and_dangling_links_and_marks_a_linked_source_folder(tmp_path):
    """What Path.rglob + resolve found, from one scandir per folder: a source folder that is a
    link out of the landing zone puts every file under it outside (each file resolves there)."""
    landing, outside = tmp_path / "landing", tmp_path / "elsewhere"
    for rel in ("visits/a.csv", "visits/.hidden/b.csv", "visits/.c.csv", "visits/d.csv.part", "visits/x.part/e.csv",
                "zoom_real/z.csv"):
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text("x")
    (outside / "deep").mkdir(parents=True)
    (outside / "deep/p.csv").write_text("x")
    os.symlink(tmp_path / "gone.csv", landing / "visits/dangling.csv")
    os.symlink(outside, landing / "pathways")  # a source folder linked out
    os.symlink(landing / "zoom_real", landing / "zoom")  # a source folder linked inside
    found = {(f.source, str(f.rel_path)): f.outside_target for f in discover(landing, ("visits", "pathways", "zoom"))}
    assert found == {("visits", "visits/a.csv"): None, ("visits", "visits/x.part/e.csv"): None,
                     ("pathways", "pathways/deep/p.csv"): str((outside / "deep/p.csv").resolve()),
                     ("zoom", "zoom/z.csv"): None}


def test_a_link_out_of_the_landing_zone_is_quarantined_and_counts_nothing(warehouse):
    status, read, loaded, rejected, reason = ledger(warehouse)["visits/linked_out.csv"]
    assert (status, read, loaded, rejected) == ("quarantined", 0, 0, 0)
    assert reason.startswith("symbolic link to a file outside the landing zone (")
    assert "kiosk_outside.csv" in reason
    assert warehouse.execute("SELECT count(*) FROM raw.visits WHERE visit_id IN ('V10', 'V11')").fetchone()[0] == 0


def test_a_link_inside_the_landing_zone_is_read_as_a_duplicate_of_its_target(warehouse):
    status, read, loaded, rejected, reason = ledger(warehouse)["visits/sub/linked_in.csv"]
    assert (status, read, loaded, rejected, reason) == ("duplicate", 0, 0, 0, "byte-identical to visits/kiosk_a.csv")


# --- quarantined files hold rows ----------------------------------------------------------------

def test_a_quarantined_file_records_the_rows_it_holds(warehouse):
    files = ledger(warehouse)
    assert files["visits/kiosk_badheader.csv"][:4] == ("quarantined", 3, 0, 0)
    assert files["zoom/meeting_badheader.csv"][:4] == ("quarantined", 3, 0, 0)  # meeting row + 2 participants


@pytest.mark.parametrize("source,data,expected", [
    ("visits", b"h\n1,2\n\n,,,\n  \n3,4", 2),              # blank and comma-only lines are not rows
    ("visits", b"\xef\xbb\xbfh\r\n1\r\n2\r\n", 2),          # BOM, CRLF
    ("visits", b"", 0),
    ("visits", b"only a header\n", 0),
    ("visits", "h\n\u201cq\u201d,1\n2\n".encode("cp1252"), 2),  # not UTF-8: still counted
    ("visits", "h\n1\n2\n3\n".encode("utf-16"), 3),         # UTF-16: decoded, then counted
    ("visits", b"PK\x03\x04\n1\n2\n", 0),                   # a workbook: no rows to count
    ("visits", b"h\n1\x00\n2\n", 0),                        # NUL bytes: binary
    ("zoom", b"M\nrow\n,,,\nName (Original Name),x\np1\np2\n", 3),  # the participant header is no row
])
def test_held_rows(source, data, expected):
    assert held_rows(source, data) == expected


# --- timestamps ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["2022-01-12T14:03:00Z", "2022-01-12 14:03:00Z", "2022-01-12t14:03:00z",
                                  "2022-01-12 14:03:00z", "2022-01-12T14:03:00z", "2022-01-12t14:03:00Z",
                                  "2022-01-12T15:03:00+01:00", "2022-01-12t15:03:00+01:00"])
def test_call_started_at_forms_of_rfc_3339_are_one_instant(text):
    assert str(iso_instant_utc(text, "call_started_at", assume_utc=True)) == "2022-01-12 14:03:00"


@pytest.mark.parametrize("text", ["2022-01-12x14:03:00Z", "2022-01-12T14:03:00Q", "2022-01-12_14:03:00z"])
def test_other_separators_and_zones_are_still_rejected(text):
    with pytest.raises(RowError, match="unparseable call_started_at"):
        iso_instant_utc(text, "call_started_at", assume_utc=True)


def test_both_timestamp_forms_load_in_a_file(warehouse):
    assert ledger(warehouse)["wellbeing_calls/calls_a.csv"][:4] == ("loaded", 3, 3, 0)
    got = dict(warehouse.execute("SELECT call_id, strftime(call_started_at_utc, '%Y-%m-%d %H:%M') FROM raw.wellbeing_calls "
                                 "WHERE file_path = 'wellbeing_calls/calls_a.csv'").fetchall())
    assert got == {"W1": "2022-01-12 14:03", "W2": "2022-01-12 15:00", "W3": "2022-01-13 09:00"}


# --- conflicting redeliveries -------------------------------------------------------------------

def test_visit_conflicts(warehouse):
    [found] = conflicts(warehouse, "visits")
    assert (found["keys"], found["fields"]) == (2, {"site_code": 1, "member_id": 1})
    assert found["samples"] == [
        {"key": "V2", "differs": "site_code", "site_code": "WAL / SOU", "file_path": "visits/kiosk_a.csv",
         "line_number": 3, "other_file_path": "visits/kiosk_b.csv", "other_line_number": 2},
        {"key": "V3", "differs": "member_id", "member_id": "(withheld)", "file_path": "visits/kiosk_a.csv",
         "line_number": 4, "other_file_path": "visits/kiosk_b.csv", "other_line_number": 3},
    ]
    assert describe(found) == "2 visit_id(s) delivered again with different content (site_code in 1, member_id in 1)"


def test_zoom_conflicts(warehouse):
    [found] = conflicts(warehouse, "zoom")
    assert (found["keys"], found["fields"]) == (1, {"topic": 1, "participants_reported": 1})
    [s] = found["samples"]
    assert s == {"key": "81234567890 / 2021-10-05 10:00:12", "differs": "topic, participants_reported",
                 "topic": "(withheld)", "participants_reported": "2 / 3", "file_path": "zoom/meeting_1.csv",
                 "line_number": 2, "other_file_path": "zoom/meeting_1_again.csv", "other_line_number": 2}


def test_pathway_conflicts_are_same_version_only(warehouse):
    contacts, prescriptions = conflicts(warehouse, "pathways")
    assert (contacts["label"], contacts["keys"], contacts["fields"]) == (
        "contact version (contact_id, updated_at)", 1, {"advisor_id": 1})  # C2's two versions are no conflict
    assert contacts["samples"][0]["key"] == "C1 / 2021-10-04 14:22:10"  # updated_at in UTC
    assert contacts["samples"][0]["advisor_id"] == "A1 / A2"
    assert (prescriptions["keys"], prescriptions["fields"]) == (1, {"category": 1})
    assert prescriptions["samples"][0] == {
        "key": "P1 / 2021-10-04 14:30:00", "differs": "category", "category": "housing / debt",
        "file_path": "pathways/prescriptions_1.csv", "line_number": 2,
        "other_file_path": "pathways/prescriptions_2.csv", "other_line_number": 2}


def test_wellbeing_call_conflicts(warehouse):
    [found] = conflicts(warehouse, "wellbeing_calls")
    assert (found["keys"], found["fields"]) == (1, {"outcome": 1, "duration_seconds": 1})
    assert found["samples"] == [{
        "key": "W1", "differs": "outcome, duration_seconds", "outcome": "no_answer / successful",
        "duration_seconds": "0 / 240", "file_path": "wellbeing_calls/calls_a.csv", "line_number": 2,
        "other_file_path": "wellbeing_calls/calls_b.csv", "other_line_number": 2}]


def test_no_conflict_when_versions_agree(tmp_path):
    landing = tmp_path / "landing"
    row = "W1,NHS0000001,2022-01-12T14:03:00Z,S1,outbound,no_answer,0\n"
    write_export(landing / "wellbeing_calls/a.csv", CALLS_HEADER + row)
    write_export(landing / "wellbeing_calls/b.csv", CALLS_HEADER + row.replace("T14:03:00Z", " 14:03:00z")
                 + "W2,NHS0000002,2022-01-13T10:00:00Z,S1,outbound,successful,60\n")
    with connect(tmp_path / "w.duckdb") as con:
        ingest_source(con, landing, "wellbeing_calls", P)
        assert conflicts(con, "wellbeing_calls") == []  # one instant, written two ways, is one value


def test_conflicts_count_a_null_against_a_value_and_values_swapped_between_fields(tmp_path):
    """Every key whose versions differ in any way is found: a NULL against a value, two fields'
    values swapped, a third version that differs; none whose versions are equal, NULLs included.
    Found again as new files arrive (on a writable warehouse only their keys are compared again,
    the conflicts found before are kept), they equal what a read-only comparison of the whole
    history finds. By hand, first delivery: V1 (purpose NULL / 'course'), V2 (visitor_type and
    purpose swapped), V5 (its third version's site): 3 keys; site_code 1, visitor_type 1, purpose
    2. Then c.csv: V3 again with a member (V3 now differs in member_id), V4 again as it was, V6
    new, V1 again as its first version (still in conflict): 4 keys, member_id 1 more."""
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.visits (visit_id VARCHAR, site_code VARCHAR, signed_in_at "
                "TIMESTAMP, member_id VARCHAR, visitor_type VARCHAR, purpose VARCHAR, file_path VARCHAR, "
                "line_number INTEGER, file_sha256 VARCHAR)")
    t = "TIMESTAMP '2021-05-01 10:00'"
    con.execute(f"""INSERT INTO raw.visits VALUES
        ('V1', 'WAL', {t}, 'M1', 'member', NULL, 'a.csv', 2, 'a'), ('V1', 'WAL', {t}, 'M1', 'member', 'course', 'b.csv', 2, 'b'),
        ('V2', 'WAL', {t}, 'M1', 'course', 'member', 'a.csv', 3, 'a'), ('V2', 'WAL', {t}, 'M1', 'member', 'course', 'b.csv', 3, 'b'),
        ('V3', 'WAL', {t}, NULL, 'member', NULL, 'a.csv', 4, 'a'), ('V3', 'WAL', {t}, NULL, 'member', NULL, 'b.csv', 4, 'b'),
        ('V4', 'SOU', {t}, 'M2', 'drop_in', 'cafe', 'a.csv', 5, 'a'),
        ('V5', 'WAL', {t}, 'M3', 'member', 'cafe', 'a.csv', 6, 'a'), ('V5', 'WAL', {t}, 'M3', 'member', 'cafe', 'b.csv', 6, 'b'),
        ('V5', 'BOO', {t}, 'M3', 'member', 'cafe', 'b2.csv', 6, 'b2')""")
    # every raw file has its ledger row, written in the same transaction (a quarantined one no rows)
    con.execute("CREATE SCHEMA ledger; CREATE TABLE ledger.files (source VARCHAR, file_path VARCHAR, "
                "file_sha256 VARCHAR, status VARCHAR)")
    con.execute("INSERT INTO ledger.files VALUES ('visits', 'a.csv', 'a', 'loaded'), ('visits', 'b.csv', 'b', 'loaded'), "
                "('visits', 'b2.csv', 'b2', 'loaded'), ('visits', 'q.csv', 'q', 'quarantined'), "
                "('zoom', 'z.csv', 'z', 'loaded')")

    def both() -> tuple[list[dict], list[dict]]:
        kept = conflicts(con, "visits")
        con.execute("CHECKPOINT")
        copy = shutil.copy(path, tmp_path / "copy.duckdb")  # one process opens a file one way only
        with duckdb.connect(str(copy), read_only=True) as ro:
            return kept, conflicts(ro, "visits")

    kept, whole = both()
    [found] = kept
    assert kept == whole
    assert (found["keys"], found["fields"]) == (3, {"site_code": 1, "visitor_type": 1, "purpose": 2})
    assert [s["key"] for s in found["samples"]] == ["V1", "V2", "V5"]
    assert found["samples"][0]["purpose"] == "(empty) / course"
    con.execute(f"""INSERT INTO raw.visits VALUES
        ('V3', 'WAL', {t}, 'M9', 'member', NULL, 'c.csv', 2, 'c'), ('V4', 'SOU', {t}, 'M2', 'drop_in', 'cafe', 'c.csv', 3, 'c'),
        ('V6', 'WAL', {t}, 'M4', 'member', 'cafe', 'c.csv', 4, 'c'), ('V1', 'WAL', {t}, 'M1', 'member', NULL, 'c.csv', 5, 'c')""")
    con.execute("INSERT INTO ledger.files VALUES ('visits', 'c.csv', 'c', 'loaded')")
    kept, whole = both()
    [found] = kept
    assert kept == whole
    assert (found["keys"], found["fields"]) == (4, {"site_code": 1, "member_id": 1, "visitor_type": 1, "purpose": 2})
    files = state_tables(RECORDS["visits"][0])[1]
    assert con.execute(f"SELECT count(*) FROM {files}").fetchone()[0] == 4  # a, b, b2, c: each compared once


def test_questionnaire_conflicts_withhold_member_and_scores(tmp_path):
    header = "response_id,member_id,measure,timepoint,completed_on,item_1,item_2,item_3,item_4,item_5,item_6,item_7\n"
    landing = tmp_path / "landing"
    write_export(landing / "outcome_measures/a.csv", header + d("""
        R1,M1,swemwbs,baseline,2021-05-01,3,3,2,3,4,3,2
        R2,M2,ons4,baseline,2021-05-01,6,7,5,4,,,
        """))
    write_export(landing / "outcome_measures/b.csv", header + d("""
        R2,M2,ons4,baseline,2021-05-01,6,7,5,4,,,
        R1,M1,swemwbs,follow_up,2021-05-01,3,3,2,3,4,3,5
        """))  # R2 again, the same; R1 with another timepoint and item 7
    with connect(tmp_path / "w.duckdb") as con:
        ingest_source(con, landing, "outcome_measures", P)
        [found] = conflicts(con, "outcome_measures")
    assert (found["keys"], found["fields"]) == (1, {"timepoint": 1, "item_7": 1})
    assert found["samples"] == [{
        "key": "R1", "differs": "timepoint, item_7", "timepoint": "baseline / follow_up", "item_7": "(withheld)",
        "file_path": "outcome_measures/a.csv", "line_number": 2, "other_file_path": "outcome_measures/b.csv",
        "other_line_number": 3}]


# --- the pipeline: checks, quality page, dashboards ---------------------------------------------

@pytest.fixture(scope="module")
def run(landing, tmp_path_factory):
    home = tmp_path_factory.mktemp("holes-home")
    outcomes("run", "--landing", str(landing), "--home", str(home))
    return home


@pytest.mark.slow
def test_kpis_count_the_newest_versions_and_nothing_quarantined(run):
    got = {k: v for k, v in kpis(run).items() if k[0] == "2021/22"}
    assert got == {
        ("2021/22", "visits"): 3,  # V2, V3, V4 (V1 void in kiosk_b; V7-V11 never loaded)
        ("2021/22", "visiting_members"): 3,  # M1002, M1003 (kiosk_b's V3), M1004
        ("2021/22", "pathway_contacts"): 2,  # C1, C2 (latest version attended)
        ("2021/22", "social_prescriptions"): 2,  # P1, P2
        ("2021/22", "prescriptions_per_contact"): 1.0,
        ("2021/22", "zoom_sessions"): 1,  # one occurrence exported twice
        ("2021/22", "zoom_members"): 2,  # Ann, Bob
        ("2021/22", "zoom_attendances"): 2,
        ("2021/22", "sessions_per_member"): 1.0,
        ("2021/22", "wellbeing_calls"): 4,  # W1-W4
        ("2021/22", "wellbeing_successful_contacts"): 4,  # W1 successful in calls_b, the newest export
        ("2021/22", "wellbeing_people_reached"): 3,  # NHS0000001, NHS0000002, NHS0000003
    }


@pytest.mark.slow
def test_outcomes_checks_lists_each_source_s_conflicts_with_a_file_and_line(run):
    text = outcomes("checks", "--home", str(run)).stdout
    for source, what, example in [
        ("visits", "2 visit_id(s) delivered again with different content (site_code in 1, member_id in 1)",
         "visits/kiosk_a.csv:3"),
        ("zoom", "1 Zoom session (Meeting ID, Start Time)(s) delivered again with different content "
                 "(topic in 1, participants_reported in 1)", "zoom/meeting_1.csv:2"),
        ("pathways", "1 contact version (contact_id, updated_at)(s) delivered again with different content "
                     "(advisor_id in 1)", "pathways/contacts_1.csv:2"),
        ("wellbeing_calls", "1 call_id(s) delivered again with different content (outcome in 1, duration_seconds in 1)",
         "wellbeing_calls/calls_a.csv:2"),
    ]:
        assert f"raw/{source}:redelivered_with_different_content" in text
        assert f"{what}; the newest export's version is counted" in text and example in text, (source, text)
    assert "Uncounted (quarantined files): visits 3 row(s) in 2 file(s); zoom 3 row(s) in 1 file(s)" in text


@pytest.mark.slow
def test_check_results_are_warnings_with_both_versions(run):
    summary = json.loads(outcomes("checks", "--home", str(run), "--format", "json", check=False).stdout)
    by = {c["check"]: c for c in summary["checks"]}
    for source in ("visits", "zoom", "pathways", "wellbeing_calls"):
        c = by[f"raw/{source}:redelivered_with_different_content"]
        assert (c["status"], c["blocking"]) == ("warning", False)
    calls = by["raw/wellbeing_calls:redelivered_with_different_content"]
    assert calls["failures"][0]["samples"][0]["other_file_path"] == "wellbeing_calls/calls_b.csv"
    assert summary["verdict"] == "published"
    assert {r["source"]: (r["files_quarantined"], r["rows_uncounted"]) for r in summary["ledger"]} == {
        "visits": (2, 3), "zoom": (1, 3), "pathways": (0, 0), "wellbeing_calls": (0, 0),
        "members": (0, 0), "reference": (0, 0), "outcome_measures": (0, 0)}  # (optional inputs: none landed)


@pytest.mark.slow
def test_quality_page_shows_conflicts_and_uncounted_rows(run):
    page = (run / "dashboards/quality.html").read_text()
    assert "redelivered_with_different_content" in page
    assert "visits/kiosk_b.csv" in page and "WAL / SOU" in page
    assert "rows in quarantined files (uncounted)" in page
    ledger_table = page[page.index('<table id="ledger">'):].split("</table>")[0]
    assert '<tr><td>visits</td><td class="n">2</td><td class="n">2</td><td class="n">1</td>' in ledger_table
    assert ledger_table.count('<td class="n">3</td></tr>') == 2  # visits and zoom: 3 uncounted rows each


@pytest.mark.slow
def test_dashboards_data_quality_names_the_conflicts_without_counts_or_personal_data(run):
    page = (run / "dashboards/index.html").read_text()
    assert "Redelivered with different content" in page
    assert "raw/wellbeing_calls: records delivered again with different content (call_id in outcome, " \
           "duration_seconds)" in page
    assert "Rows in quarantined files" in page


@pytest.mark.slow
def test_no_personal_data_in_what_the_checks_write(run):
    texts = [(run / "quality/last_run.json").read_text(), (run / "dashboards/quality.html").read_text(),
             *(p.read_text() for p in (run / "dashboards").glob("*.html"))]
    for value in PERSONAL:
        assert not any(value in t for t in texts), value


def test_the_landing_zone_is_unchanged_by_ingestion(landing, warehouse):
    assert os.path.islink(landing / "visits/linked_out.csv")
    assert (landing.parent / "outside/kiosk_outside.csv").read_text().endswith("member,course,ok\n")
    assert PurePosixPath("visits/kiosk_a.csv") in {f.rel_path for f in discover(landing, ("visits",))}
