"""The lake (pipelines/lib/lake.py): written for Spark or a named lake, caught up before a Spark
build, each export one Parquet file however its rows are streamed."""
from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from pipelines.lib import lake
from pipelines.lib.ingest import ingest_source
from pipelines.lib.lake import write_files
from pipelines.lib.pseudonym import Pseudonymiser
from pipelines.lib.warehouse import connect
from tests.support import write_export

VISITS = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
CALLS = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"


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


def test_the_lake_is_written_for_spark_or_a_named_lake(monkeypatch):
    monkeypatch.delenv(lake.LAKE_ENV, raising=False)
    assert (lake.wanted("duckdb"), lake.wanted("spark")) == (False, True)
    monkeypatch.setenv(lake.LAKE_ENV, "/somewhere/lake")
    assert lake.wanted("duckdb")


def test_before_a_spark_build_every_missing_file_is_written_once(tmp_path):
    landing = tmp_path / "landing"
    write_export(landing / "visits" / "kiosk_1.csv", VISITS + "V1,WAL,2021-10-04 10:00,M1,member,course,ok\n")
    write_export(landing / "wellbeing_calls" / "call_log_2021-10-04.csv",
                 CALLS + "C1,U1,2021-10-04T10:00:00Z,S1,outbound,successful,300\n")
    with connect(tmp_path / "warehouse.duckdb") as con:
        for source in ("visits", "wellbeing_calls"):  # ingested on DuckDB: no lake yet
            ingest_source(con, landing, source, Pseudonymiser(b"k" * 32))
        assert lake.sync_all(con, tmp_path / "lake") == 2
        assert lake.sync_all(con, tmp_path / "lake") == 0
    written = sorted(p.relative_to(tmp_path / "lake").parts[1] for p in (tmp_path / "lake" / "raw").rglob("*.parquet"))
    assert written == ["visits", "wellbeing_calls"]
    assert (tmp_path / "lake" / "ledger" / "files.parquet").exists()
