"""Discover export files under a landing root. Read-only: files are evidence, never moved."""
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

    def read(self) -> tuple[bytes, str]:
        data = self.path.read_bytes()
        return data, hashlib.sha256(data).hexdigest()


def is_in_progress(rel: PurePosixPath) -> bool:
    """`.part` files and hidden files or folders are still being written: ignore until renamed."""
    return rel.name.endswith(".part") or any(part.startswith(".") for part in rel.parts)


def discover(landing: Path, sources: tuple[str, ...] = SOURCES) -> list[LandingFile]:
    """Every complete file under landing/<source>/ (sub-folders included), in a stable order."""
    found = []
    for source in sources:
        root = landing / source
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            rel = PurePosixPath(path.relative_to(landing).as_posix())
            if path.is_file() and not is_in_progress(rel):
                found.append(LandingFile(source, path, rel))
    return sorted(found, key=lambda f: (f.source, str(f.rel_path)))
