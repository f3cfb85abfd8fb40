"""The published KPI snapshot: <home>/published/kpi_annual.csv, written only after every
blocking check passed (the Dagster asset published/kpi_annual), replaced atomically, in the
format of `outcomes kpis --format csv` (financial_year,kpi,value).
"""
from __future__ import annotations

from pathlib import Path

from pipelines.lib.atomic import write_text
from pipelines.lib.contracts import KPIS
from pipelines.lib.home import Home

PUBLISHED_DIR = "published"
KPI_SNAPSHOT = "kpi_annual.csv"


def published_path(home: Home) -> Path:
    return home.root / PUBLISHED_DIR / KPI_SNAPSHOT


def publish_kpis(home: Home, rows: list[tuple[str, str, float | None]]) -> Path:
    """Write the snapshot atomically (temp file + os.replace): a reader sees the old file or
    the new one, never half of one. Returns its path."""
    from pipelines.cli import render_kpis  # the one CSV format, shared with `outcomes kpis`

    order = {k: i for i, k in enumerate(KPIS)}
    ordered = sorted(rows, key=lambda r: (r[0], order.get(r[1], len(order)), r[1]))
    path = published_path(home)
    write_text(path, render_kpis(ordered, "csv"))
    return path
