"""The benchmark's floor: bench/floor.sql run in an in-memory DuckDB against a landing zone.

    .venv/bin/python bench/floor.py LANDING      # CSV on stdout: financial_year,kpi,value

`run_floor(landing)` returns the kpi_annual rows (financial_year, kpi, value), sorted; a NULL
ratio is None. The CSV is written as `outcomes kpis --format csv` writes it (same row order,
counts as integers, ratios unrounded, NULL empty), so the two can be compared with diff.
Nothing is written anywhere else; the landing zone is only read.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import duckdb

SQL = Path(__file__).with_name("floor.sql")

# The pipeline's KPI order (pipelines/lib/contracts.py); this script stays standalone.
KPIS = (
    "visits", "visiting_members",
    "pathway_contacts", "social_prescriptions", "prescriptions_per_contact",
    "zoom_sessions", "zoom_members", "zoom_attendances", "sessions_per_member",
    "wellbeing_calls", "wellbeing_successful_contacts", "wellbeing_people_reached",
)
RATIOS = ("prescriptions_per_contact", "sessions_per_member")


def floor_sql(landing: Path) -> str:
    """The script with the landing path substituted (absolute, as a SQL string literal body)."""
    root = Path(landing).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"landing zone {root} is not a directory")
    return SQL.read_text().replace("{{landing}}", root.as_posix().replace("'", "''"))


def run_floor(landing: Path) -> list[tuple[str, str, float | None]]:
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute(floor_sql(landing)).fetchall()
    finally:
        con.close()
    return sorted((fy, kpi, None if value is None else float(value)) for fy, kpi, value in rows)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: floor.py LANDING", file=sys.stderr)
        return 2
    rows = run_floor(Path(argv[0]))
    order = {kpi: i for i, kpi in enumerate(KPIS)}
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["financial_year", "kpi", "value"])
    for fy, kpi, value in sorted(rows, key=lambda r: (r[0], order.get(r[1], len(order)), r[1])):
        text = "" if value is None else repr(value) if kpi in RATIOS else str(int(value))
        out.writerow([fy, kpi, text])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
