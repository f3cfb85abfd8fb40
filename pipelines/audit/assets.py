"""Lineage metadata in Dagster: the asset `audit/lineage`, downstream of the raw ingestion assets and
the dbt audit models, records on every run the row count of every warehouse table (not views) on the way from
the raw files to the KPIs, the files in scope and their SHA-256 (with one digest of them all), and
whether every published KPI still equals its traced units.

Wire it with `assets=[..., audit_lineage]` in pipelines/definitions.py.
"""

import dagster as dg

from pipelines.audit.manifest import files_summary
from pipelines.lib.contracts import SOURCES
from pipelines.resources import OutcomesResource

LINEAGE_KEY = dg.AssetKey(["audit", "lineage"])
DEPS = [dg.AssetKey(["raw", s]) for s in SOURCES] + [
    dg.AssetKey("kpi_annual"), dg.AssetKey("mart_monthly_by_site"),
    dg.AssetKey("audit_kpi_units"), dg.AssetKey("audit_kpi_exclusions"), dg.AssetKey("audit_kpi_reconciliation")]
SCHEMAS = ("raw", "ledger", "main")


def lineage_facts(con, run_id: str | None = None) -> dict:
    tables = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "  # views would be recomputed
        f"WHERE table_schema IN {SCHEMAS} AND table_type = 'BASE TABLE' ORDER BY 1, 2").fetchall()
    counts = {f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in tables}
    # in DuckDB: the ledger lists every file of the history (344,544 at 100x), and this runs every run
    digest, total, by_status = files_summary(con)
    this_run = con.execute("SELECT file_path, file_sha256, status FROM ledger.files WHERE run_id = ? "
                           "ORDER BY file_path, file_sha256", [run_id]).fetchall() if run_id else []
    mismatches = None
    if "main.audit_kpi_reconciliation" in counts:
        mismatches = con.execute("SELECT count(*) FROM main.audit_kpi_reconciliation WHERE NOT matches").fetchone()[0]
    return {"row_counts": counts, "files": total, "files_by_status": by_status, "files_digest": digest,
            "files_this_run": this_run, "kpi_trace_mismatches": mismatches}


@dg.asset(
    key=LINEAGE_KEY, group_name="audit", deps=DEPS, kinds={"duckdb"},
    description="Lineage facts of this run: row counts of every raw, ledger and model table, the files in scope "
                "with their SHA-256 (and one digest of them all), and whether every published KPI equals its "
                "traced units (audit_kpi_reconciliation). `outcomes trace` lists the rows themselves.",
)
def audit_lineage(context: dg.AssetExecutionContext, outcomes: OutcomesResource) -> dg.MaterializeResult:
    with outcomes.reader() as con:
        facts = lineage_facts(con, context.run.run_id)
    files_md = "\n".join(["| file | sha256 | status |", "| --- | --- | --- |"] +
                         [f"| {p} | {sha} | {st} |" for p, sha, st in facts["files_this_run"][:200]])
    metadata = {
        "files_in_scope": facts["files"],
        "files_digest_sha256": facts["files_digest"],
        "files_by_status": dg.MetadataValue.json(facts["files_by_status"]),
        "files_loaded_this_run": dg.MetadataValue.md(files_md if facts["files_this_run"] else "none"),
        "row_counts": dg.MetadataValue.json(facts["row_counts"]),
        **{f"rows/{name}": n for name, n in facts["row_counts"].items()},
    }
    if facts["kpi_trace_mismatches"] is not None:
        metadata["kpi_trace_mismatches"] = facts["kpi_trace_mismatches"]
    return dg.MaterializeResult(metadata=metadata)
