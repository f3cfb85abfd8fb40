"""Discover export files under a landing root. Read-only: files are evidence, never moved.

Symbolic links: a folder link is not followed (its files are not discovered). A file link is
discovered under its own path; where its real path is inside the landing root it is read like
any file (its bytes usually duplicate the target's, recorded as such). Where its real path is
outside the landing root it is never read: the file would not be evidence an auditor can find
in the landing zone, so ingestion quarantines it and it counts nothing (docs/reliability.md).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipelines.lib.contracts import SOURCES


@dataclass(frozen=True)
class LandingFile:
    source: str
    path: Path  # absolute
    rel_path: PurePosixPath  # landing-relative, as recorded in lineage
    outside_target: str | None = None  # a file link's real path outside the landing root

    def read(self) -> tuple[bytes, str]:
        """The bytes and their SHA-256. A link out of the landing root is not read: no bytes, and
        the digest of where it points (a link pointed elsewhere is a new file)."""
        if self.outside_target is not None:
            return b"", hashlib.sha256(f"link outside the landing zone: {self.outside_target}".encode()).hexdigest()
        data = self.path.read_bytes()
        return data, hashlib.sha256(data).hexdigest()


def is_in_progress(rel: PurePosixPath) -> bool:
    """`.part` files and hidden files or folders are still being written: ignore until renamed."""
    return rel.name.endswith(".part") or any(part.startswith(".") for part in rel.parts)


def outside_target(path: Path, real_root: Path) -> str | None:
    """The real path of `path` when it resolves outside `real_root`, else None."""
    real = path.resolve()
    return None if real.is_relative_to(real_root) else str(real)


def discover(landing: Path, sources: tuple[str, ...] = SOURCES) -> list[LandingFile]:
    """Every complete file under landing/<source>/ (sub-folders included), in a stable order."""
    found = []
    real_root = landing.resolve()
    for source in sources:
        root = landing / source
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            rel = PurePosixPath(path.relative_to(landing).as_posix())
            if path.is_file() and not is_in_progress(rel):
                found.append(LandingFile(source, path, rel, outside_target(path, real_root)))
    return sorted(found, key=lambda f: (f.source, str(f.rel_path)))
