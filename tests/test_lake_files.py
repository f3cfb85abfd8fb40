"""The lake's Parquet files are written from a stream of batches (pipelines/lib/lake.py:
write_files): a file whose rows straddle batches is still one whole file, in line order."""
from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.lib.lake import write_files


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 5, 100])
def test_each_export_is_one_file_whatever_the_batches(tmp_path, batch_rows):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.visits (file_sha256 VARCHAR, line_number INTEGER, visit_id VARCHAR)")
    rows = [("b", 3, "V-b3"), ("a", 2, "V-a2"), ("b", 2, "V-b2"), ("c", 2, "V-c2"), ("a", 3, "V-a3"),
            ("a", 4, "V-a4"), ("b", 4, "V-b4")]
    con.executemany("INSERT INTO raw.visits VALUES (?, ?, ?)", rows)
    written = write_files(con, "visits", ["a", "b"], tmp_path, batch_rows=batch_rows)  # not c: in the lake already
    assert written == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "b.parquet"]
    for sha in ("a", "b"):
        got = pq.read_table(tmp_path / f"{sha}.parquet").to_pylist()
        assert got == [{"file_sha256": s, "line_number": n, "visit_id": v}
                       for s, n, v in sorted(r for r in rows if r[0] == sha)]
    assert write_files(con, "visits", ["z"], tmp_path, batch_rows=batch_rows) == 0  # no rows: nothing written
