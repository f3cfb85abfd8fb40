"""Redelivered with different content: a record delivered again whose fields disagree.

Exports overlap, so the same record arrives in several files; the contract says which version
is counted (the newest export's), and the models apply that rule. When the versions disagree
(a `call_id` with another outcome, a `visit_id` with another site or member), the analyst must
be told: this module finds them, per source, from `raw.*` alone. It says how many keys, which
fields differ, and shows a sample with both versions' file:line. Personal fields (pseudonyms)
are named, never shown; nor is free text.

What counts as "the same record" (docs/quality.md, "Conflicting redeliveries"):
- visits: `visit_id`. `status` is not compared: `void` in a later delivery is the kiosk's
  correction, and the contract's rule (void in any delivery) decides it.
- zoom: the session, (Meeting ID, Start Time): its meeting row. Participants are not compared:
  a session exported twice is the union of its participants, by rule.
- pathways: the same version of a record, (`contact_id`, `updated_at`) or (`prescription_id`,
  `updated_at`). Versions with different `updated_at` are changes by design, not conflicts.
- wellbeing_calls: `call_id`.
- outcome_measures: `response_id` ("a response_id delivered again is one response"). The
  register (a whole register per export date, the newest wins) and the published lookups are
  replaced by design, not redelivered, and have no check.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import duckdb

SAMPLE_KEYS = 5


@dataclass(frozen=True)
class Record:
    table: str  # raw.<table>
    label: str  # what one key is, in the messages
    key: tuple[str, ...]
    fields: tuple[str, ...]  # compared
    withheld: frozenset[str] = frozenset()  # compared but never shown: personal or free text

    @property
    def keys(self) -> str:
        """The key columns as a SQL list."""
        return ", ".join(self.key)


RECORDS: dict[str, tuple[Record, ...]] = {
    "visits": (Record("visits", "visit_id", ("visit_id",),
                      ("site_code", "signed_in_at", "member_id", "visitor_type", "purpose"),
                      frozenset({"member_id"})),),
    "zoom": (Record("zoom_meetings", "Zoom session (Meeting ID, Start Time)", ("meeting_id", "start_time"),
                    ("topic", "end_time", "host_email_pseudonym", "duration_minutes", "participants_reported"),
                    frozenset({"topic", "host_email_pseudonym"})),),
    "pathways": (
        Record("pathway_contacts", "contact version (contact_id, updated_at)", ("contact_id", "updated_at"),
               ("member_id", "advisor_id", "site_code", "contact_date", "mode", "outcome"),
               frozenset({"member_id"})),
        Record("pathway_prescriptions", "prescription version (prescription_id, updated_at)",
               ("prescription_id", "updated_at"),
               ("contact_id", "category", "referred_to", "created_date", "status"), frozenset({"referred_to"})),
    ),
    "wellbeing_calls": (Record("wellbeing_calls", "call_id", ("call_id",),
                               ("service_user_pseudonym", "call_started_at_utc", "staff_id", "direction", "outcome",
                                "duration_seconds"), frozenset({"service_user_pseudonym"})),),
    "outcome_measures": (Record("outcome_measures", "response_id", ("response_id",),
                                ("member_id", "measure", "timepoint", "completed_on",
                                 *(f"item_{i}" for i in range(1, 8))),
                                frozenset({"member_id", *(f"item_{i}" for i in range(1, 8))})),),
}
SOURCES = tuple(RECORDS)  # the sources this check runs on


def _differs(col: str) -> str:
    """Aggregate: the versions of a key disagree on `col` (NULL against a value counts)."""
    return f"(min({col}) IS DISTINCT FROM max({col}) OR count({col}) NOT IN (0, count(*)))"


def conflicts(con, source: str, sample_keys: int = SAMPLE_KEYS) -> list[dict]:
    """One dict per record kind of `source` that has conflicts: label, keys (count), fields
    ({field: keys differing in it}) and samples (both versions' file:line per sampled key).

    On a connection that can write, the conflicting keys are kept in the warehouse and brought up
    to date with the files loaded since (`refresh`): a run compares only the keys its new files
    hold. On a read-only connection they are found from the whole history (`find_all`)."""
    out = []
    for r in RECORDS[source]:
        try:
            found = refresh(con, r, source)
        except duckdb.InvalidInputException as exc:  # read-only: nothing kept, all compared
            if "read-only" not in str(exc):
                raise
            con.execute(f"CREATE OR REPLACE TEMP TABLE _conflicts AS {find_all(r)}")
            found = "_conflicts"
        sums = ", ".join(f"count(*) FILTER (d_{c})" for c in r.fields)
        n, *per_field = con.execute(f"SELECT count(*), {sums} FROM {found}").fetchone()
        if n:
            out.append({"label": r.label, "table": f"raw.{r.table}", "keys": int(n),
                        "fields": {c: int(k) for c, k in zip(r.fields, per_field) if k},
                        "samples": _samples(con, r, found, sample_keys)})
        con.execute("DROP TABLE IF EXISTS temp._conflicts")
    return out


def _flags(r: Record, rows: str) -> str:
    """The keys of `rows` (raw rows) whose versions disagree, with one flag per compared field."""
    flags = ", ".join(f"{_differs(c)} AS d_{c}" for c in r.fields)
    return (f"SELECT * FROM (SELECT {r.keys}, {flags} FROM {rows} GROUP BY {r.keys}) "
            f"WHERE {' OR '.join(f'd_{c}' for c in r.fields)}")


def _same_key(r: Record, a: str, b: str) -> str:
    return " AND ".join(f"{a}.{k} IS NOT DISTINCT FROM {b}.{k}" for k in r.key)


def find_all(r: Record) -> str:
    """The query of every conflicting key, in two passes: the keys whose versions hash
    differently (one 64-bit hash of the compared fields per row, NULLs included, grouped by key:
    one cheap aggregate over the whole history), then the per-field flags for those keys only.
    The same values always hash alike, so no key is flagged that does not differ; a key whose
    differing versions collide on all 64 bits (about 1 in 10^19 per pair) would be missed, and
    this is a warning, not a published figure."""
    return (f"WITH versions AS (SELECT {r.keys}, hash({', '.join(r.fields)}) AS h FROM raw.{r.table}), "
            f"differing AS (SELECT {r.keys} FROM versions GROUP BY {r.keys} HAVING min(h) <> max(h)) "
            + _flags(r, f"(SELECT * FROM raw.{r.table} t SEMI JOIN differing d ON {_same_key(r, 't', 'd')})"))


def state_tables(r: Record) -> tuple[str, str]:
    """The kept conflicting keys of `r` and the raw files compared into them. Their names carry a
    digest of what is compared, so that another key or field list starts them anew."""
    digest = hashlib.sha256(repr((r.table, r.key, r.fields)).encode()).hexdigest()[:12]
    return f"redelivery.{r.table}_{digest}", f"redelivery.{r.table}_{digest}_files"


# A source's files with rows in raw, from the ledger: a row a file (the raw tables hold a row a
# line: 52 M visits at 100x)
LOADED_FILES = "SELECT DISTINCT file_path, file_sha256 FROM ledger.files WHERE source = ? AND status = 'loaded'"


def refresh(con, r: Record, source: str) -> str:
    """Bring the kept conflicting keys of `r` up to date and return their table. Raw tables are
    only ever appended to (a file's rows in one transaction, with its row in ledger.files among
    `source`'s loaded files), so a key's conflict can change only when a new file holds it: the
    keys of the files not yet compared are compared again, over all their versions, and replace
    their old entries. First time (or after the comparison changed): every key, and every file
    noted."""
    found, files = state_tables(r)
    con.execute("CREATE SCHEMA IF NOT EXISTS redelivery")
    con.execute("BEGIN TRANSACTION")
    try:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND "
                           "schema_name = 'redelivery' AND table_name = ?",
                           [found.split(".")[1]]).fetchone()[0]:
            for (old,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND "
                                      "schema_name = 'redelivery' AND "
                                      "regexp_full_match(table_name, ?)", [f"{r.table}_[0-9a-f]{{12}}(_files)?"]).fetchall():
                con.execute(f"DROP TABLE redelivery.{old}")
            con.execute(f"CREATE TABLE {found} AS {find_all(r)}")
            con.execute(f"CREATE TABLE {files} AS {LOADED_FILES}", [source])
        else:
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _new_files AS SELECT * FROM ({LOADED_FILES}) AS loaded
                            ANTI JOIN {files} USING (file_path, file_sha256)""", [source])
            con.execute(f"""CREATE OR REPLACE TEMP TABLE _new_keys AS SELECT DISTINCT {r.keys}
                            FROM raw.{r.table} SEMI JOIN _new_files USING (file_path, file_sha256)""")
            con.execute(f"DELETE FROM {found} f WHERE EXISTS (SELECT 1 FROM _new_keys n WHERE {_same_key(r, 'f', 'n')})")
            con.execute(f"INSERT INTO {found} " + _flags(
                r, f"(SELECT * FROM raw.{r.table} t SEMI JOIN _new_keys n ON {_same_key(r, 't', 'n')})"))
            con.execute(f"INSERT INTO {files} SELECT * FROM _new_files")
            con.execute("DROP TABLE temp._new_files; DROP TABLE temp._new_keys")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return found


def _samples(con, r: Record, found: str, limit: int) -> list[dict]:
    """For the first `limit` keys: the first version (by file, line) and the first that differs."""
    cols = ", ".join(f"t.{c}" for c in r.fields)
    rows = con.execute(f"""
        SELECT {", ".join(f"t.{k}" for k in r.key)}, {cols}, t.file_path, t.line_number
        FROM raw.{r.table} t
        JOIN (SELECT {r.keys} FROM {found} ORDER BY {r.keys} LIMIT {int(limit)}) USING ({r.keys})
        ORDER BY {", ".join(f"t.{k}" for k in r.key)}, t.file_path, t.line_number""").fetchall()
    by_key: dict[tuple, list[tuple]] = {}
    for row in rows:
        by_key.setdefault(row[:len(r.key)], []).append(row)
    samples = []
    for key, versions in by_key.items():
        first = versions[0]
        values = lambda v: v[len(r.key):len(r.key) + len(r.fields)]  # noqa: E731
        other = next(v for v in versions[1:] if values(v) != values(first))
        sample = {"key": " / ".join(str(k) for k in key)}
        differing = [c for c, a, b in zip(r.fields, values(first), values(other)) if a != b]
        sample["differs"] = ", ".join(differing)
        for c, a, b in zip(r.fields, values(first), values(other)):
            if c in differing:
                sample[c] = "(withheld)" if c in r.withheld else f"{_shown(a)} / {_shown(b)}"
        sample.update(file_path=first[-2], line_number=first[-1], other_file_path=other[-2],
                      other_line_number=other[-1])
        samples.append(sample)
    return samples


def _shown(v) -> str:
    return "(empty)" if v is None else str(v)


def describe(found: dict) -> str:
    """One line: '2 visit_id(s) delivered again with different content (site_code in 1, member_id in 1)'."""
    fields = ", ".join(f"{c} in {k:,}" for c, k in found["fields"].items())
    return f"{found['keys']:,} {found['label']}(s) delivered again with different content ({fields})"
