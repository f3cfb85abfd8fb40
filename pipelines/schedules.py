"""Schedules: a nightly reconciliation of everything, in the service's own time zone."""
import dagster as dg

from pipelines.jobs import refresh_all

nightly_reconciliation = dg.ScheduleDefinition(
    name="nightly_reconciliation", job=refresh_all, cron_schedule="0 2 * * *",
    execution_timezone="Europe/London", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 every night: ingest anything the sensor missed (or whose run failed), rebuild "
                "every model and check, re-render the dashboards. A no-op for unchanged files.",
)

schedules = [nightly_reconciliation]
