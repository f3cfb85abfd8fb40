"""Which engine runs the dbt project: DuckDB (the default) or Spark (docs/spark.md).

One setting: `outcomes run/demo/watch --engine`, else OUTCOMES_ENGINE (`duckdb` | `spark`), read
when a run starts by `dagster dev`, the daemon and `watch` alike. It becomes dbt's `--target`
(dbt_project/profiles.yml), and the Spark folders go to dbt as vars (`dbt_project.dbt_vars`).
On Spark, dbt reads the lake (pipelines/lib/lake.py) and writes its tables under `<home>/spark`; at the end of the build every model is exported as Parquet
(macros/export_models.sql) and copied here into the home's DuckDB warehouse, in the schema the
DuckDB build writes, so the checks, trace, explain, snapshots, reproduce and the dashboards read
Spark's results exactly as they read DuckDB's.
"""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

from pipelines.lib.lake import lake_root

ENGINE_ENV = "OUTCOMES_ENGINE"
ENGINES = ("duckdb", "spark")


def engine(name: str | None = None) -> str:
    """The engine given, else $OUTCOMES_ENGINE, else DuckDB."""
    name = (name or os.environ.get(ENGINE_ENV) or "duckdb").strip().lower()
    if name not in ENGINES:
        raise ValueError(f"{ENGINE_ENV}={name!r}: the engine is one of {', '.join(ENGINES)}")
    return name


def spark_dir(home_root: Path) -> Path:
    return home_root / "spark"


def export_dir(home_root: Path) -> Path:
    """Where the Spark build leaves every model as Parquet (one folder per model)."""
    return spark_dir(home_root) / "export"


def spark_vars(name: str, home_root: Path) -> dict[str, str]:
    """What the Spark profile and macros read (dbt vars): the lake and Spark's own folder."""
    if name != "spark":
        return {}
    spark_dir(home_root).mkdir(parents=True, exist_ok=True)
    return {"outcomes_lake": str(lake_root(home_root)), "outcomes_spark_dir": str(spark_dir(home_root))}


def import_spark_outputs(con: duckdb.DuckDBPyConnection, home_root: Path, name: str) -> list[str]:
    """Replace the warehouse's model relations with the Spark build's exported models (the
    schema `main`, as dbt-duckdb names it). A model that failed on Spark exported nothing and
    is not exported (macros/export_models.sql) and keeps its last copy, as on DuckDB."""
    if name != "spark":
        return []
    root = export_dir(home_root)
    imported = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []:
        model = folder.name
        kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = 'main' "
                           "AND table_name = ?", [model]).fetchone()
        if kind and kind[0] == "VIEW":
            con.execute(f'DROP VIEW main."{model}"')
        if not any(folder.glob("*.parquet")):
            continue
        con.execute(f"CREATE OR REPLACE TABLE main.\"{model}\" AS SELECT * FROM read_parquet('{folder}/*.parquet')")
        imported.append(model)
    return imported
