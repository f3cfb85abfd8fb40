"""Great Expectations suites (expectations/*.yml) as Dagster asset checks, one per suite.

Each check is blocking: when an expectation of severity `error` fails, downstream steps (dbt
after a raw table, the dashboards and the published KPI snapshot after a mart) do not run.
When only `warn` expectations fail, the result has severity WARN and nothing is blocked.
Great Expectations is imported inside the check, and only when there is data to validate
(pipelines.quality.validation).
"""
from __future__ import annotations

import dagster as dg

from pipelines.quality.results import KIND_META, REPORT_RESOURCE, QualityReport, record_check
from pipelines.quality.suites import Suite, load_suite_fresh, load_suites
from pipelines.resources import OutcomesResource


def build_ge_check(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=suite.asset_key, name=suite.check, blocking=True, description=suite.description,
                    metadata={KIND_META: "great_expectations", "suite": f"expectations/{suite.path.name}"},
                    resource_defs=REPORT_RESOURCE)
    def _check(context, outcomes: OutcomesResource, quality_report: QualityReport) -> dg.AssetCheckResult:
        from pipelines.quality.config import load
        from pipelines.quality.validation import run_suite

        home = outcomes.home_dir
        try:
            current = load_suite_fresh(suite)
            with outcomes.reader() as con:
                run = run_suite(con, current, home.root, context.run.run_id, load().sample_rows)
        except Exception as exc:  # a suite that cannot run is a failed check, not a silent pass
            message = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            result = dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR,
                                         metadata={"error": message})
            return record_check(context, quality_report, result, kind="great_expectations",
                                data=f"expectations/{suite.path.name}: the suite could not run",
                                failures=[{"what": f"the suite could not run: {message}", "severity": "error",
                                           "count": None, "samples": []}])
        severity = dg.AssetCheckSeverity.ERROR if run.errors else dg.AssetCheckSeverity.WARN
        result = dg.AssetCheckResult(passed=not run.failures, severity=severity, metadata=run.metadata())
        for f in run.errors[:5]:
            context.log.error(f"{suite.check}: {f['what']} ({f.get('count')} rows)")
        return record_check(context, quality_report, result, kind="great_expectations", data=run.data,
                            failures=run.failures,
                            details={"cached": run.cached, "rows_validated": run.rows_validated,
                                     "own_process": run.own_process,
                                     "ge_import_s": round(run.ge_import_s, 3),
                                     "validation_s": round(run.validation_s, 3)})

    return _check


def build_ge_checks() -> list[dg.AssetChecksDefinition]:
    """One check per suite file, read when the definitions are built (not at import)."""
    return [build_ge_check(s) for s in load_suites()]
