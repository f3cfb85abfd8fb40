"""Published KPI snapshots: immutable and versioned, never overwritten.

Layout, one folder per financial year and version:

    <home>/snapshots/2021-22/v1/kpis.csv       financial_year,kpi,value (as `outcomes kpis --format csv`)
                               /diff.csv       kpi,previous,current,change against the previous version
                               /manifest.json  id, year, version, kind, time, previous id, kpis.csv SHA-256,
                                               the changes, and the run that produced it (summary)
                               /run-manifest.json.gz  that run's record: its files in scope with their
                                               SHA-256 (what `outcomes reproduce` rebuilds from),
                                               or the records added since the one it chains to
    <home>/snapshots/records/<sha256>.json.gz  the run records the versions' chains run through

A version is written into a temporary folder and renamed into place, under a lock; its files are
made read-only and never touched again. Kinds:
- provisional: what a run published for a year that is still open (a new version only when a
  number changed);
- final: the year was closed (freeze_year); the first final version closes the year;
- correction: a closed year's published numbers changed later (a late file, a fixed rule): a new
  version listing the differences; the final version stays as it was.

API for the other parts of the pipeline:
- record_publication(home, rows, run_manifest) -> {year: snapshot id}: call after publishing
  (`outcomes run` does it after every run; safe to repeat: unchanged numbers add no version);
- freeze_year(home, year, run_manifest=None) -> snapshot id: close a year: its published numbers
  become final (the close_year job, or `outcomes snapshots --freeze 2021/22`).
"""
from __future__ import annotations

import csv
import fcntl
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipelines.audit.manifest import RecordChainError, checked, read_record, read_state, utc_now
from pipelines.audit.manifest import files_in_scope as record_files
from pipelines.lib import financial_year
from pipelines.lib import kpi_registry
from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home
from pipelines.lib.kpi_table import format_value

YEAR = financial_year.LABEL
REF = re.compile(r"(\d{4})[/-](\d{2})(?:[/@]v?(\d+))?")
KINDS = ("provisional", "final", "correction")
RUN_FILE = "run-manifest.json.gz"
RECORDS = "records"  # <store>/records/<sha256>.json.gz: the run records the versions' chains run through


class SnapshotError(RuntimeError):
    pass


@dataclass(frozen=True)
class Snapshot:
    id: str                     # "2021-22/v3"
    financial_year: str         # "2021/22"
    version: int
    path: Path
    manifest: dict

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    def values(self) -> dict[str, str]:
        return read_values(self.path / "kpis.csv")

    def run_manifest(self) -> dict:
        """The record of the run that produced this version (files_in_scope() lists its files)."""
        path = self.path / RUN_FILE
        if path.exists():
            return json.loads(gzip.decompress(path.read_bytes()))
        return self.manifest.get("run") or {}

    def files_in_scope(self, record: dict | None = None) -> list[dict]:
        """Every file in scope of the run that produced this version (`record`: its run_manifest(),
        when the caller has read it): its record's list, or the chain of records the store keeps
        for it (RECORDS), checked against the record's digest."""
        root = self.path.parents[1]
        return record_files(record or self.run_manifest(), load=lambda pointer: _stored_record(root, pointer))

    def intact(self) -> bool:
        """kpis.csv and the run manifest still have the SHA-256 recorded when the version was written."""
        run = self.manifest.get("run_manifest") or {}
        return hashlib.sha256((self.path / "kpis.csv").read_bytes()).hexdigest() == self.manifest["kpis_sha256"] \
            and (not run or hashlib.sha256((self.path / run["file"]).read_bytes()).hexdigest() == run["sha256"])


# --- values -------------------------------------------------------------------------------------

def render_values(year: str, values: dict[str, str]) -> bytes:
    order = kpi_registry.order()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["financial_year", "kpi", "value"])
    for kpi in sorted(values, key=lambda k: (order.get(k, len(order)), k)):
        w.writerow([year, kpi, values[kpi]])
    return buf.getvalue().encode()


def read_values(path: Path) -> dict[str, str]:
    with path.open(newline="") as fh:
        return {r["kpi"]: r["value"] for r in csv.DictReader(fh)}


def diff(previous: dict[str, str] | None, current: dict[str, str]) -> list[dict]:
    """The KPIs whose value changed (all of them against no previous version)."""
    previous = previous or {}
    out = []
    kpis = kpi_registry.names()
    for kpi in [k for k in kpis if k in current or k in previous] + \
            sorted((set(current) | set(previous)) - set(kpis)):
        before, after = previous.get(kpi), current.get(kpi)
        if before == after:
            continue
        change = ""
        if before not in (None, "") and after not in (None, ""):
            delta = float(after) - float(before)
            change = repr(delta) if kpi in kpi_registry.ratios() else f"{int(delta):+d}"
        out.append({"kpi": kpi, "previous": before, "current": after, "change": change})
    return out


def render_diff(changes: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, ["kpi", "previous", "current", "change"], lineterminator="\n")
    w.writeheader()
    w.writerows({k: ("" if v is None else v) for k, v in c.items()} for c in changes)
    return buf.getvalue().encode()


# --- the store ----------------------------------------------------------------------------------

def store(home: Home) -> Path:
    return home.root / "snapshots"


def year_label(text: str) -> str:
    """'2021/22' or '2021-22' -> '2021/22' (validated)."""
    year = financial_year.parse(text)
    if year is None:
        raise UsageError(f"{text!r} is not a financial year like 2021/22")
    return year


def year_folder(year: str) -> str:
    return financial_year.slug(year_label(year))


def versions(home: Home, year: str) -> list[Snapshot]:
    folder = store(home) / year_folder(year)
    out = []
    if folder.is_dir():
        for d in folder.iterdir():
            if d.is_dir() and re.fullmatch(r"v\d+", d.name) and (d / "manifest.json").exists():
                out.append(Snapshot(f"{folder.name}/{d.name}", year_label(year), int(d.name[1:]), d,
                                    json.loads((d / "manifest.json").read_text())))
    return sorted(out, key=lambda s: s.version)


def list_snapshots(home: Home) -> list[Snapshot]:
    root = store(home)
    years = sorted(d.name for d in root.iterdir() if d.is_dir() and YEAR.fullmatch(d.name)) if root.is_dir() else []
    return [s for y in years for s in versions(home, y)]


def is_closed(home: Home, year: str) -> bool:
    return any(s.kind == "final" for s in versions(home, year))


def resolve(home: Home, ref: str) -> Snapshot:
    """'2021-22/v3', '2021/22/v3', '2021/22@v3', or a year for its latest version."""
    m = REF.fullmatch(ref.strip().rstrip("/"))
    if not m:
        raise UsageError(f"{ref!r} is not a snapshot id like 2021-22/v1 (see `outcomes snapshots`)")
    year = year_label(f"{m.group(1)}/{m.group(2)}")
    found = versions(home, year)
    if m.group(3) is not None:
        found = [s for s in found if s.version == int(m.group(3))]
    if not found:
        known = ", ".join(s.id for s in list_snapshots(home)) or "none"
        raise UsageError(f"no snapshot {ref} under {store(home)}; snapshots: {known}")
    return found[-1]


@contextmanager
def _locked(home: Home):
    root = store(home)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def compressed_run(run_manifest: dict | None, encoded: str | None = None) -> bytes:
    """The run's record as kept beside each version it produced (RUN_FILE): `encoded`, its JSON as
    written to runs/, when the caller has it. gzip level 1: a record listing every file of a 100x
    history (344,544, ~118 MB of JSON) takes 0.5 s and 19.7 MB, against 1.1 s and 17.5 MB at level
    6 and twice that at level 9, the module's default."""
    text = json.dumps(run_manifest or {}, default=str) if encoded is None else encoded
    return _compress(text.encode())


def _compress(data: bytes) -> bytes:
    """The store's compression of a run record (compressed_run says why level 1)."""
    return gzip.compress(data, compresslevel=1, mtime=0)


def _stored_record(root: Path, pointer: dict) -> dict:
    """A run record of a version's chain, as the store keeps it, checked against its SHA-256."""
    try:
        data = gzip.decompress((root / RECORDS / f"{pointer['sha256']}.json.gz").read_bytes())
    except OSError as exc:
        raise RecordChainError(f"the store has no copy of run record {pointer['path']}: {exc}") from None
    return json.loads(checked(data, pointer, "the store's copy of run record"))


def _keep_chain(home: Home, run_manifest: dict) -> None:
    """Copy into the store the run records a chained record runs through (back to one listing
    every file) that it does not hold yet: a version stays reproducible when <home>/runs is
    pruned, and each run adds the records since the last version, not the history's list."""
    folder = store(home) / RECORDS
    pointer = run_manifest.get("previous_record")
    while pointer:
        dest = folder / f"{pointer['sha256']}.json.gz"
        if dest.exists():
            return
        data = read_record(pointer)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{dest.name}.tmp"
        tmp.write_bytes(_compress(data))
        tmp.chmod(0o444)
        os.replace(tmp, dest)
        # chain 0: a record listing every file, where the chain ends (not parsed: 118 MB at 100x)
        pointer = json.loads(data).get("previous_record") if pointer["chain"] else None


def _self_contained(home: Home, run_manifest: dict | None, encoded: str | None) -> tuple[dict | None, bytes]:
    """(the run's record, compressed) as a version keeps it, its chain kept in the store; when a
    record of the chain is gone or changed, the record with every file of the warehouse listed
    (called right after the run the record describes, so that is the run's)."""
    if run_manifest and run_manifest.get("previous_record"):
        try:
            _keep_chain(home, run_manifest)
        except RecordChainError:
            run_manifest = {k: v for k, v in run_manifest.items() if k not in ("previous_record", "files_added")}
            files = read_state(home)[0]
            run_manifest["files_in_scope"] = files["rows"] if files else []
            encoded = None
    return run_manifest, compressed_run(run_manifest, encoded)


def _write_version(home: Home, year: str, values: dict[str, str], kind: str, run_manifest: dict | None,
                   previous: Snapshot | None, note: str | None = None, closed_by: dict | None = None,
                   run_full: bytes | None = None) -> Snapshot:
    """Write v<N+1> atomically (temporary folder, then rename); files read-only. Caller holds the lock.
    run_full: the record as the version keeps it (_self_contained), when the caller already has it."""
    assert kind in KINDS
    folder = store(home) / year_folder(year)
    folder.mkdir(parents=True, exist_ok=True)
    version = (previous.version if previous else 0) + 1
    target = folder / f"v{version}"
    if target.exists():
        raise SnapshotError(f"{target} exists: snapshots are never overwritten")
    kpis = render_values(year, values)
    changes = diff(previous.values() if previous else None, values)
    if run_full is None:
        run_manifest, run_full = _self_contained(home, run_manifest, None)
    run_summary = {k: v for k, v in (run_manifest or {}).items() if k not in ("files_in_scope", "files_added")}
    run_summary.setdefault("files_in_scope_count", len((run_manifest or {}).get("files_in_scope") or []))
    manifest = {
        "format": "outcomes-kpi-snapshot/1",
        "id": f"{folder.name}/v{version}",
        "financial_year": year,
        "version": version,
        "kind": kind,
        "created_at": utc_now(),
        "previous": previous.id if previous else None,
        "note": note,
        "closed_by": closed_by,
        "kpis_sha256": hashlib.sha256(kpis).hexdigest(),
        "changes": changes,
        "run": run_summary,
        "run_manifest": {"file": RUN_FILE, "sha256": hashlib.sha256(run_full).hexdigest(),
                         "what": "the full manifest of the run that produced this version, with every file in scope"},
    }
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        (tmp / "kpis.csv").write_bytes(kpis)
        (tmp / "diff.csv").write_bytes(render_diff(changes))
        (tmp / RUN_FILE).write_bytes(run_full)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, default=str) + "\n")
        for f in tmp.iterdir():
            f.chmod(0o444)
        tmp.chmod(0o755)
        os.rename(tmp, target)  # fails rather than replace an existing version
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Snapshot(manifest["id"], year, version, target, manifest)


def _values_by_year(rows) -> dict[str, dict[str, str]]:
    by_year: dict[str, dict[str, str]] = {}
    for row in rows:
        year, kpi, value = (row["financial_year"], row["kpi"], row["value"]) if isinstance(row, dict) else row
        by_year.setdefault(year_label(year), {})[kpi] = format_value(kpi, value)
    return by_year


def _record(home: Home, rows, run_manifest: dict | None, encoded: str | None = None) -> dict[str, str]:
    """record_publication without taking the lock (the caller holds it)."""
    out, run_full = {}, None
    for year, values in sorted(_values_by_year(rows).items()):
        existing = versions(home, year)
        last = existing[-1] if existing else None
        if last is not None and last.values() == values:
            out[year] = last.id
            continue
        closed = any(s.kind == "final" for s in existing)
        if run_full is None:  # once, whatever the years
            run_manifest, run_full = _self_contained(home, run_manifest, encoded)
        out[year] = _write_version(home, year, values, "correction" if closed else "provisional",
                                   run_manifest, last, run_full=run_full).id
    return out


def record_publication(home: Home, rows, run_manifest: dict | None, encoded: str | None = None) -> dict[str, str]:
    """Record published KPI rows ((financial_year, kpi, value) tuples or dicts), one version per year
    whose numbers changed: provisional while the year is open, a correction once it is closed.
    `encoded`: the run manifest's JSON when the caller wrote it already (write_run_record).
    Returns {year: id of the year's current version}."""
    with _locked(home):
        return _record(home, rows, run_manifest, encoded)


def freeze_year(home: Home, year: str, run_manifest: dict | None = None, *, note: str | None = None) -> str:
    """Close a financial year: the numbers published for it become its final snapshot.

    What was published: <home>/published/kpi_annual.csv (recorded first, so that the store is in
    step with it), else the year's latest recorded version, else (nothing recorded yet) the KPIs of
    run_manifest or of the warehouse. The final version keeps the manifest of the run that produced
    those numbers, so that `outcomes reproduce` rebuilds exactly them; `closed_by` names the closing
    run. Without a run_manifest one is built and written to <home>/runs/. Closing a closed year
    again returns its current version: later changes arrive as corrections (record_publication)."""
    from pipelines.audit.manifest import build_run_manifest, read_published, utc_now, write_run_record

    year = year_label(year)
    encoded = None
    if run_manifest is None:
        run_manifest = build_run_manifest(home, run_id=f"close-{year_folder(year)}-{utc_now().replace(':', '')}")
        encoded = write_run_record(home, run_manifest)[1]  # names its path in it
    published = read_published(home)
    with _locked(home):
        if published:
            _record(home, published, run_manifest, encoded)
        existing = versions(home, year)
        last = existing[-1] if existing else None
        if any(v.kind == "final" for v in existing):
            return last.id
        run_full = None
        if last is not None:  # its record as that version keeps it (its chain in the store already)
            values, provenance = last.values(), last.run_manifest() or run_manifest
            if (last.path / RUN_FILE).exists():
                run_full = (last.path / RUN_FILE).read_bytes()
        else:
            rows = run_manifest.get("kpis")
            if not rows:
                rows = read_state(home)[1]
            values, provenance = _values_by_year(rows).get(year), run_manifest
        if not values:
            raise UsageError(f"no KPIs for {year} to freeze")
        closed_by = {k: run_manifest.get(k) for k in ("run_id", "written_at", "manifest_path")}
        return _write_version(home, year, values, "final", provenance, last, note, closed_by=closed_by,
                              run_full=run_full).id


def render_list(snapshots: list[Snapshot]) -> str:
    if not snapshots:
        return "no snapshots yet (a successful `outcomes run` records the published KPIs)\n"
    lines = [f"{'snapshot':<14}{'kind':<13}{'created (UTC)':<22}{'run':<38}{'code':<10}{'intact':<8}changes"]
    for s in snapshots:
        run = (s.manifest.get("run") or {})
        commit = ((run.get("code_version") or {}).get("git_commit") or "")[:8]
        changes = ", ".join(f"{c['kpi']} {c['previous'] or '-'}->{c['current'] or '-'}" for c in s.manifest["changes"])
        if s.manifest["previous"] is None:
            changes = f"first version ({len(s.manifest['changes'])} KPIs)"
        lines.append(f"{s.id:<14}{s.kind:<13}{s.manifest['created_at']:<22}{(run.get('run_id') or '-'):<38}"
                     f"{commit or '-':<10}{'yes' if s.intact() else 'NO':<8}{changes or 'no change'}")
    return "\n".join(lines) + "\n"
