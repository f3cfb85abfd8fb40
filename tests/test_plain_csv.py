"""The DuckDB path for plain exports (pipelines/lib/plain_csv.py) loads exactly what the Python
parser loads: same rows, same values, same line numbers, same rejections and reasons."""
from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import duckdb
import pytest

from pipelines.demo.generator import write_demo_landing
from pipelines.lib import contracts as c
from pipelines.lib import ingest, plain_csv
from pipelines.lib.members import resolve_members
from pipelines.lib.pseudonym import Pseudonymiser
from pipelines.lib.warehouse import connect
from tests.test_reliability_corpus import build_corpus, write_corpus

P = Pseudonymiser(b"k" * 32)
TABLES = ["raw.visits", "raw.pathway_contacts", "raw.pathway_prescriptions", "raw.wellbeing_calls",
          "raw.zoom_meetings", "raw.zoom_participants", "raw.members", "ledger.rejected_rows", "ledger.files"]
SOURCES = ("visits", "pathways", "wellbeing_calls", "zoom", "reference", "members")
EXCLUDE = {"ledger.files": " EXCLUDE (loaded_at, run_id)", "ledger.rejected_rows": ""}  # the rest: loaded_at


def load(landing: Path, warehouse: Path, monkeypatch, *, plain: bool) -> None:
    monkeypatch.setenv(plain_csv.ENABLED_ENV, "1" if plain else "0")
    monkeypatch.setenv(plain_csv.ZOOM_ENABLED_ENV, "1" if plain else "0")
    with connect(warehouse) as con:
        for source in SOURCES:
            ingest.ingest_source(con, landing, source, P)
        resolve_members(con, landing, P)  # the register's postcode keys: DuckDB's or Python's


def differences(a: Path, b: Path) -> dict[str, tuple[int, int, int]]:
    """Per table: rows, rows only in a, rows only in b (load times aside)."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{a}' AS a (READ_ONLY); ATTACH '{b}' AS b (READ_ONLY)")
    out = {}
    for t in TABLES:
        ex = EXCLUDE.get(t, " EXCLUDE (loaded_at)")
        qa, qb = f"SELECT *{ex} FROM a.{t}", f"SELECT *{ex} FROM b.{t}"
        out[t] = tuple(con.execute(q).fetchone()[0] for q in (
            f"SELECT count(*) FROM a.{t}", f"SELECT count(*) FROM ({qa} EXCEPT ALL {qb})",
            f"SELECT count(*) FROM ({qb} EXCEPT ALL {qa})"))
    return out


def assert_same_load(landing: Path, tmp_path: Path, monkeypatch) -> dict:
    """Both loads at one load time: a future-dated row's reason quotes its load's minute, and two
    loads a second apart may straddle one (this test failed now and then before)."""
    loaded_at = ingest.utc_now()
    monkeypatch.setattr(ingest, "utc_now", lambda: loaded_at)
    load(landing, tmp_path / "plain.duckdb", monkeypatch, plain=True)
    load(landing, tmp_path / "python.duckdb", monkeypatch, plain=False)
    diff = differences(tmp_path / "plain.duckdb", tmp_path / "python.duckdb")
    assert all(only_a == only_b == 0 for _, only_a, only_b in diff.values()), f"rows, only plain, only Python: {diff}"
    return diff


@pytest.mark.slow
@pytest.mark.parametrize("statement_chars", [None, 50_000], ids=["whole", "in-pieces"])
def test_demo_exports_and_bad_input_corpus_load_identically(statement_chars, tmp_path, monkeypatch):
    """in-pieces: every file of more than 50,000 characters (the register) staged in pieces of whole lines, as a
    register export at 100x is (plain_csv.STATEMENT_CHARS)."""
    if statement_chars:
        monkeypatch.setattr(plain_csv, "STATEMENT_CHARS", statement_chars)
    landing = tmp_path / "landing"
    write_demo_landing(landing, scale=0.05, years=2)
    write_corpus(build_corpus(landing, datetime.now(timezone.utc).replace(tzinfo=None)), landing)
    diff = assert_same_load(landing, tmp_path, monkeypatch)
    assert diff["raw.visits"][0] > 1000 and diff["raw.wellbeing_calls"][0] > 500 and diff["ledger.rejected_rows"][0] > 20
    with duckdb.connect(str(tmp_path / "plain.duckdb"), read_only=True) as con:  # the personal field went through SQL
        assert con.execute("SELECT count(*) FROM raw.wellbeing_calls WHERE service_user_pseudonym IS NULL").fetchone()[0] \
            < diff["raw.wellbeing_calls"][0] / 10


# Field values that sit on either side of a strict pattern: each must give the Python parser's answer.
TRICKY = {
    "id": ["V1", "v-1.2/3:4_5", " V1", "V1 ", "=HYPERLINK(1)", "+1", "-1", "@x", "a b", "x" * 201, "x" * 5000,
           "é1", "\t1", ""],
    "site": ["WAL", "wal", "Wal", " WAL", "ſou", "XYZ", "", "BOO1"],
    "local": ["2021-04-01 09:05", "2021-04-01 09:05:07", "2021-04-01 9:05", "2021-02-30 10:00", "2021-04-01 24:00",
              "1999-12-31 23:59", "2000-01-01 00:00", "2099-12-31 23:59:59", "2100-01-01 00:00", "2021-04-01T09:05",
              "2021-04-01 09:05:60", " 2021-04-01 09:05", "2030-01-01 00:00", "２０２１-04-01 09:05", ""],
    "member": ["M12", "m12", "M", "M１２", "X12", " M12", "", "M-1"],
    "code": ["member", "MEMBER", "Member ", "drop_in", "DROP_IN", "unknown", "", "mеmber"],
    "date": ["2021-04-01", "2021-4-1", "2021-02-29", "2020-02-29", "1999-12-31", "2099-12-31", "2031-01-01", "", "x"],
    "instant": ["2022-04-18T07:25:28+01:00", "2022-04-18T07:25:28Z", "2022-04-18T07:25:28-23:59",
                "2022-04-18T00:10:00+01:00", "2000-01-01T00:30:00+01:00", "2022-04-18 07:25:28+01:00",
                "2022-04-18T07:25+01:00", "2022-04-18T07:25:28", "2022-04-18T07:25:28.5+01:00",
                "2022-04-18T07:25:28+0100", "2022-02-30T07:25:28Z", "2031-01-01T00:00:00Z", ""],
    "ref": ["DEMO0012001", "", " DEMO1", "DEMO1 ", "é1", "1é", "Jo Bloggs", "x" * 4097, "x" * 4096, "a\u00a0",
            "tab\tinside", "=1", "'quoted'", "ok)", "日本"],
    "number": ["0", "007", "123456789", "1234567890", "-1", "1.5", "", " 5", "٣", "1e3"],
    "text": ["Example Food Pantry", "", " padded", "café (demo).", "x" * 4097, "a\u00a0", "tab\tinside", "ok)",
             '"Citizens Advice, Bootle"', '"He said ""hi"""', '"plain quoted"', 'a"b', '"x" y', '" padded "', '""'],
    "postcode": ["L4 0TH", "l40th", "L4  0TH", " L4 0TH", "L4 0TH ", "L4", "l4", "", "SW1A 1AA", "sw1a1aa", "L4 0T",
                 "L4\u00a00TH", "L4\t0TH", "ZZ99 9ZZ", "LL4 0TH", "L44 0TH", "L4A 0TH", "4L 0TH", "L4 0TH X", "x" * 20,
                 "Ｌ4 0TH", "L1 8JQ", "L 4 0 T H", "EC1A1BB", "n/a", "N/A", " l40th ", "  ", "L4-0TH", "l4 0th!",
                 " sw1a 1aa  ", "L4 0TH\u00a0", "~L4 0TH", "l1 8jq" + " " * 10, "l1 8jq" + " " * 11,
                 " l4 ", "wa10", "SW1A ", "L 4"],
    "yob": ["1970", "1900", "1899", "2022", "2023", "", "70", "19701", " 1970", "１９７０", "0000", "197O"],
    "refcode": ["gp", "GP", "self", "", "other ", "carrier_pigeon", "voluntary_sector", "Mental_Health_Service", "ſelf"],
}
# postcodes the register's tricky values resolve to (the others: not_in_lookup or no full postcode)
LOOKUP = "pcds,lsoa11cd\nL4 0TH,E01000001\nSW1A 1AA,E01000002\nL1 8JQ,E01000003\nEC1A 1BB,E01000004\n"
COLUMNS = {
    "visits": (c.VISITS_HEADER, ["id", "site", "local", "member", "code", "code", "code"]),
    "contacts": (c.CONTACTS_HEADER, ["id", "id", "id", "site", "date", "code", "code", "instant"]),
    "prescriptions": (c.PRESCRIPTIONS_HEADER, ["id", "id", "code", "text", "date", "code", "instant"]),
    "wellbeing_calls": (c.WELLBEING_HEADER, ["id", "ref", "instant", "id", "code", "code", "number"]),
    "members": (c.MEMBERS_HEADER, ["member", "date", "postcode", "yob", "refcode"]),
}
FOLDER = {"visits": "visits", "contacts": "pathways", "prescriptions": "pathways", "wellbeing_calls": "wellbeing_calls",
          "members": "members"}
GOOD = {
    "visits": ["V{n}", "WAL", "2021-04-01 09:05", "M12", "member", "course", "ok"],
    "contacts": ["C{n}", "M1", "ADV1", "WAL", "2021-04-01", "phone", "attended", "2021-04-02T10:00:00+01:00"],
    "prescriptions": ["P{n}", "C1", "debt", "Example Food Pantry", "2021-04-01", "made", "2021-04-02T10:00:00Z"],
    "wellbeing_calls": ["W{n}", "DEMO{n}", "2021-04-01T12:03:23Z", "WB01", "outbound", "successful", "1489"],
    "members": ["M{n}", "2021-04-01", "L4 0TH", "1970", "gp"],
}
CODE_VALUES = {"visits": ["member", "course", "ok"], "contacts": ["phone", "attended"], "prescriptions": ["debt", "made"],
               "wellbeing_calls": ["outbound", "inbound", "successful", "VOICEMAIL"]}


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_random_tricky_fields_load_as_the_python_parser_loads_them(kind, tmp_path, monkeypatch):
    """Good rows with one or two fields swapped for a value near a strict pattern's edge; also
    blank lines, a whitespace-only line, short and long rows. 40 files of 30 rows per kind."""
    rng = random.Random(f"plain-{kind}")
    header, kinds = COLUMNS[kind]
    folder = tmp_path / "landing" / FOLDER[kind]
    folder.mkdir(parents=True)
    n = 0
    for i in range(40):
        lines = [",".join(header)]
        for _ in range(30):
            n += 1
            row = [v.format(n=n) for v in GOOD[kind]]
            for _ in range(rng.choice([0, 0, 1, 2])):
                col = rng.randrange(len(row))
                row[col] = rng.choice(TRICKY[kinds[col]] + (CODE_VALUES[kind] if kinds[col] == "code" else []))
            lines.append(",".join(row))
        if i % 7 == 3:
            lines.insert(rng.randrange(1, len(lines)), rng.choice(["", "   ", "V0,WAL", ",".join(GOOD[kind]) + ",x"]))
        # a register file's name is its export date (2022: a year of birth of 2023 is after it)
        name = f"members_2022{i // 28 + 3:02d}{i % 28 + 1:02d}.csv" if kind == "members" else f"{kind}_{i:02d}.csv"
        (folder / name).write_text("\n".join(lines) + ("\n" if i % 2 else ""))
    if kind == "members":
        (tmp_path / "landing" / "reference").mkdir()
        (tmp_path / "landing" / "reference" / "postcode_lsoa.csv").write_text(LOOKUP)
    diff = assert_same_load(tmp_path / "landing", tmp_path, monkeypatch)
    assert diff["ledger.rejected_rows"][0] > 100  # the tricky values did reach the rules
    if kind == "members":  # the keys did find the lookup's postcodes, and missed the others
        with duckdb.connect(str(tmp_path / "plain.duckdb"), read_only=True) as con:
            statuses = dict(con.execute("SELECT postcode_status, count(*) FROM raw.members GROUP BY 1").fetchall())
        assert statuses["resolved"] > 500 and statuses["not_in_lookup"] > 5 and statuses["partial"] > 5, statuses


def test_a_plain_file_with_one_bad_row_loads_the_rest_in_duckdb(tmp_path):
    """Only the line outside the strict patterns goes to the Python parser, at its own line number."""
    layout = plain_csv.LAYOUTS["visits"]
    text = ",".join(c.VISITS_HEADER) + "\r\nV1,WAL,2021-04-01 09:05,M1,member,course,ok\r\n" \
                                       "V2,XXX,2021-04-01 09:06,,guest,cafe,ok\r\nV3,sou,2021-04-01 09:07:30,m2,member,cafe,void\r\n"
    body = plain_csv.plain_body(text.encode(), layout)
    assert body is not None and "\r" not in body
    ledger = {"file_path": "visits/k.csv", "file_sha256": "0" * 64, "loaded_at": datetime(2021, 5, 1)}
    con = duckdb.connect()
    name, counts, others = plain_csv.stage(con, layout, [plain_csv.PlainFile(ledger, body, PurePosixPath("k.csv"), text.encode())])
    assert counts == {"visits/k.csv": 2} and others == {"visits/k.csv": {3: "V2,XXX,2021-04-01 09:06,,guest,cafe,ok"}}
    rows = con.execute(f"SELECT visit_id, site_code, signed_in_at, member_id, line_number FROM {name} WHERE ok "
                       "ORDER BY line_number").fetchall()
    assert rows == [("V1", "WAL", datetime(2021, 4, 1, 9, 5), "M1", 2), ("V3", "SOU", datetime(2021, 4, 1, 9, 7, 30), "M2", 4)]
    alone = plain_csv.with_only((",".join(layout.header),), others["visits/k.csv"]).decode().split("\n")
    assert alone == [",".join(c.VISITS_HEADER), "", "V2,XXX,2021-04-01 09:06,,guest,cafe,ok"]


def test_a_line_with_quoted_fields_goes_to_the_python_parser_and_the_rest_to_duckdb():
    """A line of whole quoted fields is one record: the Python parser's, alone at its line number."""
    layout = plain_csv.LAYOUTS["prescriptions"]
    text = (",".join(c.PRESCRIPTIONS_HEADER) + "\nP1,C1,debt,Example Food Pantry,2021-04-01,made,2021-04-02T10:00:00Z\n"
            'P2,C1,debt,"Citizens Advice, Bootle",2021-04-01,made,2021-04-02T10:00:00Z\n'
            "P3,C1,debt,Mockford Job Club,2021-04-01,made,2021-04-02T10:00:00Z\n")
    body = plain_csv.plain_body(text.encode(), layout)
    ledger = {"file_path": "pathways/prescriptions_1.csv", "file_sha256": "0" * 64, "loaded_at": datetime(2021, 5, 1)}
    _, counts, others = plain_csv.stage(duckdb.connect(), layout, [plain_csv.PlainFile(ledger, body, PurePosixPath("p.csv"), text.encode())])
    assert counts == {ledger["file_path"]: 2}
    assert others == {ledger["file_path"]: {3: 'P2,C1,debt,"Citizens Advice, Bootle",2021-04-01,made,2021-04-02T10:00:00Z'}}


@pytest.mark.parametrize("text", [
    # a quoted field across lines, or a quote opening a field after unquoted text: lines are not records
    ",".join(c.PRESCRIPTIONS_HEADER) + '\nP1,C1,debt,"Citizens Advice\nBootle",2021-04-01,made,2021-04-02T10:00:00Z\n',
    ",".join(c.PRESCRIPTIONS_HEADER) + '\nP1,C1,debt,Cafe"s,"x\ny",2021-04-01,made,2021-04-02T10:00:00Z\n',
])
def test_a_file_whose_quotes_span_lines_goes_to_the_python_parser(text):
    assert plain_csv.plain_body(text.encode(), plain_csv.LAYOUTS["prescriptions"]) is None


@pytest.mark.parametrize("text", [
    "site_code,visit_id,signed_in_at,member_id,visitor_type,purpose,status\nWAL,V1,2021-04-01 09:05,,guest,cafe,ok\n",
    "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n",
    "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\rV1,WAL,2021-04-01 09:05,,guest,cafe,ok\r",
])
def test_files_that_are_not_plain_go_to_the_python_parser(text):
    """Another column order, no rows, old-Mac line ends: the Python parser's cases."""
    assert plain_csv.plain_body(text.encode(), plain_csv.LAYOUTS["visits"]) is None


ZOOM_TRICKY = {
    "name": ["Kath T (Kathleen Trialworth)", "Jo B", "", " Jo", "Jo  B", "Jo B ", "O'Brien", "Jo (x) (y)", "(x)",
             "Zoë Smith", "İlker", "jo\tb", "Jo B (x", "x" * 4097, "x" * 4096, "A-B. C", "Jo B (a (b))", "JO b (X Y)"],
    "email": ["a@b.example", "", "A.B@MerseyCare.NHS.uk", " a@b.c", "a@b@c", "noatsign", "é@b.c", "a@b.c ", "=a@b.c",
              "x" * 4097 + "@b.c", "a@"],
    "time": ["01/12/2022 02:01:03 PM", "1/12/2022 2:01:03 PM", "01/12/2022 02:01 PM", "01/12/2022 02:01:03PM",
             "01/12/2022 12:00:00 AM", "01/12/2022 00:01:03 AM", "01/12/2022 13:01:03 PM", "02/30/2022 02:01:03 PM",
             "01/12/2031 02:01:03 PM", "01/12/1999 02:01:03 PM", "", "01/12/2022 02:01:03 pm", "2022-01-12 14:01"],
    "number": ["0", "", "115", "-5", "1.5", "1234567890", " 5", "٣"],
    "guest": ["Yes", "No", "", "yes", "NO", "maybe", "Yes ", "Nо"],
}
ZOOM_FORMS = {
    "per_join": (c.ZOOM_PER_JOIN_HEADER, ["name", "email", "time", "time", "number", "guest"],
                 ["Jo B (Jo Bloggs)", "jo{n}@example.com", "01/12/2022 02:01:03 PM", "01/12/2022 03:01:03 PM", "60", "Yes"]),
    "unique_users": (c.ZOOM_UNIQUE_USERS_HEADER, ["name", "email", "number", "guest"],
                     ["Jo B", "jo{n}@example.com", "60", "No"]),
}


@pytest.mark.parametrize("form", list(ZOOM_FORMS))
def test_random_zoom_reports_load_as_the_python_parser_loads_them(form, tmp_path, monkeypatch):
    """Zoom reports (both participant forms, extra columns, separator lines of commas, a bad
    meeting row now and then) with participants' fields near a strict pattern's edge. 40 files."""
    rng = random.Random(f"plain-zoom-{form}")
    header, kinds, good = ZOOM_FORMS[form]
    folder = tmp_path / "landing" / "zoom"
    folder.mkdir(parents=True)
    n = 0
    for i in range(40):
        start = "01/12/2022 02:00:00 PM" if i % 9 else rng.choice(["13/45/2022 02:00:00 PM", "01/12/2031 02:00:00 PM"])
        extra = rng.choice(["", ",", ",In Waiting Room"])
        lines = [",".join(c.ZOOM_MEETING_HEADER) + ",",
                 f"84805{i:06d},Topic {i},{start},01/12/2022 04:00:00 PM,host@merseycare.nhs.uk,120,30,",
                 rng.choice(["", ",,,,,,,,"]), ",".join(header) + extra]
        for _ in range(30):
            n += 1
            row = [v.format(n=n) for v in good]
            for _ in range(rng.choice([0, 0, 1, 2])):
                col = rng.randrange(len(row))
                row[col] = rng.choice(ZOOM_TRICKY[kinds[col]])
            lines.append(",".join(row) + rng.choice(["", ",", ",No", ",,"]))
        if i % 5 == 2:
            lines.insert(rng.randrange(5, len(lines)), rng.choice(["", "   ", ",,,", "Jo B,jo@example.com", ",,,,,,"]))
        (folder / f"participants_{i:02d}.csv").write_text("\n".join(lines) + ("\n" if i % 2 else ""))
    diff = assert_same_load(tmp_path / "landing", tmp_path, monkeypatch)
    assert diff["ledger.rejected_rows"][0] > 100 and diff["raw.zoom_participants"][0] > 600


def test_a_plain_zoom_report_is_parsed_in_duckdb_with_its_meeting_from_python():
    """The head (meeting) is parsed in Python, the participants in DuckDB, pseudonymised with the key."""
    text = ("\ufeffMeeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,\n"
            "848 0548 7435,Drop-in,04/09/2020 10:32:31 AM,04/09/2020 12:33:47 PM,host@merseycare.nhs.uk,122,2,\n"
            ",,,,,,,,\nName (Original Name),User Email,Total Duration (Minutes),Guest,In Waiting Room\n"
            "Jo B (Joanne Bloggs),Jo@Example.com,113,Yes,No\nKit  R,,5,no,\n").encode()
    ledger = {"file_path": "zoom/z.csv", "file_sha256": "0" * 64, "loaded_at": datetime(2021, 5, 1)}
    layout, f = plain_csv.zoom_plain(text, PurePosixPath("z.csv"), P, datetime(2021, 5, 1), ledger)
    assert layout is plain_csv.ZOOM_LAYOUTS["unique_users"] and f.per_file["meeting_id"] == "84805487435"
    con = duckdb.connect()
    name, counts, others = plain_csv.stage(con, layout, [f], P)
    assert counts == {"zoom/z.csv": 1} and others == {"zoom/z.csv": {6: "Kit  R,,5,no,"}}  # two spaces: Python's
    assert con.execute(f"SELECT meeting_id, start_time, email_pseudonym, email_domain, name_pseudonym, duration_minutes, "
                       f"guest, line_number FROM {name} WHERE ok").fetchall() == [
        ("84805487435", datetime(2020, 4, 9, 10, 32, 31), P.pseudonym("email", "jo@example.com"), "example.com",
         P.pseudonym("name", "jo b"), 113, True, 5)]
    assert plain_csv.zoom_plain(text.replace(b",,,,,,,,", b"x"), PurePosixPath("z.csv"), P, datetime(2021, 5, 1), ledger) is None


@pytest.mark.parametrize("body", ["a\nbb\nccc", "a\n\n\nb", "x" * 25 + "\nb\n" + "y" * 3, "\n\na", "a\n", "abc"])
@pytest.mark.parametrize("most", [1, 2, 4, 10, 100])
def test_a_body_in_pieces_is_its_lines_each_at_its_own_number(body, most):
    f = plain_csv.PlainFile({"file_path": "v.csv"}, body, PurePosixPath("v.csv"), b"")
    lines = [(n, line) for _, piece, first in plain_csv._pieces(f, most)
             for n, line in enumerate(piece.split("\n"), start=first)]
    assert lines == list(enumerate(body.split("\n"), start=2))  # line 1 is the header
    pieces = [piece for _, piece, _ in plain_csv._pieces(f, most)]
    assert all(len(p) <= most or "\n" not in p.strip("\n") for p in pieces)  # longer only for one long line
    groups = list(plain_csv._statements([f, f], most))
    assert [p for g in groups for _, p, _ in g] == pieces + pieces
