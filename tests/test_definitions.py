"""Snapshot of the Dagster definitions: a renamed KPI asset, check, job, schedule or sensor fails CI.

After an intended change: UPDATE_SNAPSHOTS=1 pytest tests/test_definitions.py, and review the diff.
"""
import json
import os
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from pipelines.lib.contracts import ACTIVITY_SOURCES

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def describe() -> dict:
    graph = defs.resolve_asset_graph()
    return {
        "assets": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
        "asset_checks": sorted(f"{c.asset_key.to_user_string()}:{c.name}" for c in graph.asset_check_keys),
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


def test_definitions_match_snapshot():
    current = describe()
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def ancestors(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen, todo = set(), [key]
    while todo:
        for parent in graph.upstream_key_iterator(todo.pop()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def test_every_kpi_mart_descends_from_every_raw_export():
    graph = defs.resolve_asset_graph()
    upstream = graph.upstream_key_iterator
    for mart in ("kpi_annual", "mart_monthly_by_site"):
        assert {dg.AssetKey(["raw", s]) for s in ACTIVITY_SOURCES} <= ancestors(graph, dg.AssetKey(mart)), mart
    assert dg.AssetKey("kpi_annual") in set(upstream(dg.AssetKey(["dashboards", "commissioner"])))


def test_outcome_marts_descend_from_their_inputs_and_feed_the_dashboards():
    graph = defs.resolve_asset_graph()
    raw = lambda *s: {dg.AssetKey(["raw", x]) for x in s}  # noqa: E731
    reach = raw("visits", "pathways", "members", "reference")
    assert reach <= ancestors(graph, dg.AssetKey("mart_reach_summary"))
    assert raw("outcome_measures") <= ancestors(graph, dg.AssetKey("mart_wellbeing_change"))
    assert dg.AssetKey("swemwbs_conversion") in ancestors(graph, dg.AssetKey("mart_wellbeing_change"))
    # members are resolved with the postcode lookup: reference/ is ingested first in a run
    assert dg.AssetKey(["raw", "reference"]) in set(graph.upstream_key_iterator(dg.AssetKey(["raw", "members"])))
    dashboard = set(graph.upstream_key_iterator(dg.AssetKey(["dashboards", "commissioner"])))
    assert {dg.AssetKey(k) for k in ("mart_reach_by_deprivation", "mart_reach_summary", "mart_wellbeing_change",
                                     "mart_wellbeing_change_distribution", "mart_outcome_inputs")} <= dashboard
