"""Blocking checks on the published KPI table, recomputed independently of the dbt tests."""
from __future__ import annotations

import math

import dagster as dg

from pipelines.lib.contracts import KPIS, RATIO_KPIS
from pipelines.quality.results import KIND_META, record_check
from pipelines.resources import OutcomesResource


def kpi_table_problems(rows: list[tuple[str, str, float | None]]) -> list[str]:
    """Every year has exactly the contract's KPIs; counts are whole and >= 0; each ratio equals
    its numerator / denominator (NULL when the denominator is 0)."""
    problems = []
    by_year: dict[str, dict[str, float | None]] = {}
    for year, kpi, value in rows:
        by_year.setdefault(year, {})[kpi] = value
    for year, values in sorted(by_year.items()):
        if sorted(values) != sorted(KPIS):
            problems.append(f"{year}: KPIs {sorted(set(KPIS) ^ set(values))} missing or unexpected")
            continue
        for kpi in KPIS:
            v = values[kpi]
            if kpi in RATIO_KPIS:
                num, den = (values[k] for k in RATIO_KPIS[kpi])
                expected = None if not den else num / den
                if (v is None) != (expected is None) or (v is not None and not math.isclose(v, expected, rel_tol=1e-12)):
                    problems.append(f"{year}: {kpi} = {v}, but {RATIO_KPIS[kpi][0]} / {RATIO_KPIS[kpi][1]} = {expected}")
            elif v is None or v < 0 or v != int(v):
                problems.append(f"{year}: {kpi} = {v} is not a whole count >= 0")
    return problems


@dg.asset_check(asset=dg.AssetKey("kpi_annual"), name="kpi_table_consistent", blocking=True,
                metadata={KIND_META: "python"},
                description="Reconciliation in Python, independent of dbt: every financial year has the 12 "
                            "contract KPIs; counts are whole and non-negative; ratios equal their counts' quotient.")
def kpi_table_consistent(context, outcomes: OutcomesResource) -> dg.AssetCheckResult:
    with outcomes.reader() as con:
        rows = con.execute("SELECT financial_year, kpi, value FROM main.kpi_annual").fetchall()
    problems = kpi_table_problems(rows)
    result = dg.AssetCheckResult(passed=not problems, metadata={"years": len({r[0] for r in rows}),
                                                                "problems": problems[:20]})
    return record_check(context, outcomes.home_dir, result, kind="python",
                        data=f"kpi_annual: {len(rows):,} rows, {len({r[0] for r in rows})} financial year(s)",
                        failures=[{"what": p, "severity": "error", "count": None, "samples": []} for p in problems[:20]])


kpi_checks = [kpi_table_consistent]
