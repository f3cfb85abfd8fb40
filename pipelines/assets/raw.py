"""One Dagster asset per source: new landing files -> raw.* tables and the ledger."""

import dagster as dg
from dagster import AssetExecutionContext

from pipelines.lib.contracts import SOURCES
from pipelines.lib.ingest import ingest_source
from pipelines.resources import OutcomesResource

DESCRIPTIONS = {
    "visits": "Site sign-in kiosk exports (landing/visits/) -> raw.visits.",
    "zoom": "Zoom meeting participant reports, one file per occurrence (landing/zoom/) -> raw.zoom_meetings, raw.zoom_participants.",
    "pathways": "Pathways case-management exports, contacts*.csv and prescriptions*.csv (landing/pathways/) -> raw.pathway_contacts, raw.pathway_prescriptions.",
    "wellbeing_calls": "Wellbeing support team call logs (landing/wellbeing_calls/) -> raw.wellbeing_calls.",
}


def raw_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source])


def build_raw_asset(source: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(source), group_name="raw", kinds={"python", "duckdb"},
        description=DESCRIPTIONS[source] + " Parses against the contract, pseudonymises personal "
        "fields, records every file in ledger.files and every rejected row in ledger.rejected_rows.",
    )
    def _raw(context: AssetExecutionContext, outcomes: OutcomesResource) -> dg.MaterializeResult:
        p = outcomes.pseudonymiser()
        with outcomes.writer() as con:
            summary = ingest_source(con, outcomes.landing_dir, source, p, run_id=context.run_id)
        for path, reason in summary.quarantined:
            context.log.warning(f"quarantined {path}: {reason}")
        return dg.MaterializeResult(metadata={
            **summary.as_metadata(),
            "landing": str(outcomes.landing_dir),
            "new_file_sha256": summary.new_hashes[:50],
        })

    return _raw


raw_assets = [build_raw_asset(s) for s in SOURCES]
