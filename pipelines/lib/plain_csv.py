"""Plain exports parsed in bulk by DuckDB instead of row by row in Python.

Most exports are plain: UTF-8, no quotes, no blank lines, the contract's header exactly. For
those, a field is just the text between commas and line N of the file is element N of its
lines, so DuckDB can split, type and check a whole batch of files in one statement. Each
column has a strict pattern that accepts a subset of what the Python parser accepts
(pipelines.lib.parsers) and yields the same typed value; a file with any row outside the
strict patterns is parsed by the Python parser, alone at its own line number (with_only), so
rejections and their reasons have one implementation. Equivalence is tested on the demo exports and the bad-input corpus
(tests/test_plain_csv.py). Sources with personal fields (Zoom, wellbeing calls) are
pseudonymised in Python and not handled here.
"""
from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import PurePosixPath

import duckdb
import pandas as pd

from pipelines.lib import contracts as c
from pipelines.lib.parsers import LONDON, MAX_VALUE_CHARS, MIN_DATE, MAX_DATE, Quarantine, decode

ENABLED_ENV = "OUTCOMES_PLAIN_CSV"


def enabled() -> bool:
    """OUTCOMES_PLAIN_CSV=0: every file through the Python parser. Read at each use, not at import."""
    return os.environ.get(ENABLED_ENV, "1") != "0"


BATCH_ROWS = 1_000_000  # rows of plain files split in one statement

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


def free_text():
    """Kept as given (parsers.optional): strict edges, so that Python's strip() changes nothing."""
    return "nullif({x}, '')", (f"({{x}} = '' OR (strlen({{x}}) <= {MAX_VALUE_CHARS} AND "
                               r"regexp_full_match({x}, '[A-Za-z0-9]([^\x00-\x1f\x7f]*[A-Za-z0-9.)])?')))")


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


@dataclass(frozen=True)
class Layout:
    table: str
    header: tuple[str, ...]
    columns: dict[str, tuple[str, str]]  # raw table column -> (value, condition), in header order


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
}


def layout_of(source: str, path: PurePosixPath) -> Layout | None:
    if source == "visits":
        return LAYOUTS["visits"]
    if source == "pathways":
        name = path.name.lower()
        return LAYOUTS["contacts"] if name.startswith("contacts") else \
            LAYOUTS["prescriptions"] if name.startswith("prescriptions") else None
    return None


def plain_body(data: bytes, layout: Layout) -> str | None:
    """The file's data lines joined by LF, if the file is plain; None sends it to the Python parser."""
    try:
        text = decode(data)
    except Quarantine:
        return None
    if '"' in text:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    header, _, body = text.partition("\n")
    body = body[:-1] if body.endswith("\n") else body
    if header != ",".join(layout.header) or not body:
        return None
    return body


@dataclass
class PlainFile:
    ledger: dict  # the ledger entry (file_path, file_sha256, loaded_at, ...)
    body: str
    rel_path: PurePosixPath
    data: bytes  # the file, should it have to be judged whole by the Python parser


_names = itertools.count()


def stage(con: duckdb.DuckDBPyConnection, layout: Layout, files: list[PlainFile]) -> tuple[str, dict[str, int], dict]:
    """Split, type and check `files` into a temporary table; nothing is written to the warehouse's
    tables. Returns its name, the rows that passed by file_path, and by file_path the lines that
    did not ({line_number: text}), for the Python parser."""
    name = f"_plain_{layout.table}_{next(_names)}"
    frame = pd.DataFrame({
        "file_path": [f.ledger["file_path"] for f in files],
        "file_sha256": [f.ledger["file_sha256"] for f in files],
        "loaded_at": [f.ledger["loaded_at"] for f in files],
        "loaded_london": [london(f.ledger["loaded_at"]) for f in files],
        "body": [f.body for f in files],
    })
    width = len(layout.header)
    fields = {col: f"f[{i + 1}]" for i, col in enumerate(layout.columns)}
    values = ",\n    ".join(f"{v.replace('{x}', fields[col])} AS {col}" for col, (v, _) in layout.columns.items())
    checks = " AND ".join(f"coalesce({cond.replace('{x}', fields[col])}, false)"
                          for col, (_, cond) in layout.columns.items())
    con.register("_plain_files", frame)
    try:
        con.execute(f"""
CREATE TEMP TABLE {name} AS
WITH lines AS (
    SELECT file_path, file_sha256, loaded_at, loaded_london,
           unnest(generate_series(2, len(lines) + 1)) AS line_number, unnest(lines) AS line
    FROM (SELECT *, string_split(body, chr(10)) AS lines FROM _plain_files)
),
split AS (SELECT *, string_split(line, ',') AS f FROM lines)
SELECT {values},
    file_path, line_number::INTEGER AS line_number, file_sha256, loaded_at,
    len(f) = {width} AND {checks} AS ok,
    CASE WHEN NOT ok THEN line END AS line
FROM split""")
    finally:
        con.unregister("_plain_files")
    counts = dict(con.execute(f"SELECT file_path, count(*) FILTER (ok) FROM {name} GROUP BY 1").fetchall())
    others: dict[str, dict[int, str]] = {}
    for path, line_number, line in con.execute(f"SELECT file_path, line_number, line FROM {name} WHERE NOT ok").fetchall():
        others.setdefault(path, {})[line_number] = line
    return name, counts, others


def with_only(header: tuple[str, ...], lines: dict[int, str]) -> bytes:
    """A file of `lines` at their own line numbers, every other line blank: what the Python
    parser makes of it is what it makes of those lines in the whole plain file (each line one
    record, no state between records, blank lines skipped but counted)."""
    out = [",".join(header)] + [""] * (max(lines) - 1)
    for number, line in lines.items():
        out[number - 1] = line
    return "\n".join(out).encode()


def london(utc: datetime) -> datetime:
    return utc.replace(tzinfo=timezone.utc).astimezone(LONDON).replace(tzinfo=None)


def insert_staged(con: duckdb.DuckDBPyConnection, layout: Layout, name: str) -> None:
    con.execute(f"INSERT INTO raw.{layout.table} BY NAME SELECT * EXCLUDE (ok, line) FROM {name} WHERE ok")
