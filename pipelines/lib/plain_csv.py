"""Plain exports parsed in bulk by DuckDB instead of row by row in Python.

Most exports are plain: UTF-8, the contract's header exactly, and no record across lines. For
those, line N of the file is element N of its lines and, on a line without quotes, a field is
just the text between commas, so DuckDB can split, type and check a whole batch of files in
one statement. Each column has a strict pattern that accepts a subset of what the Python parser
accepts (pipelines.lib.parsers) and yields the same typed value; any other row (a line with
quotes too: a prescription's `referred_to` with a comma) is parsed by the Python parser, alone
at its own line number (with_only), so rejections and their reasons have one implementation.
Equivalence is tested on the demo exports and the bad-input corpus (tests/test_plain_csv.py).
Personal fields (a wellbeing call's service_user_ref) are pseudonymised in SQL with the home's
key (pseudonym.sql_pseudonym, the same HMAC as Python's); as are Zoom participants' e-mails and
display names: only pseudonyms reach raw.*.
A Zoom report's head (its meeting: lines 1-4) is parsed by the Python parser, its participants
here (zoom_plain).
A register export's postcodes are normalised and keyed here too (postcode_key: read by
pipelines.lib.members to resolve the LSOA, never inserted); its export date comes from its name.
"""
from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath

import duckdb
import pandas as pd

from pipelines.lib import contracts as c
from pipelines.lib.outcome_parsers import export_date_of
from pipelines.lib.parsers import LONDON, MAX_VALUE_CHARS, MIN_DATE, MAX_DATE, LoadTime, Quarantine, decode, parse_file
from pipelines.lib.pseudonym import Pseudonymiser, sql_pseudonym

ENABLED_ENV = "OUTCOMES_PLAIN_CSV"


def enabled() -> bool:
    """OUTCOMES_PLAIN_CSV=0: every file through the Python parser. Read at each use, not at import."""
    return os.environ.get(ENABLED_ENV, "1") != "0"


ZOOM_ENABLED_ENV = "OUTCOMES_PLAIN_ZOOM"


def zoom_enabled() -> bool:
    """Zoom reports' participants in DuckDB (zoom_plain) unless OUTCOMES_PLAIN_ZOOM=0; the plain
    path itself (enabled) is checked by the caller. Read at each use, not at import."""
    return os.environ.get(ZOOM_ENABLED_ENV, "1") != "0"


BATCH_ROWS = 500_000  # rows of plain files split in one statement

ID = r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}"  # a strict identifier: no formula start, no control or space
YEARS = f"BETWEEN {MIN_DATE.year} AND {MAX_DATE.year}"


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in sorted(values)) + ")"


# Column kinds: (value expression, strict condition) over the field `{x}`. The condition
# implies the Python parser accepts the field and produces exactly the value expression.
def identifier():
    return "{x}", f"regexp_full_match({{x}}, '{ID}')"


def optional_identifier(upper: bool = False):
    value = "upper({x})" if upper else "{x}"
    return f"nullif({value}, '')", f"({{x}} = '' OR regexp_full_match({{x}}, '{ID}'))"


def code(allowed, upper: bool = False):
    norm = "upper({x})" if upper else "lower({x})"
    return norm, f"regexp_full_match({{x}}, '[A-Za-z_]+') AND {norm} IN {_in(allowed)}"


def member_id():
    return "nullif(upper({x}), '')", "({x} = '' OR regexp_full_match({x}, '[Mm][0-9]+'))"


def required_member_id():
    """The register's member_id: required (outcome_parsers.member_id)."""
    return "upper({x})", "regexp_full_match({x}, '[Mm][0-9]+')"


def optional_code(allowed):
    return "CASE WHEN {x} <> '' THEN lower({x}) END", \
        f"({{x}} = '' OR (regexp_full_match({{x}}, '[A-Za-z_]+') AND lower({{x}}) IN {_in(allowed)}))"


# outcome_parsers.normalise_postcode on plain values (printable ASCII but the quote: their only
# white space is the space, which Python's strip() and split() drop as replace() does, and upper()
# is ASCII's in both; "n/a" and " l156wy " are 7% of a 100x register's rows, once parsed in Python):
# a full postcode is an outward code and a 3-character inward code ([0-9][A-Z]{2}), which fixes
# where the space goes.
POSTCODE = "upper(replace({x}, ' ', ''))"
OUTWARD = "[A-Z]{1,2}[0-9][A-Z0-9]?"
PLAIN_POSTCODE = "strlen({x}) <= 16 AND regexp_full_match({x}, '[ -!#-~]*')"


def postcode_status():
    """The pre-resolution status (outcome_parsers.PRE_STATUSES)."""
    return (f"CASE WHEN {POSTCODE} = '' THEN 'empty' WHEN regexp_full_match({POSTCODE}, '{OUTWARD}[0-9][A-Z][A-Z]') "
            f"THEN 'unresolved' WHEN regexp_full_match({POSTCODE}, '{OUTWARD}') THEN 'partial' ELSE 'unrecognised' END",
            PLAIN_POSTCODE)


def postcode_key():
    """outcome_parsers.postcode_key of a full postcode (`L4 0TH`), else none."""
    normalised = f"left({POSTCODE}, strlen({POSTCODE}) - 3) || ' ' || right({POSTCODE}, 3)"
    return (f"CASE WHEN regexp_full_match({POSTCODE}, '{OUTWARD}[0-9][A-Z][A-Z]') THEN "
            f"{sql_pseudonym('postcode', normalised)} END", PLAIN_POSTCODE)


def free_text():
    """Kept as given (parsers.optional): strict edges, so that Python's strip() changes nothing."""
    return "nullif({x}, '')", (f"({{x}} = '' OR (strlen({{x}}) <= {MAX_VALUE_CHARS} AND "
                               r"regexp_full_match({x}, '[A-Za-z0-9]([^\x00-\x1f\x7f]*[A-Za-z0-9.)])?')))")


def pseudonym(kind: str):
    """A personal value, pseudonymised: strict edges (Python's strip() changes nothing), no
    control characters, within the length limit; empty gives no pseudonym, as in Python."""
    return sql_pseudonym(kind, "{x}"), (f"({{x}} = '' OR (strlen({{x}}) <= {MAX_VALUE_CHARS} AND "
                                        r"regexp_full_match({x}, '[A-Za-z0-9]([^\x00-\x1f\x7f]*[A-Za-z0-9])?')))")


def email_pseudonym():
    """An e-mail as Python's email_parts takes it: ASCII, one @, lower-cased; empty: none."""
    return sql_pseudonym("email", "lower({x})"), (f"strlen({{x}}) <= {MAX_VALUE_CHARS} AND "
                                                  "regexp_full_match({x}, '([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+)?')")


def email_domain():
    return "CASE WHEN {x} <> '' THEN lower(split_part({x}, '@', 2)) END", "true"


def display_name_pseudonym():
    """parsers.display_name_key on plain names: words of ASCII letters, digits, dots and hyphens
    apart by one space, then at most one parenthesised original name (dropped), lower-cased."""
    key = r"lower(regexp_replace({x}, ' \([^()]*\)$', ''))"
    return sql_pseudonym("name", key), (f"strlen({{x}}) <= {MAX_VALUE_CHARS} AND " +
                                        r"regexp_full_match({x}, '([A-Za-z][A-Za-z0-9.-]*( [A-Za-z0-9.-]+)*( \([A-Za-z0-9. -]*\))?)?')")


def zoom_time():
    """Zoom's `MM/DD/YYYY hh:mm:ss AM/PM` written exactly so, or empty; London time, not after the
    file was loaded."""
    fmt = "'%m/%d/%Y %I:%M:%S %p'"
    value = f"try_strptime({{x}}, {fmt})"
    return f"CASE WHEN {{x}} <> '' THEN {value} END", (
        f"({{x}} = '' OR (strftime({value}, {fmt}) = {{x}} AND year({value}) {YEARS} AND {value} <= loaded_london))")


def optional_whole_number():
    return "TRY_CAST(nullif({x}, '') AS INTEGER)", "regexp_full_match({x}, '([0-9]{1,9})?')"


def guest():
    return "CASE lower({x}) WHEN 'yes' THEN true WHEN 'no' THEN false END", "regexp_full_match({x}, '([Yy][Ee][Ss]|[Nn][Oo])?')"


def whole_number():
    """Digits only, few enough for an INTEGER column (longer ones: the Python parser)."""
    return "TRY_CAST({x} AS INTEGER)", "regexp_full_match({x}, '[0-9]{1,9}')"


def local_time():
    """`YYYY-MM-DD HH:MM[:SS]`, London time, not after the file was loaded (in London time)."""
    value = "coalesce(try_strptime({x}, '%Y-%m-%d %H:%M:%S'), try_strptime({x}, '%Y-%m-%d %H:%M'))"
    return value, (f"(strftime({value}, '%Y-%m-%d %H:%M:%S') = {{x}} OR strftime({value}, '%Y-%m-%d %H:%M') = {{x}}) "
                   f"AND year({value}) {YEARS} AND {value} <= loaded_london")


def iso_date():
    value = "try_strptime({x}, '%Y-%m-%d')::DATE"
    return value, f"strftime({value}, '%Y-%m-%d') = {{x}} AND year({value}) {YEARS} AND {value} <= loaded_london::DATE"


def instant_with_offset():
    """ISO 8601 with seconds and a UTC offset (or Z), as naive UTC, not after loaded_at (UTC)."""
    local = "try_strptime(left({x}, 19), '%Y-%m-%dT%H:%M:%S')"
    offset = ("CASE WHEN right({x}, 1) = 'Z' THEN 0 ELSE (CASE substr({x}, 20, 1) WHEN '-' THEN -1 ELSE 1 END) * "
              "(TRY_CAST(substr({x}, 21, 2) AS INTEGER) * 60 + TRY_CAST(substr({x}, 24, 2) AS INTEGER)) END")
    value = f"({local} - to_minutes({offset}))"
    return value, (r"regexp_full_match({x}, '\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})') AND "
                   f"strftime({local}, '%Y-%m-%dT%H:%M:%S') = left({{x}}, 19) AND year({value}) {YEARS} "
                   f"AND {value} <= loaded_at")


@dataclass(frozen=True, eq=False)
class Layout:
    table: str
    header: tuple[str, ...]
    columns: dict[str, tuple[str, str]]  # raw table column -> (value, condition), in header order
    # Zoom: a raw column may read another header field than its position's ({x} is that field),
    # per-file values (the meeting's) are columns of their own, a row may have more fields than
    # the contract's (as the Python parser allows), and may need a condition over several fields.
    reads: dict[str, str] | None = None  # raw column -> the header field it reads
    per_file: dict[str, str] | None = None  # raw column -> SQL over the file's own values
    extra_fields: bool = False
    row_check: str = "true"  # over {Header Field} placeholders
    staged_only: tuple[str, ...] = ()  # columns for the caller, not inserted (the register's postcode_key)


LAYOUTS = {
    "visits": Layout("visits", c.VISITS_HEADER, {
        "visit_id": identifier(), "site_code": code(c.SITE_CODES, upper=True), "signed_in_at": local_time(),
        "member_id": member_id(), "visitor_type": code(c.VISITOR_TYPES), "purpose": code(c.PURPOSES),
        "status": code(c.VISIT_STATUSES)}),
    "contacts": Layout("pathway_contacts", c.CONTACTS_HEADER, {
        "contact_id": identifier(), "member_id": optional_identifier(), "advisor_id": optional_identifier(),
        "site_code": optional_identifier(upper=True), "contact_date": iso_date(), "mode": code(c.CONTACT_MODES),
        "outcome": code(c.CONTACT_OUTCOMES), "updated_at": instant_with_offset()}),
    "prescriptions": Layout("pathway_prescriptions", c.PRESCRIPTIONS_HEADER, {
        "prescription_id": identifier(), "contact_id": identifier(), "category": code(c.PRESCRIPTION_CATEGORIES),
        "referred_to": free_text(), "created_date": iso_date(), "status": code(c.PRESCRIPTION_STATUSES),
        "updated_at": instant_with_offset()}),
    "wellbeing_calls": Layout("wellbeing_calls", c.WELLBEING_HEADER, {
        "call_id": identifier(), "service_user_pseudonym": pseudonym("service_user"),
        "call_started_at_utc": instant_with_offset(), "staff_id": optional_identifier(),
        "direction": code(c.CALL_DIRECTIONS), "outcome": code(c.CALL_OUTCOMES), "duration_seconds": whole_number()}),
    # the register: registered_on not after the export date, year_of_birth (checked, never
    # stored) four digits from 1900 to the export year or empty (outcome_parsers.parse_members)
    "members": Layout("members", c.MEMBERS_HEADER, {
        "member_id": required_member_id(), "registered_on": iso_date(), "postcode_status": postcode_status(),
        "postcode_key": postcode_key(), "referral_source": optional_code(c.REFERRAL_SOURCES)},
        reads={"member_id": "member_id", "registered_on": "registered_on", "postcode_status": "postcode",
               "postcode_key": "postcode", "referral_source": "referral_source"},
        per_file={"export_date": "export_date::DATE"},
        row_check=("try_strptime({registered_on}, '%Y-%m-%d')::DATE <= export_date::DATE AND ({year_of_birth} = '' OR "
                   "(regexp_full_match({year_of_birth}, '[0-9]{4}') AND "
                   "TRY_CAST({year_of_birth} AS INTEGER) BETWEEN 1900 AND year(export_date::DATE)))"),
        staged_only=("postcode_key",)),
}
ZOOM_PARTICIPANTS = {"email_pseudonym": email_pseudonym(), "email_domain": email_domain(),
                     "name_pseudonym": display_name_pseudonym()}
ZOOM_READS = {"email_pseudonym": "User Email", "email_domain": "User Email", "name_pseudonym": "Name (Original Name)"}
ZOOM_COLUMNS = {*c.ZOOM_PER_JOIN_HEADER, *c.ZOOM_UNIQUE_USERS_HEADER}
ZOOM_ROW = "NOT ({User Email} = '' AND {Name (Original Name)} = '')"  # someone must be identifiable
ZOOM_LAYOUTS = {
    "per_join": Layout(
        "zoom_participants", c.ZOOM_PER_JOIN_HEADER,
        {**ZOOM_PARTICIPANTS, "join_time": zoom_time(), "leave_time": zoom_time(),
         "duration_minutes": optional_whole_number(), "guest": guest()},
        reads={**ZOOM_READS, "join_time": "Join Time", "leave_time": "Leave Time",
               "duration_minutes": "Duration (Minutes)", "guest": "Guest"},
        per_file={"meeting_id": "meeting_id", "start_time": "start_time"}, extra_fields=True, row_check=ZOOM_ROW),
    "unique_users": Layout(
        "zoom_participants", c.ZOOM_UNIQUE_USERS_HEADER,
        {**ZOOM_PARTICIPANTS, "duration_minutes": optional_whole_number(), "guest": guest()},
        reads={**ZOOM_READS, "duration_minutes": "Total Duration (Minutes)", "guest": "Guest"},
        per_file={"meeting_id": "meeting_id", "start_time": "start_time", "join_time": "NULL::TIMESTAMP",
                  "leave_time": "NULL::TIMESTAMP"}, extra_fields=True, row_check=ZOOM_ROW),
}


def layout_of(source: str, path: PurePosixPath) -> Layout | None:
    """The layout of a file without a block structure; Zoom's: zoom_plain."""
    if source in ("visits", "wellbeing_calls", "members"):
        return LAYOUTS[source]
    if source == "pathways":
        name = path.name.lower()
        return LAYOUTS["contacts"] if name.startswith("contacts") else \
            LAYOUTS["prescriptions"] if name.startswith("prescriptions") else None
    return None


def per_file_values(source: str, rel_path: PurePosixPath, loaded_at: datetime) -> dict | None:
    """The layout's per-file values from the file's name (a register's export date), or None when
    the Python parser must judge the file (a name it quarantines)."""
    if source != "members":
        return {}
    try:
        return {"export_date": export_date_of(rel_path, LoadTime(loaded_at))}
    except Quarantine:
        return None


def plain_file(source: str, rel_path: PurePosixPath, data: bytes, ledger: dict) -> tuple[Layout, PlainFile] | None:
    """The layout and PlainFile of a file without a block structure (Zoom's: zoom_plain) if DuckDB
    can parse it, else None (the Python parser's)."""
    layout = layout_of(source, rel_path)
    body = plain_body(data, layout) if layout else None
    per_file = per_file_values(source, rel_path, ledger["loaded_at"]) if body is not None else None
    return None if per_file is None else (layout, PlainFile(ledger, body, rel_path, data, per_file=per_file))


# A line of whole CSV fields, some quoted (`"..."`, a quote inside doubled): Python's csv reads
# it as one record, so a line holding quotes can be left to the Python parser alone (stage).
QUOTED_LINE = re.compile(r'(?:[^,"]*|"(?:[^"]|"")*")(?:,(?:[^,"]*|"(?:[^"]|"")*"))*')


def plain_text(data: bytes) -> str | None:
    """The file's text with LF line ends, if it decodes, has no lone CR, and every line with a
    quote is whole quoted fields (QUOTED_LINE: no field spans lines, so each line is one record);
    None sends it to the Python parser."""
    try:
        text = decode(data)
    except Quarantine:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    if '"' in text and not all(QUOTED_LINE.fullmatch(line) for line in text.split("\n") if '"' in line):
        return None
    return text


def plain_body(data: bytes, layout: Layout) -> str | None:
    """The file's data lines joined by LF, if the file is plain; None sends it to the Python parser."""
    text = plain_text(data)
    if text is None:
        return None
    start = text.find("\n") + 1
    if not start or text[:start - 1] != ",".join(layout.header):
        return None
    # one copy of the data lines (a register export at 100x: 178 MB of text, held as bytes too)
    body = text[start:len(text) - 1 if text.endswith("\n") else len(text)]
    return body or None


@dataclass
class PlainFile:
    ledger: dict  # the ledger entry (file_path, file_sha256, loaded_at, ...)
    body: str
    rel_path: PurePosixPath
    data: bytes  # the file, should it have to be judged whole by the Python parser
    head: tuple[str, ...] = ()  # the lines before the body (default: the layout's header)
    per_file: dict = field(default_factory=dict)  # the values of the layout's per-file columns
    parse_head: bool = False  # the Python parser reads the head too (Zoom's meeting row)


def zoom_plain(data: bytes, rel_path: PurePosixPath, p: Pseudonymiser, loaded_at: datetime,
               ledger: dict) -> tuple[Layout, PlainFile] | None:
    """A Zoom report is plain when it has no quotes, line 3 is blank (or commas) and line 4 is a
    participant header starting with one form's contract columns (other columns may follow),
    and participants follow. The head (lines 1-4: the meeting) is parsed by the Python parser
    alone, so a bad one is judged as the whole file would be; the participants in DuckDB, any
    number of fields at or past the contract's columns (extra columns are allowed)."""
    text = plain_text(data)
    if text is None:
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) < 5 or lines[2].replace(",", "").strip():
        return None
    names = lines[3].split(",")
    form = next((f for f, lay in ZOOM_LAYOUTS.items() if tuple(names[:len(lay.header)]) == lay.header), None)
    if form is None or set(names[len(ZOOM_LAYOUTS[form].header):]) & ZOOM_COLUMNS:
        return None  # a contract column twice, or the other form's: the Python parser's to judge
    head = tuple(lines[:4])
    try:
        parsed = parse_file("zoom", "\n".join(head).encode(), rel_path, p, loaded_at=loaded_at)
    except Quarantine:
        return None
    meeting = parsed.tables["zoom_meetings"][0]
    if meeting["participant_form"] != form:
        return None
    return ZOOM_LAYOUTS[form], PlainFile(ledger, "\n".join(lines[4:]), rel_path, data, head=head,
                                         per_file={"meeting_id": meeting["meeting_id"],
                                                   "start_time": meeting["start_time"]}, parse_head=True)


_names = itertools.count()
# Text of plain files split in one statement: a register export at 100x (178 MB, 3.7 M lines) is
# staged in pieces of whole lines, so that no statement holds a whole large file's lines at once.
STATEMENT_CHARS = 32 * 2**20


def _pieces(f: PlainFile, most: int) -> Iterator[tuple[PlainFile, str, int]]:
    """(the file, a piece of its body of whole lines, at most `most` characters unless one line
    is longer, the piece's first line number)."""
    body, start, line = f.body, 0, len(f.head) + 1 if f.head else 2
    while True:
        end = len(body) if len(body) - start <= most else body.rfind("\n", start, start + most + 1)
        if end <= start:  # one line longer than `most`: the piece is that line
            end = body.find("\n", start + 1)
            end = len(body) if end < 0 else end
        piece = body if start == 0 and end == len(body) else body[start:end]
        yield f, piece, line
        if end >= len(body):
            return
        line += piece.count("\n") + 1
        start = end + 1


def _statements(files: list[PlainFile], most: int | None = None) -> Iterator[list[tuple[PlainFile, str, int]]]:
    """The files' pieces grouped into statements of at most `most` characters (STATEMENT_CHARS)."""
    most = STATEMENT_CHARS if most is None else most
    group, size = [], 0
    for f in files:
        for piece in _pieces(f, most):
            if group and size + len(piece[1]) > most:
                yield group
                group, size = [], 0
            group.append(piece)
            size += len(piece[1])
    if group:
        yield group


def stage(con: duckdb.DuckDBPyConnection, layout: Layout, files: list[PlainFile],
          p: Pseudonymiser | None = None) -> tuple[str, dict[str, int], dict]:
    """Split, type and check `files` into a temporary table; nothing is written to the warehouse's
    tables. `p`: the home's key, for layouts with personal fields. Returns its name, the rows that passed by file_path, and by file_path the lines that
    did not ({line_number: text}), for the Python parser."""
    name = f"_plain_{layout.table}_{next(_names)}"
    per_file = sorted({k for f in files for k in f.per_file})
    width = len(layout.header)
    position = {h: f"f[{i + 1}]" for i, h in enumerate(layout.header)}
    fields = {col: position[(layout.reads or {}).get(col, layout.header[i] if i < width else "")]
              for i, col in enumerate(layout.columns)}
    values = ",\n    ".join([f"{v.replace('{x}', fields[col])} AS {col}" for col, (v, _) in layout.columns.items()]
                              + [f"{v} AS {col}" for col, v in (layout.per_file or {}).items()])
    checks = " AND ".join(f"coalesce({cond.replace('{x}', fields[col])}, false)"
                          for col, (_, cond) in layout.columns.items())
    row_check = layout.row_check
    for h, f in position.items():
        row_check = row_check.replace("{" + h + "}", f)
    shape = f"len(f) >= {width}" if layout.extra_fields else f"len(f) = {width}"
    pads = p.hmac_pads() if p is not None else (b"", b"")
    query = f"""
WITH lines AS (
    SELECT * EXCLUDE (body, lines, first_line),
           unnest(generate_series(first_line, first_line + len(lines) - 1)) AS line_number, unnest(lines) AS line
    FROM (SELECT *, string_split(body, chr(10)) AS lines FROM _plain_files)
),
split AS (SELECT *, string_split(line, ',') AS f FROM lines, (SELECT ?::BLOB AS ipad, ?::BLOB AS opad))
SELECT {values},
    file_path, line_number::INTEGER AS line_number, file_sha256, loaded_at,
    ({shape}) AND {checks} AND coalesce({row_check}, false) AND NOT contains(line, '"') AS ok,
    CASE WHEN NOT ok THEN line END AS line
FROM split"""
    for number, group in enumerate(_statements(files)):
        frame = pd.DataFrame({
            "file_path": [f.ledger["file_path"] for f, _, _ in group],
            "file_sha256": [f.ledger["file_sha256"] for f, _, _ in group],
            "loaded_at": [f.ledger["loaded_at"] for f, _, _ in group],
            "loaded_london": [london(f.ledger["loaded_at"]) for f, _, _ in group],
            "first_line": [first for _, _, first in group],
            "body": [body for _, body, _ in group],
            **{k: [f.per_file[k] for f, _, _ in group] for k in per_file},
        })
        con.register("_plain_files", frame)
        try:
            con.execute((f"CREATE TEMP TABLE {name} AS" if number == 0 else f"INSERT INTO {name}") + query, list(pads))
        finally:
            con.unregister("_plain_files")
        del frame
    counts = dict(con.execute(f"SELECT file_path, count(*) FILTER (ok) FROM {name} GROUP BY 1").fetchall())
    others: dict[str, dict[int, str]] = {}
    for path, line_number, line in con.execute(f"SELECT file_path, line_number, line FROM {name} WHERE NOT ok").fetchall():
        others.setdefault(path, {})[line_number] = line
    return name, counts, others


def with_only(head: tuple[str, ...], lines: dict[int, str]) -> bytes:
    """A file of its head (the header line, or Zoom's four lines) and `lines` at their own line
    numbers, every other line blank: what the Python parser makes of it is what it makes of
    those lines in the whole plain file (each line one record, no state between records, blank
    lines skipped but counted)."""
    out = list(head) + [""] * (max(lines, default=0) - len(head))
    for number, line in lines.items():
        out[number - 1] = line
    return "\n".join(out).encode()


def london(utc: datetime) -> datetime:
    return utc.replace(tzinfo=timezone.utc).astimezone(LONDON).replace(tzinfo=None)


def insert_staged(con: duckdb.DuckDBPyConnection, layout: Layout, name: str) -> None:
    dropped = ", ".join(("ok", "line", *layout.staged_only))
    con.execute(f"INSERT INTO raw.{layout.table} BY NAME SELECT * EXCLUDE ({dropped}) FROM {name} WHERE ok")
