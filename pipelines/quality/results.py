"""Every check's result of a run, recorded as it happens, summarised after each record.

Checks run as separate Dagster steps, some are skipped when an upstream step fails, and the
report must exist however the run ends. So each check (and the dbt step for its tests, and the
publishing assets) appends its result to <home>/quality/runs/<run_id>.jsonl and re-renders:

- <home>/quality/last_run.json  the machine-readable summary `outcomes checks` reads
  (shape: `summarise`), and
- <home>/dashboards/quality.html  the report a data engineer reads (pipelines.quality.report).

The first record of a run lists the checks the run was expected to evaluate, so a check that
never ran (skipped after an upstream failure) is reported as not run, not forgotten.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import dagster as dg

from pipelines.lib.atomic import write_text as write_atomic
from pipelines.lib.home import Home

KEEP_RUNS = 30  # per-run record files kept under <home>/quality/runs
STATUS_ORDER = {"failed": 0, "warning": 1, "not_run": 2, "passed": 3}
KIND_META = "outcomes/kind"  # asset check spec metadata naming the kind of check


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
    """Dagster metadata values and other objects as plain JSON values."""
    if isinstance(v, dg.MetadataValue):
        v = v.value
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [jsonable(x) for x in v]
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    if hasattr(v, "item"):
        return jsonable(v.item())
    return str(v)


# --- what the run is expected to check ----------------------------------------------------------

def check_kind(spec: dg.AssetCheckSpec) -> str:
    md = spec.metadata or {}
    if KIND_META in md:
        return str(jsonable(md[KIND_META]))
    if any(k.startswith("dagster_dbt/") for k in md):
        return "dbt"
    return "python"


def full_asset_graph(context):
    """Every asset and check defined (a subset run's job holds only its own)."""
    try:
        return context.repository_def.asset_graph
    except Exception:  # execute_in_process has no repository: the one set of definitions
        from pipelines.definitions import defs

        return defs.resolve_asset_graph()


def checks_in_run(context, graph=None) -> set:
    """The check keys this run evaluates (if nothing upstream fails): the run's check selection,
    else the checks of its selected assets, else those of its job."""
    run = context.run
    graph = graph or context.job_def.asset_layer.asset_graph
    # (an unselected run has None or an empty selection)
    if getattr(run, "asset_check_selection", None):
        return set(run.asset_check_selection) & set(graph.asset_check_keys)
    if getattr(run, "asset_selection", None):
        return {k for k in graph.asset_check_keys if k.asset_key in run.asset_selection}
    return set(context.job_def.asset_layer.asset_graph.asset_check_keys)


def expected_checks(context) -> list[dict]:
    """The checks this run will evaluate if nothing upstream fails."""
    try:
        graph = full_asset_graph(context)
        out = []
        for key in checks_in_run(context, graph):
            spec = graph.get_check_spec(key)
            out.append({"check": f"{key.asset_key.to_user_string()}:{key.name}",
                        "asset": key.asset_key.to_user_string(), "name": key.name, "kind": check_kind(spec),
                        "blocking": bool(spec.blocking), "description": spec.description or ""})
        return sorted(out, key=lambda c: c["check"])
    except Exception:  # a context without a job (a direct call in a test): nothing expected
        return []


def _run_file(home: Home, run_id: str) -> Path:
    return runs_dir(home) / f"{run_id}.jsonl"


def append(home: Home, run_id: str, records: Iterable[dict], context=None) -> None:
    """Append records for the run (writing the run's header first) and re-render."""
    path = _run_file(home, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    if not path.exists():
        lines.append({"type": "run", "run_id": run_id, "started_at": utc_now(),
                      "expected": expected_checks(context) if context is not None else []})
        _prune(home, keep=path)
    lines += [{**r, "at": r.get("at") or utc_now()} for r in records]
    with open(path, "a", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(jsonable(line), sort_keys=True) + "\n")
    _update_latest(home, run_id, [r for r in lines if r.get("type") == "check"])
    render(home, run_id)


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


# --- recording ----------------------------------------------------------------------------------

def check_record(check: str, *, passed: bool, severity: str, blocking: bool, kind: str, data: str,
                 description: str = "", failures: list[dict] | None = None, details: dict | None = None,
                 metadata: dict | None = None) -> dict:
    asset, _, name = check.rpartition(":")
    sev = severity.lower()
    status = "passed" if passed else ("failed" if sev == "error" else "warning")
    return {"type": "check", "check": check, "asset": asset, "name": name, "kind": kind, "passed": passed,
            "severity": sev, "blocking": blocking, "blocks": status == "failed" and blocking, "status": status,
            "description": description, "data": data, "failures": failures or [], "details": details or {},
            "metadata": metadata or {}}


def record_check(context, home: Home, result: dg.AssetCheckResult, *, kind: str, data: str,
                 failures: list[dict] | None = None, details: dict | None = None) -> dg.AssetCheckResult:
    """Record an asset check's result for the report; returns the result unchanged."""
    spec = context.check_specs[0] if getattr(context, "check_specs", None) else None
    asset_key = result.asset_key or (spec.asset_key if spec else None)
    name = result.check_name or (spec.name if spec else "?")
    rec = check_record(
        f"{asset_key.to_user_string() if asset_key else '?'}:{name}", passed=result.passed,
        severity=result.severity.value, blocking=bool(spec.blocking) if spec else False, kind=kind, data=data,
        description=(spec.description if spec else "") or "", failures=failures, details=details,
        metadata={k: v for k, v in (result.metadata or {}).items()})
    append(home, context.run.run_id, [rec], context)
    return result


def record_publication(context, home: Home, what: str, **info) -> None:
    """A publishing asset ran: `what` is "kpi_snapshot" or "dashboards"."""
    rec = {"type": "publication", "what": what, "run_id": context.run.run_id, "at": utc_now(), **info}
    if what == "kpi_snapshot":
        write_atomic(last_published_path(home), json.dumps(jsonable(rec), indent=2) + "\n")
    append(home, context.run.run_id, [rec], context)


# --- the summary --------------------------------------------------------------------------------

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


def render(home: Home, run_id: str) -> dict:
    from pipelines.quality.report import render_html

    summary = summarise(home, run_id)
    write_atomic(last_run_path(home), json.dumps(summary, indent=1, sort_keys=True) + "\n")
    write_atomic(report_path(home), render_html(summary))
    return summary


def load_last_run(home: Home) -> dict | None:
    try:
        return json.loads(last_run_path(home).read_text())
    except (FileNotFoundError, ValueError):
        return None


# --- dbt tests, as the dbt step yields them -----------------------------------------------------

def record_dbt_events(context, home: Home, events, target_path: Path | None = None):
    """Pass the dbt step's events through unchanged, recording each dbt test's check result;
    when the stream ends (or fails), sample the failing tests' rows and record them all."""
    results: list[dg.AssetCheckResult] = []
    try:
        for event in events:
            if isinstance(event, dg.AssetCheckResult):
                results.append(event)
            yield event
    finally:
        try:
            _flush_dbt(context, home, results, target_path)
        except Exception as exc:  # the report must never break the run
            context.log.warning(f"quality report: could not record dbt test results: {exc}")


def _flush_dbt(context, home: Home, results: list, target_path: Path | None) -> None:
    from pipelines.quality.config import load

    graph = context.job_def.asset_layer.asset_graph
    run_results = _run_results(target_path)
    sample_rows = load().sample_rows
    records, seen = [], set()
    con = None

    def samples_for(unique_id):
        nonlocal con
        sql = (run_results.get(unique_id) or {}).get("compiled_code")
        if not sql:
            return []
        if con is None:
            con = _open_reader(home)
        return _sample(con, sql, sample_rows) if con is not None else []

    try:
        for r in results:
            key = dg.AssetCheckKey(r.asset_key, r.check_name)
            try:
                spec = graph.get_check_spec(key)
                blocking, description = bool(spec.blocking), spec.description or ""
            except Exception:
                blocking, description = r.severity == dg.AssetCheckSeverity.ERROR, ""
            md = {k: jsonable(v) for k, v in (r.metadata or {}).items()}
            unique_id = md.get("unique_id")
            seen.add(unique_id)
            failures = []
            if not r.passed:
                failures.append({"what": description or f"dbt test {r.check_name} returned failing rows",
                                 "severity": "error" if r.severity == dg.AssetCheckSeverity.ERROR else "warn",
                                 "count": md.get("dagster_dbt/failed_row_count"), "samples": samples_for(unique_id)})
            records.append(check_record(
                f"{r.asset_key.to_user_string()}:{r.check_name}", passed=r.passed, severity=r.severity.value,
                blocking=blocking, kind="dbt", description=description, failures=failures,
                data=f"dbt data test on {r.asset_key.to_user_string()} (whole model, built in this run)",
                metadata={k: md[k] for k in ("unique_id", "status", "dagster_dbt/failed_row_count") if k in md}))
        # dbt also runs tests whose Dagster check is not selected in this run (indirect selection):
        # a failure among them fails the dbt step, so it is reported too.
        for unique_id, res in run_results.items():
            if unique_id in seen or res.get("status") not in ("fail", "error", "warn"):
                continue
            node = res.get("node") or {}
            name = node.get("name") or unique_id.split(".")[-2]
            model = node.get("model") or "dbt"
            warn = res.get("status") == "warn"
            what = node.get("description") or f"dbt test {name} returned failing rows"
            if res.get("status") == "error":
                what = f"dbt test {name} could not run: {(res.get('message') or '').splitlines()[0][:200]}"
            records.append(check_record(
                f"{model}:{name}", passed=False, severity="WARN" if warn else "ERROR", blocking=not warn, kind="dbt",
                description=node.get("description") or "",
                data="dbt data test run by dbt with the selected models; its Dagster check is not part of this run",
                failures=[{"what": what, "severity": "warn" if warn else "error", "count": res.get("failures"),
                           "samples": samples_for(unique_id)}],
                metadata={"unique_id": unique_id, "status": res.get("status")}))
    finally:
        if con is not None:
            con.close()
    if records:
        append(home, context.run.run_id, records, context)


def _run_results(target_path: Path | None) -> dict[str, dict]:
    """The dbt invocation's test results by unique_id, with compiled SQL and, from the
    manifest, each test's name, description and the model it is attached to."""
    if target_path is None:
        return {}
    try:
        data = json.loads((Path(target_path) / "run_results.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    try:
        nodes = json.loads((Path(target_path) / "manifest.json").read_text()).get("nodes", {})
    except (FileNotFoundError, ValueError):
        nodes = {}
    out = {}
    for r in data.get("results", []):
        uid = r.get("unique_id", "")
        if not uid.startswith("test."):
            continue
        n = nodes.get(uid, {})
        ref = ((n.get("config") or {}).get("meta") or {}).get("dagster", {}).get("ref", {}).get("name")
        out[uid] = {**r, "node": {"name": n.get("name"), "description": n.get("description"),
                                  "model": ref or (n.get("attached_node") or "").rsplit(".", 1)[-1] or None}}
    return out


def _open_reader(home: Home):
    """A read-only connection for sampling failing rows. Called inside the dbt step, after dbt
    has exited, while that step holds the warehouse lock itself: so no lock is taken here."""
    import duckdb

    for _ in range(3):
        try:
            return duckdb.connect(str(home.warehouse), read_only=True)
        except duckdb.Error:
            time.sleep(0.5)
    return None


WITHHELD_COLUMNS = frozenset({"topic", "referred_to", "member_id", "service_user_pseudonym",
                              "email_pseudonym", "name_pseudonym", "host_email_pseudonym", "person_key"})


def _sample(con, sql: str, limit: int) -> list[dict]:
    """Up to `limit` failing rows of a dbt test, free text and identities withheld. The first
    rows in order of all their columns (ORDER BY ALL): the same failures give the same sample in
    every run, whatever order DuckDB's threads produce them in. A test whose columns cannot be
    ordered is sampled unordered rather than not at all."""
    from pipelines.quality.ge import plain

    for order in ("ORDER BY ALL ", ""):
        try:
            cur = con.execute(f"SELECT * FROM ({sql}) AS failing {order}LIMIT {int(limit)}")
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
            break
        except Exception:
            continue
    else:
        return []
    return [{c: ("(withheld)" if c in WITHHELD_COLUMNS else plain(v)) for c, v in zip(cols, row)} for row in rows]
