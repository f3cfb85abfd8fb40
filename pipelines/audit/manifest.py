"""Run manifests: what every run saw, ran and produced, under <home>/runs/<run_id>.json.

`outcomes run`, `outcomes demo` and `outcomes watch` write one after each run (pipelines.runner
finish_run calls record_run). A manifest holds the run id (the Dagster run id), the time, the
code version (git commit, else the package version), the dbt project fingerprint, a check value of
the pseudonymisation key (never the key), every file in scope (ledger.files: path, SHA-256,
status), the dbt results (counts by status), the failed asset checks, and the KPI values.

Written atomically (temporary file, then rename); never rewritten.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import subprocess
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from pipelines.lib import kpi_registry
from pipelines.lib.atomic import write_text
from pipelines.lib.home import Home

FORMAT = "outcomes-run-manifest/1"
REPO = Path(__file__).resolve().parents[2]
KEY_CHECK_LABEL = b"outcomes key check v1"


def runs_dir(home: Home) -> Path:
    return home.root / "runs"


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def code_version() -> dict:
    """The git commit of the code when run from a checkout (with a dirty flag), and the package version."""
    out: dict = {"git_commit": None, "git_dirty": None, "package_version": None}
    try:
        from importlib.metadata import version
        out["package_version"] = version("lifeRooms-outcomes")
    except Exception:
        pass
    try:
        run = lambda *a: subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True, timeout=10)  # noqa: E731
        head = run("rev-parse", "HEAD")
        if head.returncode == 0:
            out["git_commit"] = head.stdout.strip()
            status = run("status", "--porcelain", "--untracked-files=no", "--", "pipelines", "dbt_project", "dashboards")
            out["git_dirty"] = bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from pipelines.lib.dbt_project import project_fingerprint
        out["dbt_project_fingerprint"] = project_fingerprint()
    except Exception:
        out["dbt_project_fingerprint"] = None
    return out


def key_check(home: Home) -> str | None:
    """A check value of the pseudonymisation key: equal keys give equal values; reveals nothing."""
    if not home.secret.exists():
        return None
    key = bytes.fromhex(home.secret.read_text().strip())
    return hmac.new(key, KEY_CHECK_LABEL, hashlib.sha256).hexdigest()[:16]


def dbt_results(home: Home) -> dict | None:
    path = home.dbt_target / "run_results.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    results = data.get("results", [])
    counts = Counter(r.get("status") for r in results)
    not_ok = sorted(r.get("unique_id") for r in results if r.get("status") in ("error", "fail", "warn", "skipped"))
    return {"generated_at": data.get("metadata", {}).get("generated_at"),
            "invocation_id": data.get("metadata", {}).get("invocation_id"),
            "counts": dict(sorted(counts.items())), "not_ok": not_ok,
            "elapsed_seconds": data.get("elapsed_time")}


def read_state(home: Home) -> tuple[list[dict], list[dict]]:
    """(files in scope, KPI rows) from the warehouse, read-only; empty when there is none yet."""
    if not home.warehouse.exists():
        return [], []
    from pipelines.audit.db import read_warehouse

    with read_warehouse(home, need_audit_models=False) as con:
        files = [dict(zip(("source", "path", "sha256", "status", "rows_loaded", "rows_rejected", "duplicate_of",
                           "loaded_at", "run_id"), r))
                 for r in con.execute(
                     "SELECT source, file_path, file_sha256, status, rows_loaded, rows_rejected, duplicate_of, "
                     "strftime(loaded_at, '%Y-%m-%dT%H:%M:%SZ'), run_id FROM ledger.files "
                     "ORDER BY file_path, file_sha256").fetchall()]
        has_kpis = con.execute("SELECT count(*) FROM information_schema.tables "
                               "WHERE table_schema = 'main' AND table_name = 'kpi_annual'").fetchone()[0]
        rows = con.execute("SELECT financial_year, kpi, value FROM main.kpi_annual").fetchall() if has_kpis else []
    order = kpi_registry.order()
    kpis = [{"financial_year": y, "kpi": k, "value": v}
            for y, k, v in sorted(rows, key=lambda r: (r[0], order.get(r[1], 99), r[1]))]
    return files, kpis


def last_landing(home: Home) -> str | None:
    """The landing root of the latest run recorded in this home."""
    manifests = sorted(runs_dir(home).glob("*.json"), key=lambda p: p.stat().st_mtime) if runs_dir(home).is_dir() else []
    for path in reversed(manifests):
        try:
            landing = json.loads(path.read_text()).get("landing")
        except (OSError, ValueError):
            continue
        if landing:
            return landing
    return None


def build_run_manifest(home: Home, summary: dict | None = None, *, run_id: str | None = None,
                       landing: str | os.PathLike | None = None) -> dict:
    """The manifest of a run. `summary` is pipelines.runner.run_pipeline's (it names the landing
    root); inside a Dagster job pass run_id (the checks are then not known yet and recorded as None)."""
    summary = summary or {}
    files, kpis = read_state(home)
    landing = landing or summary.get("landing") or os.environ.get("OUTCOMES_LANDING") or last_landing(home)
    return {
        "format": FORMAT,
        "run_id": summary.get("run_id") or run_id,
        "written_at": utc_now(),
        "success": summary.get("success"),
        "home": str(home.root),
        "landing": str(Path(landing).resolve()) if landing else None,
        "code_version": code_version(),
        "pseudonym_key_check": key_check(home),
        "files_in_scope": files,
        "files_by_status": dict(sorted(Counter(f["status"] for f in files).items())),
        "ingested_this_run": summary.get("ingested"),
        "dbt": dbt_results(home),
        "step_seconds": summary.get("step_seconds"),
        "checks": None if not summary else {"failed_checks": summary.get("failed_checks", []),
                                            "failed_steps": summary.get("failed_steps", [])},
        "kpis": kpis,
    }


def dumps(data: dict) -> str:
    """Readable JSON with one line per list item of `files_in_scope` (thousands of files stay small)."""
    items, encode = [], json.JSONEncoder(default=str).encode  # one encoder for every file (344,544 at 100x)
    for key, value in data.items():
        if key == "files_in_scope" and isinstance(value, list):
            body = ",\n".join("  " + encode(f) for f in value)
            items.append(f' {json.dumps(key)}: [\n{body}\n ]' if value else f' {json.dumps(key)}: []')
        else:
            items.append(f" {json.dumps(key)}: " + json.dumps(value, indent=1, default=str).replace("\n", "\n "))
    return "{\n" + ",\n".join(items) + "\n}\n"


def write_run_manifest(home: Home, manifest: dict) -> Path:
    return write_run_record(home, manifest)[0]


def write_run_record(home: Home, manifest: dict) -> tuple[Path, str]:
    """Write the run's record, naming its path in it (`manifest_path`); (path, the JSON written),
    which the snapshot versions it produces keep too (encoding a 100x record takes ~1.4 s)."""
    run_id = manifest.get("run_id") or "run-" + manifest["written_at"].replace(":", "")
    path = runs_dir(home) / f"{run_id}.json"
    if path.exists():  # never rewrite a run's record
        path = path.with_name(f"{run_id}-{manifest['written_at'].replace(':', '')}.json")
    manifest["manifest_path"] = str(path)
    text = dumps(manifest)
    return write_text(path, text, mode=0o444), text


def read_published(home: Home) -> list[tuple[str, str, float | None]] | None:
    """<home>/published/kpi_annual.csv (written after the blocking checks pass), if there is one."""
    path = home.root / "published" / "kpi_annual.csv"
    if not path.exists():
        return None
    with path.open(newline="") as fh:
        return [(r["financial_year"], r["kpi"], float(r["value"]) if r["value"] != "" else None)
                for r in csv.DictReader(fh)]


def record_run(home: Home, summary: dict) -> Path:
    """After a run: write its manifest and record what it published as snapshot versions.

    What is published: <home>/published/kpi_annual.csv when the publishing step wrote one, else
    (no publishing step) the KPIs of a run that succeeded. Recording the same numbers again adds
    no version, so this is safe to call after every run.
    """
    from pipelines.audit.snapshots import record_publication

    manifest = build_run_manifest(home, summary)
    path, encoded = write_run_record(home, manifest)
    published = read_published(home)
    if published is None and summary.get("success") and manifest["kpis"]:
        published = [(r["financial_year"], r["kpi"], r["value"]) for r in manifest["kpis"]]
    if published:
        record_publication(home, published, manifest, encoded)
    return path
