"""Load new landing files of one source into raw.* and the ledger, one transaction per file.

A file is known by its SHA-256: a (path, hash) already in the ledger is skipped; the same
bytes under a new path are recorded as a duplicate and add nothing. Quarantined files and
rejected rows are recorded with their reason; the landing zone is only ever read. A file that
vanishes between listing and reading (renamed from `.part`, moved away) is skipped: it is seen
again under its new name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.lib import plain_csv
from pipelines.lib.digests import DigestCache
from pipelines.lib.landing import LandingFile, discover
from pipelines.lib.parsers import Quarantine, held_rows, parse_file
from pipelines.lib.pseudonym import Pseudonymiser
from pipelines.lib.warehouse import columns


@dataclass
class IngestSummary:
    source: str
    files_loaded: int = 0
    files_quarantined: int = 0
    files_duplicate: int = 0
    files_already_seen: int = 0
    files_vanished: int = 0
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


BATCH_ROWS = 250_000  # rows held in memory before a batch is written in one transaction


class Batch:
    """Parsed files waiting to be written: rows, rejections and ledger entries, all or nothing."""

    def __init__(self):
        self.rows: dict[str, list[dict]] = {}
        self.rejects: list[tuple] = []
        self.ledger: list[dict] = []
        self.staged: list[tuple[plain_csv.Layout, str]] = []  # plain files parsed by DuckDB (temp tables)
        self.size = 0

    def add(self, ledger: dict, tables: dict[str, list[dict]] | None = None, rejects=()) -> None:
        lineage = {"file_path": ledger["file_path"], "file_sha256": ledger["file_sha256"],
                   "loaded_at": ledger["loaded_at"]}
        for table, rows in (tables or {}).items():
            self.rows.setdefault(table, []).extend({**r, **lineage} for r in rows)
            self.size += len(rows)
        self.rejects.extend((ledger["source"], ledger["file_path"], ledger["file_sha256"], line, reason)
                            for line, reason in rejects)
        self.ledger.append(ledger)

    def write(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self.ledger:
            return
        con.execute("BEGIN TRANSACTION")
        try:
            for table, rows in self.rows.items():
                insert_frame(con, f"raw.{table}", pd.DataFrame.from_records(rows, columns=columns(table)))
            for layout, name in self.staged:
                plain_csv.insert_staged(con, layout, name)
            if self.rejects:
                insert_frame(con, "ledger.rejected_rows", pd.DataFrame.from_records(
                    self.rejects, columns=["source", "file_path", "file_sha256", "line_number", "reason"]))
            insert_frame(con, "ledger.files", pd.DataFrame.from_records(self.ledger))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        for _, name in self.staged:
            con.execute(f"DROP TABLE {name}")
        self.__init__()


def insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    con.register("_incoming", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")


def ingest_source(
    con: duckdb.DuckDBPyConnection, landing: Path, source: str, p: Pseudonymiser,
    *, run_id: str | None = None, files: list[LandingFile] | None = None, digests: DigestCache | None = None,
    seen: set[tuple[str, str]] | None = None,
) -> IngestSummary:
    """Load the source's files the ledger has not seen (path and content). `digests`: the home's
    remembered digests (pipelines/lib/digests.py), so that a file already in the ledger is not
    read again; without it every file is read. `seen`: the ledger's (path, digest) of the source,
    when the caller has read them."""
    summary = IngestSummary(source)
    if seen is None:
        seen = set(con.execute("SELECT file_path, file_sha256 FROM ledger.files WHERE source = ?", [source]).fetchall())
    first_path = dict(con.execute(
        "SELECT file_sha256, min(file_path) FROM ledger.files WHERE status <> 'duplicate' GROUP BY 1").fetchall())
    batch = Batch()
    plain: dict[tuple, tuple[plain_csv.Layout, list[plain_csv.PlainFile]]] = {}  # by layout
    plain_rows = 0

    def quarantine(ledger: dict, reason: str, rows_held: int) -> None:
        """Nothing of the file is counted; rows_read records the data lines it holds (uncounted)."""
        ledger.update(status="quarantined", reason=reason, rows_read=rows_held)
        summary.files_quarantined += 1
        summary.quarantined.append((ledger["file_path"], reason))
        batch.add(ledger)

    def parse_in_python(ledger: dict, data: bytes, rel_path) -> None:
        try:
            parsed = parse_file(source, data, rel_path, p, loaded_at=ledger["loaded_at"])
        except Quarantine as exc:
            quarantine(ledger, str(exc), held_rows(source, data))
            return
        ledger.update(rows_read=parsed.rows_read, rows_loaded=parsed.rows_loaded, rows_rejected=len(parsed.rejects))
        batch.add(ledger, parsed.tables, parsed.rejects)
        count_loaded(parsed.rows_read, parsed.rows_loaded, len(parsed.rejects))

    def count_loaded(read: int, loaded: int, rejected: int) -> None:
        summary.files_loaded += 1
        summary.rows_read += read
        summary.rows_loaded += loaded
        summary.rows_rejected += rejected

    def flush_plain() -> None:
        """Parse the waiting plain files in DuckDB; a row outside the strict patterns is parsed
        by the Python parser, alone at its line number (pipelines.lib.plain_csv)."""
        nonlocal plain_rows
        for layout, waiting in plain.values():
            name, counts, others = plain_csv.stage(con, layout, waiting, p)
            batch.staged.append((layout, name))
            for f in waiting:
                ledger, n = f.ledger, counts[f.ledger["file_path"]]
                rest = others.get(ledger["file_path"])
                head = f.head or (",".join(layout.header),)
                try:
                    parsed = parse_file(source, plain_csv.with_only(head, rest or {}), f.rel_path, p,
                                        loaded_at=ledger["loaded_at"]) if rest or f.parse_head else None
                except Quarantine:  # e.g. a field past the CSV limit: the file is judged whole, in Python
                    con.execute(f"DELETE FROM {name} WHERE file_path = ?", [ledger["file_path"]])
                    parse_in_python(ledger, f.data, f.rel_path)
                    continue
                read, loaded = n + (parsed.rows_read if parsed else 0), n + (parsed.rows_loaded if parsed else 0)
                rejects = parsed.rejects if parsed else []
                ledger.update(rows_read=read, rows_loaded=loaded, rows_rejected=len(rejects))
                batch.add(ledger, parsed.tables if parsed else None, rejects)
                batch.size += n
                count_loaded(read, loaded, len(rejects))
        plain.clear()
        plain_rows = 0

    def plain_file(ledger: dict, data: bytes, rel_path) -> tuple[plain_csv.Layout, plain_csv.PlainFile] | None:
        """The file's layout and body if DuckDB can parse it (pipelines.lib.plain_csv)."""
        if source == "zoom":
            return plain_csv.zoom_plain(data, rel_path, p, ledger["loaded_at"], ledger) if plain_csv.zoom_enabled() else None
        return plain_csv.plain_file(source, rel_path, data, ledger)

    digests = digests or DigestCache()
    for f in files if files is not None else discover(landing, (source,)):
        rel = str(f.rel_path)
        try:
            if (rel, digests.cached(f)) in seen:
                summary.files_already_seen += 1
                continue
            data, sha = digests.read(f)  # the content parsed is the content digested
        except FileNotFoundError:
            summary.files_vanished += 1
            continue
        if (rel, sha) in seen:  # its stat changed, not its content (a chmod, a new hard link)
            summary.files_already_seen += 1
            continue
        seen.add((rel, sha))
        ledger = dict(source=source, file_path=rel, file_sha256=sha, status="loaded", reason=None, rows_read=0,
                      rows_loaded=0, rows_rejected=0, duplicate_of=None, loaded_at=utc_now(), run_id=run_id)
        if f.outside_target is not None:  # never read (pipelines.lib.landing)
            quarantine(ledger, f"symbolic link to a file outside the landing zone ({f.outside_target}): raw files "
                               "must sit in the landing zone as evidence; copy the file in instead", 0)
            continue
        if sha in first_path:
            ledger.update(status="duplicate", duplicate_of=first_path[sha], reason=f"byte-identical to {first_path[sha]}")
            summary.files_duplicate += 1
            batch.add(ledger)
            continue
        first_path[sha] = rel
        summary.new_hashes.append(sha)
        found = plain_file(ledger, data, f.rel_path) if plain_csv.enabled() else None
        if found is not None:
            layout, pf = found
            plain.setdefault(layout.header, (layout, []))[1].append(pf)
            plain_rows += pf.body.count("\n") + 1
            if plain_rows >= plain_csv.BATCH_ROWS:
                flush_plain()
        else:
            parse_in_python(ledger, data, f.rel_path)
        if batch.size >= BATCH_ROWS:
            flush_plain()
            batch.write(con)
    flush_plain()
    batch.write(con)
    return summary
