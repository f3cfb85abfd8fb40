"""`outcomes reproduce SNAPSHOT`: rebuild a published snapshot from the raw files its manifest names.

Into a scratch home, nothing is copied from the original home except the pseudonymisation key
(so that pseudonyms, and so distinct-person counts, are identical). A scratch landing zone is
built from the files in the snapshot's run manifest, read from the original landing root (or
--landing) and checked against their recorded SHA-256; files that arrived later are left out. The
whole pipeline then runs on the scratch landing and the year's KPIs are compared with the
snapshot. A missing or changed file, a different code version or key, or a failed run is reported
as the reason for any difference.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from pipelines.audit.manifest import (RecordChainError, build_run_manifest, code_version, key_check, read_state,
                                      write_run_record)
from pipelines.audit.snapshots import Snapshot, format_value, resolve
from pipelines.lib import kpi_registry
from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home


@dataclass
class Result:
    snapshot: Snapshot
    scratch: Path
    files_placed: int = 0
    file_problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    comparison: list[tuple[str, str, str]] = field(default_factory=list)  # (kpi, snapshot, reproduced)
    run_ok: bool = True

    @property
    def differences(self) -> list[tuple[str, str, str]]:
        return [c for c in self.comparison if c[1] != c[2]]

    @property
    def matches(self) -> bool:
        return self.run_ok and bool(self.comparison) and not self.differences


def place_files(files: list[dict], landing_root: Path, scratch_landing: Path) -> tuple[int, list[str]]:
    """Copy every file in scope into the scratch landing, verifying its SHA-256."""
    placed: dict[str, str] = {}
    problems = []
    for f in files:
        rel = PurePosixPath(f["path"])
        if rel.is_absolute() or ".." in rel.parts:
            problems.append(f"{f['path']}: not a landing-relative path, skipped")
            continue
        if f["path"] in placed:
            if placed[f["path"]] != f["sha256"]:
                problems.append(f"{f['path']} was delivered with two contents (sha256 {placed[f['path']][:12]}… "
                                f"and {f['sha256'][:12]}…); the landing zone can hold only one of them")
            continue
        src = landing_root / rel
        if not src.is_file():
            problems.append(f"{f['path']} (sha256 {f['sha256'][:12]}…, {f['status']}) is missing from {landing_root}")
            continue
        data = src.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if sha != f["sha256"]:
            problems.append(f"{f['path']} has changed since the snapshot (sha256 was {f['sha256'][:12]}…, "
                            f"now {sha[:12]}…); the changed content is used")
        dest = scratch_landing / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        placed[f["path"]] = f["sha256"]
    return len(placed), problems


def copy_key(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(src.read_text())


def reproduce(home: Home, ref: str, *, run_pipeline: Callable[[Home, Path], dict], landing: str | None = None,
              scratch: str | None = None, progress=print) -> Result:
    """`run_pipeline(home, landing) -> summary` runs the whole job: the command layer's runner
    (pipelines.runner), given by the CLI, which this module sits below."""
    snap = resolve(home, ref)
    run = snap.run_manifest()
    try:
        files = snap.files_in_scope(run)
    except RecordChainError as exc:
        raise UsageError(f"snapshot {snap.id} cannot name its files: {exc}") from None
    if not files:
        raise UsageError(f"snapshot {snap.id} has no run manifest naming its files: it cannot be reproduced")
    landing_root = Path(landing or run.get("landing") or "")
    if not str(landing_root) or not landing_root.is_dir():
        raise UsageError(f"landing root {landing_root or '(none recorded)'} of snapshot {snap.id} is not a folder: "
                         "give it with --landing")
    if scratch:
        root = Path(scratch).resolve()
        if root.exists() and any(root.iterdir()):
            raise UsageError(f"scratch folder {root} is not empty")
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="outcomes-reproduce-"))
    scratch_home, scratch_landing = Home(root / "home"), root / "landing"
    result = Result(snap, root)

    if not home.secret.exists():
        raise UsageError(f"no pseudonymisation key {home.secret}: the snapshot's person counts cannot be reproduced")
    copy_key(home.secret, scratch_home.secret)
    if run.get("pseudonym_key_check") and key_check(scratch_home) != run["pseudonym_key_check"]:
        result.notes.append("the pseudonymisation key differs from the one the snapshot was built with: "
                            "distinct-person KPIs may differ")

    result.files_placed, result.file_problems = place_files(files, landing_root, scratch_landing)
    scratch_landing.mkdir(parents=True, exist_ok=True)
    then, now = run.get("code_version") or {}, code_version()
    if then.get("git_commit") and now.get("git_commit") and then["git_commit"] != now["git_commit"]:
        result.notes.append(f"code version differs: snapshot built by {then['git_commit'][:12]}, "
                            f"reproduced with {now['git_commit'][:12]}")
    if then.get("dbt_project_fingerprint") and then.get("dbt_project_fingerprint") != now.get("dbt_project_fingerprint"):
        result.notes.append("the dbt project (KPI rules) has changed since the snapshot was built")

    progress(f"reproducing {snap.id} ({snap.financial_year}, {snap.kind}) from {result.files_placed} files of "
             f"{landing_root} in {root}")
    summary = run_pipeline(scratch_home, scratch_landing)
    write_run_record(scratch_home, build_run_manifest(scratch_home, summary, landing=scratch_landing))
    if not summary["success"]:
        result.run_ok = False
        result.notes.append("the scratch run did not complete: "
                            + (", ".join(summary["failed_checks"] or summary["failed_steps"]) or "see its log"))
    rows = read_state(scratch_home)[1]
    got = {r["kpi"]: format_value(r["kpi"], r["value"]) for r in rows if r["financial_year"] == snap.financial_year}
    want = snap.values()
    order = kpi_registry.order()
    for kpi in sorted(set(want) | set(got), key=lambda k: (order.get(k, 99), k)):
        result.comparison.append((kpi, want.get(kpi, "(absent)"), got.get(kpi, "(absent)")))
    return result


def render(result: Result) -> str:
    s = result.snapshot
    lines = [f"snapshot {s.id}: {s.financial_year}, {s.kind}, created {s.manifest['created_at']}",
             f"scratch home: {result.scratch / 'home'} (landing: {result.scratch / 'landing'}, "
             f"{result.files_placed} files)", ""]
    width = max([len(k) for k, _, _ in result.comparison] + [3])
    lines.append(f"{'kpi':<{width}}  {'snapshot':>20}  {'reproduced':>20}  ")
    for kpi, want, got in result.comparison:
        lines.append(f"{kpi:<{width}}  {want:>20}  {got:>20}  {'ok' if want == got else 'DIFFERS'}")
    lines.append("")
    if result.matches:
        lines.append(f"reproduced: all {len(result.comparison)} KPIs of {s.id} match")
    else:
        lines.append(f"NOT reproduced: {len(result.differences)} KPI(s) differ" if result.differences
                     else "NOT reproduced")
    if result.file_problems or result.notes:
        lines.append("why (what differs from the snapshot's run):" if not result.matches else "notes:")
        lines += [f"  - {p}" for p in result.file_problems + result.notes]
    elif not result.matches:
        lines.append("  no file is missing or changed and the code is the same: see the scratch home's run log")
    return "\n".join(lines) + "\n"
