"""The KPI table: read `kpi_annual`, order it, and format it (table, CSV, JSON). One format for
`outcomes kpis`, the published snapshot and the versioned snapshots."""
from __future__ import annotations

import csv
import io
import json

from pipelines.lib import kpi_registry
from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home

Row = tuple[str, str, float | None]  # (financial_year, kpi, value)


def ordered(rows) -> list[Row]:
    """By year, then in the KPIs' display order (unknown names last, by name)."""
    order = kpi_registry.order()
    return sorted(rows, key=lambda r: (r[0], order.get(r[1], len(order)), r[1]))


def format_value(kpi: str, value: float | str | None) -> str:
    """As `outcomes kpis --format csv`: counts whole, ratios unrounded, NULL empty."""
    if value is None or value == "":
        return ""
    value = float(value)
    return repr(value) if kpi in kpi_registry.ratios() else str(int(value))


def read_kpis(home: Home, year: str | None = None) -> list[Row]:
    from pipelines.lib.locking import warehouse_lock
    from pipelines.lib.warehouse import connect

    if not home.warehouse.exists():
        raise UsageError(f"no warehouse at {home.warehouse}: run `outcomes run --landing DIR` first")
    with warehouse_lock(home.warehouse, exclusive=False), connect(home.warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT financial_year, kpi, value FROM main.kpi_annual "
            "WHERE $year IS NULL OR financial_year = $year", {"year": year}).fetchall()
        if year and not rows:
            years = [y for (y,) in con.execute("SELECT DISTINCT financial_year FROM main.kpi_annual ORDER BY 1").fetchall()]
            raise UsageError(f"no KPIs for {year}; years with data: {', '.join(years) or 'none'}")
    return ordered(rows)


def render_kpis(rows: list[Row], fmt: str) -> str:
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["financial_year", "kpi", "value"])
        w.writerows((y, k, format_value(k, v)) for y, k, v in rows)
        return buf.getvalue()
    if fmt == "json":
        return json.dumps([{"financial_year": y, "kpi": k, "value": v} for y, k, v in rows], indent=2) + "\n"
    years = sorted({r[0] for r in rows})
    table = {(y, k): v for y, k, v in rows}
    kpis = [k for k in kpi_registry.names() if any((y, k) in table for y in years)]
    width = max([len(k) for k in kpis] + [3])
    lines = ["kpi".ljust(width) + "".join(f"{y:>14}" for y in years)]
    for k in kpis:
        cells = []
        for y in years:
            v = table.get((y, k))
            cells.append("-" if v is None else (f"{v:,.3f}" if k in kpi_registry.ratios() else f"{int(v):,}"))
        lines.append(k.ljust(width) + "".join(f"{c:>14}" for c in cells))
    return "\n".join(lines) + "\n"
