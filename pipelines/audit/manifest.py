"""Run manifests: what every run saw, ran and produced, under <home>/runs/<run_id>.json.

`outcomes run`, `outcomes demo` and `outcomes watch` write one after each run (pipelines.runner
finish_run calls record_run). A manifest holds the run id (the Dagster run id), the time, the
code version (git commit, else the package version), the dbt project fingerprint, a check value of
the pseudonymisation key (never the key), the files in scope (ledger.files: path, SHA-256,
status), the dbt results (counts by status), the failed asset checks, and the KPI values.

The files in scope, chained: the ledger only grows (a file's row is written once), so a record
lists the rows added since the record before it (`files_added`: every row of a run that is new
or has grown since) and names that record (`previous_record`: its path and SHA-256); every
FULL_EVERY-th record, the first of a home, and any record whose predecessor cannot be used list
every file (`files_in_scope`). Each record also holds the count and one digest of the whole set
(`files_digest`, as the lineage asset's), which `files_in_scope()` checks when it rebuilds the set
from the chain. A 100x history holds 344,544 files: its whole list was 118 MB of JSON and ~3 s
of every run (docs/performance.md).

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

FORMAT = "outcomes-run-manifest/2"
REPO = Path(__file__).resolve().parents[2]
KEY_CHECK_LABEL = b"outcomes key check v1"
FULL_EVERY = 50  # a whole list every 50th record: a chain to rebuild is at most 49 records long
LATEST = "latest-record"  # runs/latest-record (not *.json): the last record's path, digest and ledger runs
FILE_FIELDS = ("source", "path", "sha256", "status", "rows_loaded", "rows_rejected", "duplicate_of", "loaded_at",
               "run_id")
FILE_ROWS = ("SELECT source, file_path, file_sha256, status, rows_loaded, rows_rejected, duplicate_of, "
             "strftime(loaded_at, '%Y-%m-%dT%H:%M:%SZ'), run_id FROM ledger.files")
# one digest of every (path, SHA-256) in scope, in DuckDB (the lineage asset records it too)
FILES_DIGEST = ("SELECT coalesce(sha256(string_agg(file_path || chr(0) || file_sha256 || chr(10), '' "
                "ORDER BY file_path, file_sha256)), sha256('')), count(*) FROM ledger.files")


class RecordChainError(Exception):
    """The files in scope of a chained record cannot be rebuilt: a record of its chain is missing or
    changed, or the rebuilt set is not the one the record describes."""


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


def digest_of(files) -> str:
    """FILES_DIGEST of a list of files (dicts with path and sha256), in Python."""
    h = hashlib.sha256()
    for path, sha in sorted((f["path"], f["sha256"]) for f in files):
        h.update(f"{path}\0{sha}\n".encode())
    return h.hexdigest()


def files_summary(con) -> tuple[str, int, dict[str, int]]:
    """(FILES_DIGEST, number of files, files by status) of the ledger: the run's record and the
    lineage asset both record them."""
    digest, count = con.execute(FILES_DIGEST).fetchone()
    return digest, count, dict(con.execute("SELECT status, count(*) FROM ledger.files GROUP BY 1 ORDER BY 1").fetchall())


def read_files(con, since: dict[str, int] | None = None) -> dict:
    """The files in scope: count, digest, status counts, rows per loading run (`runs`: run id, ''
    for none -> rows) and the rows themselves: all of them, or with `since` (the runs of an
    earlier record, a subset of these) only those of the runs new or grown since."""
    digest, count, by_status = files_summary(con)
    runs = dict(con.execute("SELECT coalesce(run_id, ''), count(*) FROM ledger.files GROUP BY 1 ORDER BY 1").fetchall())
    query, params = FILE_ROWS, []
    if since is not None:
        grown = [r for r, n in runs.items() if since.get(r) != n]
        query += " WHERE coalesce(run_id, '') IN (SELECT unnest(?::VARCHAR[]))"
        params = [grown]
    rows = con.execute(query + " ORDER BY file_path, file_sha256", params).fetchall()
    return {"count": count, "digest": digest, "by_status": by_status, "runs": runs,
            "rows": [dict(zip(FILE_FIELDS, r)) for r in rows]}


def read_state(home: Home, since: dict[str, int] | None = None) -> tuple[dict | None, list[dict]]:
    """(files in scope as read_files gives them, KPI rows) from the warehouse, read-only; (None,
    []) when there is none yet."""
    if not home.warehouse.exists():
        return None, []
    from pipelines.audit.db import read_warehouse

    with read_warehouse(home, need_audit_models=False) as con:
        files = read_files(con, since)
        has_kpis = con.execute("SELECT count(*) FROM information_schema.tables "
                               "WHERE table_schema = 'main' AND table_name = 'kpi_annual'").fetchone()[0]
        rows = con.execute("SELECT financial_year, kpi, value FROM main.kpi_annual").fetchall() if has_kpis else []
    order = kpi_registry.order()
    kpis = [{"financial_year": y, "kpi": k, "value": v}
            for y, k, v in sorted(rows, key=lambda r: (r[0], order.get(r[1], 99), r[1]))]
    return files, kpis


def previous_record(home: Home) -> dict | None:
    """The record a new one can chain to (runs/LATEST), in this home's runs/ (a copied home's
    records chain to its own copies): None when there is none, it is gone or changed size, its
    chain is FULL_EVERY - 1 long already, or it cannot be read."""
    try:
        latest = json.loads((runs_dir(home) / LATEST).read_text())
        path = runs_dir(home) / Path(latest["path"]).name
        if path.stat().st_size == latest["size"] and latest["chain"] + 1 < FULL_EVERY:
            return {**latest, "path": str(path)}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def read_record(pointer: dict) -> bytes:
    """The bytes of the record a `previous_record` names, from runs/, checked against its SHA-256."""
    try:
        data = Path(pointer["path"]).read_bytes()
    except OSError as exc:
        raise RecordChainError(f"the run record {pointer['path']} of the chain cannot be read: {exc}") from None
    return checked(data, pointer, "the run record")


def checked(data: bytes, pointer: dict, what: str) -> bytes:
    """`data`, the bytes of the record `pointer` names, if they have the SHA-256 it gives."""
    if hashlib.sha256(data).hexdigest() != pointer["sha256"]:
        raise RecordChainError(f"{what} {pointer['path']} has changed since a later record named it")
    return data


def load_record(pointer: dict) -> dict:
    return json.loads(read_record(pointer))


def files_in_scope(record: dict, load=load_record) -> list[dict]:
    """Every file in scope of a run, in (path, SHA-256) order: its record's whole list, or the
    list its chain ends in with each later record's added rows (`load(pointer)` reads a record a
    `previous_record` names), checked against the record's count and digest. A record that lists
    no files and names no previous one (a snapshot's summary of a run): none."""
    if "files_in_scope" not in record and not record.get("previous_record"):
        return []
    chain, head = [], record
    while "files_in_scope" not in head:
        if not head.get("previous_record"):
            raise RecordChainError(f"run record {head.get('run_id')} has neither its files nor a previous record")
        chain.append(head)
        head = load(head["previous_record"])
    files = {(f["path"], f["sha256"]): f for f in head["files_in_scope"]}
    for later in reversed(chain):
        files.update(((f["path"], f["sha256"]), f) for f in later["files_added"])
    out = [files[k] for k in sorted(files)]
    if "files_digest" in record and (len(out), digest_of(out)) != (record["files_in_scope_count"],
                                                                        record["files_digest"]):
        raise RecordChainError(f"the files rebuilt for run record {record.get('run_id')} are not the ones it "
                               f"describes ({len(out):,} files against {record['files_in_scope_count']:,})")
    return out


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
    previous = previous_record(home)
    files, kpis = read_state(home, previous["runs"] if previous else None)
    if files is not None and previous is not None and any(files["runs"].get(r, 0) < n
                                                          for r, n in previous["runs"].items()):
        previous = None  # not the ledger the previous record saw (a warehouse made again): the whole list
        files = read_state(home)[0]
    files = files or {"count": 0, "digest": hashlib.sha256(b"").hexdigest(), "by_status": {}, "runs": {}, "rows": []}
    landing = landing or summary.get("landing") or os.environ.get("OUTCOMES_LANDING") or last_landing(home)
    record = {
        "format": FORMAT,
        "run_id": summary.get("run_id") or run_id,
        "written_at": utc_now(),
        "success": summary.get("success"),
        "home": str(home.root),
        "landing": str(Path(landing).resolve()) if landing else None,
        "code_version": code_version(),
        "pseudonym_key_check": key_check(home),
        "files_in_scope_count": files["count"],
        "files_digest": files["digest"],
        "files_by_status": files["by_status"],
        "ledger_runs": files["runs"],
    }
    if previous is None:
        record["files_in_scope"] = files["rows"]
    else:
        record["previous_record"] = {k: previous[k] for k in ("path", "sha256", "chain")}
        record["files_added"] = files["rows"]
    return {**record,
            "ingested_this_run": summary.get("ingested"),
            "dbt": dbt_results(home),
            "step_seconds": summary.get("step_seconds"),
            "checks": None if not summary else {"failed_checks": summary.get("failed_checks", []),
                                                "failed_steps": summary.get("failed_steps", [])},
            "kpis": kpis}


def dumps(data: dict) -> str:
    """Readable JSON with one line per listed file (thousands of files stay small)."""
    items, encode = [], json.JSONEncoder(default=str).encode  # one encoder for every file (344,544 at 100x)
    for key, value in data.items():
        if key in ("files_in_scope", "files_added") and isinstance(value, list):
            body = ",\n".join("  " + encode(f) for f in value)
            items.append(f' {json.dumps(key)}: [\n{body}\n ]' if value else f' {json.dumps(key)}: []')
        else:
            items.append(f" {json.dumps(key)}: " + json.dumps(value, indent=1, default=str).replace("\n", "\n "))
    return "{\n" + ",\n".join(items) + "\n}\n"


def write_run_record(home: Home, manifest: dict) -> tuple[Path, str]:
    """Write the run's record, naming its path in it (`manifest_path`), and make it the one the
    next record chains to (runs/LATEST); (path, the JSON written), which the snapshot versions it
    produces keep too."""
    run_id = manifest.get("run_id") or "run-" + manifest["written_at"].replace(":", "")
    path = runs_dir(home) / f"{run_id}.json"
    if path.exists():  # never rewrite a run's record
        path = path.with_name(f"{run_id}-{manifest['written_at'].replace(':', '')}.json")
    manifest["manifest_path"] = str(path)
    text = dumps(manifest)
    write_text(path, text, mode=0o444)
    data = text.encode()
    chain = manifest["previous_record"]["chain"] + 1 if manifest.get("previous_record") else 0
    write_text(runs_dir(home) / LATEST, json.dumps({"path": str(path), "sha256": hashlib.sha256(data).hexdigest(),
                                                    "size": len(data), "chain": chain,
                                                    "runs": manifest.get("ledger_runs", {})}))
    return path, text


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
