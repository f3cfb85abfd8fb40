"""The quality report's sample of a failing dbt test's rows (pipelines/quality/results.py)."""
from __future__ import annotations

import duckdb

from pipelines.quality.results import _sample

FAILING = "select id, site_code, member_id from rows_ where id % 7 = 0"  # as dbt compiles a test


def con_with_rows(seed: int) -> duckdb.DuckDBPyConnection:
    """200,000 rows stored in another order for each seed."""
    con = duckdb.connect()
    con.execute("SET threads = 4")
    con.execute(f"""CREATE TABLE rows_ AS
        SELECT range::INTEGER AS id, 'S' || (range % 5) AS site_code, 'M' || range AS member_id
          FROM range(1, 200001) ORDER BY hash(range + {int(seed)})""")
    return con


def test_the_sample_is_the_first_failing_rows_in_order_whatever_the_storage_order():
    samples = []
    for seed in (1, 2, 3):
        with con_with_rows(seed) as con:
            samples.append(_sample(con, FAILING, 3))
    assert samples[0] == [{"id": 7, "site_code": "S2", "member_id": "(withheld)"},
                          {"id": 14, "site_code": "S4", "member_id": "(withheld)"},
                          {"id": 21, "site_code": "S1", "member_id": "(withheld)"}]
    assert samples[1] == samples[0] and samples[2] == samples[0]


class NoOrderBy:
    """A connection on which ORDER BY ALL fails, as for columns that cannot be ordered."""

    def __init__(self, con):
        self.con = con

    def execute(self, sql):
        if "ORDER BY ALL" in sql:
            raise duckdb.BinderException("cannot order")
        return self.con.execute(sql)


def test_a_test_that_cannot_be_ordered_is_still_sampled_and_bad_sql_gives_none():
    with con_with_rows(1) as con:
        rows = _sample(NoOrderBy(con), FAILING, 3)
        assert len(rows) == 3 and all(r["id"] % 7 == 0 for r in rows)
        assert _sample(con, "select * from no_such_table", 3) == []
