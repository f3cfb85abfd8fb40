"""The financial year has one rule in Python (pipelines/lib/financial_year.py) and one in SQL
(the dbt macro `financial_year`): they agree on every day of 2000..2040, and on the contract's
boundaries, worked by hand."""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import jinja2
from types import SimpleNamespace
import pytest

from pipelines.lib import financial_year
from tests.support import REPO


def macro_sql(expr: str) -> str:
    """The macro, rendered by Jinja as dbt renders it on DuckDB (its one dbt call, the
    cross-database `dbt.type_string()`, is DuckDB's string type)."""
    source = (REPO / "dbt_project/macros/financial_year.sql").read_text()
    dbt = SimpleNamespace(type_string=lambda: "VARCHAR")
    return jinja2.Environment().from_string(source, globals={"dbt": dbt}).module.financial_year(expr).strip()


@pytest.mark.parametrize("d,expected", [
    (date(2021, 4, 1), "2021/22"), (date(2022, 3, 31), "2021/22"), (date(2022, 4, 1), "2022/23"),
    (date(2000, 1, 1), "1999/00"), (date(2099, 12, 31), "2099/00"), (date(2009, 6, 30), "2009/10"),
])
def test_boundaries(d, expected):
    assert financial_year.of(d) == expected


def test_python_and_the_dbt_macro_agree_on_every_day():
    first, days = date(2000, 1, 1), 41 * 366
    con = duckdb.connect()
    got = dict(con.execute(f"SELECT d, {macro_sql('d')} FROM (SELECT DATE '2000-01-01' + CAST(i AS INTEGER) AS d "
                           f"FROM range({days}) t(i))").fetchall())
    want = {first + timedelta(days=i): financial_year.of(first + timedelta(days=i)) for i in range(days)}
    assert got == want


def test_labels():
    assert financial_year.parse("2021-22") == financial_year.parse(" 2021/22 ") == "2021/22"
    assert financial_year.parse("2021/23") is None and financial_year.parse("21/22") is None
    assert financial_year.previous("2000/01") == "1999/00" and financial_year.slug("2021/22") == "2021-22"
