"""The landing sensor, evaluated with Dagster's build_sensor_context: content-keyed cursor and run_key."""
import shutil

import dagster as dg
import pytest

from pipelines.definitions import defs
from pipelines.resources import OutcomesResource
from pipelines.sensors import decode_cursor, encode_cursor, landing_sensor, run_key
from tests.support import write_export

VISITS = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\nV1,WAL,2021-10-04 10:00,M1,member,course,ok\n"
CALLS = ("call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"
         "C1,R1,2022-01-12T14:03:00Z,S1,outbound,successful,60\n")


@pytest.fixture
def tick(tmp_path):
    landing, instance = tmp_path / "landing", dg.DagsterInstance.ephemeral()
    landing.mkdir()
    resources = {"outcomes": OutcomesResource(home=str(tmp_path / "home"), landing=str(landing))}

    def _tick(cursor=None):
        context = dg.build_sensor_context(cursor=cursor, definitions=defs, instance=instance, resources=resources)
        return landing_sensor(context), context.cursor

    _tick.landing, _tick.instance = landing, instance
    return _tick


def test_new_file_requests_one_run_and_the_same_file_again_none(tick):
    write_export(tick.landing / "visits" / "kiosk_1.csv", VISITS)
    request, cursor = tick()
    assert isinstance(request, dg.RunRequest)
    digest = next(iter(decode_cursor(cursor)))
    assert request.run_key == run_key([digest])
    assert dg.AssetKey(["raw", "visits"]) in request.asset_selection
    assert dg.AssetKey(["raw", "zoom"]) not in request.asset_selection
    again, cursor2 = tick(cursor)
    assert isinstance(again, dg.SkipReason) and cursor2 == cursor


def test_renamed_copy_is_not_a_new_file(tick):
    write_export(tick.landing / "visits" / "kiosk_1.csv", VISITS)
    _, cursor = tick()
    (tick.landing / "visits" / "2021").mkdir()
    shutil.copy(tick.landing / "visits" / "kiosk_1.csv", tick.landing / "visits" / "2021" / "copy.csv")
    request, cursor2 = tick(cursor)
    assert isinstance(request, dg.SkipReason) and cursor2 == cursor


def test_part_and_hidden_files_are_ignored_until_renamed(tick):
    part = write_export(tick.landing / "wellbeing_calls" / "calls.csv.part", CALLS)
    write_export(tick.landing / "wellbeing_calls" / ".calls.csv", CALLS + "C2,R2,2022-01-12T15:03:00Z,S1,outbound,no_answer,0\n")
    write_export(tick.landing / "wellbeing_calls" / ".tmp" / "calls.csv", CALLS + "C3,R3,2022-01-12T15:03:00Z,S1,outbound,no_answer,0\n")
    request, cursor = tick()
    assert isinstance(request, dg.SkipReason) and decode_cursor(cursor) == set()
    part.rename(part.with_name("calls.csv"))
    request, cursor = tick(cursor)
    assert isinstance(request, dg.RunRequest) and len(decode_cursor(cursor)) == 1


def test_run_key_depends_on_content_not_names_or_order(tick):
    write_export(tick.landing / "visits" / "b.csv", VISITS)
    write_export(tick.landing / "wellbeing_calls" / "a.csv", CALLS)
    first, _ = tick()
    for p in list(tick.landing.rglob("*.csv")):
        p.rename(p.with_name("renamed-" + p.name))
    second, _ = tick()  # a fresh cursor sees the same content under new names
    assert first.run_key == second.run_key
    assert run_key(["b", "a"]) == run_key(["a", "b"])


def test_cursor_round_trips():
    digests = {f"{i:064x}" for i in range(1000)}
    cursor = encode_cursor(digests)
    assert decode_cursor(cursor) == digests
    assert encode_cursor(sorted(digests, reverse=True)) == cursor
    assert decode_cursor(None) == set() == decode_cursor("")
    assert len(cursor) < 1000 * 64  # compact: raw bytes, not hex


def test_selection_adds_models_never_built_then_only_the_changed_source(tick):
    write_export(tick.landing / "visits" / "kiosk_1.csv", VISITS)
    first, cursor = tick()
    assert dg.AssetKey("stg_zoom_meetings") in first.asset_selection  # fresh warehouse: build everything
    for key in first.asset_selection:
        tick.instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
    write_export(tick.landing / "visits" / "kiosk_2.csv", VISITS.replace("V1", "V2"))
    second, _ = tick(cursor)
    keys = set(second.asset_selection)
    assert {dg.AssetKey(["raw", "visits"]), dg.AssetKey("stg_visits"), dg.AssetKey("int_visits"),
            dg.AssetKey("kpi_annual"), dg.AssetKey(["dashboards", "commissioner"])} <= keys
    assert not keys & {dg.AssetKey("stg_zoom_meetings"), dg.AssetKey(["raw", "zoom"]), dg.AssetKey("int_wellbeing_calls")}


@pytest.mark.parametrize("moment,year", [
    ("2022-05-01T06:00:00+01:00", "2021/22"), ("2022-03-31T23:00:00+01:00", "2020/21"),
    ("2022-04-01T00:00:00+01:00", "2021/22"), ("2030-01-15T06:00:00+00:00", "2028/29"),
])
def test_close_year_schedule_closes_the_year_that_ended_before_its_tick(moment, year):
    from datetime import datetime

    from pipelines.schedules import close_year_annually

    context = dg.build_schedule_context(scheduled_execution_time=datetime.fromisoformat(moment))
    request = close_year_annually(context)
    assert request.run_config["ops"]["freeze_financial_year"]["config"]["year"] == year
    assert request.run_key == f"close-{year}"


def test_a_new_postcode_lookup_requests_the_members_step_again(tick):
    """Members are resolved with the lookup in force: a newer lookup re-runs raw/members and the
    deprivation figures downstream; a new questionnaire file runs its own ingestion."""
    write_export(tick.landing / "reference" / "postcode_lsoa_2024.csv", "pcds,lsoa11cd\nL4 0TH,E01000001\n")
    request, cursor = tick()
    assert isinstance(request, dg.RunRequest)
    keys = set(request.asset_selection)
    assert {dg.AssetKey(["raw", "reference"]), dg.AssetKey(["raw", "members"]),
            dg.AssetKey("int_members_reached"), dg.AssetKey("mart_reach_summary")} <= keys
    assert dg.AssetKey(["raw", "outcome_measures"]) not in keys
    write_export(tick.landing / "outcome_measures" / "responses.csv",
                 "response_id,member_id,measure,timepoint,completed_on,item_1,item_2,item_3,item_4,item_5,item_6,item_7\n"
                 "R1,M1,ons4,baseline,2021-05-01,5,6,7,3,,,\n")
    request, _ = tick(cursor)
    assert isinstance(request, dg.RunRequest)
    assert dg.AssetKey(["raw", "outcome_measures"]) in request.asset_selection
    assert dg.AssetKey(["raw", "members"]) not in request.asset_selection
