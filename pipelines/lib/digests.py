"""Content digests of landing files, remembered between runs.

Every run needs each landing file's SHA-256: the ledger, the nothing-new check and the landing
sensor all name files by content. Reading the whole landing zone to learn that nothing changed
made every run cost in proportion to the history (6 GB at 100x, read by the nothing-new check and
again by each source's ingestion). A digest is reused while the file's device, inode, size,
mtime and ctime are all unchanged. Any write to a file changes its ctime, and no user call can
set a ctime back (`touch -d` sets mtime, and changes ctime doing so), so a changed file is always
read again; a file replaced by another (a rename over it) has another inode.

The cache is an SQLite file in the home's state folder (`<home>/state/landing_digests.sqlite`):
only an optimisation, so a cache that cannot be read or written is ignored and rebuilt.
"""
from __future__ import annotations

import sqlite3
import weakref
from pathlib import Path

from pipelines.lib.landing import LandingFile, StatKey, stat_key

FILE_NAME = "landing_digests.sqlite"

# What this process last read from or wrote to each cache file, with the file's stat then. A cache
# made again in the same process while another is alive (the run's nothing-new check, then each
# source's ingestion: 344,544 rows at 100x, 0.65 s a load) shares its rows while the file is as
# this process left it; a file another process saved since is read again. Weak references: the
# rows are not kept once no cache holds them. Every digest is still checked against its file's
# stat before use, so a shared row can only be missing, never wrong.
class _Rows(dict):
    """A cache's rows: path -> (stat key, digest) (a dict a weak reference can name)."""


_LOADED: dict[Path, tuple[StatKey | None, weakref.ref]] = {}


def _file_stat(path: Path) -> StatKey | None:
    """The cache file's stat key (as a landing file's), None when it is gone."""
    try:
        return stat_key(path)
    except OSError:
        return None


class DigestCache:
    """digest(file) -> SHA-256 of its content, read only when its stat changed since it was last
    read (by this process or an earlier one that saved the cache)."""

    def __init__(self, state_dir: Path | None = None):
        self.path = None if state_dir is None else Path(state_dir) / FILE_NAME
        self.known: dict[str, tuple[tuple, str]] = _Rows()
        self.new: dict[str, tuple[tuple, str]] = {}
        self.reads = 0
        if self.path is not None and self.path.exists():
            now = _file_stat(self.path)
            loaded = _LOADED.get(self.path)
            shared = loaded[1]() if loaded is not None and now is not None and loaded[0] == now else None
            if shared is not None:
                self.known = shared
                return
            try:
                with sqlite3.connect(self.path, timeout=5) as db:
                    rows = db.execute("SELECT path, dev, ino, size, mtime_ns, ctime_ns, sha256 FROM digests").fetchall()
                self.known = _Rows((r[0], (tuple(r[1:6]), r[6])) for r in rows)
                _LOADED[self.path] = (now, weakref.ref(self.known))  # the stat before the read: a write during it reloads
            except sqlite3.Error:
                self.known = _Rows()

    def cached(self, f: LandingFile, stat: StatKey | None = None) -> str | None:
        """The remembered digest, if the file's stat (`stat`: taken by the caller) is unchanged
        since it was read."""
        if f.outside_target is not None:  # never read: the digest of where it points
            return f.read()[1]
        return self.remembered(str(f.where), stat or stat_key(f.where))

    def remembered(self, where: str, stat: StatKey) -> str | None:
        """The digest remembered for the file at `where` (its absolute path) if its stat key is
        still `stat` (no LandingFile needed: a day's load at 100x asks for every file of a source)."""
        cached = self.new.get(where) or self.known.get(where)
        return cached[1] if cached is not None and cached[0] == stat else None

    def digest(self, f: LandingFile, stat: StatKey | None = None) -> str:
        return self.cached(f, stat) or self.read(f)[1]

    def read(self, f: LandingFile) -> tuple[bytes, str]:
        """The bytes and their digest, read now, remembered (when the file did not change while
        it was read)."""
        stat = stat_key(f.where) if f.outside_target is None else None
        data, sha = f.read()
        if stat is not None:
            self.reads += 1
            if stat_key(f.where) == stat:
                self.new[str(f.where)] = (stat, sha)
        return data, sha

    def save(self) -> None:
        if self.path is None or not self.new:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with sqlite3.connect(self.path, timeout=5) as db:
                db.execute("CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, "
                           "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, sha256 TEXT NOT NULL)")
                db.executemany("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [(p, *stat, sha) for p, (stat, sha) in self.new.items()])
        except sqlite3.Error:
            return  # only a cache: the next run reads those files again
        self.known.update(self.new)
        self.new = {}
        _LOADED[self.path] = (_file_stat(self.path), weakref.ref(self.known))
