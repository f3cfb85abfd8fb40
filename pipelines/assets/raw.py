"""One Dagster asset per source: new landing files -> raw.* tables and the ledger."""

import dagster as dg
from dagster import AssetExecutionContext

from pipelines.lib.contracts import SOURCES
from pipelines.lib import memory
from pipelines.lib.source_load import load_source
from pipelines.resources import OutcomesResource

DESCRIPTIONS = {
    "visits": "Site sign-in kiosk exports (landing/visits/) -> raw.visits.",
    "zoom": "Zoom meeting participant reports, one file per occurrence (landing/zoom/) -> raw.zoom_meetings, raw.zoom_participants.",
    "pathways": "Pathways case-management exports, contacts*.csv and prescriptions*.csv (landing/pathways/) -> raw.pathway_contacts, raw.pathway_prescriptions.",
    "wellbeing_calls": "Wellbeing support team call logs (landing/wellbeing_calls/) -> raw.wellbeing_calls.",
    "members": "Membership register exports, members_YYYYMMDD.csv (landing/members/) -> raw.members; each "
               "postcode resolved to its LSOA with the postcode lookup in force and never stored (nor the year "
               "of birth); rows resolved with an older lookup are resolved again.",
    "reference": "Published deprivation lookups (landing/reference/): ONS postcode_lsoa*.csv -> raw.postcode_lsoa "
                 "(postcodes as keyed pseudonyms), IMD 2019 imd2019*.csv -> raw.imd_deciles.",
    "outcome_measures": "Wellbeing questionnaires, SWEMWBS and ONS4 (landing/outcome_measures/) -> "
                        "raw.outcome_measures.",
}

# members are resolved with the postcode lookup, so reference/ is ingested first in a run
DEPS = {"members": [dg.AssetKey(["raw", "reference"])]}


def raw_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source])


def build_raw_asset(source: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=raw_key(source), group_name="raw", kinds={"python", "duckdb"}, deps=DEPS.get(source),
        description=DESCRIPTIONS[source] + " Parses against the contract, pseudonymises personal "
        "fields, records every file in ledger.files and every rejected row in ledger.rejected_rows, "
        "and, for Spark or a named lake, writes each loaded export's rows as Parquet to the lake "
        "(pipelines/lib/lake.py).",
    )
    def _raw(context: AssetExecutionContext, outcomes: OutcomesResource) -> dg.MaterializeResult:
        loaded = load_source(outcomes.home_dir, outcomes.landing_dir, source, outcomes.engine_name, context.run.run_id)
        summary, resolved = loaded.summary, loaded.resolved
        memory.release(0 if loaded.own_process else summary.rows_loaded)
        for path, reason in summary.quarantined:
            context.log.warning(f"quarantined {path}: {reason}")
        return dg.MaterializeResult(metadata={
            **summary.as_metadata(),
            "landing": str(outcomes.landing_dir),
            "new_file_sha256": summary.new_hashes[:50],
            "lake_files_written": loaded.lake_files,
            "loaded_in_own_process": loaded.own_process,
            **(resolved.as_metadata() if resolved else {}),
        })

    return _raw


raw_assets = [build_raw_asset(s) for s in SOURCES]
