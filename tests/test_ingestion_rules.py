"""Landing-zone and ingestion rules of the contract (/work/shared/export-formats.md) and of
docs/architecture.md, black-box: the CLI is run on a hand-made landing zone and the
warehouse (<home>/warehouse.duckdb) is then read read-only.

One module-scoped fixture builds the landing zone and runs the pipeline TWICE on one home:
run 1 on the landing zone, run 2 after adding a byte-identical copy of an already loaded
file in a new sub-folder. The missing-landing test runs the CLI once more (it should fail
fast). Pipeline runs in this file: 2 (+1 that must fail at once).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

import duckdb
import pytest

from tests.support import kpis, outcomes, write_export

pytestmark = pytest.mark.slow


def d(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# ---------------------------------------------------------------------------------------
# The landing zone
# ---------------------------------------------------------------------------------------

# Personal data written into the landing zone. None of these may appear, in any case and
# not even as part of a longer string, anywhere in the warehouse or the dashboards.
PERSONAL = (
    "zebedee.quarrington@example.org", "Zebedee Quarrington", "quarrington",
    "Philippa Nightingale-Smythe", "nightingale", "Pip NS",
    "helena.hostworth@merseycare.nhs.uk", "Helena Hostworth", "hostworth",
    "noor.noonan@example.net", "Noor Noonan", "noonan",
    "Mina Mardle", "mardle",
    "RMY77319",  # prefix of every service_user_ref below
)

VISITS_HEADER = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
VISITS_PLAIN = VISITS_HEADER + d("""
    I-V1,WAL,2021-10-07 10:15,M9001,member,course,ok
    I-V2,SOU,2021-10-07 11:20:30,,guest,cafe,ok
    I-V3,BOO,2021-10-08 09:00,M9003,member,library,void
""")

ZOOM_PLAIN = d("""
    Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,
    820 0000 9001,Coping with Winter,01/24/2022 10:00:00 AM,01/24/2022 11:00:00 AM,helena.hostworth@merseycare.nhs.uk,60,3,

    Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,
    Helena Hostworth,helena.hostworth@merseycare.nhs.uk,01/24/2022 09:58:00 AM,01/24/2022 11:00:00 AM,62,No,
    Zebedee Quarrington,zebedee.quarrington@example.org,01/24/2022 10:01:00 AM,01/24/2022 10:30:00 AM,29,Yes,
    Zebedee Quarrington,zebedee.quarrington@example.org,01/24/2022 10:33:00 AM,01/24/2022 11:00:00 AM,27,Yes,
    Pip NS (Philippa Nightingale-Smythe),,01/24/2022 10:02:00 AM,01/24/2022 11:00:00 AM,58,Yes,
""")

CALLS_HEADER = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"
CALLS_PLAIN = CALLS_HEADER + d("""
    I-W1,RMY7731901,2022-01-12T14:03:00Z,ST9,outbound,successful,600
    I-W2,RMY7731902,2022-01-12T15:00:00Z,ST9,inbound,no_answer,0
""")


def build_landing(landing: Path) -> None:
    # visits: the same content plain, with BOM, with CRLF, with both.
    write_export(landing / "visits/encoding/kiosk_plain.csv", VISITS_PLAIN)
    write_export(landing / "visits/encoding/kiosk_bom.csv", VISITS_PLAIN, bom=True)
    write_export(landing / "visits/encoding/kiosk_crlf.csv", VISITS_PLAIN, crlf=True)
    write_export(landing / "visits/encoding/kiosk_bom_crlf.csv", VISITS_PLAIN, bom=True, crlf=True)
    # A deeper sub-folder.
    write_export(landing / "visits/2021/10/kiosk_2021-10-14.csv", VISITS_HEADER + d("""
        I-V10,WAL,2021-10-12 10:00,M9010,member,course,ok
    """))
    # Row rejections: lines 3..6 each break one rule; lines 2 and 7 load.
    write_export(landing / "visits/kiosk_rejects.csv", VISITS_HEADER + d("""
        I-V20,WAL,2021-11-01 10:00,M9020,member,course,ok
        ,WAL,2021-11-01 10:05,M9021,member,course,ok
        I-V22,WAL,2021-11-31 10:10,M9022,member,course,ok
        I-V23,XYZ,2021-11-01 10:15,M9023,member,course,ok
        I-V24,WAL,2021-11-01 10:20,M9024,alien,course,ok
        I-V25,WAL,2021-11-01 10:25,M9025,member,course,ok
    """))
    # Header does not match the contract ('site' instead of 'site_code'): quarantined whole.
    write_export(landing / "visits/kiosk_badheader.csv", d("""
        visit_id,site,signed_in_at,member_id,visitor_type,purpose,status
        I-V30,WAL,2016-06-01 10:00,M9030,member,course,ok
    """))
    # Still being written / hidden: ignored.
    write_export(landing / "visits/kiosk_inprogress.csv.part", VISITS_HEADER + d("""
        I-V40,WAL,2021-12-01 10:00,M9040,member,course,ok
    """))
    write_export(landing / "visits/.kiosk_hidden.csv", VISITS_HEADER + d("""
        I-V41,WAL,2021-12-01 10:00,M9041,member,course,ok
    """))
    # Byte-identical redelivery within one run.
    dup = write_export(landing / "visits/kiosk_dup_a.csv", VISITS_HEADER + d("""
        I-V50,WAL,2021-12-02 10:00,M9050,member,course,ok
        I-V51,WAL,2021-12-02 10:30,M9051,member,cafe,ok
    """))
    (landing / "visits/resent").mkdir(parents=True)
    shutil.copyfile(dup, landing / "visits/resent/kiosk_dup_b.csv")

    # zoom: plain and BOM + CRLF, same content.
    write_export(landing / "zoom/encoding/meeting_plain.csv", ZOOM_PLAIN)
    write_export(landing / "zoom/encoding/meeting_bom_crlf.csv", ZOOM_PLAIN, bom=True, crlf=True)
    # 12:xx PM and 12:xx AM.
    write_export(landing / "zoom/meeting_12pm.csv", d("""
        Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,
        820 0000 9002,Lunchtime Calm,01/17/2022 12:30:00 PM,01/17/2022 01:30:00 PM,helena.hostworth@merseycare.nhs.uk,60,2,

        Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,
        Noor Noonan,noor.noonan@example.net,01/17/2022 12:29:10 PM,01/17/2022 01:15:00 PM,46,Yes,
    """))
    write_export(landing / "zoom/meeting_12am.csv", d("""
        Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,
        820 0000 9003,Night Owls,01/18/2022 12:05:00 AM,01/18/2022 01:00:00 AM,helena.hostworth@merseycare.nhs.uk,55,2,

        Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,
        Mina Mardle,,01/18/2022 12:04:30 AM,01/18/2022 12:59:00 AM,55,Yes,
    """))
    # Meeting block header does not match ('Start' / 'End'): quarantined whole.
    write_export(landing / "zoom/meeting_badheader.csv", d("""
        Meeting ID,Topic,Start,End,User Email,Duration (Minutes),Participants,
        820 0000 9004,Broken Export,01/19/2022 10:00:00 AM,01/19/2022 11:00:00 AM,helena.hostworth@merseycare.nhs.uk,60,2,

        Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,
        Zebedee Quarrington,zebedee.quarrington@example.org,01/19/2022 10:01:00 AM,01/19/2022 11:00:00 AM,59,Yes,
    """))

    # pathways: rejections (unknown code, impossible date, missing id) and a quoted free-text
    # field with a comma and another spanning two physical lines.
    write_export(landing / "pathways/contacts_2021-11.csv", d("""
        contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at
        I-C1,M9101,A01,WAL,2021-11-02,face_to_face,attended,2021-11-02T11:00:00+00:00
        I-C2,M9102,A01,WAL,2021-11-02,phone,rescheduled,2021-11-02T11:05:00+00:00
        I-C3,M9103,A01,WAL,2021-02-30,phone,attended,2021-11-02T11:10:00+00:00
        ,M9104,A01,WAL,2021-11-02,phone,attended,2021-11-02T11:15:00+00:00
        I-C5,,,,2021-11-03,video,attended,2021-11-03T09:00:00+00:00
    """))
    write_export(landing / "pathways/prescriptions_2021-11.csv", d("""
        prescription_id,contact_id,category,referred_to,created_date,status,updated_at
        I-P1,I-C1,housing,"Citizens Advice, Sefton",2021-11-02,made,2021-11-02T11:30:00+00:00
        I-P2,I-C1,debt,"StepChange
        Debt Charity",2021-11-02,made,2021-11-02T11:31:00+00:00
        I-P3,I-C1,benefits,Jobcentre Plus,2021-11-02,made,2021-11-02T11:32:00+00:00
        I-P4,I-C1,astrology,Somewhere,2021-11-02,made,2021-11-02T11:33:00+00:00
    """))

    # wellbeing_calls: plain and BOM, same content; rejections.
    write_export(landing / "wellbeing_calls/calls_plain.csv", CALLS_PLAIN)
    write_export(landing / "wellbeing_calls/calls_bom.csv", CALLS_PLAIN, bom=True)
    write_export(landing / "wellbeing_calls/calls_rejects.csv", CALLS_HEADER + d("""
        I-W10,RMY7731910,2022-02-01T10:00:00Z,ST9,outbound,successful,300
        I-W11,RMY7731911,01/02/2022 10:00,ST9,outbound,successful,300
        I-W12,RMY7731912,2022-02-01T10:10:00Z,ST9,outbound,hung_up,300
        ,RMY7731913,2022-02-01T10:20:00Z,ST9,outbound,successful,300
        I-W14,RMY7731914,2022-02-01T10:30:00Z,ST9,sideways,successful,300
    """))


# Files the ledger must list after both runs (nothing ending .part, nothing starting with '.').
EXPECTED_LEDGER_PATHS = {
    "visits/encoding/kiosk_plain.csv", "visits/encoding/kiosk_bom.csv",
    "visits/encoding/kiosk_crlf.csv", "visits/encoding/kiosk_bom_crlf.csv",
    "visits/2021/10/kiosk_2021-10-14.csv", "visits/kiosk_rejects.csv", "visits/kiosk_badheader.csv",
    "visits/kiosk_dup_a.csv", "visits/resent/kiosk_dup_b.csv", "visits/resent/again/kiosk_dup_c.csv",
    "zoom/encoding/meeting_plain.csv", "zoom/encoding/meeting_bom_crlf.csv",
    "zoom/meeting_12pm.csv", "zoom/meeting_12am.csv", "zoom/meeting_badheader.csv",
    "pathways/contacts_2021-11.csv", "pathways/prescriptions_2021-11.csv",
    "wellbeing_calls/calls_plain.csv", "wellbeing_calls/calls_bom.csv", "wellbeing_calls/calls_rejects.csv",
}
QUARANTINED = {"visits/kiosk_badheader.csv", "zoom/meeting_badheader.csv"}

# (file, physical line) -> the column whose rule the row breaks.
EXPECTED_REJECTIONS = {
    ("visits/kiosk_rejects.csv", 3): "visit_id",          # missing id
    ("visits/kiosk_rejects.csv", 4): "signed_in_at",      # 2021-11-31: no such date
    ("visits/kiosk_rejects.csv", 5): "site_code",         # XYZ: unknown code
    ("visits/kiosk_rejects.csv", 6): "visitor_type",      # alien: unknown code
    ("pathways/contacts_2021-11.csv", 3): "outcome",      # rescheduled: unknown code
    ("pathways/contacts_2021-11.csv", 4): "contact_date",  # 2021-02-30: no such date
    ("pathways/contacts_2021-11.csv", 5): "contact_id",   # missing id
    ("pathways/prescriptions_2021-11.csv", 6): "category",  # astrology: unknown code
    ("wellbeing_calls/calls_rejects.csv", 3): "call_started_at",  # not ISO 8601
    ("wellbeing_calls/calls_rejects.csv", 4): "outcome",  # hung_up: unknown code
    ("wellbeing_calls/calls_rejects.csv", 5): "call_id",  # missing id
    ("wellbeing_calls/calls_rejects.csv", 6): "direction",  # sideways: unknown code
}

# Per file: (rows_read, rows_loaded, rows_rejected), records not counting the header.
EXPECTED_COUNTS = {
    "visits/kiosk_rejects.csv": (6, 2, 4),              # I-V20, I-V25 load
    "pathways/contacts_2021-11.csv": (5, 2, 3),         # I-C1, I-C5 load
    "pathways/prescriptions_2021-11.csv": (4, 3, 1),    # I-P1, I-P2 (two lines), I-P3 load
    "wellbeing_calls/calls_rejects.csv": (5, 1, 4),     # I-W10 loads
    "visits/encoding/kiosk_plain.csv": (3, 3, 0),
    "visits/2021/10/kiosk_2021-10-14.csv": (1, 1, 0),
    "wellbeing_calls/calls_plain.csv": (2, 2, 0),
}

RAW_ID_COLUMN = {
    "visits": "visit_id",
    "pathway_contacts": "contact_id",
    "pathway_prescriptions": "prescription_id",
    "wellbeing_calls": "call_id",
}
LINEAGE = ("file_path", "file_sha256", "loaded_at")


# ---------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------

def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every file under root, hidden and .part ones included: content hash, size, mtime."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            st = p.stat()
            out[p.relative_to(root).as_posix()] = (sha256(p), st.st_size, st.st_mtime_ns)
    return out


def physical_line(path: Path, n: int) -> str:
    """1-based physical line n of a file (BOM and CR removed)."""
    return path.read_bytes().decode("utf-8-sig").split("\n")[n - 1].rstrip("\r")


def connect(home: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)


def table_counts(home: Path) -> dict[str, int]:
    with connect(home) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database() and schema_name in ('raw', 'ledger')"
        ).fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables}


def query(home: Path, sql: str, params=None) -> list[tuple]:
    with connect(home) as con:
        return con.execute(sql, params or []).fetchall()


def raw_rows_without_lineage(home: Path, table: str, file_path: str) -> list[tuple]:
    """The typed rows a file produced, minus the columns that legitimately differ per file."""
    with connect(home) as con:
        cur = con.execute(f"select * from raw.{table} where file_path = ? order by line_number", [file_path])
        names = [c[0] for c in cur.description]
        keep = [i for i, n in enumerate(names) if n not in LINEAGE]
        return [tuple(row[i] for i in keep) for row in cur.fetchall()]


def ledger(home: Path) -> dict[str, dict]:
    with connect(home) as con:
        cur = con.execute("select * from ledger.files")
        names = [c[0] for c in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
    by_path: dict[str, dict] = {}
    for r in rows:
        assert r["file_path"] not in by_path, f"two ledger rows for {r['file_path']}"
        by_path[r["file_path"]] = r
    return by_path


@dataclass
class Ingest:
    landing: Path
    home: Path
    snapshots: list[tuple[dict, dict]] = field(default_factory=list)  # (before, after) per run
    counts_after_run1: dict[str, int] = field(default_factory=dict)
    kpis: dict = field(default_factory=dict)
    procs: list = field(default_factory=list)


@pytest.fixture(scope="module")
def ingest(tmp_path_factory) -> Ingest:
    landing = tmp_path_factory.mktemp("ingest_landing")
    home = tmp_path_factory.mktemp("ingest_home")
    build_landing(landing)
    result = Ingest(landing, home)

    before = snapshot(landing)
    proc = outcomes("run", "--landing", str(landing), "--home", str(home), check=False)
    result.procs.append(proc)
    assert proc.returncode == 0, f"run 1 failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    result.snapshots.append((before, snapshot(landing)))
    result.counts_after_run1 = table_counts(home)

    # Run 2: the same bytes as visits/kiosk_dup_a.csv arrive again under a third name.
    (landing / "visits/resent/again").mkdir(parents=True)
    shutil.copyfile(landing / "visits/kiosk_dup_a.csv", landing / "visits/resent/again/kiosk_dup_c.csv")
    before = snapshot(landing)
    proc = outcomes("run", "--landing", str(landing), "--home", str(home), check=False)
    result.procs.append(proc)
    assert proc.returncode == 0, f"run 2 failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    result.snapshots.append((before, snapshot(landing)))

    result.kpis = kpis(home)
    return result


# ---------------------------------------------------------------------------------------
# Runs, quarantine, rejections, ledger arithmetic
# ---------------------------------------------------------------------------------------

def test_run_exits_zero_despite_quarantined_files_and_rejected_rows(ingest):
    assert [p.returncode for p in ingest.procs] == [0, 0]


def test_ledger_lists_exactly_the_landing_files(ingest):
    # Sub-folders included; *.part and dot-files not; one row per (path, hash).
    assert set(ledger(ingest.home)) == EXPECTED_LEDGER_PATHS


def test_part_and_hidden_files_are_ignored(ingest):
    paths = set(ledger(ingest.home))
    assert "visits/kiosk_inprogress.csv.part" not in paths
    assert "visits/.kiosk_hidden.csv" not in paths
    ids = {r[0] for r in query(ingest.home, "select visit_id from raw.visits")}
    assert not ids & {"I-V40", "I-V41"}


def test_sub_folders_are_processed(ingest):
    entry = ledger(ingest.home)["visits/2021/10/kiosk_2021-10-14.csv"]
    assert entry["status"] == "loaded"
    rows = query(ingest.home, "select file_path from raw.visits where visit_id = 'I-V10'")
    assert rows == [("visits/2021/10/kiosk_2021-10-14.csv",)]


@pytest.mark.parametrize("path", sorted(QUARANTINED))
def test_header_mismatch_quarantines_the_whole_file_with_a_reason(ingest, path):
    entry = ledger(ingest.home)[path]
    assert entry["status"] == "quarantined"
    assert entry["reason"] and entry["reason"].strip()
    assert entry["rows_loaded"] == 0
    assert entry["file_sha256"] == sha256(ingest.landing / path)


def test_quarantined_file_leaves_nothing_in_raw(ingest):
    with connect(ingest.home) as con:
        tables = [t for (t,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'raw'").fetchall()]
        assert tables, "no raw tables"
        for t in tables:
            n = con.execute(
                f"select count(*) from raw.{t} where list_contains(?, file_path)", [sorted(QUARANTINED)]
            ).fetchone()[0]
            assert n == 0, f"raw.{t} has rows from a quarantined file"
        assert con.execute("select count(*) from raw.visits where visit_id = 'I-V30'").fetchone()[0] == 0
        assert con.execute(
            "select count(*) from raw.zoom_meetings where meeting_id = '82000009004'").fetchone()[0] == 0
        assert con.execute("select count(*) from ledger.rejected_rows where list_contains(?, file_path)",
                           [sorted(QUARANTINED)]).fetchone()[0] == 0


def test_quarantined_file_counts_nothing(ingest):
    # I-V30 (2016-06-01, the only 2016/17 record anywhere) is in the quarantined file:
    # 2016/17 has no counted unit, so it is absent (or, at most, 0 visits).
    assert ingest.kpis.get(("2016/17", "visits"), 0) == 0


def test_rejected_rows_are_recorded_with_their_line_numbers(ingest):
    rows = query(ingest.home, "select file_path, line_number from ledger.rejected_rows")
    assert len(rows) == len(set(rows)), "a rejected row is recorded twice (re-run must skip known files)"
    assert set(rows) == set(EXPECTED_REJECTIONS)


def test_rejected_rows_have_a_reason_naming_the_broken_field(ingest):
    rows = query(ingest.home, "select file_path, line_number, reason, file_sha256 from ledger.rejected_rows")
    for path, line, reason, digest in rows:
        assert reason and reason.strip(), (path, line)
        column = EXPECTED_REJECTIONS[(path, line)]
        assert column in reason, f"{path}:{line} reason {reason!r} does not name {column!r}"
        assert digest == sha256(ingest.landing / path)


def test_rows_read_equal_loaded_plus_rejected_for_every_loaded_file(ingest):
    """A quarantined file counts nothing: its rows_read are the rows it holds, none loaded or rejected."""
    files = ledger(ingest.home)
    assert any(e["status"] == "quarantined" and e["rows_read"] > 0 for e in files.values())
    for path, e in files.items():
        if e["status"] == "quarantined":
            assert (e["rows_loaded"], e["rows_rejected"]) == (0, 0), (path, e)
        else:
            assert e["rows_read"] == e["rows_loaded"] + e["rows_rejected"], (path, e)


def test_rows_read_loaded_rejected_per_file(ingest):
    files = ledger(ingest.home)
    for path, expected in EXPECTED_COUNTS.items():
        e = files[path]
        assert (e["rows_read"], e["rows_loaded"], e["rows_rejected"]) == expected, path


def test_ledger_row_counts_match_the_warehouse(ingest):
    files = ledger(ingest.home)
    with connect(ingest.home) as con:
        for path, e in files.items():
            rejected = con.execute(
                "select count(*) from ledger.rejected_rows where file_path = ?", [path]).fetchone()[0]
            assert rejected == e["rows_rejected"], path
            table = {"visits": "visits", "wellbeing_calls": "wellbeing_calls"}.get(path.split("/")[0])
            if path.startswith("pathways/"):
                table = "pathway_contacts" if PurePosixPath(path).name.startswith("contacts") else "pathway_prescriptions"
            if table:
                loaded = con.execute(f"select count(*) from raw.{table} where file_path = ?", [path]).fetchone()[0]
                assert loaded == e["rows_loaded"], path


# ---------------------------------------------------------------------------------------
# Encodings and line ends
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["kiosk_bom.csv", "kiosk_crlf.csv", "kiosk_bom_crlf.csv"])
def test_visits_bom_and_crlf_load_like_plain(ingest, variant):
    files = ledger(ingest.home)
    plain, other = "visits/encoding/kiosk_plain.csv", f"visits/encoding/{variant}"
    assert files[other]["status"] == "loaded", files[other]
    assert files[other]["rows_loaded"] == files[plain]["rows_loaded"] == 3
    expected = raw_rows_without_lineage(ingest.home, "visits", plain)
    assert raw_rows_without_lineage(ingest.home, "visits", other) == expected
    ids = [r[0] for r in query(ingest.home, "select visit_id from raw.visits where file_path = ? order by 1", [other])]
    assert ids == ["I-V1", "I-V2", "I-V3"]  # no BOM glued to an id, no CR on the last field
    statuses = [r[0] for r in query(ingest.home, "select status from raw.visits where file_path = ? order by visit_id", [other])]
    assert statuses == ["ok", "ok", "void"]


def test_zoom_bom_and_crlf_load_like_plain(ingest):
    files = ledger(ingest.home)
    plain, other = "zoom/encoding/meeting_plain.csv", "zoom/encoding/meeting_bom_crlf.csv"
    assert files[other]["status"] == "loaded", files[other]
    for table in ("zoom_meetings", "zoom_participants"):
        expected = raw_rows_without_lineage(ingest.home, table, plain)
        assert expected, table
        assert raw_rows_without_lineage(ingest.home, table, other) == expected, table


def test_wellbeing_bom_loads_like_plain(ingest):
    files = ledger(ingest.home)
    assert files["wellbeing_calls/calls_bom.csv"]["status"] == "loaded"
    expected = raw_rows_without_lineage(ingest.home, "wellbeing_calls", "wellbeing_calls/calls_plain.csv")
    assert len(expected) == 2
    assert raw_rows_without_lineage(ingest.home, "wellbeing_calls", "wellbeing_calls/calls_bom.csv") == expected


def test_zoom_12_pm_and_12_am_times(ingest):
    # 12:30:00 PM is 12:30, 12:05:00 AM is 00:05 (local wall time as given).
    meetings = dict(query(ingest.home, "select file_path, start_time from raw.zoom_meetings"))
    assert meetings["zoom/meeting_12pm.csv"] == datetime(2022, 1, 17, 12, 30, 0)
    assert meetings["zoom/meeting_12am.csv"] == datetime(2022, 1, 18, 0, 5, 0)
    joins = dict(query(ingest.home, "select file_path, join_time from raw.zoom_participants "
                                    "where file_path in ('zoom/meeting_12pm.csv', 'zoom/meeting_12am.csv')"))
    assert joins["zoom/meeting_12pm.csv"] == datetime(2022, 1, 17, 12, 29, 10)
    assert joins["zoom/meeting_12am.csv"] == datetime(2022, 1, 18, 0, 4, 30)


# ---------------------------------------------------------------------------------------
# Lineage
# ---------------------------------------------------------------------------------------

def _raw_tables(home: Path) -> list[str]:
    return [t for (t,) in query(home, "select table_name from duckdb_tables() "
                                      "where database_name = current_database() and schema_name = 'raw'")]


def test_lineage_file_path_is_landing_relative_and_sha256_matches(ingest):
    tables = _raw_tables(ingest.home)
    assert {"visits", "zoom_meetings", "zoom_participants", "pathway_contacts",
            "pathway_prescriptions", "wellbeing_calls"} <= set(tables)
    for t in tables:
        for path, digest in query(ingest.home, f"select distinct file_path, file_sha256 from raw.{t}"):
            pp = PurePosixPath(path)
            assert not pp.is_absolute() and "\\" not in path and ".." not in pp.parts, path
            assert pp.parts[0] in ("visits", "zoom", "pathways", "wellbeing_calls"), path
            assert (ingest.landing / path).is_file(), path
            assert digest == sha256(ingest.landing / path), (t, path)
    for path, e in ledger(ingest.home).items():
        assert e["file_sha256"] == sha256(ingest.landing / path), path


@pytest.mark.parametrize("table", sorted(RAW_ID_COLUMN))
def test_lineage_line_number_points_at_the_record(ingest, table):
    id_col = RAW_ID_COLUMN[table]
    rows = query(ingest.home, f"select file_path, line_number, {id_col} from raw.{table}")
    assert rows, table
    for path, line, ident in rows:
        text = physical_line(ingest.landing / path, line)
        assert text.split(",")[0] == ident, f"{path}:{line} is {text!r}, expected {ident}"


def test_lineage_zoom_meeting_and_participant_lines(ingest):
    for path, line, mid in query(ingest.home, "select file_path, line_number, meeting_id from raw.zoom_meetings"):
        text = physical_line(ingest.landing / path, line)
        assert text.split(",")[0].replace(" ", "") == mid, (path, line, text)
    rows = query(ingest.home, "select file_path, line_number, join_time from raw.zoom_participants")
    assert rows
    for path, line, join in rows:
        text = physical_line(ingest.landing / path, line)
        assert line > 4, (path, line)  # after meeting header, meeting row, separator, participant header
        assert join is not None and join.strftime("%m/%d/%Y %I:%M:%S %p") in text, (path, line, text)


def test_lineage_record_after_a_multi_line_field(ingest):
    # I-P2's referred_to spans physical lines 3-4, so I-P3 starts on line 5.
    lines = dict(query(ingest.home, "select prescription_id, line_number from raw.pathway_prescriptions "
                                    "where file_path = 'pathways/prescriptions_2021-11.csv'"))
    assert lines == {"I-P1": 2, "I-P2": 3, "I-P3": 5}
    referred = dict(query(ingest.home, "select prescription_id, referred_to from raw.pathway_prescriptions "
                                       "where file_path = 'pathways/prescriptions_2021-11.csv'"))
    assert referred["I-P1"] == "Citizens Advice, Sefton"
    assert referred["I-P2"].replace("\r", "") == "StepChange\nDebt Charity"


# ---------------------------------------------------------------------------------------
# Redelivery, re-runs, raw files untouched
# ---------------------------------------------------------------------------------------

def test_byte_identical_redelivery_in_one_run_is_a_duplicate(ingest):
    files = ledger(ingest.home)
    a, b = files["visits/kiosk_dup_a.csv"], files["visits/resent/kiosk_dup_b.csv"]
    assert a["file_sha256"] == b["file_sha256"]
    assert sorted([a["status"], b["status"]]) == ["duplicate", "loaded"]
    first, dup = (a, b) if a["status"] == "loaded" else (b, a)
    assert dup["duplicate_of"] == first["file_path"]
    assert dup["rows_loaded"] == 0 and dup["rows_rejected"] == 0
    assert first["rows_loaded"] == 2
    rows = query(ingest.home, "select file_path, count(*) from raw.visits where visit_id in ('I-V50', 'I-V51') "
                              "group by 1")
    assert rows == [(first["file_path"], 2)]


def test_byte_identical_redelivery_in_a_later_run_is_a_duplicate_and_adds_no_rows(ingest):
    files = ledger(ingest.home)
    c = files["visits/resent/again/kiosk_dup_c.csv"]
    assert c["status"] == "duplicate"
    loaded = [p for p in ("visits/kiosk_dup_a.csv", "visits/resent/kiosk_dup_b.csv") if files[p]["status"] == "loaded"]
    assert c["duplicate_of"] == loaded[0]
    assert c["rows_loaded"] == 0 and c["rows_rejected"] == 0
    assert query(ingest.home, "select count(*) from raw.visits where file_path = ?",
                 ["visits/resent/again/kiosk_dup_c.csv"]) == [(0,)]


def test_rerun_adds_no_rows_for_files_already_seen(ingest):
    # Between runs only the duplicate copy was added: raw.* and ledger.rejected_rows are
    # unchanged, ledger.files gained exactly that one row.
    after = table_counts(ingest.home)
    before = ingest.counts_after_run1
    checked = [n for n in before if n.startswith("raw.") or n in ("ledger.files", "ledger.rejected_rows")]
    assert {"raw.visits", "ledger.files", "ledger.rejected_rows"} <= set(checked), sorted(before)
    for name in checked:
        expected = before[name] + 1 if name == "ledger.files" else before[name]
        assert after[name] == expected, name


@pytest.mark.parametrize("run", [0, 1])
def test_raw_landing_files_are_never_modified_moved_or_deleted(ingest, run):
    before, after = ingest.snapshots[run]
    assert after == before


# ---------------------------------------------------------------------------------------
# Personal data
# ---------------------------------------------------------------------------------------

def test_personal_data_really_is_in_the_landing_zone():
    # Guards the scan below against testing nothing.
    texts = ZOOM_PLAIN + CALLS_PLAIN
    for needle in ("zebedee.quarrington@example.org", "Zebedee Quarrington", "Philippa Nightingale-Smythe",
                   "helena.hostworth@merseycare.nhs.uk", "RMY7731901"):
        assert needle in texts


def test_no_personal_data_anywhere_in_the_warehouse(ingest):
    needles = [n.lower() for n in PERSONAL]
    found = []
    with connect(ingest.home) as con:
        relations = con.execute(
            """
            select schema_name, table_name from duckdb_tables()
             where database_name = current_database()
            union all
            select schema_name, view_name from duckdb_views()
             where database_name = current_database() and not internal
            """
        ).fetchall()
        schemas = {s for s, _ in relations}
        assert {"raw", "ledger"} <= schemas, schemas
        for schema, rel in relations:
            cols = con.execute(
                "select column_name from duckdb_columns() where database_name = current_database() "
                "and schema_name = ? and table_name = ?", [schema, rel]).fetchall()
            for (col,) in cols:
                values = con.execute(
                    f'select distinct cast("{col}" as varchar) from "{schema}"."{rel}" where "{col}" is not null'
                ).fetchall()
                for (value,) in values:
                    low = value.lower()
                    found += [f"{schema}.{rel}.{col}: {n!r}" for n in needles if n in low]
    assert not found, "personal data in the warehouse:\n" + "\n".join(sorted(set(found)))


def test_no_personal_data_in_the_dashboards(ingest):
    needles = [n.lower() for n in PERSONAL]
    found = []
    root = ingest.home / "dashboards"
    for p in sorted(root.rglob("*")) if root.exists() else []:
        if p.is_file():
            low = p.read_bytes().decode("utf-8", "replace").lower()
            found += [f"{p.relative_to(root)}: {n!r}" for n in needles if n in low]
    assert not found, "personal data in the dashboards:\n" + "\n".join(found)


# ---------------------------------------------------------------------------------------
# Failing fast
# ---------------------------------------------------------------------------------------

def test_run_on_a_missing_landing_dir_fails_with_a_one_line_reason(tmp_path):
    missing = tmp_path / "no_such_landing"
    proc = outcomes("run", "--landing", str(missing), "--home", str(tmp_path / "home"), check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    assert str(missing) in lines[0] or "landing" in lines[0].lower(), lines[0]
