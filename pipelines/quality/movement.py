"""Year-on-year movement of the additive KPIs (warning, not blocking).

The latest financial year in mart_monthly_by_site is compared, month range for month range,
with the same months a year earlier: April up to the latest month with any data this year,
against April up to that month last year. A KPI whose total moved by more than
KPI_MOVEMENT_PCT (either way) is flagged, unless last year's total for those months is below
KPI_MOVEMENT_MIN_BASE (small numbers swing). Thresholds: pipelines.quality.config.
"""
from __future__ import annotations

from datetime import date

from pipelines.lib import kpi_registry
from pipelines.quality.config import QualityConfig


def _year_before(d: date) -> date:
    return d.replace(year=d.year - 1)


def movement(con, cfg: QualityConfig) -> dict:
    rows = con.execute(
        "SELECT financial_year, month, kpi, sum(value) FROM main.mart_monthly_by_site GROUP BY ALL").fetchall()
    if not rows:
        return {"comparable": False, "reason": "no monthly data", "kpis": [], "moved": []}
    latest = max(r[0] for r in rows)
    months = [r[1] for r in rows if r[0] == latest]
    start = date(int(latest[:4]), 4, 1)
    end = max(months)
    prev_start, prev_end = _year_before(start), _year_before(end)
    prev_label = f"{int(latest[:4]) - 1}/{latest[2:4]}"
    if not any(prev_start <= r[1] <= prev_end for r in rows):
        return {"comparable": False, "year": latest, "reason": f"no data for {prev_label}", "kpis": [], "moved": []}
    kpis = []
    for kpi in kpi_registry.additive():
        cur = sum(int(v) for fy, m, k, v in rows if k == kpi and start <= m <= end)
        prev = sum(int(v) for fy, m, k, v in rows if k == kpi and prev_start <= m <= prev_end)
        change = None if prev == 0 else (cur - prev) / prev * 100
        comparable = prev >= cfg.kpi_movement_min_base and prev > 0
        moved = comparable and change is not None and abs(change) > cfg.kpi_movement_pct
        kpis.append({"kpi": kpi, "current": cur, "previous": prev,
                     "change_pct": None if change is None else round(change, 1),
                     "comparable": comparable, "moved": moved})
    period = f"{start:%B %Y} to {end:%B %Y}"
    return {
        "comparable": True, "year": latest, "previous_year": prev_label, "period": period,
        "previous_period": f"{prev_start:%B %Y} to {prev_end:%B %Y}",
        "threshold_pct": cfg.kpi_movement_pct, "min_base": cfg.kpi_movement_min_base,
        "kpis": kpis, "moved": [k["kpi"] for k in kpis if k["moved"]],
    }


def describe(k: dict, m: dict) -> str:
    return (f"{k['kpi']}: {k['previous']:,} in {m['previous_period']} -> {k['current']:,} in {m['period']} "
            f"({k['change_pct']:+.1f}%, more than {m['threshold_pct']:g}%)")
