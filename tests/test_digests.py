"""Landing files' digests remembered between runs (pipelines/lib/digests.py): a file is read again
whenever it may have changed, and an unchanged landing zone is not read at all."""
from __future__ import annotations

import gc
import hashlib
import os
from pathlib import Path

from pipelines.lib.digests import FILE_NAME, DigestCache
from pipelines.lib.ingest import ingest_source
from pipelines.lib.landing import discover
from pipelines.lib.pseudonym import Pseudonymiser
from pipelines.lib.warehouse import connect

P = Pseudonymiser(b"k" * 32)
VISITS = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"


def kiosk(landing: Path, name: str, rows: str) -> Path:
    path = landing / "visits" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(VISITS + rows)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_digest_is_remembered_across_processes_until_the_file_changes(tmp_path):
    landing, state = tmp_path / "landing", tmp_path / "state"
    path = kiosk(landing, "kiosk_2022-01-01.csv", "V-1,WAL,2022-01-01 10:00,M1,member,cafe,ok\n")
    (f,) = discover(landing)
    first, old = DigestCache(state), sha(path)
    assert first.digest(f) == old and first.reads == 1
    first.save()
    again = DigestCache(state)  # another process: from the home's state folder
    assert again.digest(f) == sha(path) and again.reads == 0
    # same size, and the modification time set back: the ctime still moved, so it is read again
    before = path.stat()
    path.write_text(VISITS + "V-2,WAL,2022-01-01 10:00,M1,member,cafe,ok\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert again.digest(f) == sha(path) != old
    assert again.reads == 1


def test_a_cache_made_again_in_this_process_shares_its_rows_until_another_process_writes(tmp_path, monkeypatch):
    """The nothing-new check and each source's ingestion make their own cache in one run: the rows
    are read from SQLite once while the file is as this process left it (0.65 s a load at 100x)."""
    import sqlite3

    from pipelines.lib import digests

    landing, state = tmp_path / "landing", tmp_path / "state"
    path = kiosk(landing, "kiosk_2022-01-01.csv", "V-1,WAL,2022-01-01 10:00,M1,member,cafe,ok\n")
    (f,) = discover(landing)
    first = DigestCache(state)
    assert first.digest(f) == sha(path) and first.reads == 1
    first.save()
    connects = []
    real_connect = sqlite3.connect
    monkeypatch.setattr(digests.sqlite3, "connect", lambda *a, **k: connects.append(a) or real_connect(*a, **k))
    again = DigestCache(state)
    assert connects == [] and again.digest(f) == sha(path) and again.reads == 0
    # another process saves a digest: the file changed (its mtime moved on, as it would later), so it is read again
    with real_connect(state / FILE_NAME) as db:
        db.execute("INSERT INTO digests VALUES ('/elsewhere/a.csv', 1, 2, 3, 4, 5, ?)", ["ab" * 32])
    st = (state / FILE_NAME).stat()
    os.utime(state / FILE_NAME, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = DigestCache(state)
    assert len(connects) == 1 and third.known["/elsewhere/a.csv"][1] == "ab" * 32
    assert third.digest(f) == sha(path) and third.reads == 0
    del first, again, third  # no cache holds the rows any more: they are not kept, the next reads the file
    gc.collect()
    DigestCache(state)
    assert len(connects) == 2


def test_an_unreadable_cache_is_ignored(tmp_path):
    landing, state = tmp_path / "landing", tmp_path / "state"
    path = kiosk(landing, "kiosk_2022-01-01.csv", "V-1,WAL,2022-01-01 10:00,M1,member,cafe,ok\n")
    state.mkdir()
    (state / FILE_NAME).write_bytes(b"not a database")
    cache = DigestCache(state)
    (f,) = discover(landing)
    assert cache.digest(f) == sha(path)
    cache.save()  # nothing raised: a cache only


def test_ingestion_reads_only_files_the_ledger_has_not_seen(tmp_path):
    landing, state = tmp_path / "landing", tmp_path / "state"
    kiosk(landing, "kiosk_2022-01-01.csv", "V-1,WAL,2022-01-01 10:00,M1,member,cafe,ok\n")
    with connect(tmp_path / "warehouse.duckdb") as con:
        first = DigestCache(state)
        assert ingest_source(con, landing, "visits", P, digests=first).files_loaded == 1
        first.save()
        kiosk(landing, "kiosk_2022-01-02.csv", "V-2,WAL,2022-01-02 10:00,M2,member,cafe,ok\n")
        second = DigestCache(state)
        summary = ingest_source(con, landing, "visits", P, digests=second)
        assert (summary.files_already_seen, summary.files_loaded, second.reads) == (1, 1, 1)
        second.save()
        # a file changed in place (same name) is new content: read and loaded
        kiosk(landing, "kiosk_2022-01-01.csv", "V-1,WAL,2022-01-01 10:00,M1,member,cafe,void\n")
        third = DigestCache(state)
        summary = ingest_source(con, landing, "visits", P, digests=third)
        assert (summary.files_already_seen, summary.files_loaded, third.reads) == (1, 1, 1)
        assert con.execute("SELECT count(*) FROM raw.visits").fetchone() == (3,)
