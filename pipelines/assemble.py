"""The Dagster definitions, built by one function from explicit settings.

`build_definitions(outcomes)` is called, never run at import: it reads the dbt manifest (the dbt
assets) and the Great Expectations suites (their checks). Its callers give the home and landing:
the CLI's runner as typed on the command line (pipelines.runner), the code location of
`dagster dev` and the daemon as `dg.EnvVar`s read when a run or a tick starts
(pipelines.definitions). Nothing else builds definitions.
"""
from __future__ import annotations

import dagster as dg

from pipelines.assets.dashboards import commissioner_dashboard
from pipelines.assets.dbt import build_dbt_models
from pipelines.assets.published import published_kpi_annual
from pipelines.assets.raw import raw_assets
from pipelines.audit.assets import audit_lineage
from pipelines.checks.gate_checks import gate_checks
from pipelines.checks.ge_checks import build_ge_checks
from pipelines.checks.raw_checks import raw_checks
from pipelines.checks.warning_checks import warning_checks
from pipelines.jobs import close_year, refresh_all
from pipelines.resources import OutcomesResource, dbt_resource
from pipelines.schedules import schedules
from pipelines.sensors import sensors


def build_definitions(outcomes: OutcomesResource) -> dg.Definitions:
    """Every asset, check, job, schedule and sensor, with `outcomes` as the home and landing."""
    return dg.Definitions(
        assets=[*raw_assets, build_dbt_models(), commissioner_dashboard, audit_lineage, published_kpi_annual],
        asset_checks=[*raw_checks, *build_ge_checks(), *warning_checks, *gate_checks],
        jobs=[refresh_all, close_year],
        schedules=schedules,
        sensors=sensors,
        resources={"outcomes": outcomes, "dbt": dbt_resource()},
        executor=dg.in_process_executor,
    )
