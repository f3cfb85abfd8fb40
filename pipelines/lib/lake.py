"""The raw layer as Parquet files: what ingestion loaded, for engines other than DuckDB (docs/spark.md).

Layout under the lake root (OUTCOMES_LAKE, default `<home>/lake`):

    <lake>/raw/<table>/source=<source>/<file_sha256>.parquet   one file per landed export and raw table
    <lake>/ledger/files.parquet, <lake>/ledger/rejected_rows.parquet   the ledger beside it

The rows are raw.*'s exactly: typed, validated, pseudonymised at ingestion (no personal data
reaches the lake, as none reaches the warehouse). A file's Parquet is written once, after the
transaction that loaded it committed; `sync` writes whatever is missing, so a crash between the
two, an older home, or a new lake path are caught up on the next ingestion. raw.members rows are
resolved again when a newer postcode lookup arrives (pipelines/lib/members.py), so that table's
files are rewritten whenever members are ingested. Every write goes to a temporary name and is
renamed: a reader never sees half a file. Nothing is ever deleted from the lake: a lake is one
home's (a second home, e.g. `outcomes reproduce`'s scratch home, must not share it: Spark would
read both homes' files).
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipelines.lib.contracts import SOURCE_TABLES

LAKE_ENV = "OUTCOMES_LAKE"

REWRITTEN_TABLES = frozenset({"members"})  # rows updated after loading (see the module's docstring)
LEDGER_TABLES = ("files", "rejected_rows")


def lake_root(home_root: Path) -> Path:
    """The lake named by OUTCOMES_LAKE, else `<home>/lake`."""
    return Path(os.environ.get(LAKE_ENV) or home_root / "lake").expanduser().resolve()


def table_dir(lake: Path, table: str) -> Path:
    source = next(s for s, tables in SOURCE_TABLES.items() if table in tables)
    return lake / "raw" / table / f"source={source}"


def wanted(engine_name: str) -> bool:
    """Ingestion writes the lake for an engine that reads it (Spark), or where the user names one
    (OUTCOMES_LAKE). DuckDB reads raw.* (docs/spark.md): at 100x the lake is ~650,000 small
    Parquet files, more time than the rest of a first load, which the default engine never reads."""
    return engine_name != "duckdb" or bool(os.environ.get(LAKE_ENV))


def sync_all(con: duckdb.DuckDBPyConnection, lake: Path) -> int:
    """Before a build on the lake: every source's missing files (a home that ran on DuckDB until
    now, or a run that ingested only some sources), tables rewritten by their own ingestion left
    as they are. Returns the number of files written."""
    return sum(sync(con, lake, source, rewrite=False) for source in SOURCE_TABLES)


def sync(con: duckdb.DuckDBPyConnection, lake: Path, source: str, rewrite: bool = True) -> int:
    """Write the Parquet file of every loaded export of `source` that the lake lacks (all of them
    for a rewritten table, with `rewrite`), then the ledger. Returns the number of files written."""
    written = 0
    for table in SOURCE_TABLES[source]:
        folder = table_dir(lake, table)
        folder.mkdir(parents=True, exist_ok=True)
        present = {p.stem for p in folder.glob("*.parquet")}
        hashes = {h for (h,) in con.execute(f"SELECT DISTINCT file_sha256 FROM raw.{table}").fetchall()}
        missing = hashes if rewrite and table in REWRITTEN_TABLES else hashes - present
        if missing:
            written += write_files(con, table, sorted(missing), folder)
    (lake / "ledger").mkdir(parents=True, exist_ok=True)
    for table in LEDGER_TABLES:
        tmp = lake / "ledger" / f".{table}.parquet.tmp"
        con.execute(f"COPY (SELECT * FROM ledger.{table}) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)")
        os.replace(tmp, lake / "ledger" / f"{table}.parquet")
    return written


def write_files(con: duckdb.DuckDBPyConnection, table: str, hashes: list[str], folder: Path,
                batch_rows: int = 100_000) -> int:
    """One scan of the table, one Parquet file per export (pyarrow: a COPY per file, or DuckDB's
    PARTITION_BY, cost 2-5x more at thousands of small files). The rows are streamed in batches
    (sorted by file, so a file's rows are contiguous): fetched whole, a first load at 100x held
    every visit row in memory at once (the run process over 2 GiB)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    con.execute("CREATE OR REPLACE TEMP TABLE _lake_files (file_sha256 VARCHAR)")
    con.execute("INSERT INTO _lake_files SELECT unnest(?::VARCHAR[])", [hashes])
    reader = con.sql(f"""SELECT t.* FROM raw.{table} AS t SEMI JOIN _lake_files USING (file_sha256)
                         ORDER BY t.file_sha256, t.line_number""").to_arrow_reader(batch_rows)
    written, current, pieces = 0, None, []

    def flush() -> None:
        tmp = folder / f".{current}.parquet.tmp"
        pq.write_table(pa.Table.from_batches(pieces), tmp, compression="zstd")
        os.replace(tmp, folder / f"{current}.parquet")

    for batch in reader:
        shas = batch.column("file_sha256")
        starts = [0] + [i + 1 for i in pc.indices_nonzero(pc.not_equal(shas[1:], shas[:-1])).to_pylist()]
        for start, end in zip(starts, starts[1:] + [batch.num_rows]):
            sha = shas[start].as_py()
            if sha != current and pieces:
                flush()
                written += 1
                pieces = []
            current = sha
            pieces.append(batch.slice(start, end - start))
    if pieces:
        flush()
        written += 1
    con.execute("DROP TABLE _lake_files")
    return written
