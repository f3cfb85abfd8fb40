"""Members' postcodes -> LSOA, at ingestion, with the postcode lookup in force.

The register's postcodes are personal data: they are never written to the warehouse. Ingestion
loads a register row with its postcode's pre-resolution status (pipelines.lib.outcome_parsers:
'unresolved' for a full postcode) and no LSOA; this step then re-reads the register files (the
raw files are evidence and stay in the landing zone), looks each full postcode up by its keyed
pseudonym in raw.postcode_lsoa and writes the LSOA and the final status:

- 'resolved': found in the lookup (lsoa11cd set);
- 'not_in_lookup': a full postcode the lookup does not hold (e.g. a new build, a typo);
- 'no_lookup': no postcode lookup has been delivered yet;
- 'partial', 'empty', 'unrecognised': as the parser found them (no lookup needed).

The lookup in force is the postcode_lsoa file loaded last (ties by path): "a newer lookup
replaces the older one" (docs/decisions.md). Every register row records the lookup file it was
resolved with (postcode_lookup_sha256), so when a newer lookup arrives the rows resolved with an
older one are resolved again, and every figure by decile follows. A plain register file's keys
are computed by DuckDB (pipelines.lib.plain_csv: the same HMAC as Python's), the other lines' by
the Python parser.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import duckdb
import pandas as pd

from pipelines.lib import plain_csv
from pipelines.lib.parsers import Quarantine, parse_file
from pipelines.lib.pseudonym import Pseudonymiser

LOOKUP_DEPENDENT = ("unresolved", "resolved", "not_in_lookup", "no_lookup")


@dataclass
class ResolveSummary:
    lookup_sha256: str | None = None
    files_resolved: int = 0
    rows_resolved: int = 0
    files_unreadable: list[str] = field(default_factory=list)  # gone or changed in the landing zone

    def as_metadata(self) -> dict:
        return {"postcode_lookup_sha256": self.lookup_sha256 or "none delivered yet",
                "register_files_resolved": self.files_resolved, "register_rows_resolved": self.rows_resolved,
                "register_files_unreadable": self.files_unreadable[:20]}


def lookup_in_force(con: duckdb.DuckDBPyConnection) -> str | None:
    """SHA-256 of the postcode lookup file loaded last (ties by path, descending), or None."""
    row = con.execute(
        "SELECT file_sha256 FROM raw.postcode_lsoa GROUP BY file_sha256, file_path "
        "ORDER BY max(loaded_at) DESC, file_path DESC LIMIT 1").fetchone()
    return row[0] if row else None


def resolve_members(con: duckdb.DuckDBPyConnection, landing: Path, p: Pseudonymiser) -> ResolveSummary:
    """Resolve every register row not yet resolved with the lookup in force."""
    summary = ResolveSummary(lookup_in_force(con))
    lookup = summary.lookup_sha256
    stale = con.execute(
        f"""SELECT DISTINCT file_path, file_sha256, loaded_at FROM raw.members
            WHERE postcode_status IN {LOOKUP_DEPENDENT}
              AND (postcode_status = 'unresolved' OR postcode_lookup_sha256 IS DISTINCT FROM $lookup)
            ORDER BY 1, 2""", {"lookup": lookup}).fetchall()
    for rel, sha, loaded_at in stale:
        path = landing / rel
        try:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha:
                raise FileNotFoundError(rel)
            postcode_keys(con, data, PurePosixPath(rel), sha, loaded_at, p)
        except (OSError, Quarantine):
            # the evidence is gone or changed: its rows keep their last resolution
            summary.files_unreadable.append(rel)
            continue
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                f"""
                UPDATE raw.members AS m SET
                    lsoa11cd = r.lsoa11cd,
                    postcode_status = CASE WHEN $lookup IS NULL THEN 'no_lookup'
                                           WHEN r.lsoa11cd IS NOT NULL THEN 'resolved' ELSE 'not_in_lookup' END,
                    postcode_lookup_sha256 = $lookup
                FROM (
                    SELECT k.line_number, l.lsoa11cd
                    FROM _postcode_keys k
                    LEFT JOIN (SELECT postcode_key, min(lsoa11cd) AS lsoa11cd FROM raw.postcode_lsoa
                               WHERE file_sha256 = $lookup GROUP BY 1) l USING (postcode_key)
                ) AS r
                WHERE m.file_sha256 = $sha AND m.line_number = r.line_number
                  AND m.postcode_status IN {LOOKUP_DEPENDENT}""", {"lookup": lookup, "sha": sha})
            n = con.execute(
                f"SELECT count(*) FROM raw.members WHERE file_sha256 = $sha AND postcode_status IN {LOOKUP_DEPENDENT}",
                {"sha": sha}).fetchone()[0]
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.execute("DROP TABLE _postcode_keys")
        summary.files_resolved += 1
        summary.rows_resolved += n
    return summary


def postcode_keys(con: duckdb.DuckDBPyConnection, data: bytes, rel: PurePosixPath, sha: str, loaded_at,
                  p: Pseudonymiser) -> None:
    """The temporary table _postcode_keys (line_number, postcode_key) of the register file's rows
    with a full postcode: a plain file's computed by DuckDB, its other lines (and a file that is
    not plain) by the Python parser. Raises Quarantine for a file the parser refuses."""
    con.execute("CREATE OR REPLACE TEMP TABLE _postcode_keys (line_number INTEGER, postcode_key VARCHAR)")
    ledger = {"file_path": str(rel), "file_sha256": sha, "loaded_at": loaded_at}
    found = plain_csv.plain_file("members", rel, data, ledger) if plain_csv.enabled() else None
    if found is not None:
        layout, plain = found
        name, _, others = plain_csv.stage(con, layout, [plain], p)
        con.execute(f"INSERT INTO _postcode_keys SELECT line_number, postcode_key FROM {name} "
                    "WHERE ok AND postcode_key IS NOT NULL")
        con.execute(f"DROP TABLE {name}")
        rest = others.get(str(rel))
        data = plain_csv.with_only((",".join(layout.header),), rest) if rest else None
    if data is None:
        return
    parsed = parse_file("members", data, rel, p)
    keys = pd.DataFrame.from_records(
        [(r["line_number"], r["postcode_key"]) for r in parsed.tables["members"] if r["postcode_key"]],
        columns=["line_number", "postcode_key"])
    con.register("_python_keys", keys)
    try:
        con.execute("INSERT INTO _postcode_keys SELECT line_number, postcode_key FROM _python_keys")
    finally:
        con.unregister("_python_keys")
