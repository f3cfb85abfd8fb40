"""Load new landing files of one source into raw.* and the ledger, one transaction per file.

A file is known by its SHA-256: a (path, hash) already in the ledger is skipped; the same
bytes under a new path are recorded as a duplicate and add nothing. Quarantined files and
rejected rows are recorded with their reason; the landing zone is only ever read.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.lib.landing import LandingFile, discover
from pipelines.lib.parsers import Quarantine, parse_file
from pipelines.lib.pseudonym import Pseudonymiser
from pipelines.lib.warehouse import columns


@dataclass
class IngestSummary:
    source: str
    files_loaded: int = 0
    files_quarantined: int = 0
    files_duplicate: int = 0
    files_already_seen: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    new_hashes: list[str] = field(default_factory=list)
    quarantined: list[tuple[str, str]] = field(default_factory=list)

    def as_metadata(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if isinstance(v, int)}
        d["quarantined"] = [f"{p}: {r}" for p, r in self.quarantined]
        return d


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def ingest_source(
    con: duckdb.DuckDBPyConnection, landing: Path, source: str, p: Pseudonymiser,
    *, run_id: str | None = None, files: list[LandingFile] | None = None,
) -> IngestSummary:
    summary = IngestSummary(source)
    seen = {(path, sha) for path, sha in con.execute("SELECT file_path, file_sha256 FROM ledger.files").fetchall()}
    first_path = dict(con.execute(
        "SELECT file_sha256, min(file_path) FROM ledger.files WHERE status <> 'duplicate' GROUP BY 1").fetchall())
    for f in files if files is not None else discover(landing, (source,)):
        data, sha = f.read()
        rel = str(f.rel_path)
        if (rel, sha) in seen:
            summary.files_already_seen += 1
            continue
        loaded_at = utc_now()
        ledger = dict(source=source, file_path=rel, file_sha256=sha, reason=None, rows_read=0, rows_loaded=0,
                      rows_rejected=0, duplicate_of=None, loaded_at=loaded_at, run_id=run_id)
        con.execute("BEGIN TRANSACTION")
        try:
            if sha in first_path:
                ledger.update(status="duplicate", duplicate_of=first_path[sha],
                              reason=f"byte-identical to {first_path[sha]}")
                summary.files_duplicate += 1
            else:
                try:
                    parsed = parse_file(source, data, f.rel_path, p)
                except Quarantine as exc:
                    ledger.update(status="quarantined", reason=str(exc))
                    summary.files_quarantined += 1
                    summary.quarantined.append((rel, str(exc)))
                else:
                    for table, rows in parsed.tables.items():
                        write_rows(con, table, rows, rel, sha, loaded_at)
                    if parsed.rejects:
                        con.executemany(
                            "INSERT INTO ledger.rejected_rows VALUES (?, ?, ?, ?, ?)",
                            [(source, rel, sha, line, reason) for line, reason in parsed.rejects])
                    ledger.update(status="loaded", rows_read=parsed.rows_read, rows_loaded=parsed.rows_loaded,
                                  rows_rejected=len(parsed.rejects))
                    summary.files_loaded += 1
                    summary.rows_read += parsed.rows_read
                    summary.rows_loaded += parsed.rows_loaded
                    summary.rows_rejected += len(parsed.rejects)
                first_path[sha] = rel
                summary.new_hashes.append(sha)
            con.execute(
                "INSERT INTO ledger.files BY NAME SELECT * FROM (SELECT $source AS source, $file_path AS file_path, "
                "$file_sha256 AS file_sha256, $status AS status, $reason AS reason, $rows_read AS rows_read, "
                "$rows_loaded AS rows_loaded, $rows_rejected AS rows_rejected, $duplicate_of AS duplicate_of, "
                "$loaded_at AS loaded_at, $run_id AS run_id)", ledger)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        seen.add((rel, sha))
    return summary


def write_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict], rel: str, sha: str,
               loaded_at: datetime) -> None:
    if not rows:
        return
    cols = columns(table)
    frame = pd.DataFrame.from_records(rows)
    frame["file_path"], frame["file_sha256"], frame["loaded_at"] = rel, sha, loaded_at
    for col in cols:
        if col not in frame:
            frame[col] = None
    con.register("_incoming", frame[cols])
    try:
        con.execute(f"INSERT INTO raw.{table} BY NAME SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")
