"""The published KPI snapshot: <home>/published/kpi_annual.csv, written only after every
blocking check passed (the Dagster asset published/kpi_annual), replaced atomically, in the
format of `outcomes kpis --format csv` (financial_year,kpi,value).
"""
from __future__ import annotations

from pathlib import Path

from pipelines.lib.atomic import write_text
from pipelines.lib.home import Home
from pipelines.lib.kpi_table import ordered, render_kpis

PUBLISHED_DIR = "published"
KPI_SNAPSHOT = "kpi_annual.csv"


def published_path(home: Home) -> Path:
    return home.root / PUBLISHED_DIR / KPI_SNAPSHOT


def publish_kpis(home: Home, rows: list[tuple[str, str, float | None]]) -> Path:
    """Write the snapshot atomically (temp file + os.replace): a reader sees the old file or
    the new one, never half of one. Returns its path."""
    path = published_path(home)
    write_text(path, render_kpis(ordered(rows), "csv"))
    return path
