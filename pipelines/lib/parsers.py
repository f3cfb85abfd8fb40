"""Parse one export file's bytes against its contract.

Each parser returns a `Parsed`: typed rows per raw table (personal fields already replaced
by pseudonyms), the rejected rows as (line number, reason), and rows read. A file that
cannot be trusted as a whole (undecodable, wrong header) raises `Quarantine`.

Rows are counted as records: a line with no content at all is not a row. The line number of
a row is the physical line (1-based, header = 1) on which its record starts.

Bad input never raises anything but `Quarantine` (whole file) or becomes a rejected row: binary
or non-UTF-8 bytes, broken quoting, truncated lines, huge fields, dates outside 2000..2099 or
after the file was loaded (`loaded_at`), negative numbers, unknown codes and identifiers that
look like spreadsheet formulas all have a reason of their own (tests/test_reliability_corpus.py).
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import PurePosixPath
from zoneinfo import ZoneInfo

from pipelines.lib import contracts as c
from pipelines.lib.pseudonym import Pseudonymiser

CSV_FIELD_LIMIT = 10_000_000  # characters: past this the csv module stops (an unterminated quote?)
csv.field_size_limit(CSV_FIELD_LIMIT)
MAX_VALUE_CHARS = 4096  # a value of a contract column longer than this is no value of these exports
LONDON = ZoneInfo("Europe/London")


# Sources whose rows hold personal data: their rejection reasons never quote a value, since a
# shifted column could put a name or e-mail where a date was expected.
PERSONAL_SOURCES = frozenset({"zoom", "wellbeing_calls"})
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


class Quarantine(Exception):
    """The whole file is refused; the message is the recorded reason."""


class RowError(Exception):
    """One row breaks a row rule; the message is the recorded reason."""


@dataclass
class Parsed:
    tables: dict[str, list[dict]] = field(default_factory=dict)
    rejects: list[tuple[int, str]] = field(default_factory=list)
    rows_read: int = 0

    @property
    def rows_loaded(self) -> int:
        return sum(len(rows) for rows in self.tables.values())


# --- text and CSV ---------------------------------------------------------------------------

# Files people save by mistake instead of the CSV export: named in the quarantine reason.
BINARY_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive, e.g. an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls / Office file"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)


def decode(data: bytes) -> str:
    """UTF-8 with or without a byte-order mark; anything else is quarantined, not guessed."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Quarantine("UTF-16 text (Excel 'Unicode Text'?), not UTF-8: re-export as CSV UTF-8")
    for signature, what in BINARY_SIGNATURES:
        if data.startswith(signature):
            raise Quarantine(f"binary content ({what}): not a CSV export")
    if b"\x00" in data:
        raise Quarantine("binary content (NUL bytes): not a CSV export")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise Quarantine(f"not valid UTF-8 (line {line}, byte {exc.start}; Latin-1 or Windows-1252?): "
                         "re-export as UTF-8") from None


def held_rows(source: str, data: bytes) -> int:
    """The data rows a file holds, counted without parsing it, for a quarantined file's ledger entry:
    lines after the first (the header) that hold more than blanks and commas; in a Zoom file the
    participant header line is not a row either. Text in a wrong encoding is counted too (UTF-16
    decoded, other bytes line by line); binary content holds no rows to count: 0. A quoted
    field spanning lines counts each line."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    elif b"\x00" in data or data.startswith(tuple(signature for signature, _ in BINARY_SIGNATURES)):
        return 0
    else:
        text = data.decode("utf-8", errors="replace")
    rows = [ln for ln in (ln.strip(" \t\r,") for ln in text.split("\n")[1:]) if ln]
    if source == "zoom":
        rows = [ln for ln in rows if not ln.startswith("Name (Original Name)")]
    return len(rows)


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the physical line number each starts on (LF or CRLF)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for fields in reader:
            yield start, fields
            start = reader.line_num + 1
    except csv.Error as exc:
        msg = str(exc)
        if "unexpected end of data" in msg:
            raise Quarantine(f"malformed CSV: unterminated quoted field in the record starting on line {start} "
                             "(a quote is opened and never closed)") from None
        if "field larger than field limit" in msg:
            raise Quarantine(f"malformed CSV: a field longer than {CSV_FIELD_LIMIT:,} characters in the record "
                             f"starting on line {start} (an unterminated quote?)") from None
        raise Quarantine(f"malformed CSV near line {start}: {exc}") from None


def is_blank(fields: Sequence[str]) -> bool:
    return all(not f.strip() for f in fields)


def strip_trailing_empty(fields: Sequence[str]) -> list[str]:
    out = [f.strip() for f in fields]
    while out and out[-1] == "":
        out.pop()
    return out


def header_index(found: Sequence[str], expected: Sequence[str], *, extra_ok: bool, what: str) -> dict[str, int]:
    """Map the contract's column names to positions, or quarantine with the difference."""
    names = strip_trailing_empty(found)
    dupes = sorted({n for n in names if names.count(n) > 1 and n in expected})
    missing = [n for n in expected if n not in names]
    extra = [n for n in names if n not in expected]
    problems = []
    if dupes:
        problems.append(f"duplicated column(s) {dupes}")
    if missing:
        problems.append(f"missing column(s) {missing}")
    if extra and not extra_ok:
        # Not named: a file without a header would put a data row (maybe personal) here.
        problems.append(f"{len(extra)} unexpected column(s)")
    if problems:
        raise Quarantine(f"{what} header does not match the contract: " + "; ".join(problems))
    return {n: names.index(n) for n in expected}


def row_values(fields: list[str], index: dict[str, int], width: int, *, extra_ok: bool) -> dict[str, str]:
    """A record's values by column name. Strict width unless the contract allows extra columns;
    then the record must still reach every contract column (a shorter one is truncated)."""
    values = [f.strip() for f in fields]
    if extra_ok:
        need = max(index.values()) + 1
        if len(values) < need:
            raise RowError(f"expected at least {need} fields, found {len(values)} (a truncated line?)")
    else:
        while len(values) > width and values[-1] == "":
            values.pop()  # a trailing comma
        if len(values) != width:
            raise RowError(f"expected {width} fields, found {len(values)} (a truncated or shifted line?)")
    out = {name: values[i] for name, i in index.items()}
    for name, v in out.items():
        if len(v) > MAX_VALUE_CHARS:  # never quoted: it may be anything
            raise RowError(f"{name} is {len(v):,} characters long (limit {MAX_VALUE_CHARS:,})")
    return out


# --- field rules ----------------------------------------------------------------------------

MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2099, 12, 31)


def required(v: str, name: str) -> str:
    if not v:
        raise RowError(f"missing {name}")
    return v


def optional(v: str) -> str | None:
    return v or None


FORMULA_START = ("=", "+", "-", "@")  # what spreadsheets run as a formula (OWASP CSV injection)
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def identifier(v: str, name: str, *, optional_: bool = False) -> str | None:
    """An id or code kept as text: present (unless optional), no control characters, and not
    starting like a spreadsheet formula. Ids travel into CSV outputs (traces, downloads); no
    system issues `=HYPERLINK(...)` as an id, so such a row is refused rather than passed on."""
    if not v:
        if optional_:
            return None
        raise RowError(f"missing {name}")
    if v.startswith(FORMULA_START):
        raise RowError(f"{name} starts with a spreadsheet formula character (= + - @): not an identifier")
    if CONTROL_CHARS.search(v):
        raise RowError(f"{name} contains a control character (tab, line break, ...): not an identifier")
    return v


def shown(v: str) -> str:
    """A value quoted in a reason: repr, cut to 40 characters."""
    return repr(v) if len(v) <= 40 else repr(v[:40]) + f"... ({len(v):,} characters)"


def code(v: str, allowed: frozenset[str], name: str, *, upper: bool = False) -> str:
    norm = v.upper() if upper else v.lower()
    if not norm:
        raise RowError(f"missing {name}")
    if norm not in allowed or not v.isascii():  # not ascii: 'ſou'.upper() is 'SOU'
        raise RowError(f"unknown {name} {shown(v)} (allowed: {', '.join(sorted(allowed))})")
    return norm


def in_range(d: date, name: str) -> None:
    if not MIN_DATE <= d <= MAX_DATE:
        raise RowError(f"{name} {d.isoformat()} out of range {MIN_DATE.isoformat()}..{MAX_DATE.isoformat()}")


# re.ASCII throughout: \d must not match other scripts' digits, which int() would accept.
LOCAL_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?", re.ASCII)
ZOOM_TIME = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))? ?([AaPp][Mm])", re.ASCII)
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
# RFC 3339 (section 5.6): `T` may be a space, and `T` and `Z` may be lower case; all are accepted.
ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?", re.ASCII)
WHOLE_NUMBER = re.compile(r"\d+", re.ASCII)


def checked(make, v: str, name: str, expected: str):
    """Build a date/datetime from regex groups (strptime costs 10x); range-check it."""
    try:
        value = make()
    except (ValueError, TypeError, AttributeError):  # AttributeError: the regex did not match
        raise RowError(f"unparseable {name} {shown(v)} (expected {expected})" if v else f"missing {name}") from None
    in_range(value if isinstance(value, date) and not isinstance(value, datetime) else value.date(), name)
    return value


def local_time(v: str, name: str) -> datetime:
    """`YYYY-MM-DD HH:MM` or `YYYY-MM-DD HH:MM:SS` (kiosk local time)."""
    m = LOCAL_TIME.fullmatch(v)
    return checked(lambda: datetime(*(int(g) for g in m.groups(default="0"))), v, name, "YYYY-MM-DD HH:MM[:SS]")


def iso_date(v: str, name: str) -> date:
    m = ISO_DATE.fullmatch(v)
    return checked(lambda: date(*(int(g) for g in m.groups())), v, name, "YYYY-MM-DD")


def iso_instant_utc(v: str, name: str, *, assume_utc: bool) -> datetime:
    """ISO 8601 instant as naive UTC. Without an offset: UTC if the contract says so, else refused."""
    if not ISO_INSTANT.fullmatch(v):
        raise RowError(f"unparseable {name} {shown(v)} (expected ISO 8601)" if v else f"missing {name}")
    try:
        dt = datetime.fromisoformat(v.upper())  # `t`/`z` as `T`/`Z` (fromisoformat takes upper case)
    except ValueError:
        raise RowError(f"unparseable {name} {shown(v)} (expected ISO 8601)") from None
    if dt.tzinfo is None:
        if not assume_utc:
            raise RowError(f"{name} {shown(v)} has no UTC offset (expected e.g. 2021-10-04T15:22:10+01:00)")
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00: before year 1 in UTC
        raise RowError(f"{name} out of range {MIN_DATE.isoformat()}..{MAX_DATE.isoformat()}") from None
    in_range(dt.date(), name)
    return dt


def whole_number(v: str, name: str, *, optional_: bool = False) -> int | None:
    if not v and optional_:
        return None
    if not WHOLE_NUMBER.fullmatch(v):
        raise RowError(f"{name} must be a whole number >= 0, found {shown(v)}" if v else f"missing {name}")
    return int(v)


@dataclass(frozen=True)
class LoadTime:
    """When the file was loaded (naive UTC, as ledger.files.loaded_at): no event of an export
    can be later. Local (Europe/London) times and dates are compared in London time, as the raw
    tables' quality suites check them (docs/quality.md). None: no check (re-parsing evidence)."""
    utc: datetime | None = None

    def check(self, value: datetime | date | None, name: str, *, utc: bool = False) -> None:
        if value is None or self.utc is None:
            return
        london = self.utc.replace(tzinfo=timezone.utc).astimezone(LONDON).replace(tzinfo=None)
        if isinstance(value, datetime):
            limit, when = (self.utc, "UTC") if utc else (london, "London time")
        else:
            limit, when = london.date(), "London date"
        if value > limit:
            raise RowError(f"{name} is in the future: after the file was loaded "
                           f"({self.utc:%Y-%m-%d %H:%M} UTC, compared in {when})")


# --- simple one-table sources ---------------------------------------------------------------

RowBuilder = Callable[[dict[str, str]], dict]


def parse_table(text: str, header: Sequence[str], table: str, build: RowBuilder, what: str) -> Parsed:
    """Header on line 1, one record per row; shared by visits, pathways and wellbeing calls."""
    it = records(text)
    first = next(it, None)
    if first is None or is_blank(first[1]):
        raise Quarantine(f"empty file: no {what} header on line 1")
    index = header_index(first[1], header, extra_ok=False, what=what)
    return table_rows(it, index, len(header), table, build, extra_ok=False)


def table_rows(it, index: dict[str, int], width: int, table: str, build: RowBuilder, *, extra_ok: bool) -> Parsed:
    """The records after a header: each built into a row of `table` (with its line number) or
    rejected with its reason; blank records are not rows."""
    out = Parsed(tables={table: []})
    for line, fields in it:
        if is_blank(fields):
            continue
        out.rows_read += 1
        try:
            row = build(row_values(fields, index, width, extra_ok=extra_ok))
        except RowError as exc:
            out.rejects.append((line, str(exc)))
            continue
        row["line_number"] = line
        out.tables[table].append(row)
    return out


MEMBER_ID = re.compile(r"M\d+", re.ASCII)


def visit_row(v: dict[str, str], now: LoadTime = LoadTime()) -> dict:
    member = v["member_id"].upper()
    if member and not MEMBER_ID.fullmatch(member):
        raise RowError(f"member_id {shown(v['member_id'])} is not M followed by digits")
    row = {
        "visit_id": identifier(v["visit_id"], "visit_id"),
        "site_code": code(v["site_code"], c.SITE_CODES, "site_code", upper=True),
        "signed_in_at": local_time(v["signed_in_at"], "signed_in_at"),
        "member_id": member or None,
        "visitor_type": code(v["visitor_type"], c.VISITOR_TYPES, "visitor_type"),
        "purpose": code(v["purpose"], c.PURPOSES, "purpose"),
        "status": code(v["status"], c.VISIT_STATUSES, "status"),
    }
    now.check(row["signed_in_at"], "signed_in_at")
    return row


def contact_row(v: dict[str, str], now: LoadTime = LoadTime()) -> dict:
    row = {
        "contact_id": identifier(v["contact_id"], "contact_id"),
        "member_id": identifier(v["member_id"], "member_id", optional_=True),
        "advisor_id": identifier(v["advisor_id"], "advisor_id", optional_=True),
        "site_code": identifier(v["site_code"].upper(), "site_code", optional_=True),
        "contact_date": iso_date(v["contact_date"], "contact_date"),
        "mode": code(v["mode"], c.CONTACT_MODES, "mode"),
        "outcome": code(v["outcome"], c.CONTACT_OUTCOMES, "outcome"),
        "updated_at": iso_instant_utc(v["updated_at"], "updated_at", assume_utc=False),
    }
    now.check(row["contact_date"], "contact_date")
    now.check(row["updated_at"], "updated_at", utc=True)
    return row


def prescription_row(v: dict[str, str], now: LoadTime = LoadTime()) -> dict:
    row = {
        "prescription_id": identifier(v["prescription_id"], "prescription_id"),
        "contact_id": identifier(v["contact_id"], "contact_id"),
        "category": code(v["category"], c.PRESCRIPTION_CATEGORIES, "category"),
        "referred_to": optional(v["referred_to"]),  # free text: kept as given (never a KPI, never in a CSV)
        "created_date": iso_date(v["created_date"], "created_date"),
        "status": code(v["status"], c.PRESCRIPTION_STATUSES, "status"),
        "updated_at": iso_instant_utc(v["updated_at"], "updated_at", assume_utc=False),
    }
    now.check(row["created_date"], "created_date")
    now.check(row["updated_at"], "updated_at", utc=True)
    return row


def parse_visits(text: str, path: PurePosixPath, p: Pseudonymiser, now: LoadTime = LoadTime()) -> Parsed:
    return parse_table(text, c.VISITS_HEADER, "visits", lambda v: visit_row(v, now), "visits")


def parse_pathways(text: str, path: PurePosixPath, p: Pseudonymiser, now: LoadTime = LoadTime()) -> Parsed:
    name = path.name.lower()
    if name.startswith("contacts"):
        return parse_table(text, c.CONTACTS_HEADER, "pathway_contacts", lambda v: contact_row(v, now), "contacts")
    if name.startswith("prescriptions"):
        return parse_table(text, c.PRESCRIPTIONS_HEADER, "pathway_prescriptions",
                           lambda v: prescription_row(v, now), "prescriptions")
    raise Quarantine("pathways file name must start with 'contacts' or 'prescriptions'")


def parse_wellbeing_calls(text: str, path: PurePosixPath, p: Pseudonymiser, now: LoadTime = LoadTime()) -> Parsed:
    def build(v: dict[str, str]) -> dict:
        row = {
            "call_id": identifier(v["call_id"], "call_id"),
            "service_user_pseudonym": p.pseudonym("service_user", v["service_user_ref"]),
            "call_started_at_utc": iso_instant_utc(v["call_started_at"], "call_started_at", assume_utc=True),
            "staff_id": identifier(v["staff_id"], "staff_id", optional_=True),
            "direction": code(v["direction"], c.CALL_DIRECTIONS, "direction"),
            "outcome": code(v["outcome"], c.CALL_OUTCOMES, "outcome"),
            "duration_seconds": whole_number(v["duration_seconds"], "duration_seconds"),
        }
        now.check(row["call_started_at_utc"], "call_started_at", utc=True)
        return row
    return parse_table(text, c.WELLBEING_HEADER, "wellbeing_calls", build, "wellbeing_calls")


# --- Zoom: a meeting block, a separator, then participants in one of two forms ---------------

ZOOM_TIME_HELP = "MM/DD/YYYY hh:mm:ss AM/PM"
PARENTHESISED = re.compile(r"\([^()]*\)\s*$")


def zoom_time(v: str, name: str, *, optional_: bool = False) -> datetime | None:
    """Zoom's `MM/DD/YYYY hh:mm:ss AM/PM` (12 AM is midnight, 12 PM noon)."""
    if not v and optional_:
        return None
    m = ZOOM_TIME.fullmatch(v)

    def make() -> datetime:
        month, day, year, hour, minute, second, half = m.groups(default="0")
        hour = int(hour)
        if not 1 <= hour <= 12:
            raise ValueError(hour)
        hour = hour % 12 + (12 if half.lower() == "pm" else 0)
        return datetime(int(year), int(month), int(day), hour, int(minute), int(second))

    return checked(make, v, name, ZOOM_TIME_HELP)


def display_name_key(name: str) -> str:
    """`Jo B (Joanne Bloggs)` -> `jo b`: the display name, original name dropped, spaces collapsed."""
    stripped = PARENTHESISED.sub("", name.strip())
    return " ".join(stripped.lower().split())


def email_parts(email: str) -> tuple[str, str | None]:
    email = email.strip().lower()
    return email, (email.rsplit("@", 1)[1] if "@" in email else None)


def parse_zoom(text: str, path: PurePosixPath, p: Pseudonymiser, now: LoadTime = LoadTime()) -> Parsed:
    it = records(text)
    first = next(it, None)
    if first is None or is_blank(first[1]):
        raise Quarantine("empty file: no Zoom meeting header on line 1")
    m_index = header_index(first[1], c.ZOOM_MEETING_HEADER, extra_ok=True, what="Zoom meeting")
    meeting = next(it, None)
    if meeting is None or is_blank(meeting[1]):
        raise Quarantine("Zoom meeting row missing on line 2")
    m_line, m_fields = meeting
    try:
        m = row_values(m_fields, m_index, len(c.ZOOM_MEETING_HEADER), extra_ok=True)
        meeting_id = re.sub(r"\s+", "", required(m["Meeting ID"], "Meeting ID"))
        if not WHOLE_NUMBER.fullmatch(meeting_id):
            raise RowError(f"Meeting ID {m['Meeting ID']!r} is not a number")
        start = zoom_time(m["Start Time"], "Start Time")
        host_email, host_domain = email_parts(m["User Email"])
        meeting_row = {
            "meeting_id": meeting_id,
            "topic": optional(m["Topic"]),
            "start_time": start,
            "end_time": zoom_time(m["End Time"], "End Time", optional_=True),
            "host_email_pseudonym": p.pseudonym("email", host_email),
            "host_email_domain": host_domain,
            "duration_minutes": whole_number(m["Duration (Minutes)"], "Duration (Minutes)", optional_=True),
            "participants_reported": whole_number(m["Participants"], "Participants", optional_=True),
            "line_number": m_line,
        }
        now.check(meeting_row["start_time"], "Start Time")
        now.check(meeting_row["end_time"], "End Time")
    except RowError as exc:
        raise Quarantine(f"Zoom meeting row (line {m_line}) unusable, no session can be identified: "
                         + QUOTED.sub("(value withheld)", str(exc))) from None

    out = Parsed(tables={"zoom_meetings": [meeting_row], "zoom_participants": []}, rows_read=1)
    header = next(((line, f) for line, f in it if not is_blank(f)), None)
    if header is None:
        meeting_row["participant_form"] = None
        return out
    names = strip_trailing_empty(header[1])
    if "Join Time" in names:
        form, expected = "per_join", c.ZOOM_PER_JOIN_HEADER
    elif "Total Duration (Minutes)" in names:
        form, expected = "unique_users", c.ZOOM_UNIQUE_USERS_HEADER
    else:
        raise Quarantine(
            f"Zoom participant header (line {header[0]}) matches neither participant form "
            "(no 'Join Time' or 'Total Duration (Minutes)' column)")
    meeting_row["participant_form"] = form
    p_index = header_index(header[1], expected, extra_ok=True, what="Zoom participant")
    duration_col = "Duration (Minutes)" if form == "per_join" else "Total Duration (Minutes)"
    for line, fields in it:
        if is_blank(fields):
            continue
        out.rows_read += 1
        try:
            v = row_values(fields, p_index, len(expected), extra_ok=True)
            email, domain = email_parts(v["User Email"])
            name = display_name_key(v["Name (Original Name)"])
            if not email and not name:
                raise RowError("participant has neither User Email nor Name: no person can be identified")
            guest = v["Guest"].lower()
            if guest not in ("", "yes", "no"):
                raise RowError("unknown Guest value (allowed: Yes, No or empty)")
            row = {
                "meeting_id": meeting_id,
                "start_time": start,
                "email_pseudonym": p.pseudonym("email", email),
                "email_domain": domain,
                "name_pseudonym": p.pseudonym("name", name),
                "join_time": zoom_time(v["Join Time"], "Join Time", optional_=True) if form == "per_join" else None,
                "leave_time": zoom_time(v["Leave Time"], "Leave Time", optional_=True) if form == "per_join" else None,
                "duration_minutes": whole_number(v[duration_col], duration_col, optional_=True),
                "guest": {"yes": True, "no": False}.get(guest),
                "line_number": line,
            }
            now.check(row["join_time"], "Join Time")
            now.check(row["leave_time"], "Leave Time")
        except RowError as exc:
            out.rejects.append((line, str(exc)))
            continue
        out.tables["zoom_participants"].append(row)
    return out


PARSERS: dict[str, Callable[[str, PurePosixPath, Pseudonymiser, LoadTime], Parsed]] = {
    "visits": parse_visits,
    "zoom": parse_zoom,
    "pathways": parse_pathways,
    "wellbeing_calls": parse_wellbeing_calls,
}


def parse_file(source: str, data: bytes, path: PurePosixPath, p: Pseudonymiser,
               loaded_at: datetime | None = None) -> Parsed:
    """Parse one file of `source`; raises Quarantine for a file refused whole.

    `loaded_at` (naive UTC, the ledger's) is when the file is loaded: an event after it is in
    the future and its row is rejected (a Zoom meeting's, its file quarantined). None: not checked."""
    parsed = PARSERS[source](decode(data), path, p, LoadTime(loaded_at))
    if source in PERSONAL_SOURCES:
        parsed.rejects = [(line, QUOTED.sub("(value withheld)", reason)) for line, reason in parsed.rejects]
    return parsed


# The outcome inputs (members/, reference/, outcome_measures/) register their parsers in PARSERS.
import pipelines.lib.outcome_parsers  # noqa: E402,F401
