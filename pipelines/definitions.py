"""All Dagster definitions, assembled in one place from the per-domain modules."""
import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import dagster as dg  # noqa: E402

from pipelines.assets.dashboards import commissioner_dashboard  # noqa: E402
from pipelines.assets.dbt import dbt_models  # noqa: E402
from pipelines.assets.published import published_kpi_annual  # noqa: E402
from pipelines.assets.raw import raw_assets  # noqa: E402
from pipelines.audit.assets import audit_lineage  # noqa: E402
from pipelines.checks.gate_checks import gate_checks  # noqa: E402
from pipelines.checks.ge_checks import ge_checks  # noqa: E402
from pipelines.checks.raw_checks import raw_checks  # noqa: E402
from pipelines.checks.warning_checks import warning_checks  # noqa: E402
from pipelines.jobs import close_year, refresh_all  # noqa: E402
from pipelines.resources import OutcomesResource, dbt_resource  # noqa: E402
from pipelines.schedules import schedules  # noqa: E402
from pipelines.sensors import sensors  # noqa: E402

defs = dg.Definitions(
    assets=[*raw_assets, dbt_models, commissioner_dashboard, audit_lineage, published_kpi_annual],
    asset_checks=[*raw_checks, *ge_checks, *warning_checks, *gate_checks],
    jobs=[refresh_all, close_year],
    schedules=schedules,
    sensors=sensors,
    resources={"outcomes": OutcomesResource(), "dbt": dbt_resource()},
    executor=dg.in_process_executor,
)
