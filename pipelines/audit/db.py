"""Read-only access to the warehouse for the audit commands."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import duckdb

from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home
from pipelines.lib.locking import warehouse_lock
from pipelines.lib.warehouse import connect

AUDIT_MODELS = ("audit_record_evidence", "audit_kpi_units", "audit_kpi_exclusions", "audit_kpi_reconciliation")


@contextlib.contextmanager
def read_warehouse(home: Home, *, need_audit_models: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    if not home.warehouse.exists():
        raise UsageError(f"no warehouse at {home.warehouse}: run `outcomes run --landing DIR` first")
    with warehouse_lock(home.warehouse, exclusive=False), connect(home.warehouse, read_only=True) as con:
        if need_audit_models:
            have = {t for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
            missing = [m for m in AUDIT_MODELS if m not in have]
            if missing:
                raise UsageError(f"the warehouse at {home.warehouse} has no audit models ({', '.join(missing)}): "
                                 "run `outcomes run` once with this version to build them")
        yield con
