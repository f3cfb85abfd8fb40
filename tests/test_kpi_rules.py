"""Every KPI rule of the customer's contract (/work/shared/export-formats.md), end to end.

Each module-scoped fixture builds one tiny, hand-written landing zone and runs the whole
pipeline on it ONCE (`outcomes run` + `outcomes kpis`); the tests then assert one rule each
against that result. Inside one landing zone every rule has its own financial year, so a
bug in one rule moves only that rule's numbers. Every year also holds at least one unit
that certainly counts (a "baseline"), so the year is present in the KPI table and a rule
whose answer is "this does not count" is seen as N instead of N+1.

Pipeline runs in this file: visits 1, wellbeing 1, pathways 1, zoom (sessions) 1,
zoom (people) 1, late data / correction / redelivery 2  ->  7.

The working for each expected value is in the comment next to it.
"""
from __future__ import annotations

import shutil
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.support import outcomes, run_and_kpis, write_export

# Every test in this module reads the result of a whole pipeline run.
pytestmark = pytest.mark.slow

COUNT_KPIS = (
    "visits", "visiting_members",
    "pathway_contacts", "social_prescriptions",
    "zoom_sessions", "zoom_members", "zoom_attendances",
    "wellbeing_calls", "wellbeing_successful_contacts", "wellbeing_people_reached",
)
RATIO_KPIS = ("prescriptions_per_contact", "sessions_per_member")
ALL_KPIS = COUNT_KPIS + RATIO_KPIS
KPIS_OF = {
    "visits": ("visits", "visiting_members"),
    "pathways": ("pathway_contacts", "social_prescriptions"),
    "zoom": ("zoom_sessions", "zoom_members", "zoom_attendances"),
    "wellbeing": ("wellbeing_calls", "wellbeing_successful_contacts", "wellbeing_people_reached"),
}


def d(text: str) -> str:
    """A hand-written export: dedented, without the leading newline of the literal."""
    return textwrap.dedent(text).lstrip("\n")


@dataclass
class Run:
    home: Path
    k: dict


def kpi(run: Run, fy: str, name: str):
    """One KPI value; fails with a readable message if the year or the KPI row is missing."""
    years = sorted({y for y, _ in run.k})
    assert fy in years, f"no KPI rows for {fy}; years present: {years}"
    assert (fy, name) in run.k, f"{name} missing for {fy}: {sorted(n for y, n in run.k if y == fy)}"
    return run.k[(fy, name)]


def assert_years(run: Run, expected: set[str]) -> None:
    """Exactly these years are present, each with every KPI."""
    years = {y for y, _ in run.k}
    assert years == expected
    for fy in years:
        assert {n for y, n in run.k if y == fy} == set(ALL_KPIS), fy


def assert_only_source(run: Run, source: str) -> None:
    """In a landing zone holding one source, the other sources' counts are 0 and a ratio
    whose denominator belongs to another source is empty (None)."""
    for fy in {y for y, _ in run.k}:
        for src, names in KPIS_OF.items():
            if src != source:
                for name in names:
                    assert kpi(run, fy, name) == 0, (fy, name)
        if source != "pathways":
            assert kpi(run, fy, "prescriptions_per_contact") is None, fy
        if source != "zoom":
            assert kpi(run, fy, "sessions_per_member") is None, fy


def monthly_values(home: Path, kpi_name: str, fy: str) -> dict[tuple[date, str], int]:
    """Non-zero rows of mart_monthly_by_site for one KPI and year: {(month, site_code): value}."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        found = con.execute(
            """
            select schema_name from duckdb_tables()
             where database_name = current_database() and table_name = 'mart_monthly_by_site'
            union all
            select schema_name from duckdb_views()
             where database_name = current_database() and view_name = 'mart_monthly_by_site'
            """
        ).fetchall()
        assert len(found) == 1, f"expected one mart_monthly_by_site, found in schemas {found}"
        schema = found[0][0]
        rows = con.execute(
            f'select month, site_code, sum(value) from "{schema}".mart_monthly_by_site '
            "where kpi = ? and financial_year = ? group by all having sum(value) <> 0",
            [kpi_name, fy],
        ).fetchall()
    return {(m, s): int(v) for m, s, v in rows}


VISITS_HEADER = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
CONTACTS_HEADER = "contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at\n"
PRESCRIPTIONS_HEADER = "prescription_id,contact_id,category,referred_to,created_date,status,updated_at\n"
CALLS_HEADER = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"


# ---------------------------------------------------------------------------------------
# visits/
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def visits_run(tmp_path_factory) -> Run:
    landing = tmp_path_factory.mktemp("visits_landing")
    v = landing / "visits"

    # 2015/16 and 2016/17: the financial-year boundary (local time, no conversion).
    write_export(v / "kiosk_2016-04-07.csv", VISITS_HEADER + d("""
        V-FY-1,WAL,2016-03-31 23:59:59,M1001,member,course,ok
        V-FY-2,SOU,2016-04-01 00:00,M1002,member,cafe,ok
    """))

    # 2017/18: two overlapping kiosk exports (each covers the last seven days).
    write_export(v / "2017" / "kiosk_2017-06-07.csv", VISITS_HEADER + d("""
        V-OV-1,WAL,2017-06-01 10:00,M2001,member,course,ok
        V-OV-2,WAL,2017-06-05 11:00,M2002,member,drop_in,ok
    """))
    write_export(v / "2017" / "kiosk_2017-06-14.csv", VISITS_HEADER + d("""
        V-OV-2,WAL,2017-06-05 11:00,M2002,member,drop_in,ok
        V-OV-3,WAL,2017-06-12 09:30,M2003,member,library,ok
    """))

    # 2018/19: void in any delivery. V-VD-1 ok then void; V-VD-2 void then ok; V-VD-3 ok twice.
    write_export(v / "kiosk_2018-06-07.csv", VISITS_HEADER + d("""
        V-VD-1,BOO,2018-06-01 10:00,M3001,member,course,ok
        V-VD-2,BOO,2018-06-02 10:00,M3002,member,course,void
        V-VD-3,BOO,2018-06-03 10:00,M3003,member,course,ok
    """))
    write_export(v / "kiosk_2018-06-14.csv", VISITS_HEADER + d("""
        V-VD-1,BOO,2018-06-01 10:00,M3001,member,course,void
        V-VD-2,BOO,2018-06-02 10:00,M3002,member,course,ok
        V-VD-3,BOO,2018-06-03 10:00,M3003,member,course,ok
    """))

    # 2019/20: visitor types. The staff sign-in carries a member number, on purpose.
    write_export(v / "kiosk_2019-07-08.csv", VISITS_HEADER + d("""
        V-TY-1,PCL,2019-07-01 09:00,M4009,staff,other,ok
        V-TY-2,PCL,2019-07-01 09:10,,guest,cafe,ok
        V-TY-3,PCL,2019-07-01 09:20,,carer,cafe,ok
        V-TY-4,PCL,2019-07-01 09:30,M4004,volunteer,volunteering,ok
        V-TY-5,PCL,2019-07-01 09:40,M4005,member,computers,ok
    """))

    # 2020/21: visiting_members = distinct non-empty member_id.
    write_export(v / "kiosk_2020-09-07.csv", VISITS_HEADER + d("""
        V-MB-1,PSL,2020-09-01 10:00,M5001,member,course,ok
        V-MB-2,PSL,2020-09-03 10:00,M5001,member,course,ok
        V-MB-3,PSL,2020-09-03 11:00,,member,drop_in,ok
        V-MB-4,PSL,2020-09-04 11:00,,guest,drop_in,ok
        V-MB-5,PSL,2020-09-04 12:00,M5002,member,pathways,ok
    """))

    # 2021/22: both time formats, HH:MM and HH:MM:SS.
    write_export(v / "kiosk_2021-10-14.csv", VISITS_HEADER + d("""
        V-TF-1,WAL,2021-10-07 10:15,M6001,member,course,ok
        V-TF-2,WAL,2021-10-07 10:15:42,M6002,member,course,ok
    """))

    home = tmp_path_factory.mktemp("visits_home")
    return Run(home, run_and_kpis(landing, home))


def test_kpis_csv_has_the_documented_header(visits_run):
    out = outcomes("kpis", "--home", str(visits_run.home), "--format", "csv").stdout
    assert out.splitlines()[0].strip() == "financial_year,kpi,value"


def test_visits_years_present_each_with_every_kpi(visits_run):
    assert_years(visits_run, {"2015/16", "2016/17", "2017/18", "2018/19", "2019/20", "2020/21", "2021/22"})


def test_visits_only_landing_other_counts_zero_and_ratios_empty(visits_run):
    assert_only_source(visits_run, "visits")


def test_visit_on_31_march_2359_is_in_the_ending_year(visits_run):
    # V-FY-1 signed in 2016-03-31 23:59:59 local -> FY 2015/16; nothing else in 2015/16.
    assert kpi(visits_run, "2015/16", "visits") == 1


def test_visit_on_1_april_0000_is_in_the_new_year(visits_run):
    # V-FY-2 signed in 2016-04-01 00:00 local -> FY 2016/17; nothing else in 2016/17.
    assert kpi(visits_run, "2016/17", "visits") == 1


def test_visits_distinct_visit_id_across_overlapping_exports(visits_run):
    # V-OV-1, V-OV-2 (in both exports), V-OV-3 -> 3 distinct, not 4 rows.
    assert kpi(visits_run, "2017/18", "visits") == 3


def test_visit_void_in_any_delivery_is_void_whatever_the_file_order(visits_run):
    # V-VD-1 ok->void: void; V-VD-2 void->ok: void; V-VD-3 ok in both -> 1.
    assert kpi(visits_run, "2018/19", "visits") == 1


def test_visiting_members_ignore_void_visits(visits_run):
    # Only V-VD-3 counts -> members {M3003} = 1 (M3001, M3002 were on void visits).
    assert kpi(visits_run, "2018/19", "visiting_members") == 1


def test_visits_exclude_staff_and_count_guest_carer_volunteer(visits_run):
    # V-TY-1 staff excluded; guest V-TY-2, carer V-TY-3, volunteer V-TY-4, member V-TY-5 -> 4.
    assert kpi(visits_run, "2019/20", "visits") == 4


def test_visiting_members_exclude_a_staff_sign_in_with_member_id(visits_run):
    # Counted visits V-TY-2..5 carry member ids {'', '', M4004, M4005} -> 2; staff's M4009 not counted.
    assert kpi(visits_run, "2019/20", "visiting_members") == 2


def test_visits_with_empty_member_id_still_count_as_visits(visits_run):
    # V-MB-1..5 all ok, none staff -> 5 (two of them have no member_id).
    assert kpi(visits_run, "2020/21", "visits") == 5


def test_visiting_members_distinct_non_empty_member_ids(visits_run):
    # member ids M5001, M5001, '', '', M5002 -> distinct non-empty {M5001, M5002} = 2.
    assert kpi(visits_run, "2020/21", "visiting_members") == 2


def test_visits_both_time_formats_load(visits_run):
    # V-TF-1 '10:15' and V-TF-2 '10:15:42' -> 2.
    assert kpi(visits_run, "2021/22", "visits") == 2


# ---------------------------------------------------------------------------------------
# wellbeing_calls/
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wellbeing_run(tmp_path_factory) -> Run:
    landing = tmp_path_factory.mktemp("wellbeing_landing")
    w = landing / "wellbeing_calls"

    # 2017/18: every outcome; only 'successful' is a successful contact.
    write_export(w / "calls_2017-06-02.csv", CALLS_HEADER + d("""
        W-OC-1,RMY0000101,2017-06-01T09:00:00Z,ST01,outbound,successful,600
        W-OC-2,RMY0000102,2017-06-01T09:30:00Z,ST01,outbound,successful,420
        W-OC-3,RMY0000103,2017-06-01T10:00:00Z,ST01,outbound,no_answer,0
        W-OC-4,RMY0000103,2017-06-01T10:05:00Z,ST01,outbound,voicemail,35
        W-OC-5,RMY0000104,2017-06-01T10:30:00Z,ST02,outbound,wrong_number,20
        W-OC-6,RMY0000105,2017-06-01T11:00:00Z,ST02,outbound,declined,60
        W-OC-7,RMY0000106,2017-06-01T11:30:00Z,ST02,inbound,callback_requested,45
    """))

    # 2018/19: people reached.
    write_export(w / "calls_2018-07-09.csv", CALLS_HEADER + d("""
        W-PR-1,RMY0000201,2018-07-02T09:00:00Z,ST01,outbound,successful,300
        W-PR-2,RMY0000201,2018-07-09T09:00:00Z,ST01,outbound,successful,320
        W-PR-3,RMY0000202,2018-07-02T10:00:00Z,ST01,outbound,no_answer,0
        W-PR-4,RMY0000202,2018-07-03T10:00:00Z,ST01,outbound,voicemail,30
        W-PR-5,RMY0000203,2018-07-04T14:00:00Z,ST02,inbound,successful,900
    """))

    # 2019/20: a winter (GMT) and a summer (BST) call, both at 23:30 UTC on a month's last day.
    write_export(w / "calls_2020-02-03.csv", CALLS_HEADER + d("""
        W-WI-1,RMY0000301,2020-01-31T23:30:00Z,ST03,outbound,successful,240
        W-WI-2,RMY0000302,2019-05-31T23:30:00Z,ST03,outbound,successful,240
    """))

    # 2020/21, 2021/22, 2022/23: the financial-year boundary in UTC.
    write_export(w / "calls_2022-04-04.csv", CALLS_HEADER + d("""
        W-FY-1,RMY0000401,2021-03-31T22:59:59Z,ST04,outbound,successful,100
        W-FY-2,RMY0000402,2021-03-31T23:00:00Z,ST04,outbound,no_answer,0
        W-FY-3,RMY0000403,2021-03-31T23:30:00Z,ST04,outbound,successful,100
        W-FY-4,RMY0000404,2022-03-31T23:30:00Z,ST04,outbound,successful,100
    """))

    # 2023/24: two overlapping exports; W-OV-2 is in both.
    write_export(w / "calls_2023-07-07.csv", CALLS_HEADER + d("""
        W-OV-1,RMY0000501,2023-07-03T09:00:00Z,ST05,outbound,successful,300
        W-OV-2,RMY0000502,2023-07-06T09:00:00Z,ST05,outbound,no_answer,0
    """))
    write_export(w / "calls_2023-07-14.csv", CALLS_HEADER + d("""
        W-OV-2,RMY0000502,2023-07-06T09:00:00Z,ST05,outbound,no_answer,0
        W-OV-3,RMY0000503,2023-07-12T09:00:00Z,ST05,outbound,voicemail,25
    """))

    home = tmp_path_factory.mktemp("wellbeing_home")
    return Run(home, run_and_kpis(landing, home))


def test_wellbeing_years_present_each_with_every_kpi(wellbeing_run):
    assert_years(wellbeing_run, {"2017/18", "2018/19", "2019/20", "2020/21", "2021/22", "2022/23", "2023/24"})


def test_wellbeing_only_landing_other_counts_zero_and_ratios_empty(wellbeing_run):
    assert_only_source(wellbeing_run, "wellbeing")


def test_wellbeing_call_2022_03_31_2330Z_is_in_2022_23(wellbeing_run):
    # W-FY-4: 2022-03-31T23:30Z = 2022-04-01 00:30 BST -> 2022/23 (the contract's own example).
    assert kpi(wellbeing_run, "2022/23", "wellbeing_calls") == 1


def test_wellbeing_bst_had_started_by_31_march_2021(wellbeing_run):
    # BST began 2021-03-28, so W-FY-2 23:00Z = 1 Apr 00:00 BST and W-FY-3 23:30Z = 1 Apr 00:30 BST
    # -> both 2021/22 -> 2.
    assert kpi(wellbeing_run, "2021/22", "wellbeing_calls") == 2


def test_wellbeing_call_2021_03_31_225959Z_stays_in_2020_21(wellbeing_run):
    # W-FY-1: 22:59:59Z = 23:59:59 BST on 31 March 2021 -> 2020/21 -> 1.
    assert kpi(wellbeing_run, "2020/21", "wellbeing_calls") == 1


def test_wellbeing_winter_and_summer_calls_are_in_their_year(wellbeing_run):
    # W-WI-1 (2020-01-31 23:30 GMT) and W-WI-2 (2019-06-01 00:30 BST) are both 2019/20 -> 2.
    assert kpi(wellbeing_run, "2019/20", "wellbeing_calls") == 2


def test_wellbeing_winter_utc_stays_on_its_date_summer_utc_moves(wellbeing_run):
    # At annual grain no winter instant can cross 31 March (BST always starts by then), so the
    # GMT rule is only visible by month: W-WI-1 2020-01-31T23:30Z is 23:30 GMT -> January 2020
    # (a fixed +1h would say February); W-WI-2 2019-05-31T23:30Z is 00:30 BST 1 June -> June 2019
    # (UTC date would say May). Site for wellbeing calls is PHONE.
    assert monthly_values(wellbeing_run.home, "wellbeing_calls", "2019/20") == {
        (date(2020, 1, 1), "PHONE"): 1,
        (date(2019, 6, 1), "PHONE"): 1,
    }


def test_wellbeing_call_in_two_overlapping_exports_counts_once(wellbeing_run):
    # W-OV-1, W-OV-2 (twice), W-OV-3 -> 3 distinct calls, not 4.
    assert kpi(wellbeing_run, "2023/24", "wellbeing_calls") == 3


def test_wellbeing_every_outcome_is_a_call(wellbeing_run):
    # W-OC-1..7, seven calls whatever the outcome -> 7.
    assert kpi(wellbeing_run, "2017/18", "wellbeing_calls") == 7


def test_wellbeing_successful_contacts_count_only_successful(wellbeing_run):
    # W-OC-1, W-OC-2 successful; no_answer, voicemail, wrong_number, declined,
    # callback_requested are not -> 2.
    assert kpi(wellbeing_run, "2017/18", "wellbeing_successful_contacts") == 2


def test_wellbeing_people_reached_distinct_service_users_with_a_successful_call(wellbeing_run):
    # Successful: W-PR-1 and W-PR-2 (both RMY0000201 -> 1 person), W-PR-5 (RMY0000203).
    # RMY0000202 only had no_answer/voicemail -> not reached. -> 2.
    assert kpi(wellbeing_run, "2018/19", "wellbeing_people_reached") == 2


def test_wellbeing_successful_contacts_count_calls_not_people(wellbeing_run):
    # W-PR-1, W-PR-2, W-PR-5 -> 3 successful calls (2 people).
    assert kpi(wellbeing_run, "2018/19", "wellbeing_successful_contacts") == 3


# ---------------------------------------------------------------------------------------
# pathways/
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pathways_run(tmp_path_factory) -> Run:
    landing = tmp_path_factory.mktemp("pathways_landing")
    p = landing / "pathways"

    # Written first (earlier name, earlier mtime).
    write_export(p / "contacts_01.csv", CONTACTS_HEADER + d("""
        C-FY-1,M7001,A01,WAL,2016-03-31,face_to_face,attended,2016-03-31T16:00:00+01:00
        C-FY-2,M7002,A01,WAL,2016-04-01,phone,attended,2016-04-01T16:00:00+01:00
        C-LV-1,M7011,A01,SOU,2017-06-01,face_to_face,booked,2017-05-20T09:00:00+01:00
        C-LV-4,M7014,A01,SOU,2017-06-02,face_to_face,attended,2017-06-02T12:00:00+01:00
        C-LC-1,M7021,A02,BOO,2018-06-01,phone,attended,2018-06-01T12:00:00+01:00
        C-LC-2,M7022,A02,BOO,2018-06-01,phone,attended,2018-06-01T12:05:00+01:00
        C-NA-3,M7023,A02,BOO,2018-06-02,video,did_not_attend,2018-06-02T12:00:00+01:00
        C-BK-4,M7024,A02,BOO,2018-06-20,video,booked,2018-06-02T12:10:00+01:00
        C-LD-1,M7031,A03,PCL,2019-06-03,face_to_face,attended,2019-06-03T12:00:00+01:00
        C-LD-2,M7032,A03,PCL,2019-06-03,face_to_face,attended,2019-06-03T12:30:00+01:00
        C-RT-1,M7041,A04,PSL,2020-09-01,phone,attended,2020-09-01T12:00:00+01:00
        C-RT-2,M7042,A04,PSL,2020-09-02,phone,attended,2020-09-02T12:00:00+01:00
        C-RT-3,M7043,A04,PSL,2020-09-03,phone,attended,2020-09-03T12:00:00+01:00
        C-OF-1,M7051,A05,WAL,2021-09-30,face_to_face,cancelled,2021-10-04T15:22:10+01:00
        C-OF-B1,M7052,A05,WAL,2021-09-30,face_to_face,attended,2021-09-30T12:00:00+01:00
        C-OF-2,M7053,A05,WAL,2022-09-30,face_to_face,attended,2022-10-04T15:22:10+01:00
        C-OF-B2,M7054,A05,WAL,2022-09-30,face_to_face,attended,2022-09-30T12:00:00+01:00
        C-OR-1,M7061,A06,SOU,2023-06-01,video,attended,2023-06-05T10:00:00+01:00
        C-OR-B1,M7062,A06,SOU,2023-06-01,video,attended,2023-06-01T12:00:00+01:00
        C-OR-2,M7063,A06,SOU,2024-06-01,video,cancelled,2024-06-05T10:00:00+01:00
        C-OR-B2,M7064,A06,SOU,2024-06-01,video,attended,2024-06-01T12:00:00+01:00
    """))
    # Written second (later name, later mtime): newer versions, except C-OR-1 / C-OR-2 whose
    # versions here are OLDER than the ones in contacts_01.csv.
    write_export(p / "contacts_02.csv", CONTACTS_HEADER + d("""
        C-LV-1,M7011,A01,SOU,2017-06-01,face_to_face,attended,2017-06-01T15:00:00+01:00
        C-LC-1,M7021,A02,BOO,2018-06-01,phone,cancelled,2018-06-05T09:00:00+01:00
        C-LD-1,M7031,A03,PCL,2019-06-03,face_to_face,deleted,2019-06-10T09:00:00+01:00
        C-OF-1,M7051,A05,WAL,2021-09-30,face_to_face,attended,2021-10-04T14:30:00+00:00
        C-OF-2,M7053,A05,WAL,2022-09-30,face_to_face,cancelled,2022-10-04T14:30:00+00:00
        C-OR-1,M7061,A06,SOU,2023-06-01,video,booked,2023-05-25T10:00:00+01:00
        C-OR-2,M7063,A06,SOU,2024-06-01,video,attended,2024-06-01T16:00:00+01:00
    """))

    write_export(p / "prescriptions_01.csv", PRESCRIPTIONS_HEADER + d("""
        RX-FY-1,C-FY-1,housing,Sefton Housing Options,2016-04-02,made,2016-04-02T10:00:00+01:00
        RX-ST-1,C-LV-4,debt,StepChange,2017-06-02,made,2017-06-02T12:10:00+01:00
        RX-ST-2,C-LV-4,benefits,Citizens Advice,2017-06-02,made,2017-06-02T12:11:00+01:00
        RX-ST-3,C-LV-4,employment,Jobcentre Plus,2017-06-02,accepted,2017-06-02T12:12:00+01:00
        RX-ST-4,C-LV-4,learning,Recovery College,2017-06-02,made,2017-06-02T12:13:00+01:00
        RX-ST-5,C-LV-4,physical_activity,Active Sefton,2017-06-02,made,2017-06-02T12:14:00+01:00
        RX-ST-6,C-LV-4,community,Local Library,2017-06-02,withdrawn,2017-06-02T12:15:00+01:00
        RX-CA-2,C-LC-2,wellbeing,Talking Therapies,2018-06-01,made,2018-06-01T12:10:00+01:00
        RX-CA-3,C-NA-3,debt,StepChange,2018-06-02,made,2018-06-02T12:10:00+01:00
        RX-CA-4,C-BK-4,housing,Sefton Housing Options,2018-06-02,made,2018-06-02T12:20:00+01:00
        RX-LD-1,C-LD-1,volunteering,Volunteer Centre,2019-06-03,made,2019-06-03T12:10:00+01:00
        RX-LD-2,C-LD-2,other,Mens Shed,2019-06-03,made,2019-06-03T12:40:00+01:00
        RX-RT-1,C-RT-1,housing,Sefton Housing Options,2020-09-01,made,2020-09-01T12:10:00+01:00
        RX-RT-2,C-RT-1,debt,StepChange,2020-09-01,made,2020-09-01T12:11:00+01:00
        RX-RT-3,C-RT-1,benefits,Citizens Advice,2020-09-01,made,2020-09-01T12:12:00+01:00
        RX-RT-4,C-RT-2,learning,Recovery College,2020-09-02,made,2020-09-02T12:10:00+01:00
        RX-RT-5,C-RT-2,community,Local Library,2020-09-02,made,2020-09-02T12:11:00+01:00
        RX-RT-6,C-RT-2,wellbeing,Talking Therapies,2020-09-02,made,2020-09-02T12:12:00+01:00
        RX-RT-7,C-RT-2,physical_activity,Active Sefton,2020-09-02,made,2020-09-02T12:13:00+01:00
        RX-OR-1,C-GHOST,housing,Sefton Housing Options,2020-09-05,made,2020-09-05T12:00:00+01:00
    """))
    write_export(p / "prescriptions_02.csv", PRESCRIPTIONS_HEADER + d("""
        RX-ST-2,C-LV-4,benefits,Citizens Advice,2017-06-02,withdrawn,2017-06-20T09:00:00+01:00
        RX-ST-3,C-LV-4,employment,Jobcentre Plus,2017-06-02,deleted,2017-06-20T09:01:00+01:00
        RX-ST-4,C-LV-4,learning,Recovery College,2017-06-02,completed,2017-06-20T09:02:00+01:00
        RX-ST-5,C-LV-4,physical_activity,Active Sefton,2017-06-02,declined,2017-06-20T09:03:00+01:00
        RX-ST-6,C-LV-4,community,Local Library,2017-06-02,accepted,2017-06-20T09:04:00+01:00
    """))

    home = tmp_path_factory.mktemp("pathways_home")
    return Run(home, run_and_kpis(landing, home))


def test_pathways_years_present_each_with_every_kpi(pathways_run):
    assert_years(pathways_run, {f"{y}/{(y + 1) % 100:02d}" for y in range(2015, 2025)})


def test_pathways_only_landing_other_counts_zero_and_ratios_empty(pathways_run):
    assert_only_source(pathways_run, "pathways")


def test_contact_on_31_march_is_in_the_ending_year(pathways_run):
    # C-FY-1 contact_date 2016-03-31, attended -> 2015/16 -> 1.
    assert kpi(pathways_run, "2015/16", "pathway_contacts") == 1


def test_contact_on_1_april_is_in_the_new_year(pathways_run):
    # C-FY-2 contact_date 2016-04-01, attended -> 2016/17 -> 1.
    assert kpi(pathways_run, "2016/17", "pathway_contacts") == 1


def test_prescription_counts_in_its_contacts_year_not_its_created_year(pathways_run):
    # RX-FY-1 created 2016-04-02 (2016/17) on C-FY-1 dated 2016-03-31 -> counted in 2015/16 -> 1.
    assert kpi(pathways_run, "2015/16", "social_prescriptions") == 1


def test_prescription_not_counted_in_its_created_year(pathways_run):
    # 2016/17: only C-FY-2, which has no prescriptions; RX-FY-1 belongs to 2015/16 -> 0.
    assert kpi(pathways_run, "2016/17", "social_prescriptions") == 0


def test_contact_with_no_prescriptions_gives_ratio_zero_not_empty(pathways_run):
    # 2016/17: 0 prescriptions / 1 contact = 0.0 (denominator is not 0, so not empty).
    assert kpi(pathways_run, "2016/17", "prescriptions_per_contact") == 0.0


def test_contact_booked_then_attended_counts(pathways_run):
    # C-LV-1 booked (05-20) -> attended (06-01 15:00): latest attended; + baseline C-LV-4 -> 2.
    assert kpi(pathways_run, "2017/18", "pathway_contacts") == 2


def test_contact_attended_then_cancelled_does_not_count(pathways_run):
    # C-LC-1 attended -> cancelled (latest) no; C-LC-2 attended yes; C-NA-3 did_not_attend no;
    # C-BK-4 booked no -> 1.
    assert kpi(pathways_run, "2018/19", "pathway_contacts") == 1


def test_contact_attended_then_deleted_does_not_count(pathways_run):
    # C-LD-1 attended -> deleted (latest) no; C-LD-2 attended yes -> 1.
    assert kpi(pathways_run, "2019/20", "pathway_contacts") == 1


def test_updated_at_offsets_compared_as_instants_newer_attended(pathways_run):
    # C-OF-1: cancelled @ 2021-10-04T15:22:10+01:00 = 14:22:10Z; attended @ 14:30:00+00:00 = 14:30Z.
    # The attended version is the later instant (wall clock would say cancelled) -> counts.
    # + baseline C-OF-B1 -> 2.
    assert kpi(pathways_run, "2021/22", "pathway_contacts") == 2


def test_updated_at_offsets_compared_as_instants_newer_cancelled(pathways_run):
    # C-OF-2: attended @ 2022-10-04T15:22:10+01:00 = 14:22:10Z; cancelled @ 14:30:00+00:00 = 14:30Z.
    # Latest is cancelled (wall clock would say attended) -> not counted. + baseline C-OF-B2 -> 1.
    assert kpi(pathways_run, "2022/23", "pathway_contacts") == 1


def test_newer_version_in_an_earlier_named_file_wins_attended(pathways_run):
    # C-OR-1: contacts_01 has attended @ 2023-06-05, contacts_02 has booked @ 2023-05-25 (older).
    # Latest is attended -> counts. + baseline C-OR-B1 -> 2.
    assert kpi(pathways_run, "2023/24", "pathway_contacts") == 2


def test_newer_version_in_an_earlier_named_file_wins_cancelled(pathways_run):
    # C-OR-2: contacts_01 has cancelled @ 2024-06-05, contacts_02 has attended @ 2024-06-01 16:00
    # (older). Latest is cancelled -> not counted. + baseline C-OR-B2 -> 1.
    assert kpi(pathways_run, "2024/25", "pathway_contacts") == 1


def test_prescriptions_latest_withdrawn_or_deleted_excluded(pathways_run):
    # On C-LV-4 (attended), latest statuses: ST-1 made, ST-2 withdrawn, ST-3 deleted,
    # ST-4 completed, ST-5 declined, ST-6 accepted (withdrawn -> accepted) -> ST-1,4,5,6 = 4.
    assert kpi(pathways_run, "2017/18", "social_prescriptions") == 4


def test_prescriptions_require_contact_latest_attended(pathways_run):
    # RX-CA-2 on C-LC-2 attended: yes; RX-CA-3 on C-NA-3 did_not_attend: no;
    # RX-CA-4 on C-BK-4 booked: no -> 1.
    assert kpi(pathways_run, "2018/19", "social_prescriptions") == 1


def test_prescription_follows_its_contacts_latest_version(pathways_run):
    # RX-LD-1 on C-LD-1 (attended -> deleted): no; RX-LD-2 on C-LD-2 attended: yes -> 1.
    assert kpi(pathways_run, "2019/20", "social_prescriptions") == 1


def test_orphan_prescription_not_counted(pathways_run):
    # RX-RT-1..3 on C-RT-1, RX-RT-4..7 on C-RT-2 -> 7; RX-OR-1 on C-GHOST (never arrives) -> not -> 7.
    assert kpi(pathways_run, "2020/21", "social_prescriptions") == 7


def test_contact_with_zero_prescriptions_still_counts_as_contact(pathways_run):
    # C-RT-1 (3 rx), C-RT-2 (4 rx), C-RT-3 (0 rx), all attended -> 3.
    assert kpi(pathways_run, "2020/21", "pathway_contacts") == 3


def test_prescriptions_per_contact_unrounded(pathways_run):
    # 7 social prescriptions / 3 contacts = 2.3333... (not 2.33, not 8/3 with the orphan).
    assert kpi(pathways_run, "2020/21", "prescriptions_per_contact") == pytest.approx(7 / 3, rel=1e-9)


# ---------------------------------------------------------------------------------------
# zoom/ (1): report formats, session identity, times
# ---------------------------------------------------------------------------------------

ZOOM_MEETING_HEADER = "Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,\n"
PER_JOIN_HEADER = "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,\n"


def zoom_export(meeting_row: str, participant_rows: str) -> str:
    """The common shape: trailing commas, empty separator line, per-join participants."""
    return ZOOM_MEETING_HEADER + d(meeting_row) + "\n" + PER_JOIN_HEADER + d(participant_rows)


@pytest.fixture(scope="module")
def zoom_sessions_run(tmp_path_factory) -> Run:
    landing = tmp_path_factory.mktemp("zoom_sessions_landing")
    z = landing / "zoom"

    # 2015/16: Zoom's "show unique users" form (Total Duration, no join/leave times).
    write_export(z / "2015" / "participants_82000001501.csv", d("""
        Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,
        820 0000 1501,Managing Stress,10/19/2015 10:00:00 AM,10/19/2015 11:30:00 AM,host@merseycare.nhs.uk,90,3,

        Name (Original Name),User Email,Total Duration (Minutes),Guest,
        Helen Host,host@merseycare.nhs.uk,90,No,
        Uma Ulverston,uma.u@example.org,85,Yes,
        Ursula Unwin,,60,Yes,
    """))

    # 2016/17: extra trailing columns on the participant block.
    write_export(z / "participants_82000001602.csv", d("""
        Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,
        820 0000 1602,Sleep Well,11/14/2016 02:00:00 PM,11/14/2016 03:00:00 PM,host@merseycare.nhs.uk,60,3,

        Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,Recording Consent,In Waiting Room,
        Helen Host,host@merseycare.nhs.uk,11/14/2016 01:55:00 PM,11/14/2016 03:00:00 PM,65,No,Yes,No,
        Xavier Extra,xavier.x@example.org,11/14/2016 02:01:00 PM,11/14/2016 03:00:00 PM,59,Yes,Yes,No,
        Xena Extra,xena.x@example.org,11/14/2016 02:03:00 PM,11/14/2016 02:58:00 PM,55,Yes,Yes,No,
    """))

    # 2017/18: separator line of commas only, and no trailing commas anywhere.
    write_export(z / "participants_82000001703.csv", d("""
        Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants
        820 0000 1703,Five Ways to Wellbeing,01/15/2018 10:00:00 AM,01/15/2018 11:00:00 AM,host@merseycare.nhs.uk,60,2
        ,,,,,,
        Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest
        Helen Host,host@merseycare.nhs.uk,01/15/2018 09:58:00 AM,01/15/2018 11:00:00 AM,62,No
        Cora Commas,cora.c@example.org,01/15/2018 10:02:00 AM,01/15/2018 11:00:00 AM,58,Yes
    """))

    # 2018/19: the same occurrence exported twice (rows in another order, so not byte-identical).
    write_export(z / "participants_82000001804.csv", zoom_export(
        "820 0000 1804,Money Matters,06/18/2018 10:00:00 AM,06/18/2018 11:00:00 AM,host@merseycare.nhs.uk,60,3,\n",
        """
        Helen Host,host@merseycare.nhs.uk,06/18/2018 09:59:00 AM,06/18/2018 11:00:00 AM,61,No,
        Dan Double,dan.d@example.org,06/18/2018 10:01:00 AM,06/18/2018 11:00:00 AM,59,Yes,
        Dora Double,dora.d@example.org,06/18/2018 10:02:00 AM,06/18/2018 11:00:00 AM,58,Yes,
        """))
    write_export(z / "reexport" / "participants_82000001804_again.csv", zoom_export(
        "820 0000 1804,Money Matters,06/18/2018 10:00:00 AM,06/18/2018 11:00:00 AM,host@merseycare.nhs.uk,60,3,\n",
        """
        Dora Double,dora.d@example.org,06/18/2018 10:02:00 AM,06/18/2018 11:00:00 AM,58,Yes,
        Dan Double,dan.d@example.org,06/18/2018 10:01:00 AM,06/18/2018 11:00:00 AM,59,Yes,
        Helen Host,host@merseycare.nhs.uk,06/18/2018 09:59:00 AM,06/18/2018 11:00:00 AM,61,No,
        """))

    # 2019/20: one occurrence, Meeting ID written with and without spaces.
    write_export(z / "participants_2019-11-18_spaced.csv", zoom_export(
        "820 0000 1905,Coping with Change,11/18/2019 02:00:00 PM,11/18/2019 03:00:00 PM,host@merseycare.nhs.uk,60,3,\n",
        """
        Helen Host,host@merseycare.nhs.uk,11/18/2019 01:58:00 PM,11/18/2019 03:00:00 PM,62,No,
        Sid Space,sid.s@example.org,11/18/2019 02:01:00 PM,11/18/2019 03:00:00 PM,59,Yes,
        Sue Space,sue.s@example.org,11/18/2019 02:02:00 PM,11/18/2019 03:00:00 PM,58,Yes,
        """))
    write_export(z / "participants_2019-11-18_unspaced.csv", zoom_export(
        "82000001905,Coping with Change,11/18/2019 02:00:00 PM,11/18/2019 03:00:00 PM,host@merseycare.nhs.uk,60,3,\n",
        """
        Helen Host,host@merseycare.nhs.uk,11/18/2019 01:58:00 PM,11/18/2019 03:00:00 PM,62,No,
        Sid Space,sid.s@example.org,11/18/2019 02:01:00 PM,11/18/2019 03:00:00 PM,59,Yes,
        Sue Space,sue.s@example.org,11/18/2019 02:02:00 PM,11/18/2019 03:00:00 PM,58,Yes,
        """))

    # 2020/21: a recurring course, one Meeting ID, two weekly occurrences.
    for day in ("16", "23"):
        write_export(z / "recurring" / f"participants_82000002006_2020-11-{day}.csv", zoom_export(
            f"820 0000 2006,Building Confidence,11/{day}/2020 10:00:00 AM,11/{day}/2020 11:00:00 AM,host@merseycare.nhs.uk,60,3,\n",
            f"""
            Helen Host,host@merseycare.nhs.uk,11/{day}/2020 09:58:00 AM,11/{day}/2020 11:00:00 AM,62,No,
            Rita Recur,rita.r@example.org,11/{day}/2020 10:01:00 AM,11/{day}/2020 11:00:00 AM,59,Yes,
            Ray Recur,ray.r@example.org,11/{day}/2020 10:02:00 AM,11/{day}/2020 11:00:00 AM,58,Yes,
            """))

    # 2021/22 | 2022/23: the year boundary in 12-hour MM/DD/YYYY times.
    write_export(z / "participants_82000002107.csv", zoom_export(
        "820 0000 2107,Night Owls,03/31/2022 11:59:59 PM,04/01/2022 12:45:00 AM,host@merseycare.nhs.uk,46,2,\n",
        """
        Helen Host,host@merseycare.nhs.uk,03/31/2022 11:58:00 PM,04/01/2022 12:45:00 AM,47,No,
        Fay Alpha,fay.a@example.org,03/31/2022 11:59:59 PM,04/01/2022 12:40:00 AM,41,Yes,
        """))
    write_export(z / "participants_82000002208.csv", zoom_export(
        "820 0000 2208,Early Birds,04/01/2022 12:00:10 AM,04/01/2022 12:50:00 AM,host@merseycare.nhs.uk,50,2,\n",
        """
        Helen Host,host@merseycare.nhs.uk,04/01/2022 12:00:10 AM,04/01/2022 12:50:00 AM,50,No,
        Bea Beta,bea.b@example.org,04/01/2022 12:00:30 AM,04/01/2022 12:45:00 AM,45,Yes,
        """))

    # 2023/24: one Meeting ID at 12:30 AM and at 12:30 PM on the same day.
    write_export(z / "participants_82000002309_am.csv", zoom_export(
        "820 0000 2309,Peer Support,01/15/2024 12:30:00 AM,01/15/2024 01:30:00 AM,host@merseycare.nhs.uk,60,2,\n",
        """
        Helen Host,host@merseycare.nhs.uk,01/15/2024 12:29:00 AM,01/15/2024 01:30:00 AM,61,No,
        Amy Owl,amy.owl@example.org,01/15/2024 12:31:00 AM,01/15/2024 01:30:00 AM,59,Yes,
        """))
    write_export(z / "participants_82000002309_pm.csv", zoom_export(
        "820 0000 2309,Peer Support,01/15/2024 12:30:00 PM,01/15/2024 01:30:00 PM,host@merseycare.nhs.uk,60,2,\n",
        """
        Helen Host,host@merseycare.nhs.uk,01/15/2024 12:28:00 PM,01/15/2024 01:30:00 PM,62,No,
        Pam Noon,pam.noon@example.org,01/15/2024 12:29:10 PM,01/15/2024 01:15:00 PM,46,Yes,
        """))

    home = tmp_path_factory.mktemp("zoom_sessions_home")
    return Run(home, run_and_kpis(landing, home))


def test_zoom_sessions_years_present_each_with_every_kpi(zoom_sessions_run):
    assert_years(zoom_sessions_run, {f"{y}/{(y + 1) % 100:02d}" for y in range(2015, 2024)})


def test_zoom_only_landing_other_counts_zero_and_ratios_empty(zoom_sessions_run):
    assert_only_source(zoom_sessions_run, "zoom")


def test_zoom_unique_users_form_loads(zoom_sessions_run):
    # Uma (by email) and Ursula (no email, by name); host excluded -> 2 attendances.
    assert kpi(zoom_sessions_run, "2015/16", "zoom_attendances") == 2


def test_zoom_unique_users_form_session_delivered(zoom_sessions_run):
    # One occurrence of 820 0000 1501 with non-staff attendees -> 1.
    assert kpi(zoom_sessions_run, "2015/16", "zoom_sessions") == 1


def test_zoom_extra_trailing_columns_ignored(zoom_sessions_run):
    # Xavier, Xena (host excluded) -> 2, despite Recording Consent / In Waiting Room.
    assert kpi(zoom_sessions_run, "2016/17", "zoom_attendances") == 2


def test_zoom_commas_only_separator_and_no_trailing_commas(zoom_sessions_run):
    # Cora only (host excluded) -> 1.
    assert kpi(zoom_sessions_run, "2017/18", "zoom_attendances") == 1


def test_zoom_same_occurrence_exported_twice_is_one_session(zoom_sessions_run):
    # (82000001804, 2018-06-18 10:00:00) in two files -> 1 session.
    assert kpi(zoom_sessions_run, "2018/19", "zoom_sessions") == 1


def test_zoom_same_occurrence_exported_twice_attendances_not_doubled(zoom_sessions_run):
    # Dan, Dora in both exports of one session -> 2 (not 4).
    assert kpi(zoom_sessions_run, "2018/19", "zoom_attendances") == 2


def test_zoom_meeting_id_with_spaces_is_the_same_id(zoom_sessions_run):
    # '820 0000 1905' == '82000001905', same Start Time -> 1 session.
    assert kpi(zoom_sessions_run, "2019/20", "zoom_sessions") == 1


def test_zoom_meeting_id_with_spaces_attendances_not_doubled(zoom_sessions_run):
    # Sid, Sue once each in that one session -> 2 (not 4).
    assert kpi(zoom_sessions_run, "2019/20", "zoom_attendances") == 2


def test_zoom_recurring_meeting_id_two_start_times_two_sessions(zoom_sessions_run):
    # 82000002006 at 2020-11-16 10:00 and 2020-11-23 10:00 -> 2 sessions.
    assert kpi(zoom_sessions_run, "2020/21", "zoom_sessions") == 2


def test_zoom_recurring_attendances_per_occurrence(zoom_sessions_run):
    # Rita, Ray in each of 2 occurrences -> 4 attendances, 2 members.
    assert kpi(zoom_sessions_run, "2020/21", "zoom_attendances") == 4
    assert kpi(zoom_sessions_run, "2020/21", "zoom_members") == 2


def test_zoom_session_starting_0331_115959_pm_is_in_the_ending_year(zoom_sessions_run):
    # 03/31/2022 11:59:59 PM = 2022-03-31 23:59:59 local -> 2021/22 -> 1.
    assert kpi(zoom_sessions_run, "2021/22", "zoom_sessions") == 1


def test_zoom_session_starting_0401_120010_am_is_in_the_new_year(zoom_sessions_run):
    # 04/01/2022 12:00:10 AM = 2022-04-01 00:00:10 (MM/DD; read as DD/MM it would be 4 Jan) -> 2022/23.
    assert kpi(zoom_sessions_run, "2022/23", "zoom_sessions") == 1


def test_zoom_1230_am_and_1230_pm_are_different_sessions(zoom_sessions_run):
    # 82000002309 at 2024-01-15 00:30 and at 2024-01-15 12:30 -> 2 sessions.
    assert kpi(zoom_sessions_run, "2023/24", "zoom_sessions") == 2


# ---------------------------------------------------------------------------------------
# zoom/ (2): who is staff, who is a person, what is delivered
# ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def zoom_people_run(tmp_path_factory) -> Run:
    landing = tmp_path_factory.mktemp("zoom_people_landing")
    z = landing / "zoom"

    # 2015/16: Rob drops and rejoins.
    write_export(z / "participants_82000001508.csv", zoom_export(
        "820 0000 1508,Mindfulness,10/19/2015 06:00:00 PM,10/19/2015 07:00:00 PM,host@merseycare.nhs.uk,60,3,\n",
        """
        Helen Host,host@merseycare.nhs.uk,10/19/2015 05:58:00 PM,10/19/2015 07:00:00 PM,62,No,
        Rob Rejoin,rob.r@example.org,10/19/2015 06:00:00 PM,10/19/2015 06:20:00 PM,20,Yes,
        Rob Rejoin,rob.r@example.org,10/19/2015 06:24:00 PM,10/19/2015 07:00:00 PM,36,Yes,
        Rae Once,rae.o@example.org,10/19/2015 06:01:00 PM,10/19/2015 07:00:00 PM,59,Yes,
        """))

    # 2016/17: the host is a freelance tutor outside the staff domain.
    write_export(z / "participants_82000001609.csv", zoom_export(
        "820 0000 1609,Creative Writing,10/17/2016 02:00:00 PM,10/17/2016 03:00:00 PM,tutor.tom@example.com,60,2,\n",
        """
        Tom Tutor,tutor.tom@example.com,10/17/2016 01:55:00 PM,10/17/2016 03:00:00 PM,65,No,
        Hana Learner,hana.l@example.org,10/17/2016 02:01:00 PM,10/17/2016 03:00:00 PM,59,Yes,
        """))

    # 2017/18: staff-domain participants, one with an upper-case email.
    write_export(z / "participants_82000001710.csv", zoom_export(
        "820 0000 1710,Healthy Eating,10/16/2017 10:00:00 AM,10/16/2017 11:00:00 AM,host@merseycare.nhs.uk,60,4,\n",
        """
        Helen Host,host@merseycare.nhs.uk,10/16/2017 09:58:00 AM,10/16/2017 11:00:00 AM,62,No,
        Sam Staff,Sam.Staff@MERSEYCARE.NHS.UK,10/16/2017 10:00:00 AM,10/16/2017 11:00:00 AM,60,No,
        Sally Staff,sally.staff@merseycare.nhs.uk,10/16/2017 10:00:00 AM,10/16/2017 11:00:00 AM,60,No,
        Lee Learner,lee.l@example.org,10/16/2017 10:02:00 AM,10/16/2017 11:00:00 AM,58,Yes,
        """))

    # 2018/19: one person by email, written differently (case, surrounding blanks, display name).
    write_export(z / "participants_82000001811.csv", zoom_export(
        "820 0000 1811,Art for Wellbeing,10/15/2018 10:00:00 AM,10/15/2018 11:00:00 AM,host@merseycare.nhs.uk,60,2,\n",
        """
        Helen Host,host@merseycare.nhs.uk,10/15/2018 09:58:00 AM,10/15/2018 11:00:00 AM,62,No,
        Ann Ample, Ann.Ample@Example.ORG ,10/15/2018 10:01:00 AM,10/15/2018 11:00:00 AM,59,Yes,
        """))
    write_export(z / "participants_82000001812.csv", zoom_export(
        "820 0000 1812,Art for Wellbeing 2,10/22/2018 10:00:00 AM,10/22/2018 11:00:00 AM,host@merseycare.nhs.uk,60,2,\n",
        """
        Helen Host,host@merseycare.nhs.uk,10/22/2018 09:58:00 AM,10/22/2018 11:00:00 AM,62,No,
        Annie A,ann.ample@example.org,10/22/2018 10:01:00 AM,10/22/2018 11:00:00 AM,59,Yes,
        """))

    # 2019/20: one person by display name (emails hidden), renamed / spaced / cased differently.
    write_export(z / "participants_82000001913.csv", zoom_export(
        "820 0000 1913,Guitar Basics,10/14/2019 06:00:00 PM,10/14/2019 07:00:00 PM,host@merseycare.nhs.uk,60,2,\n",
        """
        Helen Host,host@merseycare.nhs.uk,10/14/2019 05:58:00 PM,10/14/2019 07:00:00 PM,62,No,
        Jo  B (Joanne Bloggs),,10/14/2019 06:01:00 PM,10/14/2019 07:00:00 PM,59,Yes,
        """))
    write_export(z / "participants_82000001914.csv", zoom_export(
        "820 0000 1914,Guitar Basics 2,10/21/2019 06:00:00 PM,10/21/2019 07:00:00 PM,host@merseycare.nhs.uk,60,2,\n",
        """
        Helen Host,host@merseycare.nhs.uk,10/21/2019 05:58:00 PM,10/21/2019 07:00:00 PM,62,No,
        jo b,,10/21/2019 06:01:00 PM,10/21/2019 07:00:00 PM,59,Yes,
        """))

    # 2020/21: a session attended only by staff (non-domain host + domain staff), and one delivered.
    write_export(z / "participants_82000002015.csv", zoom_export(
        "820 0000 2015,Staff Rehearsal,10/19/2020 09:00:00 AM,10/19/2020 09:30:00 AM,solo.tutor@example.com,30,2,\n",
        """
        Solo Tutor,solo.tutor@example.com,10/19/2020 08:58:00 AM,10/19/2020 09:30:00 AM,32,No,
        Sam Staff,Sam.Staff@MERSEYCARE.NHS.UK,10/19/2020 09:00:00 AM,10/19/2020 09:30:00 AM,30,No,
        """))
    write_export(z / "participants_82000002016.csv", zoom_export(
        "820 0000 2016,Photography,10/19/2020 10:00:00 AM,10/19/2020 11:00:00 AM,host@merseycare.nhs.uk,60,2,\n",
        """
        Helen Host,host@merseycare.nhs.uk,10/19/2020 09:58:00 AM,10/19/2020 11:00:00 AM,62,No,
        Della Delivered,della.d@example.org,10/19/2020 10:01:00 AM,10/19/2020 11:00:00 AM,59,Yes,
        """))

    # 2021/22: three sessions; Ava and Bea at all three, Cal at the first -> 7 attendances, 3 people.
    for mid, day, people in (("2117", "10/18/2021", ("Ava", "Bea", "Cal")),
                             ("2118", "10/25/2021", ("Ava", "Bea")),
                             ("2119", "11/15/2021", ("Ava", "Bea"))):
        rows = "".join(
            f"{n} Learner,{n.lower()}.l@example.org,{day} 10:01:00 AM,{day} 11:00:00 AM,59,Yes,\n"
            for n in people
        )
        write_export(z / f"participants_8200000{mid}.csv", zoom_export(
            f"820 0000 {mid},Stepping Stones,{day} 10:00:00 AM,{day} 11:00:00 AM,host@merseycare.nhs.uk,60,{len(people) + 1},\n",
            f"Helen Host,host@merseycare.nhs.uk,{day} 09:58:00 AM,{day} 11:00:00 AM,62,No,\n" + rows,
        ))

    # 2022/23: an email domain that merely ends in the staff domain is not staff.
    write_export(z / "participants_82000002220.csv", zoom_export(
        "820 0000 2220,Walking Group,10/17/2022 10:00:00 AM,10/17/2022 11:00:00 AM,host@merseycare.nhs.uk,60,3,\n",
        """
        Helen Host,host@merseycare.nhs.uk,10/17/2022 09:58:00 AM,10/17/2022 11:00:00 AM,62,No,
        Nina Near,nina@notmerseycare.nhs.uk,10/17/2022 10:01:00 AM,10/17/2022 11:00:00 AM,59,Yes,
        Omar Other,omar.o@example.org,10/17/2022 10:02:00 AM,10/17/2022 11:00:00 AM,58,Yes,
        """))

    home = tmp_path_factory.mktemp("zoom_people_home")
    return Run(home, run_and_kpis(landing, home))


def test_zoom_people_years_present_each_with_every_kpi(zoom_people_run):
    assert_years(zoom_people_run, {f"{y}/{(y + 1) % 100:02d}" for y in range(2015, 2023)})


def test_zoom_rejoin_is_one_attendance(zoom_people_run):
    # Rob (2 rows) -> 1, Rae -> 1; host excluded -> 2.
    assert kpi(zoom_people_run, "2015/16", "zoom_attendances") == 2


def test_zoom_host_outside_staff_domain_is_excluded(zoom_people_run):
    # Host tutor.tom@example.com appears as a participant but is staff (the host) -> only Hana -> 1.
    assert kpi(zoom_people_run, "2016/17", "zoom_attendances") == 1


def test_zoom_host_is_never_a_member(zoom_people_run):
    # Hana only -> 1.
    assert kpi(zoom_people_run, "2016/17", "zoom_members") == 1


def test_zoom_staff_domain_excluded_whatever_the_case(zoom_people_run):
    # Host, Sam (SAM.STAFF@MERSEYCARE.NHS.UK), Sally (merseycare.nhs.uk) are staff -> Lee only -> 1.
    assert kpi(zoom_people_run, "2017/18", "zoom_attendances") == 1


def test_zoom_staff_never_members(zoom_people_run):
    # Lee only -> 1.
    assert kpi(zoom_people_run, "2017/18", "zoom_members") == 1


def test_zoom_person_is_lower_cased_trimmed_email(zoom_people_run):
    # ' Ann.Ample@Example.ORG ' (as 'Ann Ample') and 'ann.ample@example.org' (as 'Annie A') -> 1 person.
    assert kpi(zoom_people_run, "2018/19", "zoom_members") == 1


def test_zoom_same_email_person_attends_two_sessions(zoom_people_run):
    # That one person at 2 sessions -> 2 attendances.
    assert kpi(zoom_people_run, "2018/19", "zoom_attendances") == 2


def test_zoom_person_without_email_is_normalised_display_name(zoom_people_run):
    # 'Jo  B (Joanne Bloggs)' -> drop '(Joanne Bloggs)', lower, collapse -> 'jo b'; 'jo b' -> 'jo b'.
    # -> 1 person.
    assert kpi(zoom_people_run, "2019/20", "zoom_members") == 1


def test_zoom_staff_only_session_not_delivered(zoom_people_run):
    # 82000002015: host solo.tutor + Sam (staff domain) only -> not delivered; 82000002016 -> delivered.
    # -> 1.
    assert kpi(zoom_people_run, "2020/21", "zoom_sessions") == 1


def test_zoom_staff_only_session_staff_not_members(zoom_people_run):
    # Della only (solo.tutor is that session's host, Sam is staff domain) -> 1.
    assert kpi(zoom_people_run, "2020/21", "zoom_members") == 1


def test_zoom_members_distinct_across_sessions_in_year(zoom_people_run):
    # {Ava, Bea, Cal} across three sessions -> 3 (not 7).
    assert kpi(zoom_people_run, "2021/22", "zoom_members") == 3


def test_zoom_attendances_one_per_session_and_person(zoom_people_run):
    # Session 2117: 3, 2118: 2, 2119: 2 -> 7.
    assert kpi(zoom_people_run, "2021/22", "zoom_attendances") == 7


def test_zoom_sessions_per_member_unrounded(zoom_people_run):
    # 7 attendances / 3 members = 2.3333... (not 2.33).
    assert kpi(zoom_people_run, "2021/22", "sessions_per_member") == pytest.approx(7 / 3, rel=1e-9)


def test_zoom_staff_domain_must_match_exactly(zoom_people_run):
    # nina@notmerseycare.nhs.uk is not in merseycare.nhs.uk -> member; + Omar -> 2.
    assert kpi(zoom_people_run, "2022/23", "zoom_members") == 2


# ---------------------------------------------------------------------------------------
# Late data, correction and redelivery: two runs against one home
# ---------------------------------------------------------------------------------------

@dataclass
class TwoRuns:
    first: Run
    second: Run


@pytest.fixture(scope="module")
def late_runs(tmp_path_factory) -> TwoRuns:
    landing = tmp_path_factory.mktemp("late_landing")
    home = tmp_path_factory.mktemp("late_home")

    # Run 1 ------------------------------------------------------------------------------
    write_export(landing / "pathways" / "contacts_2019-05.csv", CONTACTS_HEADER + d("""
        C-L0,M8000,A01,WAL,2019-05-01,face_to_face,attended,2019-05-01T12:00:00+01:00
        C-L2,M8002,A01,WAL,2020-06-10,face_to_face,attended,2020-06-10T12:00:00+01:00
        C-L3,M8003,A01,WAL,2020-06-11,face_to_face,attended,2020-06-11T12:00:00+01:00
    """))
    write_export(landing / "pathways" / "prescriptions_2019-05.csv", PRESCRIPTIONS_HEADER + d("""
        RX-L1,C-L1,debt,StepChange,2019-05-02,made,2019-05-02T12:30:00+01:00
    """))
    kiosk = write_export(landing / "visits" / "kiosk_2018-05-07.csv", VISITS_HEADER + d("""
        V-R1,WAL,2018-05-01 10:00,M8101,member,course,ok
        V-R2,SOU,2018-05-02 10:00,M8102,member,cafe,ok
    """))
    calls = write_export(landing / "wellbeing_calls" / "calls_2018-05-07.csv", CALLS_HEADER + d("""
        W-R1,RMY0000901,2018-05-01T10:00:00Z,ST09,outbound,successful,300
        W-R2,RMY0000902,2018-05-02T10:00:00Z,ST09,outbound,no_answer,0
    """))
    first = Run(home, run_and_kpis(landing, home))

    # Run 2: the missing contact arrives (in an EARLIER-named file), C-L2 is corrected,
    # and two files are redelivered byte for byte under other names.
    write_export(landing / "pathways" / "contacts_2019-04.csv", CONTACTS_HEADER + d("""
        C-L1,M8001,A01,WAL,2019-05-02,phone,attended,2019-05-02T12:00:00+01:00
    """))
    write_export(landing / "pathways" / "contacts_2020-07.csv", CONTACTS_HEADER + d("""
        C-L2,M8002,A01,WAL,2020-06-10,face_to_face,cancelled,2020-07-01T09:00:00+01:00
    """))
    (landing / "visits" / "resent").mkdir()
    shutil.copyfile(kiosk, landing / "visits" / "resent" / "kiosk_2018-05-07 (1).csv")
    shutil.copyfile(calls, landing / "wellbeing_calls" / "calls_2018-05-07_copy.csv")
    second = Run(home, run_and_kpis(landing, home))
    return TwoRuns(first, second)


def test_late_orphan_prescription_not_counted_before_its_contact(late_runs):
    # Run 1: RX-L1's contact C-L1 has not arrived -> orphan -> 0 (C-L0 keeps 2019/20 present).
    assert kpi(late_runs.first, "2019/20", "social_prescriptions") == 0


def test_late_contact_arrival_makes_the_prescription_count(late_runs):
    # Run 2: C-L1 (2019-05-02, attended) arrives -> RX-L1 counts -> 1.
    assert kpi(late_runs.second, "2019/20", "social_prescriptions") == 1


def test_late_contact_arrival_counts_the_contact(late_runs):
    # Run 2: C-L0 + C-L1 -> 2 contacts; ratio 1 / 2 = 0.5.
    assert kpi(late_runs.second, "2019/20", "pathway_contacts") == 2
    assert kpi(late_runs.second, "2019/20", "prescriptions_per_contact") == pytest.approx(0.5)


def test_correction_in_a_later_run_lowers_pathway_contacts(late_runs):
    # Run 1: C-L2, C-L3 attended -> 2. Run 2: C-L2 newer version cancelled -> 1.
    assert kpi(late_runs.first, "2020/21", "pathway_contacts") == 2
    assert kpi(late_runs.second, "2020/21", "pathway_contacts") == 1


def test_byte_identical_redelivery_adds_nothing(late_runs):
    # 2018/19 holds only the redelivered visits and calls: V-R1, V-R2 -> visits 2;
    # W-R1, W-R2 -> calls 2, successful 1, people 1; identical before and after the copies.
    first = {n: v for (y, n), v in late_runs.first.k.items() if y == "2018/19"}
    second = {n: v for (y, n), v in late_runs.second.k.items() if y == "2018/19"}
    assert first == second
    assert second["visits"] == 2
    assert second["visiting_members"] == 2
    assert second["wellbeing_calls"] == 2
    assert second["wellbeing_successful_contacts"] == 1
    assert second["wellbeing_people_reached"] == 1
