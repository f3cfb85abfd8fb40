"""Snapshot of the Dagster definitions: a renamed KPI asset, check, job, schedule or sensor fails CI.

After an intended change: UPDATE_SNAPSHOTS=1 pytest tests/test_definitions.py, and review the diff.
"""
import json
import os
from pathlib import Path

import dagster as dg

from pipelines.definitions import defs
from pipelines.lib.contracts import SOURCES

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


def test_every_kpi_mart_descends_from_every_raw_export():
    graph = defs.resolve_asset_graph()
    upstream = graph.upstream_key_iterator
    for mart in ("kpi_annual", "mart_monthly_by_site"):
        seen, todo = set(), [dg.AssetKey(mart)]
        while todo:
            key = todo.pop()
            for parent in upstream(key):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        assert {dg.AssetKey(["raw", s]) for s in SOURCES} <= seen, mart
    assert dg.AssetKey("kpi_annual") in set(upstream(dg.AssetKey(["dashboards", "commissioner"])))
