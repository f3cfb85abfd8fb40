"""Jobs. Everything runs in one process so that DuckDB's single writer is never contended."""
import dagster as dg

refresh_all = dg.define_asset_job(
    "refresh_all", selection=dg.AssetSelection.all(),
    description="Ingest every new landing file, rebuild the dbt models and tests, run the quality "
                "checks and re-render the dashboards.",
)
