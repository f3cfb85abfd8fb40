"""Warning checks: shown on the report and the dashboards, never blocking publication.

- source_freshness (one per raw asset): the source delivered no new file for longer than it is
  expected to (pipelines.quality.config.FRESHNESS_MAX_AGE_DAYS), or never did.
- redelivered_with_different_content (one per raw asset): a record delivered again whose fields
  disagree with an earlier delivery (pipelines.quality.redelivery); the newest export's version
  is the one counted.
- kpi_year_on_year_movement (mart_monthly_by_site): an additive KPI moved by more than
  KPI_MOVEMENT_PCT against the same months last year.
Orphan social prescriptions are the dbt test `orphan_social_prescriptions` (severity warn).
"""
from __future__ import annotations

import dagster as dg

from pipelines.assets.raw import raw_key
from pipelines.lib.contracts import ACTIVITY_SOURCES
from pipelines.quality.redelivery import RECORDS, conflicts, describe
from pipelines.quality.redelivery import SOURCES as REDELIVERY_SOURCES
from pipelines.quality.results import KIND_META, REPORT_RESOURCE, QualityReport, record_check
from pipelines.resources import OutcomesResource

WARN = dg.AssetCheckSeverity.WARN


def build_freshness_check(source: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(source), name="source_freshness", blocking=False, metadata={KIND_META: "python"},
        description=f"Warning: {source} delivered no new file for longer than expected "
                    f"(OUTCOMES_FRESHNESS_DAYS_{source.upper()}, default in pipelines/quality/config.py).",
        resource_defs=REPORT_RESOURCE,
    )
    def _check(context, outcomes: OutcomesResource, quality_report: QualityReport) -> dg.AssetCheckResult:
        from pipelines.quality.config import load
        from pipelines.quality.freshness import freshness

        with outcomes.reader() as con:
            f = next(x for x in freshness(con, load()) if x["source"] == source)
        result = dg.AssetCheckResult(passed=not f["stale"], severity=WARN, metadata={
            "last_file_at": f["last_file_at"] or "never", "age_days": f["age_days"],
            "max_age_days": f["max_age_days"], "latest_event_date": f["latest_event_date"]})
        failures = [{"what": f"stale source: {f['message']}", "severity": "warn",
                     "count": None, "samples": []}] if f["stale"] else []
        return record_check(context, quality_report, result, kind="python",
                            data=f"ledger.files: {f['files_loaded']:,} {source} file(s) loaded, newest "
                                 f"{f['last_file_at'] or 'never'} (UTC)",
                            failures=failures, details=f)

    return _check


def build_redelivery_check(source: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(source), name="redelivered_with_different_content", blocking=False,
        metadata={KIND_META: "python"},
        description=f"Warning: a {source} record delivered again with different content (the same key, other "
                    "field values); the version in the newest export is counted. Both versions' file:line are "
                    "sampled; personal fields are named, never shown.",
        resource_defs=REPORT_RESOURCE,
    )
    def _check(context, outcomes: OutcomesResource, quality_report: QualityReport) -> dg.AssetCheckResult:
        with outcomes.writer() as con:  # the conflicts found so far are kept, new files' keys compared
            found = conflicts(con, source)
        failures = [{"what": describe(f) + "; the newest export's version is counted", "severity": "warn",
                     "count": f["keys"], "samples": f["samples"]} for f in found]
        result = dg.AssetCheckResult(passed=not found, severity=WARN, metadata={
            "keys_in_conflict": sum(f["keys"] for f in found),
            "fields": {f["label"]: f["fields"] for f in found}})
        compared = "; ".join(f"raw.{r.table} by {', '.join(r.key)}" for r in RECORDS[source])
        return record_check(context, quality_report, result, kind="python",
                            data=f"{compared}: every version of each key compared (again: the keys of the files new since)",
                            failures=failures,
                            details={"redelivery": {"source": source, "conflicts": [
                                {"label": f["label"], "keys": f["keys"], "fields": list(f["fields"])} for f in found]}})

    return _check


@dg.asset_check(
    asset=dg.AssetKey("mart_monthly_by_site"), name="kpi_year_on_year_movement", blocking=False,
    metadata={KIND_META: "python"},
    description="Warning: an additive KPI of the latest financial year moved by more than OUTCOMES_KPI_MOVEMENT_PCT "
                "(default 25%) against the same months a year earlier.",
    resource_defs=REPORT_RESOURCE,
)
def kpi_year_on_year_movement(context, outcomes: OutcomesResource, quality_report: QualityReport) -> dg.AssetCheckResult:
    from pipelines.quality.config import load
    from pipelines.quality.movement import describe, movement

    cfg = load()
    with outcomes.reader() as con:
        m = movement(con, cfg)
    moved = [k for k in m["kpis"] if k["moved"]]
    failures = [{"what": describe(k, m), "severity": "warn", "count": None, "samples": []} for k in moved]
    if m["comparable"]:
        data = (f"mart_monthly_by_site: {m['year']} {m['period']} against {m['previous_period']}, "
                f"threshold {m['threshold_pct']:g}% (base at least {m['min_base']:g})")
    else:
        data = f"mart_monthly_by_site: not comparable ({m.get('reason')})"
    result = dg.AssetCheckResult(passed=not moved, severity=WARN, metadata={
        "year": m.get("year"), "compared_with": m.get("previous_year"), "moved": m["moved"],
        "changes": {k["kpi"]: k["change_pct"] for k in m["kpis"]}})
    return record_check(context, quality_report, result, kind="python", data=data, failures=failures,
                        details={"movement": m})


warning_checks = [*(build_freshness_check(s) for s in ACTIVITY_SOURCES),
                  *(build_redelivery_check(s) for s in REDELIVERY_SOURCES), kpi_year_on_year_movement]
