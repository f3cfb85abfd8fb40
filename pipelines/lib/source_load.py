"""One source's load as its run step does it: the files the ledger has not seen are found in the
run's process, and loaded there or, when they are large, in a process of their own
(pipelines/lib/isolated.py), the warehouse lock held by the run throughout.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.lib import isolated, lake, warehouse
from pipelines.lib.digests import DigestCache
from pipelines.lib.home import Home
from pipelines.lib.ingest import IngestSummary, ingest_source
from pipelines.lib.landing import LandingFile, entries
from pipelines.lib.locking import warehouse_lock
from pipelines.lib.members import ResolveSummary, resolve_members
from pipelines.lib.pseudonym import Pseudonymiser, load_or_create_secret


@dataclass
class Loaded:
    summary: IngestSummary
    resolved: ResolveSummary | None  # members: the register rows resolved to their LSOA
    lake_files: int                  # Parquet files written for Spark or a named lake (pipelines/lib/lake.py)
    own_process: bool = False


@dataclass
class Pending:
    """What a load in the run's process reads: the files the ledger may not hold."""
    files: list[LandingFile]      # new, changed or never read (remembered digest not in the ledger under their path)
    already_seen: int             # the others
    seen: set[tuple[str, str]]    # the ledger's (path, digest) of the source
    digests: DigestCache | None   # the remembered digests read to tell (kept: the load shares their rows)


def pending(con, landing: Path, source: str, state_dir: Path, limit: int | None) -> Pending | None:
    """The source's pending files, or None once their bytes reach `limit`: a load for a process of
    its own, which lists them itself (the run's process keeps no list of a large load's files).
    The remembered digests are read only when the ledger holds some of the source's files."""
    if limit == 0:
        return None
    seen = set(con.execute("SELECT file_path, file_sha256 FROM ledger.files WHERE source = ?", [source]).fetchall())
    digests = DigestCache(state_dir) if seen else None
    files, already, size = [], 0, 0
    for rel, _, where, outside, key in entries(landing, (source,)):
        if digests is not None and key is not None and (rel, digests.remembered(where, key)) in seen:
            already += 1
            continue
        size += key[2] if key is not None else 0
        if limit is not None and size >= limit:
            return None
        files.append(LandingFile(source, where, rel, outside))
    return Pending(sorted(files, key=lambda f: f.rel), already, seen, digests)


def load(home_root: Path, landing: Path, source: str, engine_name: str, run_id: str | None,
         todo: Pending | None) -> Loaded:
    """Ingest the pending files, resolve the register's postcodes, write the lake: the warehouse
    opened here (the caller holds its lock), the key read from the home. `todo` None: a large
    load, in a process of its own: every file of the source listed here."""
    home = Home(home_root)
    p = Pseudonymiser(load_or_create_secret(home.secret, create=False))
    digests = todo.digests if todo is not None and todo.digests is not None else DigestCache(home.state)
    with warehouse.connect(home.warehouse, staging=True) as con:
        summary = ingest_source(con, landing, source, p, run_id=run_id, digests=digests,
                                files=todo and todo.files, seen=todo and todo.seen)
        warehouse.end_staging(con)
        resolved = resolve_members(con, landing, p) if source == "members" else None
        lake_files = lake.sync(con, lake.lake_root(home.root), source) if lake.wanted(engine_name) else 0
    digests.save()
    summary.files_already_seen += todo.already_seen if todo else 0
    return Loaded(summary, resolved, lake_files)


def load_source(home: Home, landing: Path, source: str, engine_name: str, run_id: str | None) -> Loaded:
    """The step's load: new files found here, loaded here, or in their own process when their
    bytes reach isolated.LOAD_FROM_BYTES."""
    load_or_create_secret(home.secret, create=home.is_new)  # a new home's key, before anything reads it
    with warehouse_lock(home.warehouse, exclusive=True):
        with warehouse.connect(home.warehouse) as con:
            todo = pending(con, landing, source, home.state, isolated.threshold(isolated.LOAD_FROM_BYTES))
        own = todo is None
        loaded = isolated.call(load, home.root, landing, source, engine_name, run_id, todo, isolate=own)
    loaded.own_process = own
    return loaded
