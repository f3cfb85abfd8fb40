"""The commissioners' dashboards, rendered from the marts (read-only) as self-contained HTML."""
from __future__ import annotations

import dagster as dg

from pipelines.resources import OutcomesResource

MART_KEYS = [dg.AssetKey(k) for k in
             ("kpi_annual", "mart_monthly_by_site", "mart_prescriptions_by_category", "mart_pathway_funnel",
              "mart_reach_by_deprivation", "mart_reach_summary", "mart_wellbeing_change",
              "mart_wellbeing_change_distribution", "mart_outcome_inputs")]


def read_marts(con) -> dict:
    return {
        "kpi_annual": con.execute("SELECT * FROM main.kpi_annual ORDER BY financial_year, kpi").df(),
        "monthly": con.execute("SELECT * FROM main.mart_monthly_by_site ORDER BY month, site_code, kpi").df(),
        "category": con.execute("SELECT * FROM main.mart_prescriptions_by_category").df(),
        "funnel": con.execute("SELECT * FROM main.mart_pathway_funnel").df(),
        "ledger": con.execute("SELECT source, status, rows_read, rows_loaded, rows_rejected, loaded_at FROM ledger.files").df(),
        "outcomes": read_outcome_marts(con),
    }


def read_outcome_marts(con) -> dict:
    """The outcome marts of the "Who we reach" and "Do people feel better" sections."""
    return {
        "reach_by_decile": con.execute("SELECT * FROM main.mart_reach_by_deprivation").df(),
        "reach_summary": con.execute("SELECT * FROM main.mart_reach_summary").df(),
        "wellbeing_change": con.execute("SELECT * FROM main.mart_wellbeing_change").df(),
        "wellbeing_distribution": con.execute("SELECT * FROM main.mart_wellbeing_change_distribution").df(),
        "outcome_inputs": con.execute("SELECT * FROM main.mart_outcome_inputs").df(),
    }


@dg.asset(
    key=dg.AssetKey(["dashboards", "commissioner"]), group_name="dashboards", deps=MART_KEYS,
    kinds={"plotly", "html"},
    description="Self-contained Plotly HTML (no CDN, opens offline): an index of financial years and one "
                "dashboard per year, with small-number suppression on by default. Written to <home>/dashboards.",
)
def commissioner_dashboard(context, outcomes: OutcomesResource) -> dg.MaterializeResult:
    from dashboards import disclosure as dc
    from dashboards.quality import ledger_summary
    from dashboards.year_pages import render_changed
    from pipelines.lib.contracts import ACTIVITY_SOURCES
    from pipelines.lib.dbt_increments import FULL_REFRESH_TAG
    from pipelines.quality.dashboard import dashboard_quality
    from pipelines.quality.results import record_publication

    disclosure = dc.from_env()  # OUTCOMES_DISCLOSURE_CONTROL: on unless "off" (internal use only)
    home = outcomes.home_dir
    with outcomes.reader() as con:
        marts = read_marts(con)
        # only reached when every blocking check upstream passed: add the checks' warnings
        quality = dashboard_quality(con, home, context.run.run_id, base=ledger_summary(marts["ledger"], ACTIVITY_SOURCES))
    # Only the years whose page would change are drawn again; all of them on a full refresh.
    index, redraw = render_changed(marts, quality, disclosure, home.dashboards,
                                   everything=context.run.tags.get(FULL_REFRESH_TAG) == "true")
    record_publication(context, home, "dashboards", path=str(index))
    return dg.MaterializeResult(metadata={
        "index": dg.MetadataValue.path(str(index)),
        "years": marts["kpi_annual"]["financial_year"].nunique(),
        "years_redrawn": ", ".join(sorted(redraw)) or "none",
        "disclosure_control": "on" if disclosure else "OFF (internal use only)",
        "data_quality": quality["status"],
    })
