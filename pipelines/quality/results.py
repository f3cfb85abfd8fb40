"""Recording the checks of a Dagster run for the quality report.

Checks run as separate Dagster steps, and some are skipped when an upstream step fails. Each
check (and the dbt step for its tests, and the publishing assets) records its result in the
store as it finishes (pipelines.quality.store); the `quality_report` resource, which every
check requires, is set up once per run and renders the report once, when the run ends, however
it ends (pipelines.quality.report.render_report):

- <home>/quality/last_run.json  the machine-readable summary `outcomes checks` reads, and
- <home>/dashboards/quality.html  the report a data engineer reads.

What a run was expected to check comes from the run's own job; the publication gate, which
needs every check defined, is handed them by its caller (pipelines.checks.catalogue).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import dagster as dg

from pipelines.lib.home import Home
from pipelines.quality import dbt_results, store

KIND_META = "outcomes/kind"  # asset check spec metadata naming the kind of check


def plain_metadata(metadata: dict | None) -> dict[str, Any]:
    """Dagster metadata as plain JSON values."""
    return {str(k): store.jsonable(v.value if isinstance(v, dg.MetadataValue) else v)
            for k, v in (metadata or {}).items()}


def check_kind(spec: dg.AssetCheckSpec) -> str:
    md = spec.metadata or {}
    if KIND_META in md:
        return str(plain_metadata({KIND_META: md[KIND_META]})[KIND_META])
    if any(k.startswith("dagster_dbt/") for k in md):
        return "dbt"
    return "python"


def checks_in_run(context, check_keys: Iterable[dg.AssetCheckKey] | None = None) -> set:
    """The check keys this run evaluates (if nothing upstream fails), out of `check_keys` (default:
    the run's job's): the run's check selection, else the checks of its selected assets, else
    those of its job."""
    run = context.run
    job_keys = set(context.job_def.asset_layer.asset_graph.asset_check_keys)
    keys = job_keys if check_keys is None else set(check_keys)
    # (an unselected run has None or an empty selection)
    if getattr(run, "asset_check_selection", None):
        return set(run.asset_check_selection) & keys
    if getattr(run, "asset_selection", None):
        return {k for k in keys if k.asset_key in run.asset_selection}
    return job_keys


def expected_checks(context) -> list[dict]:
    """The checks this run will evaluate if nothing upstream fails (from the run's job)."""
    try:
        graph = context.job_def.asset_layer.asset_graph
        out = []
        for key in checks_in_run(context):
            spec = graph.get_check_spec(key)
            out.append({"check": f"{key.asset_key.to_user_string()}:{key.name}",
                        "asset": key.asset_key.to_user_string(), "name": key.name, "kind": check_kind(spec),
                        "blocking": bool(spec.blocking), "description": spec.description or ""})
        return sorted(out, key=lambda c: c["check"])
    except Exception:  # a context without a job (a direct call in a test): nothing expected
        return []


# --- the run's report ---------------------------------------------------------------------------

class RunReport:
    """One run's quality records: appended to the store as they come, rendered once at the end."""

    def __init__(self, home: Home, run_id: str):
        self.home, self.run_id = home, run_id

    def append(self, context, records: list[dict]) -> None:
        store.append(self.home, self.run_id, records, expected=lambda: expected_checks(context))

    def render(self, log=None) -> dict | None:
        """The report of what the run recorded (nothing when it recorded nothing); never raises:
        the report must not break the run."""
        from pipelines.quality.report import render_report

        try:
            return render_report(self.home, self.run_id) if store.read_run(self.home, self.run_id) else None
        except Exception as exc:
            if log is not None:
                log.warning(f"quality report: could not render the report of run {self.run_id}: {exc}")
            return None


@dg.resource(required_resource_keys={"outcomes"},
             description="The run's quality records; renders the quality report once, when the run ends.")
def quality_report(init_context):
    report = RunReport(init_context.resources.outcomes.home_dir, init_context.run_id)
    try:
        yield report
    finally:
        report.render(init_context.log)


# Bound on every check (asset checks may bind their own resources): the resource is then set up
# once for any run that evaluates a check, and torn down, rendering, when that run ends. The dbt
# step and the publishing assets record straight into the store: a run holding them holds checks.
REPORT_RESOURCE = {"quality_report": quality_report}
QualityReport = dg.ResourceParam[RunReport]


def record_check(context, report: RunReport, result: dg.AssetCheckResult, *, kind: str, data: str,
                 failures: list[dict] | None = None, details: dict | None = None) -> dg.AssetCheckResult:
    """Record an asset check's result for the report; returns the result unchanged."""
    spec = context.check_specs[0] if getattr(context, "check_specs", None) else None
    asset_key = result.asset_key or (spec.asset_key if spec else None)
    name = result.check_name or (spec.name if spec else "?")
    rec = store.check_record(
        f"{asset_key.to_user_string() if asset_key else '?'}:{name}", passed=result.passed,
        severity=result.severity.value, blocking=bool(spec.blocking) if spec else False, kind=kind, data=data,
        description=(spec.description if spec else "") or "", failures=failures, details=details,
        metadata=plain_metadata(result.metadata))
    report.append(context, [rec])
    return result


def record_publication(context, home: Home, what: str, **info) -> None:
    """A publishing asset ran: `what` is "kpi_snapshot" or "dashboards". (A publishing asset runs
    after the blocking checks of its run, which render the report when the run ends.)"""
    rec = {"type": "publication", "what": what, "run_id": context.run.run_id, "at": store.utc_now(), **info}
    if what == "kpi_snapshot":
        store.mark_published(home, rec)
    store.append(home, context.run.run_id, [rec], expected=lambda: expected_checks(context))


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
            _record_dbt_results(context, home, results, target_path)
        except Exception as exc:  # the report must never break the run
            context.log.warning(f"quality report: could not record dbt test results: {exc}")


def _record_dbt_results(context, home: Home, results: list, target_path: Path | None) -> None:
    from pipelines.quality.config import load

    graph = context.job_def.asset_layer.asset_graph
    test_results = dbt_results.read_test_results(target_path)
    samples_for = dbt_results.FailureSampler(home, test_results, load().sample_rows)
    records, seen = [], set()
    try:
        for r in results:
            key = dg.AssetCheckKey(r.asset_key, r.check_name)
            try:
                spec = graph.get_check_spec(key)
                blocking, description = bool(spec.blocking), spec.description or ""
            except Exception:
                blocking, description = r.severity == dg.AssetCheckSeverity.ERROR, ""
            md = plain_metadata(r.metadata)
            unique_id = md.get("unique_id")
            seen.add(unique_id)
            failures = []
            if not r.passed:
                failures.append({"what": description or f"dbt test {r.check_name} returned failing rows",
                                 "severity": "error" if r.severity == dg.AssetCheckSeverity.ERROR else "warn",
                                 "count": md.get("dagster_dbt/failed_row_count"), "samples": samples_for(unique_id)})
            records.append(store.check_record(
                f"{r.asset_key.to_user_string()}:{r.check_name}", passed=r.passed, severity=r.severity.value,
                blocking=blocking, kind="dbt", description=description, failures=failures,
                data=f"dbt data test on {r.asset_key.to_user_string()}, built in this run (an incremental "
                     "build's row tests: the rows it changed, dbt_project/macros/tests/tested_rows.sql)",
                metadata={k: md[k] for k in ("unique_id", "status", "dagster_dbt/failed_row_count") if k in md}))
        records += dbt_results.unselected_failures(test_results, seen, samples_for)
    finally:
        samples_for.close()
    if records:
        store.append(home, context.run.run_id, records, expected=lambda: expected_checks(context))
