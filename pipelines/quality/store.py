"""The quality records of every run, on disk: no Dagster here.

Each recording (pipelines.quality.results) appends a run's check and publication records to
<home>/quality/runs/<run_id>.jsonl as they happen, and keeps each check's latest result across
runs (latest_by_check.json, which the publication gate reads). `summarise` turns one run's
records into the summary that last_run.json holds and the report renders
(pipelines.quality.report.render_report, once per run).

The first record of a run is a header listing the checks the run was expected to evaluate, so a
check that never ran (skipped after an upstream failure) is reported as not run, not forgotten.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from pipelines.lib.atomic import write_text as write_atomic
from pipelines.lib.home import Home

KEEP_RUNS = 30  # per-run record files kept under <home>/quality/runs
STATUS_ORDER = {"failed": 0, "warning": 1, "not_run": 2, "passed": 3}


def quality_dir(home: Home) -> Path:
    return home.root / "quality"


def runs_dir(home: Home) -> Path:
    return quality_dir(home) / "runs"


def last_run_path(home: Home) -> Path:
    return quality_dir(home) / "last_run.json"


def latest_path(home: Home) -> Path:
    return quality_dir(home) / "latest_by_check.json"


def last_published_path(home: Home) -> Path:
    return quality_dir(home) / "last_published.json"


def report_path(home: Home) -> Path:
    return home.dashboards / "quality.html"


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def jsonable(v: Any) -> Any:
    """Values as plain JSON (numpy scalars by .item(), anything else as text)."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [jsonable(x) for x in v]
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if hasattr(v, "item"):
        return jsonable(v.item())
    return str(v)


def check_record(check: str, *, passed: bool, severity: str, blocking: bool, kind: str, data: str,
                 description: str = "", failures: list[dict] | None = None, details: dict | None = None,
                 metadata: dict | None = None) -> dict:
    """One check's result as the store keeps it; `check` is "<asset>:<name>"."""
    asset, _, name = check.rpartition(":")
    sev = severity.lower()
    status = "passed" if passed else ("failed" if sev == "error" else "warning")
    return {"type": "check", "check": check, "asset": asset, "name": name, "kind": kind, "passed": passed,
            "severity": sev, "blocking": blocking, "blocks": status == "failed" and blocking, "status": status,
            "description": description, "data": data, "failures": failures or [], "details": details or {},
            "metadata": metadata or {}}


def _run_file(home: Home, run_id: str) -> Path:
    return runs_dir(home) / f"{run_id}.jsonl"


def append(home: Home, run_id: str, records: Iterable[dict],
           expected: Callable[[], list[dict]] | None = None) -> None:
    """Append records for the run. The run's first append writes its header first, with the checks
    `expected()` lists (called only then)."""
    path = _run_file(home, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    if not path.exists():
        lines.append({"type": "run", "run_id": run_id, "started_at": utc_now(),
                      "expected": expected() if expected is not None else []})
        _prune(home, keep=path)
    lines += [{**r, "at": r.get("at") or utc_now()} for r in records]
    with open(path, "a", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(jsonable(line), sort_keys=True) + "\n")
    _update_latest(home, run_id, [r for r in lines if r.get("type") == "check"])


def mark_published(home: Home, record: dict) -> None:
    """Which run published the current KPI snapshot (the report names it while one is withheld)."""
    write_atomic(last_published_path(home), json.dumps(jsonable(record), indent=2) + "\n")


def load_latest(home: Home) -> dict[str, dict]:
    """The latest evaluation of every check, across runs: {check: {status, blocks, run_id, at}}."""
    try:
        return json.loads(latest_path(home).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _update_latest(home: Home, run_id: str, checks: list[dict]) -> None:
    if not checks:
        return
    latest = load_latest(home)
    for c in checks:
        latest[c["check"]] = {"status": c["status"], "blocks": c.get("blocks", False), "run_id": run_id,
                              "at": c.get("at")}
    write_atomic(latest_path(home), json.dumps(latest, indent=0, sort_keys=True) + "\n")


def _prune(home: Home, keep: Path) -> None:
    files = sorted(runs_dir(home).glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    for old in [f for f in files if f != keep][:-KEEP_RUNS or None]:
        old.unlink(missing_ok=True)


def read_run(home: Home, run_id: str) -> list[dict]:
    path = _run_file(home, run_id)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def load_last_run(home: Home) -> dict | None:
    try:
        return json.loads(last_run_path(home).read_text())
    except (FileNotFoundError, ValueError):
        return None


def summarise(home: Home, run_id: str) -> dict:
    """The run's quality summary (what last_run.json holds)."""
    records = read_run(home, run_id)
    header = next((r for r in records if r.get("type") == "run"), {"run_id": run_id, "expected": []})
    checks: dict[str, dict] = {}
    for exp in header.get("expected") or []:
        checks[exp["check"]] = {**exp, "type": "check", "status": "not_run", "passed": None, "blocks": False,
                                "data": "not run: skipped because a step it depends on failed or did not run",
                                "failures": [], "details": {}}
    publications = {}
    for r in records:
        if r.get("type") == "check":
            checks[r["check"]] = {**checks.get(r["check"], {}), **r}
        elif r.get("type") == "publication":
            publications[r["what"]] = r
    ordered = sorted(checks.values(), key=lambda c: (STATUS_ORDER.get(c["status"], 9), c["check"]))
    counts = {s: sum(1 for c in ordered if c["status"] == s) for s in STATUS_ORDER}
    counts["total"] = len(ordered)
    blocking = [c["check"] for c in ordered if c.get("blocks")]
    warnings = [c["check"] for c in ordered if c["status"] == "warning"]
    failed_other = [c["check"] for c in ordered if c["status"] == "failed" and not c.get("blocks")]
    try:
        last_published = json.loads(last_published_path(home).read_text())
    except (FileNotFoundError, ValueError):
        last_published = None
    if blocking:
        verdict = "withheld"
        kept = (f"; the dashboards and published KPIs still show run {last_published['run_id'][:8]} "
                f"({last_published['at']})" if last_published else "; nothing has been published yet")
        headline = (f"Publication withheld: {len(blocking)} blocking check(s) failed: "
                    f"{', '.join(blocking[:5])}{' ...' if len(blocking) > 5 else ''}{kept}")
    elif "kpi_snapshot" in publications:
        verdict = "published"
        headline = (f"Published: all {counts['passed'] + counts['warning']} checks that ran passed their "
                    f"blocking rules; {counts['warning']} warning(s)")
    else:
        verdict = "not_published"
        headline = ("Not published (yet): the publishing steps have not run in this run"
                    + (f"; {counts['not_run']} check(s) did not run" if counts["not_run"] else ""))
    freshness = [c["details"] for c in ordered if c.get("details", {}).get("freshness")]
    ledger = [c["details"]["ledger"] for c in ordered if c.get("details", {}).get("ledger")]
    return {
        "run_id": run_id, "started_at": header.get("started_at"), "updated_at": utc_now(),
        "home": str(home.root), "report": str(report_path(home)),
        "verdict": verdict, "headline": headline, "counts": counts,
        "blocking_failures": blocking, "warnings": warnings, "failed_not_blocking": failed_other,
        "published_this_run": {k: publications.get(k) for k in ("kpi_snapshot", "dashboards")},
        "last_published": last_published,
        "freshness": sorted(freshness, key=lambda f: f.get("source", "")),
        "ledger": sorted(ledger, key=lambda f: f.get("source", "")),
        "checks": ordered,
    }
