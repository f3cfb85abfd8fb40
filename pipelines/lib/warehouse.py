"""The DuckDB warehouse: raw and ledger DDL, and the one way to open it.

DuckDB allows one writer process at a time. Writers (ingestion, dbt) run one after another
inside a run, each closing its connection before the next opens; readers (CLI, dashboards)
open read-only.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

# DuckDB takes 80% of RAM by default; a bounded memory spills to disk instead (docs/performance.md).
# 512 MB: at 100x the register's ingestion and its checks peaked at 1.77 GB in all (2.17 GB at 1 GB)
# and the checks on the visits read ~350 MB less, each ~5% slower. dbt's connections have their
# own limit (lib/dbt_project.py: dbt_memory_limit).
MEMORY_LIMIT = "512MB"
MEMORY_LIMIT_ENV = "OUTCOMES_DUCKDB_MEMORY_LIMIT"


# Ingestion stages within half of that (pipelines/lib/source_load.py): at 100x the register's load
# peaked at 1.78 GB in its own process at 512 MB; its postcode resolution, a join to the lookup,
# ran out of memory at 256 MB, so it and everything after ingestion get MEMORY_LIMIT again.
STAGING_MEMORY_LIMIT = "256MB"


def memory_limit(staging: bool = False) -> str:
    """Read when a connection opens, so a setting changed after import still applies; a limit set
    in the environment applies to staging too."""
    return os.environ.get(MEMORY_LIMIT_ENV) or (STAGING_MEMORY_LIMIT if staging else MEMORY_LIMIT)

LINEAGE = "file_path VARCHAR NOT NULL, line_number INTEGER NOT NULL, file_sha256 VARCHAR NOT NULL, loaded_at TIMESTAMP NOT NULL"

RAW_TABLES: dict[str, str] = {
    "visits": "visit_id VARCHAR, site_code VARCHAR, signed_in_at TIMESTAMP, member_id VARCHAR, "
              "visitor_type VARCHAR, purpose VARCHAR, status VARCHAR",
    "zoom_meetings": "meeting_id VARCHAR, topic VARCHAR, start_time TIMESTAMP, end_time TIMESTAMP, "
                     "host_email_pseudonym VARCHAR, host_email_domain VARCHAR, duration_minutes INTEGER, "
                     "participants_reported INTEGER, participant_form VARCHAR",
    "zoom_participants": "meeting_id VARCHAR, start_time TIMESTAMP, email_pseudonym VARCHAR, email_domain VARCHAR, "
                         "name_pseudonym VARCHAR, join_time TIMESTAMP, leave_time TIMESTAMP, "
                         "duration_minutes INTEGER, guest BOOLEAN",
    "pathway_contacts": "contact_id VARCHAR, member_id VARCHAR, advisor_id VARCHAR, site_code VARCHAR, "
                        "contact_date DATE, mode VARCHAR, outcome VARCHAR, updated_at TIMESTAMP",
    "pathway_prescriptions": "prescription_id VARCHAR, contact_id VARCHAR, category VARCHAR, referred_to VARCHAR, "
                             "created_date DATE, status VARCHAR, updated_at TIMESTAMP",
    "wellbeing_calls": "call_id VARCHAR, service_user_pseudonym VARCHAR, call_started_at_utc TIMESTAMP, "
                       "staff_id VARCHAR, direction VARCHAR, outcome VARCHAR, duration_seconds INTEGER",
    # members/: the postcode is resolved to its LSOA at ingestion (pipelines/lib/members.py) and
    # never stored; nor is the year of birth. postcode_lookup_sha256: the lookup file used.
    "members": "member_id VARCHAR, export_date DATE, registered_on DATE, referral_source VARCHAR, "
               "postcode_status VARCHAR, lsoa11cd VARCHAR, postcode_lookup_sha256 VARCHAR",
    # reference/: the ONS postcode -> LSOA extract, postcodes held as keyed pseudonyms only (so no
    # member's postcode is anywhere in the warehouse), and the IMD 2019 decile of each LSOA.
    "postcode_lsoa": "postcode_key VARCHAR, lsoa11cd VARCHAR",
    "imd_deciles": "lsoa11cd VARCHAR, imd_decile INTEGER",
    "outcome_measures": "response_id VARCHAR, member_id VARCHAR, measure VARCHAR, timepoint VARCHAR, "
                        "completed_on DATE, item_1 INTEGER, item_2 INTEGER, item_3 INTEGER, item_4 INTEGER, "
                        "item_5 INTEGER, item_6 INTEGER, item_7 INTEGER",
}

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS ledger.files (
    source VARCHAR NOT NULL, file_path VARCHAR NOT NULL, file_sha256 VARCHAR NOT NULL,
    status VARCHAR NOT NULL, reason VARCHAR,
    rows_read INTEGER NOT NULL, rows_loaded INTEGER NOT NULL, rows_rejected INTEGER NOT NULL,
    duplicate_of VARCHAR, loaded_at TIMESTAMP NOT NULL, run_id VARCHAR,
    PRIMARY KEY (file_path, file_sha256)
);
CREATE TABLE IF NOT EXISTS ledger.rejected_rows (
    source VARCHAR NOT NULL, file_path VARCHAR NOT NULL, file_sha256 VARCHAR NOT NULL,
    line_number INTEGER NOT NULL, reason VARCHAR NOT NULL
);
"""


def columns(table: str) -> list[str]:
    return [c.split()[0] for c in RAW_TABLES[table].split(", ")] + ["file_path", "line_number", "file_sha256", "loaded_at"]


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """In one transaction: a process killed while it runs leaves all of it or none (a warehouse
    with raw tables and no ledger was seen after a kill)."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("CREATE SCHEMA IF NOT EXISTS raw; CREATE SCHEMA IF NOT EXISTS ledger;")
        for table, cols in RAW_TABLES.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS raw.{table} ({cols}, {LINEAGE})")
        con.execute(LEDGER_DDL)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@contextmanager
def connect(path: Path, *, read_only: bool = False, staging: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; a writer also makes sure the raw and ledger schemas exist. `staging`:
    within STAGING_MEMORY_LIMIT until `end_staging(con)`."""
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `outcomes run` or `outcomes demo` first")
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only, config={"memory_limit": memory_limit(staging)})
    try:
        if not read_only:
            create_schema(con)
        yield con
    finally:
        con.close()


def end_staging(con: duckdb.DuckDBPyConnection) -> None:
    """The connection's limit back to MEMORY_LIMIT (connect's `staging`)."""
    con.execute(f"SET memory_limit = '{memory_limit()}'")
