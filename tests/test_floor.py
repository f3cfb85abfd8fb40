"""The benchmark's floor (bench/floor.sql via bench/floor.py) computes the pipeline's figures.

On a generated demo landing zone (all of the contract's mess included) the floor must give
exactly the KPIs the generator designed, which are the pipeline's figures; no pipeline run is
needed, so this stays fast.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.demo.generator import KPIS, expected_kpis, write_demo_landing

REPO = Path(__file__).resolve().parents[1]
SCALE = 0.05


def _load_floor():
    spec = importlib.util.spec_from_file_location("bench_floor", REPO / "bench" / "floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


floor = _load_floor()


@pytest.fixture(scope="module")
def demo_landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("floor") / "landing"
    write_demo_landing(root, scale=SCALE)
    return root


def test_floor_equals_the_designed_kpis(demo_landing):
    rows = floor.run_floor(demo_landing)
    expected = expected_kpis(SCALE)
    assert rows == sorted(rows)
    got = {(fy, kpi): value for fy, kpi, value in rows}
    assert len(got) == len(rows), "one row per (financial_year, kpi)"
    assert got.keys() == {(fy, kpi) for fy in expected for kpi in KPIS}
    for (fy, kpi), value in sorted(got.items()):
        want = expected[fy][kpi]
        if want is None:
            assert value is None, (fy, kpi)
        elif kpi in ("prescriptions_per_contact", "sessions_per_member"):
            assert value == pytest.approx(want, rel=1e-12, abs=0), (fy, kpi)
        else:
            assert value == float(want), (fy, kpi)


def test_floor_cli_prints_csv(demo_landing):
    out = subprocess.run([sys.executable, str(REPO / "bench" / "floor.py"), str(demo_landing)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "financial_year,kpi,value"
    assert len(out) == 1 + 12 * len(expected_kpis(SCALE))
    expected = expected_kpis(SCALE)["2021/22"]
    assert out[1] == f"2020/21,visits,{expected_kpis(SCALE)['2020/21']['visits']}"
    assert f"2021/22,visits,{expected['visits']}" in out
    assert f"2021/22,sessions_per_member,{expected['sessions_per_member']!r}" in out


def test_floor_on_an_empty_landing(tmp_path):
    for source in ("visits", "zoom", "pathways", "wellbeing_calls"):
        (tmp_path / source).mkdir()
    assert floor.run_floor(tmp_path) == []


def write_edge_cases(root: Path) -> None:
    """The contract's and decisions.md's edge cases, a few rows each (see the comments)."""
    def w(rel: str, text: str, bom: bool = False, crlf: bool = False) -> None:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if crlf:
            text = text.replace("\n", "\r\n")
        p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())

    VH = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status"
    # visits: reordered columns (valid)
    w("visits/a/reordered.csv", "status,purpose,visitor_type,member_id,signed_in_at,site_code,visit_id\n"
      "ok,cafe,member,M100,2022-05-01 10:00,WAL,R1\n"
      "ok,cafe,guest,,2022-05-01 10:05,SOU,R2\n")
    # extra column -> quarantined
    w("visits/a/extra.csv", VH + ",note\nX1,WAL,2022-05-01 10:00,M101,member,cafe,ok,hi\n")
    # trailing commas, whitespace, case, quotes, tabs, NBSP
    w("visits/a/messy.csv", VH + ",\n"
      " V1 , wal , 2022-05-02 10:00 , m102 , Member , Cafe , OK ,\n"
      "\"V2\",\"WAL\",\"2022-05-02 11:00\",\"M103\",\"member\",\"cafe\",\"ok\"\n"
      "V3\t,WAL,2022-05-02 11:00:30,M104,member,cafe,ok\n"
      "V4,WAL\u00a0,2022-05-02 11:00,M105,member,cafe,ok\n"
      "V5,WAL,2022-05-02 11:00,M106,member,cafe\n"                 # 6 fields -> rejected
      "V6,WAL,2022-05-02 11:00,M107,member,cafe,ok,x\n"           # 8 fields -> rejected
      "V7,WAL,2022-05-02 24:00,M108,member,cafe,ok\n"             # hour 24 -> rejected
      "V8,WAL,2022-5-2 10:00,M109,member,cafe,ok\n"               # one-digit month -> rejected
      "V9,WAL,1999-12-31 10:00,M110,member,cafe,ok\n"             # out of window -> rejected
      "V10,WAL,2022-05-02 10:00,X110,member,cafe,ok\n"            # bad member id -> rejected
      "V11,WAL,2022-05-02 10:00,,member,cafe,ok,,\n"              # two trailing commas -> ok
      "   ,,,,,,\n"                                               # blank -> not a row
      "V12,WAL,2022-05-02 10:00:60,M111,member,cafe,ok\n",        # second 60 -> rejected
      bom=True, crlf=True)
    # newest export wins: N1 is member in the older file, staff in the newer; N2 void only in older
    w("visits/b/older.csv", VH + "\nN1,WAL,2022-06-01 10:00,M200,member,cafe,ok\nN2,WAL,2022-06-01 10:00,M201,member,cafe,void\nN3,WAL,2022-06-01 10:00,M202,staff,cafe,ok\n")
    w("visits/b/newer.csv", VH + "\nN1,WAL,2022-06-01 10:00,M200,staff,cafe,ok\nN2,WAL,2022-06-01 10:00,M201,member,cafe,ok\nN3,WAL,2022-06-01 10:00,M202,member,cafe,ok\nN4,WAL,2022-06-03 10:00,M203,member,cafe,ok\n")
    # blank first line -> quarantined
    w("visits/b/blankfirst.csv", "\n" + VH + "\nB1,WAL,2022-06-01 10:00,M300,member,cafe,ok\n")
    # hidden folder, .part, hidden file
    w("visits/.tmp/h.csv", VH + "\nH1,WAL,2022-06-01 10:00,M301,member,cafe,ok\n")
    w("visits/b/p.csv.part", VH + "\nH2,WAL,2022-06-01 10:00,M302,member,cafe,ok\n")
    w("visits/b/.h.csv", VH + "\nH3,WAL,2022-06-01 10:00,M303,member,cafe,ok\n")
    # a non-.csv name is still a file of the source
    w("visits/b/export.txt", VH + "\nT1,BOO,2022-06-01 10:00,M304,member,cafe,ok\n")
    # duplicate header columns -> quarantined
    w("visits/b/dupe.csv", "visit_id,visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\nD1,D1,WAL,2022-06-01 10:00,M305,member,cafe,ok\n")
    # header only, no newline at end; empty file
    w("visits/b/headeronly.csv", VH)
    w("visits/b/empty.csv", "")

    CH = "contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at"
    PH = "prescription_id,contact_id,category,referred_to,created_date,status,updated_at"
    w("pathways/x/Contacts_upper.csv", CH + "\n"
      "C1,M1,A1,,2022-07-01,phone,booked,2022-06-20T10:00:00+01:00\n"
      "C1,M1,A1,,2022-07-01,phone,attended,2022-07-01T10:00:00Z\n"
      "C2,,,,2022-07-02,video,attended,2022-07-02T10:00:00\n"          # no offset -> rejected
      "C3,,,,2022-07-03,Video,ATTENDED,2022-07-03T10:00:00+0100\n"
      "C4,,,,2022-02-30,phone,attended,2022-07-03T10:00:00+01:00\n"    # bad date
      "C5,,,,2023-03-31,phone,attended,2023-04-01T10:00:00+01:00\n"
      "C6,,,,2022-07-06,phone,attended,2022-07-06T24:00:00+01:00\n"    # hour 24 -> rejected
      "C7,,,,2022-07-07,phone,attended,2022-07-07T10:00:00.5+01:00\n"
      "C8,,,,2022-07-08,phone,attended,2022-07-08 10:00+01:00\n")
    w("pathways/x/contacts_later.csv", CH + "\nC3,,,,2022-07-03,video,cancelled,2022-07-03T08:59:59Z\nC5,,,,2023-03-31,phone,deleted,2023-04-01T09:00:01Z\n")
    w("pathways/x/other.csv", CH + "\nC9,,,,2022-07-08,phone,attended,2022-07-08T10:00:00+01:00\n")
    w("pathways/x/prescriptions_a.csv", PH + "\n"
      "P1,C1,housing,\"Demo, Housing\",2022-07-01,made,2022-07-01T11:00:00+01:00\n"
      "P2,C1,debt,\"The \"\"Open\"\" Door\",2022-07-01, Declined ,2022-07-01T11:00:00+01:00\n"
      "P3,C1,debt,,2022-07-01,withdrawn,2022-07-01T11:00:00+01:00\n"
      "P4,C404,debt,,2022-07-01,made,2022-07-01T11:00:00+01:00\n"      # orphan
      "P5,C3,debt,,2022-07-03,made,2022-07-03T11:00:00+01:00\n"        # contact C3: latest 08:59:59Z vs 10:00+01 (=09:00Z) -> attended
      "P6,C7,FINANCE,,2022-07-07,made,2022-07-07T11:00:00+01:00\n"     # unknown category
      "P7,C7,Debt,,2022-07-07,made,2022-07-07T11:00:00+01:00\n"
      "P8,C8,debt,,2022-13-01,made,2022-07-07T11:00:00+01:00\n")       # bad created date
    CLH = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds"
    w("wellbeing_calls/c1.csv", CLH + "\n"
      "W1,DEMO1,2023-03-31T23:30:00,S1,outbound,successful,60\n"      # no offset -> UTC -> 2023/24
      "W2,DEMO2,2023-03-31T23:30:00+01:00,S1,outbound,successful,60\n" # 22:30Z -> 23:30 BST? (BST starts 26 Mar 2023) -> 2022/23
      "W3,,2022-08-01T10:00:00Z,S1,inbound,successful,60\n"           # empty ref
      "W4,DEMO4,2022-08-01T10:00:00Z,S1,outbound,no_answer,-5\n"      # bad duration
      "W5,DEMO5,2022-08-01T24:00:00Z,S1,outbound,no_answer,0\n"       # hour 24
      "W6, DEMO1 ,2022-08-02T10:00:00Z,,Outbound,Successful,10\n")
    w("wellbeing_calls/c2.csv", CLH + "\nW6,DEMO6,2022-08-02T10:00:00Z,,outbound,no_answer,10\nW7,DEMO7,2022-09-02T10:00:00Z,,outbound,successful,10\n")

    ZM = "Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants"
    PJ = "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest"
    UU = "Name (Original Name),User Email,Total Duration (Minutes),Guest"
    # 1: facilitator host (non-staff domain), staff sub-domain, notmerseycare, renamed guests, quoted name
    w("zoom/z1.csv", ZM + ",Extra,\n"
      "812 3456 7890,\"Money, Matters\",05/10/2022 10:00:00 AM,05/10/2022 11:00:00 AM,Fac@Partner.example,60,9,x,\n"
      "\n"
      + PJ + ",In Waiting Room,\n"
      "Fac,fac@partner.example,05/10/2022 10:00:00 AM,05/10/2022 11:00:00 AM,60,No,No,\n"
      "Sub Staff,sub@mail.MerseyCare.nhs.uk,05/10/2022 10:00:00 AM,05/10/2022 11:00:00 AM,60,No,No,\n"
      "Not Staff,x@notmerseycare.nhs.uk,05/10/2022 10:00:00 AM,05/10/2022 11:00:00 AM,60,Yes,No,\n"
      "Jo  B (Joanne Bloggs),,05/10/2022 10:00:00 AM,05/10/2022 10:30:00 AM,30,Yes,No,\n"
      "jo b,,05/10/2022 10:40:00 AM,05/10/2022 11:00:00 AM,20,Yes,No,\n"
      "\"Smith, John\",,05/10/2022 10:00:00 AM,05/10/2022 11:00:00 AM,60,Yes,No,\n"
      "Tab\tName\u00a0 (Orig),,05/10/2022 10:00:00 AM,05/10/2022 11:00:00 AM,60,Yes,No,\n"
      ",,05/10/2022 10:00:00 AM,05/10/2022 11:00:00 AM,60,Yes,No,\n"                 # nobody -> rejected
      "Bad Join,bad@example.org,13/45/2022 10:00:00 AM,05/10/2022 11:00:00 AM,60,Yes,No,\n"  # bad join -> rejected
      " Spaced@Example.org ,Spaced@Example.org,05/10/2022 10:00:00 AM,,,Yes,No,\n", bom=True, crlf=True)
    # 2: same session re-exported, meeting id without spaces, unique users form, seconds-less times
    w("zoom/z2.csv", ZM + "\n81234567890,Money Matters,05/10/2022 10:00 AM,05/10/2022 11:00 AM,fac@partner.example,,,\n,,,,\n"
      + UU + "\nspaced@example.org,spaced@example.org,60,Yes\nNew Person,new@example.org,5,Yes\n")
    # 3: the facilitator attends another session as a participant: staff there (host anywhere)
    w("zoom/z3.csv", ZM + "\n999 1,Other,04/01/2022 12:05:00 AM,04/01/2022 01:00:00 AM,host@merseycare.nhs.uk,55,3\n\n"
      + PJ + "\nFac,FAC@partner.example,04/01/2022 12:05:00 AM,04/01/2022 01:00:00 AM,55,Yes\nMidnight Member,mm@example.org,04/01/2022 12:05:00 AM,04/01/2022 01:00:00 AM,55,Yes\n")
    # 4: staff-only session (host + facilitator) -> not delivered
    w("zoom/z4.csv", ZM + "\n999 2,Staff only,06/01/2022 10:00:00 AM,06/01/2022 11:00:00 AM,host@merseycare.nhs.uk,60,2\n\n"
      + PJ + "\nHost,host@merseycare.nhs.uk,06/01/2022 10:00:00 AM,06/01/2022 11:00:00 AM,60,No\nFac,fac@partner.example,06/01/2022 10:00:00 AM,06/01/2022 11:00:00 AM,60,No\n")
    # 5: bad End Time -> quarantined whole (its host is NOT a host: loner@ counts as member in z6)
    w("zoom/z5.csv", ZM + "\n999 3,Q,06/02/2022 10:00:00 AM,06/31/2022 11:00:00 AM,loner@example.org,60,1\n\n"
      + PJ + "\nSomeone,someone@example.org,06/02/2022 10:00:00 AM,06/02/2022 11:00:00 AM,60,Yes\n")
    # 6: meeting without participants section: its host becomes staff elsewhere
    w("zoom/z6.csv", ZM + "\n999 4,Empty,06/03/2022 10:00:00 AM,06/03/2022 11:00:00 AM,quiet@example.org,60,0\n")
    w("zoom/z7.csv", ZM + "\n999 5,Seven,06/04/2022 10:00:00 AM,06/04/2022 11:00:00 AM,host@merseycare.nhs.uk,60,3\n\n"
      + PJ + "\nQuiet,quiet@example.org,06/04/2022 10:00:00 AM,06/04/2022 11:00:00 AM,60,Yes\nLoner,loner@example.org,06/04/2022 10:00:00 AM,06/04/2022 11:00:00 AM,60,Yes\n")
    # 8: participant header without Guest -> quarantined
    w("zoom/z8.csv", ZM + "\n999 6,NoGuest,06/05/2022 10:00:00 AM,06/05/2022 11:00:00 AM,host@merseycare.nhs.uk,60,1\n\n"
      "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes)\nGhost,ghost@example.org,06/05/2022 10:00:00 AM,06/05/2022 11:00:00 AM,60\n")
    # 9: blank line 2 -> quarantined
    w("zoom/z9.csv", ZM + "\n\n999 7,Blank2,06/06/2022 10:00:00 AM,06/06/2022 11:00:00 AM,host@merseycare.nhs.uk,60,1\n\n"
      + PJ + "\nGhost2,ghost2@example.org,06/06/2022 10:00:00 AM,06/06/2022 11:00:00 AM,60,Yes\n")
    # 10: Meeting ID with letters -> quarantined
    w("zoom/z10.csv", ZM + "\nABC 7,Letters,06/07/2022 10:00:00 AM,06/07/2022 11:00:00 AM,host@merseycare.nhs.uk,60,1\n\n"
      + PJ + "\nGhost3,ghost3@example.org,06/07/2022 10:00:00 AM,06/07/2022 11:00:00 AM,60,Yes\n")
    # 11: hour 13 PM start -> quarantined; lowercase pm without space -> ok
    w("zoom/z11.csv", ZM + "\n999 8,PM,06/08/2022 13:00:00 PM,06/08/2022 02:00:00 PM,host@merseycare.nhs.uk,60,1\n\n"
      + PJ + "\nGhost4,ghost4@example.org,06/08/2022 01:00:00 PM,06/08/2022 02:00:00 PM,60,Yes\n")
    w("zoom/z12.csv", ZM + "\n999 9,pm,6/9/2022 1:00:00pm,6/9/2022 2:00:00pm,host@merseycare.nhs.uk,60,1\n\n"
      + UU + ",Extra\nCasey (Casey Original),,60,Yes,x\n")


# Figures for the edge-case landing, derived by hand from the rules and identical to what
# `outcomes run` + `outcomes kpis --format csv` gave on the same files (checked when the floor
# was written).
EDGE_CASE_KPIS = {
    "2022/23": dict(visits=10, visiting_members=8, pathway_contacts=4, social_prescriptions=4,
                    prescriptions_per_contact=1.0, zoom_sessions=4, zoom_members=9, zoom_attendances=9,
                    sessions_per_member=1.0, wellbeing_calls=4, wellbeing_successful_contacts=4,
                    wellbeing_people_reached=3),
    "2023/24": dict(visits=0, visiting_members=0, pathway_contacts=0, social_prescriptions=0,
                    prescriptions_per_contact=None, zoom_sessions=0, zoom_members=0, zoom_attendances=0,
                    sessions_per_member=None, wellbeing_calls=1, wellbeing_successful_contacts=1,
                    wellbeing_people_reached=1),
}


def test_floor_on_edge_cases(tmp_path):
    write_edge_cases(tmp_path)
    got = {(fy, kpi): value for fy, kpi, value in floor.run_floor(tmp_path)}
    assert got == {(fy, kpi): (None if v is None else float(v))
                   for fy, kpis in EDGE_CASE_KPIS.items() for kpi, v in kpis.items()}
