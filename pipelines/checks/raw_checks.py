"""Blocking checks on ingestion: every row read is accounted for, and every loaded row is there."""
from __future__ import annotations

import dagster as dg

from pipelines.assets.raw import raw_key
from pipelines.lib.contracts import SOURCE_TABLES, SOURCES
from pipelines.quality.results import KIND_META, REPORT_RESOURCE, QualityReport, record_check
from pipelines.resources import OutcomesResource


def row_conservation_failures(con, source: str) -> list[str]:
    """Files where read != loaded + rejected, or where raw.* holds a different number of rows
    than the ledger says were loaded, or the rejected-row log disagrees with the ledger."""
    return [f"{r['file_path']}: read {r['rows_read']}, loaded {r['rows_loaded']}, rejected {r['rows_rejected']}; "
            f"rows in raw {r['rows_in_raw']}, in rejected log {r['rows_in_rejected_log']}"
            for r in row_conservation_rows(con, source)]


def row_conservation_rows(con, source: str) -> list[dict]:
    """The failing files as rows (file_path and counts only: the ledger holds no values)."""
    union = " UNION ALL ".join(
        f"SELECT file_sha256, count(*) AS n FROM raw.{t} GROUP BY 1" for t in SOURCE_TABLES[source])
    cur = con.execute(f"""
        WITH raw_counts AS (SELECT file_sha256, sum(n) AS n FROM ({union}) GROUP BY 1),
             rejected AS (SELECT file_sha256, count(*) AS n FROM ledger.rejected_rows
                          WHERE source = $source GROUP BY 1)
        SELECT f.file_path, f.rows_read, f.rows_loaded, f.rows_rejected,
               coalesce(r.n, 0) AS in_raw, coalesce(j.n, 0) AS in_rejected_log
        FROM ledger.files f
        LEFT JOIN raw_counts r ON r.file_sha256 = f.file_sha256
        LEFT JOIN rejected j ON j.file_sha256 = f.file_sha256
        WHERE f.source = $source AND f.status = 'loaded'
          AND (f.rows_read <> f.rows_loaded + f.rows_rejected
               OR coalesce(r.n, 0) <> f.rows_loaded OR coalesce(j.n, 0) <> f.rows_rejected)
        ORDER BY 1""", {"source": source})
    cols = ["file_path", "rows_read", "rows_loaded", "rows_rejected", "rows_in_raw", "rows_in_rejected_log"]
    return [dict(zip(cols, row)) for row in cur.fetchall()]


def ledger_totals(con, source: str) -> dict:
    """Files by status and rows for one source; `rows_uncounted` are the data rows held by
    quarantined files (counted from their lines: pipelines.lib.parsers.held_rows)."""
    row = con.execute("""
        SELECT count(*) FILTER (status = 'loaded'), count(*) FILTER (status = 'quarantined'),
               count(*) FILTER (status = 'duplicate'),
               coalesce(sum(rows_read) FILTER (status = 'loaded'), 0),
               coalesce(sum(rows_loaded) FILTER (status = 'loaded'), 0),
               coalesce(sum(rows_rejected) FILTER (status = 'loaded'), 0),
               coalesce(sum(rows_read) FILTER (status = 'quarantined'), 0)
        FROM ledger.files WHERE source = ?""", [source]).fetchone()
    keys = ("files_loaded", "files_quarantined", "files_duplicate", "rows_read", "rows_loaded", "rows_rejected",
            "rows_uncounted")
    return {"source": source, **{k: int(v) for k, v in zip(keys, row)}}


def build_row_conservation_check(source: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(source), name="row_conservation", blocking=True, metadata={KIND_META: "python"},
        description="Reconciliation: for every loaded file, rows read = loaded + rejected, and raw.* and the "
                    "rejected-row log hold exactly those rows.",
        resource_defs=REPORT_RESOURCE,
    )
    def _check(context, outcomes: OutcomesResource, quality_report: QualityReport) -> dg.AssetCheckResult:
        with outcomes.reader() as con:
            rows = row_conservation_rows(con, source)
            totals = ledger_totals(con, source)
        files = totals["files_loaded"] + totals["files_quarantined"] + totals["files_duplicate"]
        failures = [f"{r['file_path']}: read {r['rows_read']}, loaded {r['rows_loaded']}, rejected {r['rows_rejected']}; "
                    f"rows in raw {r['rows_in_raw']}, in rejected log {r['rows_in_rejected_log']}" for r in rows]
        result = dg.AssetCheckResult(passed=not failures, metadata={
            "files_in_ledger": files, "failing_files": failures[:20]})
        return record_check(
            context, quality_report, result, kind="python",
            data=f"ledger.files, ledger.rejected_rows and raw tables of {source}: {files:,} file(s) in the ledger",
            failures=[{"what": "rows read <> loaded + rejected, or raw.* / the rejected-row log disagree with the "
                               "ledger", "severity": "error", "count": len(rows), "samples": rows[:5]}] if rows else [],
            details={"ledger": totals})

    return _check


raw_checks = [build_row_conservation_check(s) for s in SOURCES]
