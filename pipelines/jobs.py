"""Jobs. Everything runs in one process so that DuckDB's single writer is never contended."""
import dagster as dg

from pipelines.resources import OutcomesResource

refresh_all = dg.define_asset_job(
    "refresh_all", selection=dg.AssetSelection.all(),
    description="Ingest every new landing file, rebuild the dbt models and tests, run the quality "
                "checks and re-render the dashboards.",
)


class CloseYearConfig(dg.Config):
    year: str  # financial year to close, e.g. "2021/22"


@dg.op(description="Freeze the financial year's published KPIs as its final, immutable snapshot.")
def freeze_financial_year(context: dg.OpExecutionContext, config: CloseYearConfig,
                          outcomes: OutcomesResource) -> str:
    from pipelines.audit.snapshots import freeze_year

    snapshot = freeze_year(outcomes.home_dir, config.year)
    context.log.info(f"{config.year} closed: snapshot {snapshot}")
    context.add_output_metadata({"snapshot": snapshot, "year": config.year})
    return snapshot


@dg.job(description="Close a financial year: its published KPIs become a final snapshot; later changes "
                    "to that year are recorded as correction versions, never overwrites.")
def close_year():
    freeze_financial_year()
