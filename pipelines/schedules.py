"""Schedules, in the service's own time zone."""
from datetime import datetime

import dagster as dg

from pipelines.jobs import close_year, refresh_all

nightly_reconciliation = dg.ScheduleDefinition(
    name="nightly_reconciliation", job=refresh_all, cron_schedule="0 2 * * *",
    execution_timezone="Europe/London", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 every night: ingest anything the sensor missed (or whose run failed), rebuild "
                "every model and check, re-render the dashboards. A no-op for unchanged files.",
)


def year_ended_before(moment: datetime) -> str:
    """The last financial year (April-March) that ended before `moment`: 1 May 2022 -> 2021/22."""
    start = moment.year - 1 if moment.month >= 4 else moment.year - 2
    return f"{start}/{(start + 1) % 100:02d}"


@dg.schedule(
    name="close_year_annually", job=close_year, cron_schedule="0 6 1 5 *",
    execution_timezone="Europe/London", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="06:00 on 1 May: closes the financial year that ended on 31 March, leaving April "
                "for late exports and corrections. The year comes from the scheduled time, not the clock.",
)
def close_year_annually(context: dg.ScheduleEvaluationContext):
    year = year_ended_before(context.scheduled_execution_time)
    return dg.RunRequest(run_key=f"close-{year}",
                         run_config={"ops": {"freeze_financial_year": {"config": {"year": year}}}})


schedules = [nightly_reconciliation, close_year_annually]
