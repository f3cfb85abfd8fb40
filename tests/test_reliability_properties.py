"""Property tests (hypothesis): row accounting, pseudonyms, order / batching / redelivery.

- Parser level (fast, many examples): random valid exports of every kind, with rows broken in
  known ways mixed in, blank lines, BOM, CRLF, trailing commas, quoted free text spanning lines:
  rows read = rows loaded + rows rejected, every valid row loads and every broken one is
  rejected at its own line. Random bytes and random CSV-ish text never raise anything but
  Quarantine.
- Pseudonyms: stable for one key across runs (a key re-read from its file), different under
  another key, never equal to the value, kinds apart.
- Ingestion level (DuckDB, no dbt): any order, any batching into runs, and byte-identical
  redeliveries give the same raw rows (by content, file hash and line) and ledger.
- Pipeline level (slow, 2 runs): the demo landing zone delivered in a shuffled order in two
  runs, with byte-identical redeliveries under new names in both, gives exactly the designed
  KPIs. (tests/test_orchestration.py already shows any order and batching of the demo files,
  and a second run of everything, give the KPIs of one run; this adds redelivery.)
"""
from __future__ import annotations

import csv
import hashlib
import io
import random
import re
import shutil
import string
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipelines.lib import contracts as c
from pipelines.lib.ingest import ingest_source
from pipelines.lib.landing import LandingFile
from pipelines.lib.parsers import Quarantine, display_name_key, parse_file
from pipelines.lib.pseudonym import Pseudonymiser, load_or_create_secret
from pipelines.lib.warehouse import create_schema

LOADED_AT = datetime(2026, 1, 1, 12, 0)  # naive UTC: generated events are all before it
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOURCE = {"visits": "visits", "zoom": "zoom", "contacts": "pathways", "prescriptions": "pathways",
          "wellbeing_calls": "wellbeing_calls"}
P = Pseudonymiser(b"p" * 32)

# --- strategies ------------------------------------------------------------------------------

ID_ALPHABET = string.ascii_letters + string.digits + "_-/."
ids = st.text(ID_ALPHABET, min_size=1, max_size=14).filter(lambda s: s[0] not in "-")
free_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40)
pad = st.sampled_from(["", " ", "  "])


def code(values) -> st.SearchStrategy[str]:
    """A contract code in any letter case, maybe padded: codes are trimmed and case-folded."""
    return st.tuples(st.sampled_from(sorted(values)), st.sampled_from([str.lower, str.upper, str.title]), pad, pad) \
        .map(lambda t: t[2] + t[1](t[0]) + t[3])


instants = st.datetimes(min_value=datetime(2000, 1, 2), max_value=LOADED_AT - timedelta(days=2))
local_times = instants.flatmap(lambda d: st.sampled_from([d.strftime("%Y-%m-%d %H:%M"), d.strftime("%Y-%m-%d %H:%M:%S")]))
dates = instants.map(lambda d: d.strftime("%Y-%m-%d"))
offsets = st.sampled_from(["Z", "+00:00", "+01:00", "-05:00", "+0100"])
aware = st.tuples(instants, offsets).map(lambda t: t[0].strftime("%Y-%m-%dT%H:%M:%S") + t[1])
utc_or_naive = st.tuples(instants, st.sampled_from(["Z", "+00:00", "", "+01:00"])).map(
    lambda t: t[0].strftime("%Y-%m-%dT%H:%M:%S") + t[1])
zoom_times = instants.map(lambda d: d.strftime("%m/%d/%Y %I:%M:%S %p"))
counts = st.integers(0, 10_000).map(str)

VALID = {
    "visits": {"visit_id": ids, "site_code": code(c.SITE_CODES), "signed_in_at": local_times,
               "member_id": st.one_of(st.just(""), st.integers(0, 10**7).map(lambda i: f"M{i}")),
               "visitor_type": code(c.VISITOR_TYPES), "purpose": code(c.PURPOSES), "status": code(c.VISIT_STATUSES)},
    "contacts": {"contact_id": ids, "member_id": st.one_of(st.just(""), ids), "advisor_id": st.one_of(st.just(""), ids),
                 "site_code": st.one_of(st.just(""), ids), "contact_date": dates, "mode": code(c.CONTACT_MODES),
                 "outcome": code(c.CONTACT_OUTCOMES), "updated_at": aware},
    "prescriptions": {"prescription_id": ids, "contact_id": ids, "category": code(c.PRESCRIPTION_CATEGORIES),
                      "referred_to": free_text, "created_date": dates, "status": code(c.PRESCRIPTION_STATUSES),
                      "updated_at": aware},
    "wellbeing_calls": {"call_id": ids, "service_user_ref": free_text, "call_started_at": utc_or_naive,
                        "staff_id": st.one_of(st.just(""), ids), "direction": code(c.CALL_DIRECTIONS),
                        "outcome": code(c.CALL_OUTCOMES), "duration_seconds": counts},
    "zoom": {"Name (Original Name)": st.text(string.ascii_letters + " ()", min_size=1, max_size=20).filter(str.strip),
             "User Email": st.one_of(st.just(""), st.emails().filter(lambda e: len(e) < 200)),
             "Join Time": zoom_times, "Leave Time": zoom_times, "Duration (Minutes)": counts,
             "Guest": st.sampled_from(["Yes", "No", "yes", ""])},
}
# One way to break each field for sure: (column, bad value, the reason's start).
BREAK = {
    "visits": [("visit_id", "", "missing visit_id"), ("site_code", "ZZZ", "unknown site_code"),
               ("signed_in_at", "31/12/2021 10:00", "unparseable signed_in_at"),
               ("member_id", "12345", "member_id"), ("status", "maybe", "unknown status"),
               ("visit_id", "=1+1", "visit_id starts with a spreadsheet formula character")],
    "contacts": [("contact_id", "", "missing contact_id"), ("contact_date", "2021-02-30", "unparseable contact_date"),
                 ("outcome", "rescheduled", "unknown outcome"), ("updated_at", "2021-10-04T15:22:10", "no UTC offset"),
                 ("contact_date", "2150-01-01", "out of range")],
    "prescriptions": [("prescription_id", "", "missing prescription_id"), ("category", "astrology", "unknown category"),
                      ("created_date", "yesterday", "unparseable created_date"),
                      ("updated_at", "2099-12-31T00:00:00Z", "updated_at is in the future")],
    "wellbeing_calls": [("call_id", "", "missing call_id"), ("direction", "sideways", "unknown direction"),
                        ("duration_seconds", "-1", "duration_seconds must be a whole number"),
                        ("call_started_at", "12/01/2022 14:03", "unparseable call_started_at")],
    "zoom": [("Join Time", "yesterday", "unparseable Join Time"), ("Guest", "perhaps", "unknown Guest"),
             ("Duration (Minutes)", "-3", "Duration (Minutes) must be a whole number")],
}
HEADER = {"visits": c.VISITS_HEADER, "contacts": c.CONTACTS_HEADER, "prescriptions": c.PRESCRIPTIONS_HEADER,
          "wellbeing_calls": c.WELLBEING_HEADER, "zoom": c.ZOOM_PER_JOIN_HEADER}
MEETING = ["812 3456 7890", "Anxiety Management (Week 2)", "10/05/2021 10:00:12 AM", "10/05/2021 11:31:40 AM",
           "host@merseycare.nhs.uk", "92", "14"]


LINE_BREAK = re.compile(r"\r\n|\r|\n")


@st.composite
def exports(draw, kind: str):
    """(bytes, {line: None for a valid row | reason start for a broken one}) of one random export."""
    header = list(HEADER[kind])
    n = draw(st.integers(0, 12))
    rows, broken = [], []
    for _ in range(n):
        row = {col: draw(strategy) for col, strategy in VALID[kind].items()}
        why = None
        if draw(st.integers(0, 3)) == 0:  # about one row in four is broken
            col, bad, why = draw(st.sampled_from(BREAK[kind]))
            row[col] = bad
        if kind == "zoom" and not row["User Email"].strip() and not display_name_key(row["Name (Original Name)"]):
            row["User Email"] = "someone@example.org"
        rows.append(row)
        broken.append(why)
    order = draw(st.permutations(header))  # column order is free
    trailing = draw(st.booleans())
    records = [list(order) + ([""] if trailing else [])]
    records += [[r[col] for col in order] + ([""] if trailing else []) for r in rows]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    buf = io.StringIO()
    # "\r\n" as the writer's terminator so that it quotes a field holding either; swapped after
    w = csv.writer(buf, lineterminator="\r\n", quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    prefix = ""
    if kind == "zoom":
        meeting = io.StringIO()
        csv.writer(meeting, lineterminator=newline).writerows([list(c.ZOOM_MEETING_HEADER) + [""], MEETING + [""]])
        prefix = meeting.getvalue() + draw(st.sampled_from([newline, ",,,,,,," + newline]))
    text, expected, line = prefix, {}, prefix.count(newline) + 1
    blank_after = set(draw(st.lists(st.integers(0, n), max_size=3)))
    for k, rec in enumerate(records):
        start = line
        buf.seek(0)
        buf.truncate()
        w.writerow(rec)
        chunk = buf.getvalue()[:-2] + newline
        text += chunk
        line += len(LINE_BREAK.findall(chunk))  # CR, LF or CRLF, in quoted fields too
        if k:
            expected[start] = broken[k - 1]
        if k in blank_after:
            text += newline
            line += 1
    bom = draw(st.booleans())
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode(), expected


def parse(kind: str, data: bytes):
    name = f"{kind}_x.csv" if SOURCE[kind] == "pathways" else "x.csv"
    return parse_file(SOURCE[kind], data, PurePosixPath(f"{SOURCE[kind]}/{name}"), P, loaded_at=LOADED_AT)


# --- parser level ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(SOURCE))
@FAST
@given(data=st.data())
def test_rows_read_equal_loaded_plus_rejected_and_each_row_lands_where_it_should(kind, data):
    raw, expected = data.draw(exports(kind))
    out = parse(kind, raw)
    meeting = 1 if kind == "zoom" else 0
    assert out.rows_read == len(expected) + meeting
    assert out.rows_read == out.rows_loaded + len(out.rejects)
    rejected = dict(out.rejects)
    want_rejected = {line: why for line, why in expected.items() if why is not None}
    assert set(rejected) == set(want_rejected), (rejected, want_rejected)
    for line, why in want_rejected.items():
        assert rejected[line].startswith(why) or why in rejected[line], (line, rejected[line], why)
    table = {"visits": "visits", "contacts": "pathway_contacts", "prescriptions": "pathway_prescriptions",
             "wellbeing_calls": "wellbeing_calls", "zoom": "zoom_participants"}[kind]
    loaded = sorted(r["line_number"] for r in out.tables[table])
    assert loaded == sorted(line for line, why in expected.items() if why is None)


csvish = st.lists(st.sampled_from(list(',"\n\r \tab1=-+@M:/\x00é\ufeff') + ["\r\n", "visit_id", "Meeting ID"]),
                  max_size=150).map("".join)


@pytest.mark.parametrize("kind", list(SOURCE))
@FAST
@given(blob=st.one_of(st.binary(max_size=400), csvish.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_any_bytes_are_quarantined_or_parsed_with_the_books_balanced(kind, blob):
    for data in (blob, ",".join(HEADER[kind]).encode() + b"\n" + blob):
        try:
            out = parse(kind, data)
        except Quarantine as exc:
            assert str(exc).strip()
            continue
        assert out.rows_read == out.rows_loaded + len(out.rejects)
        assert all(reason.strip() for _, reason in out.rejects)


any_offset = st.tuples(st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59)).map(
    lambda t: f"{t[0]}{t[1]:02d}:{t[2]:02d}")


@settings(max_examples=300, deadline=None)
@given(when=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
       offset=st.one_of(st.just("Z"), st.just(""), any_offset))
def test_any_instant_loads_exactly_when_in_range_and_not_after_the_load(when, offset):
    from datetime import date as date_

    text = when.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + offset
    row = f"W1,RX1,{text},S1,outbound,successful,60\n"
    out = parse("wellbeing_calls", (",".join(c.WELLBEING_HEADER) + "\n" + row).encode())
    try:
        tz = timezone.utc if offset in ("Z", "") else datetime.strptime(offset.replace(":", ""), "%z").tzinfo
        utc = when.replace(tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)
        ok = date_(2000, 1, 1) <= utc.date() <= date_(2099, 12, 31) and utc <= LOADED_AT
    except OverflowError:
        ok = False
    assert out.rows_read == 1 and out.rows_loaded == (1 if ok else 0), (text, out.rejects)


@settings(max_examples=200, deadline=None)
@given(digits=st.text(st.characters(categories=["Nd"]), min_size=8, max_size=8))
def test_only_ascii_digits_make_a_date(digits):
    text = f"{digits[:4]}-{digits[4:6]}-{digits[6:8]} 10:00"
    out = parse("visits", (",".join(c.VISITS_HEADER) + f"\nV1,WAL,{text},M1,member,course,ok\n").encode())
    if not digits.isascii():
        assert out.rows_loaded == 0, text


# --- pseudonyms ------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(value=st.text(min_size=1, max_size=60), kind=st.sampled_from(["email", "name", "service_user"]),
       key=st.binary(min_size=32, max_size=32), other=st.binary(min_size=32, max_size=32))
def test_pseudonyms_are_stable_per_key_and_differ_across_keys(value, kind, key, other):
    assume(key != other)
    a, b = Pseudonymiser(key).pseudonym(kind, value), Pseudonymiser(key).pseudonym(kind, value)
    assert a == b and len(a) == 16 and a != value
    assert Pseudonymiser(other).pseudonym(kind, value) != a  # 64 bits: a collision is ~2^-64
    assert {Pseudonymiser(key).pseudonym(k, value) for k in ("email", "name", "service_user")} >= {a}
    assert len({Pseudonymiser(key).pseudonym(k, value) for k in ("email", "name", "service_user")}) == 3


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_pseudonyms_are_stable_across_runs_and_change_with_another_secret(tmp_path_factory, data):
    raw, _ = data.draw(exports("wellbeing_calls"))
    home = tmp_path_factory.mktemp("key")
    first = Pseudonymiser(load_or_create_secret(home / "secret.key", create=True))  # run 1 creates the key
    again = Pseudonymiser(load_or_create_secret(home / "secret.key", create=False))  # run 2 reads it
    other = Pseudonymiser(load_or_create_secret(tmp_path_factory.mktemp("key2") / "secret.key", create=True))
    path = PurePosixPath("wellbeing_calls/x.csv")
    a, b, o = (parse_file("wellbeing_calls", raw, path, p, loaded_at=LOADED_AT) for p in (first, again, other))
    assert a.tables == b.tables and a.rejects == b.rejects
    for ra, ro in zip(a.tables["wellbeing_calls"], o.tables["wellbeing_calls"]):
        assert {k: v for k, v in ra.items() if k != "service_user_pseudonym"} == \
               {k: v for k, v in ro.items() if k != "service_user_pseudonym"}
        assert (ra["service_user_pseudonym"] is None) == (ro["service_user_pseudonym"] is None)
        assert ra["service_user_pseudonym"] is None or ra["service_user_pseudonym"] != ro["service_user_pseudonym"]


# --- ingestion level: order, batching, redelivery --------------------------------------------

def _small_landing(root: Path) -> list[LandingFile]:
    """A few exports per source with overlapping rows, a quarantined file and byte-identical copies."""
    rnd = random.Random(5)
    files = []

    def add(source, rel, text):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
        files.append(LandingFile(source, path, PurePosixPath(rel)))

    vh = ",".join(c.VISITS_HEADER) + "\n"
    for k in range(4):
        ids = range(k * 5, k * 5 + 9)  # each export overlaps the next
        add("visits", f"visits/kiosk_{k}.csv", vh + "".join(
            f"V{i},{rnd.choice(['WAL', 'SOU'])},2021-10-{1 + i % 27:02d} 10:00,M{i % 7},member,course,"
            f"{'void' if i % 11 == 0 else 'ok'}\n" for i in ids) + "V-bad,XYZ,2021-10-01 10:00,,guest,cafe,ok\n")
    add("visits", "visits/legacy.csv", "id,site\nV1,WAL\n")
    ch = ",".join(c.CONTACTS_HEADER) + "\n"
    ph = ",".join(c.PRESCRIPTIONS_HEADER) + "\n"
    for k in range(3):
        add("pathways", f"pathways/contacts_{k}.csv", ch + "".join(
            f"K{i},M{i},A1,WAL,2021-11-0{1 + i % 9},phone,{['booked', 'attended'][(i + k) % 2]},"
            f"2021-11-1{k}T10:00:00+00:00\n" for i in range(k, k + 6)))
        add("pathways", f"pathways/prescriptions_{k}.csv", ph + "".join(
            f"P{i},K{i},housing,Somewhere,2021-11-05,{['made', 'withdrawn'][(i + k) % 2]},2021-11-1{k}T11:00:00+00:00\n"
            for i in range(k, k + 5)))
    wh = ",".join(c.WELLBEING_HEADER) + "\n"
    for k in range(3):
        add("wellbeing_calls", f"wellbeing_calls/calls_{k}.csv", wh + "".join(
            f"W{i},RX{i % 4},2022-01-1{i % 9}T10:00:00Z,S1,outbound,{['successful', 'no_answer'][i % 2]},60\n"
            for i in range(k * 3, k * 3 + 6)))
    zh = ",".join(c.ZOOM_MEETING_HEADER) + ",\n"
    for k in range(2):
        add("zoom", f"zoom/meeting_{k}.csv", zh + f"8120000{k},Course,01/1{k}/2022 10:00:00 AM,,host@merseycare.nhs.uk,60,3,\n\n"
            + ",".join(c.ZOOM_PER_JOIN_HEADER) + "\n"
            + "".join(f"P {j},p{j}@example.org,01/1{k}/2022 10:0{j}:00 AM,01/1{k}/2022 10:5{j}:00 AM,50,No\n" for j in range(4)))
    for f in list(files[:3]) + [files[-1]]:  # byte-identical copies under new names
        copy = root / "resent" / f.rel_path
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f.path, copy)
        rel = PurePosixPath(f.rel_path.parts[0]) / "resent" / PurePosixPath(*f.rel_path.parts[1:])
        files.append(LandingFile(f.source, copy, rel))
    return files


RAW = ("visits", "zoom_meetings", "zoom_participants", "pathway_contacts", "pathway_prescriptions", "wellbeing_calls")


def _state(con) -> tuple:
    """The warehouse as content: raw rows without file_path/loaded_at, and the ledger per hash."""
    out = []
    for t in RAW:
        cols = [r[0] for r in con.execute(f"DESCRIBE raw.{t}").fetchall() if r[0] not in ("file_path", "loaded_at")]
        out.append(sorted(map(repr, con.execute(f"SELECT {', '.join(cols)} FROM raw.{t}").fetchall())))
    out.append(sorted(con.execute("SELECT file_sha256, status, coalesce(reason, ''), rows_read, rows_loaded, rows_rejected "
                                  "FROM ledger.files WHERE status <> 'duplicate'").fetchall()))
    out.append(con.execute("SELECT count(*) FROM ledger.files").fetchone())
    out.append(sorted(con.execute("SELECT file_sha256, line_number, reason FROM ledger.rejected_rows").fetchall()))
    return tuple(out)


def _ingest(files: list[LandingFile], batches: list[int]) -> tuple:
    con = duckdb.connect(":memory:")
    create_schema(con)
    cut = 0
    for size in batches + [len(files)]:
        chunk = files[cut:cut + size] if size else []
        cut += size
        for source in c.SOURCES:
            ingest_source(con, Path("/nonexistent"), source, P, files=[f for f in chunk if f.source == source])
        if cut >= len(files):
            break
    state = _state(con)
    con.close()
    return state


@pytest.fixture(scope="module")
def small_landing(tmp_path_factory):
    files = _small_landing(tmp_path_factory.mktemp("small-landing"))
    return files, _ingest(files, [])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_ingestion_is_invariant_to_order_batching_and_redelivery(small_landing, data):
    files, reference = small_landing
    order = data.draw(st.permutations(files))
    batches = data.draw(st.lists(st.integers(1, 6), max_size=4))
    assert _ingest(list(order), batches) == reference


# --- pipeline level: two runs, shuffled, with redeliveries -----------------------------------

@pytest.mark.slow
def test_pipeline_kpis_are_invariant_to_order_batching_and_redelivery(tmp_path):
    from pipelines.demo.generator import write_demo_landing
    from tests.support import kpis, outcomes

    src, landing, home = tmp_path / "src", tmp_path / "landing", tmp_path / "home"
    summary = write_demo_landing(src, seed=31, scale=0.01, years=3)
    files = sorted(p.relative_to(src) for p in src.rglob("*") if p.is_file())
    rnd = random.Random(31)
    rnd.shuffle(files)
    half = len(files) // 2
    for batch in (files[:half], files[half:]):
        for rel in batch:
            (landing / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, landing / rel)
        for rel in rnd.sample(files[:half], 25):  # redelivered under a new name, in both runs
            copy = landing / rel.parts[0] / "redelivered" / f"{rnd.randrange(10**9)}-{rel.name}"
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, copy)
        outcomes("run", "--landing", str(landing), "--home", str(home))

    got = kpis(home)
    want = {(y, k): (None if v is None else float(v)) for y, ks in summary["expected"].items() for k, v in ks.items()}
    assert got.keys() == want.keys()
    assert all(got[key] == pytest.approx(want[key], rel=1e-12) if want[key] is not None else got[key] is None
               for key in want), {key: (got[key], want[key]) for key in want if got[key] != want[key]}

    # pseudonyms across the two runs: every stored pseudonym is the home key's HMAC of its source row
    key = load_or_create_secret(home / "secret.key", create=False)
    p = Pseudonymiser(key)
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT file_path, line_number, service_user_pseudonym, run_id FROM raw.wellbeing_calls "
                           "JOIN ledger.files USING (file_path, file_sha256)").fetchall()
    assert len({r[3] for r in rows}) == 2  # loaded by both runs
    cache: dict[str, dict[int, str]] = {}
    for path, line, pseudonym, _ in rows:
        if path not in cache:
            text = (landing / path).read_bytes().decode("utf-8-sig")
            reader = csv.reader(io.StringIO(text, newline=""))
            header, cache[path] = next(reader), {}
            for fields in reader:
                cache[path][reader.line_num] = dict(zip(header, fields)).get("service_user_ref", "").strip()
        assert pseudonym == p.pseudonym("service_user", cache[path][line]), (path, line)


def test_sha256_is_the_identity_of_a_file(tmp_path):
    # the redelivery rule rests on it: same bytes, same identity, whatever the name or folder
    a, b = tmp_path / "a.csv", tmp_path / "sub" / "b.csv"
    b.parent.mkdir()
    a.write_bytes(b"x,y\n1,2\n")
    shutil.copyfile(a, b)
    fa = LandingFile("visits", a, PurePosixPath("visits/a.csv"))
    fb = LandingFile("visits", b, PurePosixPath("visits/sub/b.csv"))
    assert fa.read()[1] == fb.read()[1] == hashlib.sha256(b"x,y\n1,2\n").hexdigest()
