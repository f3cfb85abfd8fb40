"""A blocking failure holds until the check passes again, whatever a later run selects.

Every blocking check gates publication in the run that evaluates it. A run that selects only
part of the graph (the landing sensor runs the sources that changed and what is downstream)
does not evaluate the checks of the other sources, so by itself it would publish over a
failure found earlier. This check, on kpi_annual and blocking like the others, looks up the
latest evaluation of every blocking check that is not part of the current run: if one failed
with severity ERROR and has not passed since, publication stays withheld, naming it. The latest
evaluations come from the quality records (<home>/quality/latest_by_check.json), which every
run writes, so this holds for `outcomes` runs (an in-memory Dagster instance) and daemon runs.
"""
from __future__ import annotations

import dagster as dg

from pipelines.checks.catalogue import check_specs
from pipelines.quality.results import KIND_META, REPORT_RESOURCE, QualityReport, checks_in_run, record_check
from pipelines.quality.store import load_latest
from pipelines.resources import OutcomesResource

NAME = "no_outstanding_blocking_failures"


def outstanding_failures(context, home, specs: dict[dg.AssetCheckKey, dg.AssetCheckSpec]) -> tuple[list[dict], int]:
    """(blocking checks outside this run whose latest evaluation failed, number looked up), out of
    `specs`: every check defined, not only this run's. The latest evaluations are the quality
    records under <home>/quality (every run's, whether it ran in `outcomes`' in-memory Dagster
    instance or under the daemon)."""
    me = dg.AssetCheckKey(dg.AssetKey("kpi_annual"), NAME)
    in_run = checks_in_run(context, specs)
    outside = sorted((k for k, spec in specs.items() if k != me and k not in in_run and spec.blocking), key=str)
    latest = load_latest(home)
    failed = []
    for key in outside:
        check = f"{key.asset_key.to_user_string()}:{key.name}"
        rec = latest.get(check)
        if rec and rec.get("blocks"):
            failed.append({"check": check, "run_id": rec.get("run_id"), "at": rec.get("at")})
    return failed, len(outside)


@dg.asset_check(
    asset=dg.AssetKey("kpi_annual"), name=NAME, blocking=True, metadata={KIND_META: "python"},
    description="Blocking: no blocking check outside this run failed in an earlier run without passing since "
                "(a partial run cannot publish over an earlier failure).",
    resource_defs=REPORT_RESOURCE,
)
def no_outstanding_blocking_failures(context, outcomes: OutcomesResource,
                                     quality_report: QualityReport) -> dg.AssetCheckResult:
    failed, looked_up = outstanding_failures(context, outcomes.home_dir, check_specs())
    result = dg.AssetCheckResult(passed=not failed, metadata={
        "checks_outside_this_run": looked_up, "outstanding": [f["check"] for f in failed]})
    failures = [{"what": f"{f['check']} failed in run {f['run_id']} ({f['at']}) and has not passed since; "
                         "it is not part of this run", "severity": "error", "count": None, "samples": []}
                for f in failed]
    data = (f"latest evaluations of the {looked_up} blocking check(s) not in this run" if looked_up
            else "every blocking check is part of this run: nothing outstanding to look up")
    return record_check(context, quality_report, result, kind="python", data=data, failures=failures)


gate_checks = [no_outstanding_blocking_failures]
