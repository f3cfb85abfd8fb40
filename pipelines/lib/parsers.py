"""Parse one export file's bytes against its contract.

Each parser returns a `Parsed`: typed rows per raw table (personal fields already replaced
by pseudonyms), the rejected rows as (line number, reason), and rows read. A file that
cannot be trusted as a whole (undecodable, wrong header) raises `Quarantine`.

Rows are counted as records: a line with no content at all is not a row. The line number of
a row is the physical line (1-based, header = 1) on which its record starts.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import PurePosixPath

from pipelines.lib import contracts as c
from pipelines.lib.pseudonym import Pseudonymiser

csv.field_size_limit(10_000_000)


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

def decode(data: bytes) -> str:
    """UTF-8 with or without a byte-order mark; anything else is quarantined, not guessed."""
    if b"\x00" in data:
        raise Quarantine("binary content (NUL bytes): not a CSV export")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Quarantine(f"not valid UTF-8 (byte {exc.start}): re-export as UTF-8") from None


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the physical line number each starts on (LF or CRLF)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    try:
        for fields in reader:
            yield start, fields
            start = reader.line_num + 1
    except csv.Error as exc:
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
    """A record's values by column name. Strict width unless the contract allows extra columns."""
    values = [f.strip() for f in fields]
    if extra_ok:
        values += [""] * (max(index.values()) + 1 - len(values))
    else:
        while len(values) > width and values[-1] == "":
            values.pop()  # a trailing comma
        if len(values) != width:
            raise RowError(f"expected {width} fields, found {len(values)}")
    return {name: values[i] for name, i in index.items()}


# --- field rules ----------------------------------------------------------------------------

MIN_DATE, MAX_DATE = date(2000, 1, 1), date(2099, 12, 31)


def required(v: str, name: str) -> str:
    if not v:
        raise RowError(f"missing {name}")
    return v


def optional(v: str) -> str | None:
    return v or None


def code(v: str, allowed: frozenset[str], name: str, *, upper: bool = False) -> str:
    norm = v.upper() if upper else v.lower()
    if not norm:
        raise RowError(f"missing {name}")
    if norm not in allowed:
        raise RowError(f"unknown {name} {v!r} (allowed: {', '.join(sorted(allowed))})")
    return norm


def in_range(d: date, name: str) -> None:
    if not MIN_DATE <= d <= MAX_DATE:
        raise RowError(f"{name} {d.isoformat()} out of range {MIN_DATE.isoformat()}..{MAX_DATE.isoformat()}")


LOCAL_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})(?::(\d{2}))?")
ZOOM_TIME = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))? ?([AaPp][Mm])")
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def checked(make, v: str, name: str, expected: str):
    """Build a date/datetime from regex groups (strptime costs 10x); range-check it."""
    try:
        value = make()
    except (ValueError, TypeError, AttributeError):  # AttributeError: the regex did not match
        raise RowError(f"unparseable {name} {v!r} (expected {expected})" if v else f"missing {name}") from None
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
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?", v):
        raise RowError(f"unparseable {name} {v!r} (expected ISO 8601)" if v else f"missing {name}")
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise RowError(f"unparseable {name} {v!r} (expected ISO 8601)") from None
    if dt.tzinfo is None:
        if not assume_utc:
            raise RowError(f"{name} {v!r} has no UTC offset (expected e.g. 2021-10-04T15:22:10+01:00)")
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    in_range(dt.date(), name)
    return dt


def whole_number(v: str, name: str, *, optional_: bool = False) -> int | None:
    if not v and optional_:
        return None
    if not re.fullmatch(r"\d+", v):
        raise RowError(f"{name} must be a whole number >= 0, found {v!r}" if v else f"missing {name}")
    return int(v)


# --- simple one-table sources ---------------------------------------------------------------

RowBuilder = Callable[[dict[str, str]], dict]


def parse_table(text: str, header: Sequence[str], table: str, build: RowBuilder, what: str) -> Parsed:
    """Header on line 1, one record per row; shared by visits, pathways and wellbeing calls."""
    it = records(text)
    first = next(it, None)
    if first is None or is_blank(first[1]):
        raise Quarantine(f"empty file: no {what} header on line 1")
    index = header_index(first[1], header, extra_ok=False, what=what)
    out = Parsed(tables={table: []})
    for line, fields in it:
        if is_blank(fields):
            continue
        out.rows_read += 1
        try:
            row = build(row_values(fields, index, len(header), extra_ok=False))
        except RowError as exc:
            out.rejects.append((line, str(exc)))
            continue
        row["line_number"] = line
        out.tables[table].append(row)
    return out


MEMBER_ID = re.compile(r"M\d+")


def visit_row(v: dict[str, str]) -> dict:
    member = v["member_id"].upper()
    if member and not MEMBER_ID.fullmatch(member):
        raise RowError(f"member_id {v['member_id']!r} is not M followed by digits")
    return {
        "visit_id": required(v["visit_id"], "visit_id"),
        "site_code": code(v["site_code"], c.SITE_CODES, "site_code", upper=True),
        "signed_in_at": local_time(v["signed_in_at"], "signed_in_at"),
        "member_id": member or None,
        "visitor_type": code(v["visitor_type"], c.VISITOR_TYPES, "visitor_type"),
        "purpose": code(v["purpose"], c.PURPOSES, "purpose"),
        "status": code(v["status"], c.VISIT_STATUSES, "status"),
    }


def contact_row(v: dict[str, str]) -> dict:
    return {
        "contact_id": required(v["contact_id"], "contact_id"),
        "member_id": optional(v["member_id"]),
        "advisor_id": optional(v["advisor_id"]),
        "site_code": optional(v["site_code"].upper()),
        "contact_date": iso_date(v["contact_date"], "contact_date"),
        "mode": code(v["mode"], c.CONTACT_MODES, "mode"),
        "outcome": code(v["outcome"], c.CONTACT_OUTCOMES, "outcome"),
        "updated_at": iso_instant_utc(v["updated_at"], "updated_at", assume_utc=False),
    }


def prescription_row(v: dict[str, str]) -> dict:
    return {
        "prescription_id": required(v["prescription_id"], "prescription_id"),
        "contact_id": required(v["contact_id"], "contact_id"),
        "category": code(v["category"], c.PRESCRIPTION_CATEGORIES, "category"),
        "referred_to": optional(v["referred_to"]),
        "created_date": iso_date(v["created_date"], "created_date"),
        "status": code(v["status"], c.PRESCRIPTION_STATUSES, "status"),
        "updated_at": iso_instant_utc(v["updated_at"], "updated_at", assume_utc=False),
    }


def parse_visits(text: str, path: PurePosixPath, p: Pseudonymiser) -> Parsed:
    return parse_table(text, c.VISITS_HEADER, "visits", visit_row, "visits")


def parse_pathways(text: str, path: PurePosixPath, p: Pseudonymiser) -> Parsed:
    name = path.name.lower()
    if name.startswith("contacts"):
        return parse_table(text, c.CONTACTS_HEADER, "pathway_contacts", contact_row, "contacts")
    if name.startswith("prescriptions"):
        return parse_table(text, c.PRESCRIPTIONS_HEADER, "pathway_prescriptions", prescription_row, "prescriptions")
    raise Quarantine("pathways file name must start with 'contacts' or 'prescriptions'")


def parse_wellbeing_calls(text: str, path: PurePosixPath, p: Pseudonymiser) -> Parsed:
    def build(v: dict[str, str]) -> dict:
        return {
            "call_id": required(v["call_id"], "call_id"),
            "service_user_pseudonym": p.pseudonym("service_user", v["service_user_ref"]),
            "call_started_at_utc": iso_instant_utc(v["call_started_at"], "call_started_at", assume_utc=True),
            "staff_id": optional(v["staff_id"]),
            "direction": code(v["direction"], c.CALL_DIRECTIONS, "direction"),
            "outcome": code(v["outcome"], c.CALL_OUTCOMES, "outcome"),
            "duration_seconds": whole_number(v["duration_seconds"], "duration_seconds"),
        }
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


def parse_zoom(text: str, path: PurePosixPath, p: Pseudonymiser) -> Parsed:
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
        if not meeting_id.isdigit():
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
        except RowError as exc:
            out.rejects.append((line, str(exc)))
            continue
        out.tables["zoom_participants"].append(row)
    return out


PARSERS: dict[str, Callable[[str, PurePosixPath, Pseudonymiser], Parsed]] = {
    "visits": parse_visits,
    "zoom": parse_zoom,
    "pathways": parse_pathways,
    "wellbeing_calls": parse_wellbeing_calls,
}


def parse_file(source: str, data: bytes, path: PurePosixPath, p: Pseudonymiser) -> Parsed:
    """Parse one file of `source`; raises Quarantine for a file refused whole."""
    parsed = PARSERS[source](decode(data), path, p)
    if source in PERSONAL_SOURCES:
        parsed.rejects = [(line, QUOTED.sub("(value withheld)", reason)) for line, reason in parsed.rejects]
    return parsed
