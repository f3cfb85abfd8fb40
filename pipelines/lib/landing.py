"""Discover export files under a landing root. Read-only: files are evidence, never moved.

Symbolic links: a folder link is not followed (its files are not discovered). A file link is
discovered under its own path; where its real path is inside the landing root it is read like
any file (its bytes usually duplicate the target's, recorded as such). Where its real path is
outside the landing root it is never read: the file would not be evidence an auditor can find
in the landing zone, so ingestion quarantines it and it counts nothing (docs/reliability.md).
"""
from __future__ import annotations

import gc
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

from pipelines.lib.contracts import SOURCES


@dataclass(frozen=True)
class LandingFile:
    source: str
    where: str | Path  # absolute path (held as given, a str when discovered)
    rel: str | PurePosixPath  # landing-relative, as recorded in lineage
    outside_target: str | None = None  # a file link's real path outside the landing root

    # Path objects cost ~10 us a file to build: made when asked for, not for the 344,544 files a
    # 100x run with nothing new only stats (the digest cache needs the strings).
    @cached_property
    def path(self) -> Path:
        return Path(self.where)

    @cached_property
    def rel_path(self) -> PurePosixPath:
        return PurePosixPath(self.rel)

    def read(self) -> tuple[bytes, str]:
        """The bytes and their SHA-256. A link out of the landing root is not read: no bytes, and
        the digest of where it points (a link pointed elsewhere is a new file)."""
        if self.outside_target is not None:
            return b"", hashlib.sha256(f"link outside the landing zone: {self.outside_target}".encode()).hexdigest()
        data = self.path.read_bytes()
        return data, hashlib.sha256(data).hexdigest()


def outside_target(path: Path, real_root: Path) -> str | None:
    """The real path of `path` when it resolves outside `real_root`, else None."""
    real = path.resolve()
    return None if real.is_relative_to(real_root) else str(real)


def walk(folder: str, rel: str, stats: bool = False) -> Iterator[tuple[str, str, bool, os.stat_result | None]]:
    """(path, landing-relative path, is a link, its stat when `stats`) of every complete file under
    `folder`, folder links not followed. `.part` files and hidden files or folders are still being
    written: left until renamed. One scandir per folder, opened as a descriptor so that a file's
    stat is looked up from its folder (the 100x landing zone has 344,544 files; Path.rglob and a
    realpath each took most of a run with nothing new). A stack, not recursion."""
    stack = [(folder, rel)]
    while stack:
        folder, rel = stack.pop()
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # unreadable or gone: as Path.rglob, nothing under it
            continue
        try:
            entries = list(os.scandir(fd))
            for e in entries:
                if e.name.startswith("."):
                    continue
                if e.is_dir(follow_symlinks=False):
                    stack.append((f"{folder}/{e.name}", f"{rel}/{e.name}"))
                elif not e.name.endswith(".part") and e.is_file():
                    try:  # taken here: an entry's stat needs its folder's descriptor open
                        st = e.stat() if stats else None
                    except OSError:  # gone since it was listed
                        continue
                    yield f"{folder}/{e.name}", f"{rel}/{e.name}", e.is_symlink(), st
        except OSError:  # the folder could not be listed
            continue
        finally:
            os.close(fd)


def discover(landing: Path, sources: tuple[str, ...] = SOURCES) -> list[LandingFile]:
    """Every complete file under landing/<source>/ (sub-folders included), in a stable order.
    Only a file link (or files under a linked source folder) can resolve outside the root."""
    return [f for f, _ in Listing(landing, sources, stats=False).files()]


StatKey = tuple[int, int, int, int, int]


def stat_key(path: str | Path, st: os.stat_result | None = None) -> StatKey:
    """What must be unchanged for a file's remembered digest to hold (pipelines/lib/digests.py);
    `st`: a stat already taken."""
    st = st or os.stat(path)
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


# A listed file: (landing-relative path, source, absolute path, its real path when a link out of the
# landing zone, its stat key: followed, as os.stat, taken as it was listed; None for a link out,
# which is never read). Plain tuples: a LandingFile costs ~1 us to make, and a run with nothing new
# at 100x lists 344,497 files and needs none of them.
Entry = tuple[str, str, str, str | None, StatKey | None]


class Listing:
    """Every complete file under landing/<source>/, listed once, by path (each path is unique and
    starts with its source's folder: the order of (source, path))."""

    def __init__(self, landing: Path, sources: tuple[str, ...] = SOURCES, stats: bool = True):
        collecting = gc.isenabled()
        gc.disable()  # ~1 M objects, none in a cycle: the collector's passes over them cost more than the listing
        try:
            self.entries: list[Entry] = sorted(entries(landing, sources, stats))  # no comparison goes past the path
        finally:
            if collecting:
                gc.enable()

    def __len__(self) -> int:
        return len(self.entries)

    def files(self) -> list[tuple[LandingFile, StatKey | None]]:
        """Each file with its stat key (None: a link out of the landing zone, or not taken)."""
        return [(LandingFile(source, where, rel, outside), key) for rel, source, where, outside, key in self.entries]


def entries(landing: Path, sources: tuple[str, ...] = SOURCES, stats: bool = True) -> Iterator[Entry]:
    """The Listing's entries one at a time, in no set order (nothing kept)."""
    real_root = landing.resolve()
    for source in sources:
        root = landing / source
        if not root.is_dir():
            continue
        root_inside = root.resolve().is_relative_to(real_root)
        for path, rel, is_link, st in walk(str(root), source, stats):
            outside = outside_target(Path(path), real_root) if is_link or not root_inside else None
            yield rel, source, path, outside, None if outside or st is None else stat_key(path, st)
