"""`outcomes trace --excluded` on a small hand-written export: each exclusion rule appears on the right
unit with the right reason; and a snapshot whose files were changed or lost is not reproduced, with why."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from textwrap import dedent

import duckdb
import pytest

from pipelines.lib import kpi_registry
from tests.support import kpis, outcomes, write_export
from tests.test_audit_evidence import LandingIndex, check_evidence

pytestmark = pytest.mark.slow

VISITS = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
CONTACTS = "contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at\n"
PRESCRIPTIONS = "prescription_id,contact_id,category,referred_to,created_date,status,updated_at\n"
CALLS = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"
ZOOM_MEETING = "Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,\n"
ZOOM_JOINS = "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,\n"

KIOSK_A = VISITS + dedent("""\
    V1,WAL,2021-11-01 10:00,M1,member,course,ok
    V2,WAL,2021-11-01 11:00,M2,member,course,ok
    V3,WAL,2021-11-01 12:00,M3,staff,other,ok
    V4,WAL,2022-04-01 09:00,M1,member,course,ok
    V5,XXX,2021-11-01 13:00,M1,member,course,ok
    V6,WAL,2021-11-02 10:00,,guest,cafe,ok
""")


def write_landing(landing):
    write_export(landing / "visits" / "kiosk_a.csv", KIOSK_A)
    write_export(landing / "visits" / "kiosk_b.csv", VISITS + dedent("""\
        V1,WAL,2021-11-01 10:00,M1,member,course,ok
        V2,WAL,2021-11-01 11:00,M2,member,course,void
    """))
    write_export(landing / "visits" / "resent" / "kiosk_a_again.csv", KIOSK_A)
    write_export(landing / "visits" / "legacy.csv", "Visit,Site,When\n1,WAL,2021-11-01\n")

    write_export(landing / "pathways" / "contacts_2021-10-08.csv", CONTACTS + dedent("""\
        C1,M1,A1,WAL,2021-10-04,face_to_face,attended,2021-10-04T15:00:00+01:00
        C2,M2,A1,WAL,2021-10-05,face_to_face,attended,2021-10-05T10:00:00+01:00
        C3,M3,A1,,2021-10-06,phone,booked,2021-10-01T10:00:00+01:00
        C5,M5,A1,WAL,2021-03-31,phone,attended,2021-03-31T12:00:00+01:00
    """))
    write_export(landing / "pathways" / "contacts_2021-10-15.csv", CONTACTS + dedent("""\
        C2,M2,A1,WAL,2021-10-05,face_to_face,cancelled,2021-10-10T10:00:00+01:00
        C1,M1,A1,WAL,2021-10-04,face_to_face,attended,2021-10-11T09:00:00+01:00
        C4,M4,A1,WAL,04/10/2021,phone,attended,2021-10-11T09:00:00+01:00
    """))
    write_export(landing / "pathways" / "prescriptions_2021-10-08.csv", PRESCRIPTIONS + dedent("""\
        P1,C1,housing,Org A,2021-10-04,made,2021-10-04T15:05:00+01:00
        P2,C1,debt,Org B,2021-10-04,made,2021-10-04T15:06:00+01:00
        P3,C9,housing,Org A,2021-10-04,made,2021-10-04T15:07:00+01:00
        P4,C3,learning,Org C,2021-10-06,made,2021-10-06T10:00:00+01:00
        P5,C5,wellbeing,Org D,2021-04-02,made,2021-04-02T10:00:00+01:00
    """))
    write_export(landing / "pathways" / "prescriptions_2021-10-15.csv", PRESCRIPTIONS + dedent("""\
        P2,C1,debt,Org B,2021-10-04,withdrawn,2021-10-12T10:00:00+01:00
    """))

    write_export(landing / "zoom" / "participants_81234567890_2021-05-10.csv", ZOOM_MEETING + dedent("""\
        812 3456 7890,Anxiety Management (Week 2),05/10/2021 10:00:12 AM,05/10/2021 11:31:40 AM,host@merseycare.nhs.uk,92,5,

    """) + ZOOM_JOINS + dedent("""\
        Host Person,host@merseycare.nhs.uk,05/10/2021 09:55:00 AM,05/10/2021 11:31:40 AM,96,No,
        Ann Example,ann@example.org,05/10/2021 09:58:31 AM,05/10/2021 10:20:02 AM,22,No,
        Ann Example,ann@example.org,05/10/2021 10:25:00 AM,05/10/2021 10:50:00 AM,25,No,
        Ann Example,ann@example.org,05/10/2021 10:55:00 AM,05/10/2021 11:30:00 AM,35,No,
        Co Worker,co.worker@merseycare.nhs.uk,05/10/2021 10:00:00 AM,05/10/2021 11:00:00 AM,60,No,
        Jo B (Joanne Bloggs),,05/10/2021 10:01:00 AM,05/10/2021 11:00:00 AM,59,Yes,
    """))
    write_export(landing / "zoom" / "participants_82000000000_2021-05-11.csv", ZOOM_MEETING + dedent("""\
        820 0000 0000,Team meeting,05/11/2021 02:00:00 PM,05/11/2021 03:00:00 PM,host@merseycare.nhs.uk,60,2,
        ,,,,,,,
    """) + ZOOM_JOINS + dedent("""\
        Host Person,host@merseycare.nhs.uk,05/11/2021 02:00:00 PM,05/11/2021 03:00:00 PM,60,No,
        Co Worker,co.worker@merseycare.nhs.uk,05/11/2021 02:00:00 PM,05/11/2021 03:00:00 PM,60,No,
    """))

    write_export(landing / "wellbeing_calls" / "call_log_2021-06-07.csv", CALLS + dedent("""\
        W1,REF001,2021-06-01T10:00:00Z,S1,outbound,successful,300
        W2,REF002,2021-06-02T10:00:00Z,S1,outbound,no_answer,0
        W3,REF003,2022-03-31T23:30:00Z,S1,outbound,successful,120
        W4,REF004,2021-06-03T10:00:00Z,S1,sideways,successful,60
    """))
    write_export(landing / "wellbeing_calls" / "call_log_2021-06-14.csv", CALLS + dedent("""\
        W1,REF001,2021-06-01T10:00:00Z,S1,outbound,successful,300
    """))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit-rules")
    landing, home = root / "landing", root / "home"
    write_landing(landing)
    outcomes("run", "--landing", str(landing), "--home", str(home))
    return landing, home


def trace_json(home, kpi, *args):
    return json.loads(outcomes("trace", kpi, "--home", str(home), "--format", "json", *args).stdout)["traces"]


def excluded(home, kpi, year="2021/22"):
    """{unit_key or 'path:line': (rule, detail)} of `trace --excluded`, and the CSV row count."""
    text = outcomes("trace", kpi, "--year", year, "--excluded", "--home", str(home), "--format", "csv").stdout
    out = {}
    for r in csv.DictReader(io.StringIO(text)):
        path, line, _ = r["evidence"].rsplit(":", 2)
        key = r["unit_key"] or (f"{path}:{line}" if line else path)
        assert key not in out, key
        out[key] = (r["rule"], r["detail"])
    return out


def rules(found):
    return {k: rule for k, (rule, _) in found.items()}


def test_counted_units(small):
    landing, home = small
    got = kpis(home)
    assert {k: got[("2021/22", k)] for k in kpi_registry.counts()} == {
        "visits": 2, "visiting_members": 1, "pathway_contacts": 1, "social_prescriptions": 1, "zoom_sessions": 1,
        "zoom_members": 2, "zoom_attendances": 2, "wellbeing_calls": 2, "wellbeing_successful_contacts": 1,
        "wellbeing_people_reached": 1}
    (visits,) = trace_json(home, "visits", "--year", "2021/22")
    v1 = next(u for u in visits["units"] if u["unit_key"] == "V1")
    # kiosk_a.csv is the newest export (its latest sign-in is 2022-04-01), so its row wins.
    assert [(e["file_path"], e["line_number"], e["is_winning"]) for e in v1["evidence"]] == [
        ("visits/kiosk_a.csv", 2, True), ("visits/kiosk_b.csv", 2, False)]
    (attendances,) = trace_json(home, "zoom_attendances", "--year", "2021/22")
    ann = max(attendances["units"], key=lambda u: len(u["evidence"]))
    assert [e["line_number"] for e in ann["evidence"]] == [6, 7, 8]  # two rejoins: three rows
    (contacts,) = trace_json(home, "pathway_contacts", "--year", "2021/22")
    (c1,) = contacts["units"]
    assert [(e["file_path"], e["line_number"]) for e in c1["evidence"]] == [
        ("pathways/contacts_2021-10-15.csv", 3), ("pathways/contacts_2021-10-08.csv", 2)]
    assert c1["decided_by"]["latest_outcome"] == "attended"


def test_visit_exclusions(small):
    _, home = small
    found = excluded(home, "visits")
    assert rules(found) == {
        "V2": "void", "V3": "staff", "V4": "outside_year",
        "visits/kiosk_a.csv:6": "rejected_row",
        "visits/resent/kiosk_a_again.csv": "duplicate_delivery",
        "visits/legacy.csv": "quarantined"}
    assert found["V2"][1].startswith("void in 1 of 2 deliveries (first void row visits/kiosk_b.csv:3)")
    assert found["V4"][1] == "belongs to 2022/23 (visit_date 2022-04-01); counted there"
    assert "site_code" in found["visits/kiosk_a.csv:6"][1]
    assert found["visits/resent/kiosk_a_again.csv"][1] == "byte-identical to visits/kiosk_a.csv, which was loaded"
    assert "header does not match" in found["visits/legacy.csv"][1]
    members = rules(excluded(home, "visiting_members"))
    assert {k: v for k, v in members.items() if not k.startswith("visits/")} == {
        "M2": "no_counted_visit", "M3": "no_counted_visit", "V6": "no_member_id"}


def test_pathway_exclusions(small):
    _, home = small
    contacts = excluded(home, "pathway_contacts")
    assert rules(contacts) == {"C2": "superseded", "C3": "not_attended", "C5": "outside_year",
                               "pathways/contacts_2021-10-15.csv:4": "rejected_row"}
    assert contacts["C2"][1] == ("latest version (updated_at 2021-10-10T09:00:00Z) is cancelled; "
                                 "an earlier version was attended")
    assert contacts["C3"][1] == "latest version (updated_at 2021-10-01T09:00:00Z) is booked"
    prescriptions = excluded(home, "social_prescriptions")
    assert rules(prescriptions) == {"P2": "withdrawn", "P3": "orphan", "P4": "contact_not_attended",
                                    "P5": "outside_year"}
    assert prescriptions["P3"][1] == "contact C9 not loaded (yet)"
    assert prescriptions["P4"][1] == "contact C3 latest outcome booked"
    assert prescriptions["P5"][1] == "belongs to 2020/21 (contact_date 2021-03-31); counted there"
    assert kpis(home)[("2020/21", "social_prescriptions")] == 1


def test_zoom_exclusions(small):
    _, home = small
    sessions = excluded(home, "zoom_sessions")
    assert rules(sessions) == {"82000000000@2021-05-11T14:00:00": "staff_only"}
    attendances = excluded(home, "zoom_attendances")
    assert sorted(rule for rule, _ in attendances.values()) == ["staff"] * 4
    assert sorted(d for _, d in attendances.values()) == \
        ["host of a session, staff e-mail domain"] * 2 + ["staff e-mail domain"] * 2
    people = excluded(home, "zoom_members")
    assert sorted(rule for rule, _ in people.values()) == ["staff", "staff"]
    text = json.dumps([attendances, people])
    assert "example.org" not in text and "merseycare" not in text and "Ann" not in text


def test_call_exclusions(small):
    _, home = small
    calls = excluded(home, "wellbeing_calls")
    assert rules(calls) == {"W3": "outside_year", "wellbeing_calls/call_log_2021-06-07.csv:5": "rejected_row"}
    assert calls["W3"][1] == "belongs to 2022/23 (call_started_at_local 2022-04-01 00:30:00); counted there"
    successful = rules(excluded(home, "wellbeing_successful_contacts"))
    assert successful == {"W2": "not_successful", "W3": "outside_year",
                          "wellbeing_calls/call_log_2021-06-07.csv:5": "rejected_row"}
    reached = excluded(home, "wellbeing_people_reached")
    assert sorted(r for r, _ in reached.values()) == ["not_successful", "rejected_row"]
    assert "REF00" not in json.dumps(reached)


def test_every_cited_line_holds_its_record_counted_or_excluded(small):
    landing, home = small
    index = LandingIndex(landing, bytes.fromhex((home / "secret.key").read_text().strip()))
    for kpi in kpi_registry.counts():
        for flag in ((), ("--excluded",)):
            for trace in trace_json(home, kpi, *flag):
                if not flag:
                    assert trace["units_count"] == trace["published"], (kpi, trace["financial_year"])
                problems = [p for u in trace["units"] for p in check_evidence(index, u, kpi)]
                assert problems == [], problems


def test_a_snapshot_with_changed_or_missing_files_is_not_reproduced(small, tmp_path):
    landing, home = small
    altered = tmp_path / "landing"
    shutil.copytree(landing, altered)
    (altered / "visits" / "kiosk_b.csv").write_text(VISITS + "V1,WAL,2021-11-01 10:00,M1,member,course,ok\n"
                                                    "V2,WAL,2021-11-01 11:00,M2,member,course,ok\n")
    (altered / "visits" / "legacy.csv").unlink()
    proc = outcomes("reproduce", "2021/22", "--home", str(home), "--landing", str(altered),
                    "--scratch", str(tmp_path / "scratch"), check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "NOT reproduced: 2 KPI(s) differ" in out
    assert [ln.split()[:4] for ln in out.splitlines() if ln.endswith("DIFFERS")] == [
        ["visits", "2", "3", "DIFFERS"], ["visiting_members", "1", "2", "DIFFERS"]]
    assert "visits/kiosk_b.csv has changed since the snapshot" in out
    assert "visits/legacy.csv (sha256" in out and "is missing from" in out


def test_lineage_asset_records_row_counts_and_file_hashes(small):
    import dagster as dg

    from pipelines.audit.assets import audit_lineage
    from pipelines.resources import OutcomesResource

    landing, home = small
    result = dg.materialize([audit_lineage], resources={"outcomes": OutcomesResource(home=str(home))})
    (event,) = result.get_asset_materialization_events()
    md = {k: v.value for k, v in event.materialization.metadata.items()}
    assert md["rows/raw.visits"] == 7 and md["rows/main.audit_kpi_reconciliation"] > 0
    assert "rows/main.audit_kpi_units" not in md  # a view: counting it would recompute it
    assert md["files_in_scope"] == 12 and md["files_by_status"] == {"loaded": 10, "duplicate": 1, "quarantined": 1}
    assert md["kpi_trace_mismatches"] == 0
    # the digest of every file in scope: SHA-256 of "<path>\0<sha256>\n" for each, in path order
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        files = con.execute("SELECT file_path, file_sha256 FROM ledger.files ORDER BY 1, 2").fetchall()
    assert md["files_digest_sha256"] == hashlib.sha256("".join(f"{p}\0{sha}\n" for p, sha in files).encode()).hexdigest()
