"""Which engine runs the dbt project: DuckDB (the default) or Spark (docs/spark.md).

One setting, OUTCOMES_ENGINE (`duckdb` | `spark`), read by `outcomes run/demo/watch --engine`,
`dagster dev`, the daemon and `watch` alike: the dbt profile's target follows it
(dbt_project/profiles.yml). On Spark, dbt reads the lake (pipelines/lib/lake.py) and writes its
tables under `<home>/spark`; at the end of the build every model is exported as Parquet
(macros/export_models.sql) and copied here into the home's DuckDB warehouse, in the schema the
DuckDB build writes, so the checks, trace, explain, snapshots, reproduce and the dashboards read
Spark's results exactly as they read DuckDB's.
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipelines.lib.lake import LAKE_ENV, lake_root

ENGINE_ENV = "OUTCOMES_ENGINE"
ENGINES = ("duckdb", "spark")
SPARK_DIR_ENV = "OUTCOMES_SPARK_DIR"


def engine() -> str:
    name = (os.environ.get(ENGINE_ENV) or "duckdb").strip().lower()
    if name not in ENGINES:
        raise ValueError(f"{ENGINE_ENV}={name!r}: the engine is one of {', '.join(ENGINES)}")
    return name


def spark_dir(home_root: Path) -> Path:
    return home_root / "spark"


def export_dir(home_root: Path) -> Path:
    """Where the Spark build leaves every model as Parquet (one folder per model)."""
    return spark_dir(home_root) / "export"


def prepare_environment(home_root: Path) -> None:
    """The variables the dbt profile and macros of the chosen engine read (set before dbt starts)."""
    if engine() == "spark":
        os.environ.setdefault(LAKE_ENV, str(lake_root(home_root)))
        os.environ[SPARK_DIR_ENV] = str(spark_dir(home_root))
        spark_dir(home_root).mkdir(parents=True, exist_ok=True)


def import_spark_outputs(con: duckdb.DuckDBPyConnection, home_root: Path) -> list[str]:
    """Replace the warehouse's model relations with the Spark build's exported models (the
    schema `main`, as dbt-duckdb names it). A model that failed on Spark exported nothing and
    is not exported (macros/export_models.sql) and keeps its last copy, as on DuckDB."""
    if engine() != "spark":
        return []
    root = export_dir(home_root)
    imported = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []:
        name = folder.name
        kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'main' "
                           "AND table_name = ?", [name]).fetchone()
        if kind and kind[0] == "VIEW":
            con.execute(f'DROP VIEW main."{name}"')
        if not any(folder.glob("*.parquet")):
            continue
        con.execute(f"CREATE OR REPLACE TABLE main.\"{name}\" AS SELECT * FROM read_parquet('{folder}/*.parquet')")
        imported.append(name)
    return imported
