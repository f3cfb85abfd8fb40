"""The published KPI snapshot, refreshed only from data that passed every blocking check.

Downstream of kpi_annual and mart_monthly_by_site: their blocking checks (dbt tests, Great
Expectations suites, the Python reconciliation), and before them the raw tables' blocking
checks, must pass in the same run or this asset does not run and the previous snapshot stays.
"""
from __future__ import annotations

import hashlib

import dagster as dg

from pipelines.resources import OutcomesResource

PUBLISHED_KPIS_KEY = dg.AssetKey(["published", "kpi_annual"])


@dg.asset(
    key=PUBLISHED_KPIS_KEY, group_name="published", kinds={"csv"},
    deps=[dg.AssetKey("kpi_annual"), dg.AssetKey("mart_monthly_by_site")],
    description="<home>/published/kpi_annual.csv (financial_year,kpi,value, as `outcomes kpis --format csv`), "
                "written atomically after all blocking checks upstream passed; otherwise the previous one stays.",
)
def published_kpi_annual(context, outcomes: OutcomesResource) -> dg.MaterializeResult:
    from pipelines.lib.publish import publish_kpis
    from pipelines.quality.results import record_publication

    home = outcomes.home_dir
    with outcomes.reader() as con:
        rows = con.execute("SELECT financial_year, kpi, value FROM main.kpi_annual").fetchall()
    path = publish_kpis(home, rows)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    years = sorted({r[0] for r in rows})
    record_publication(context, home, "kpi_snapshot", path=str(path), rows=len(rows), years=years, sha256=sha)
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(path)), "rows": len(rows), "years": ", ".join(years), "sha256": sha})
