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

from pipelines.lib.kpi_table import format_value, ordered

SQL = Path(__file__).with_name("floor.sql")

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
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["financial_year", "kpi", "value"])
    for fy, kpi, value in ordered(rows):  # the pipeline's order and formats: comparable with diff
        out.writerow([fy, kpi, format_value(kpi, value)])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
