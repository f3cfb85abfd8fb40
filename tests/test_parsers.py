"""Parsers on tiny exports: contract headers, row rules, both Zoom forms, pseudonyms."""
from pathlib import PurePosixPath

import pytest

from pipelines.lib.parsers import Quarantine, decode, display_name_key, parse_file
from pipelines.lib.pseudonym import Pseudonymiser

P = Pseudonymiser(b"k" * 32)
VISITS_HEADER = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"


def parse(source, text, name="x.csv", bom=False, crlf=False):
    if crlf:
        text = text.replace("\n", "\r\n")
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    return parse_file(source, data, PurePosixPath(f"{source}/{name}"), P)


def test_visits_rows_and_rejections_keep_line_numbers():
    out = parse("visits", VISITS_HEADER + "V1,wal,2021-10-04 10:00,M12,Member,course,ok\n"
                "V2,XXX,2021-10-04 10:00,,guest,cafe,ok\n"
                "\n"
                ",WAL,2021-10-04 10:00,,guest,cafe,ok\n"
                "V3,BOO,2021-10-04 10:00:33,,guest,cafe,void,\n"
                "V4,BOO,04/10/2021 10:00,,guest,cafe,ok\n"
                "V5,BOO,2021-10-04 10:00,12,guest,cafe,ok\n")
    rows = out.tables["visits"]
    assert [(r["visit_id"], r["line_number"], r["site_code"], r["visitor_type"]) for r in rows] == [
        ("V1", 2, "WAL", "member"), ("V3", 6, "BOO", "guest")]
    assert rows[1]["signed_in_at"].second == 33 and rows[1]["status"] == "void"
    assert [line for line, _ in out.rejects] == [3, 5, 7, 8]
    reasons = dict(out.rejects)
    assert "unknown site_code" in reasons[3] and reasons[5] == "missing visit_id"
    assert "unparseable signed_in_at" in reasons[7] and "member_id" in reasons[8]
    assert out.rows_read == 6 == out.rows_loaded + len(out.rejects)


@pytest.mark.parametrize("bom,crlf", [(True, False), (False, True), (True, True)])
def test_bom_and_crlf_parse_like_plain(bom, crlf):
    text = VISITS_HEADER + "V1,WAL,2021-10-04 10:00,M1,member,course,ok\n"
    assert parse("visits", text, bom=bom, crlf=crlf).tables == parse("visits", text).tables


@pytest.mark.parametrize("header,why", [
    ("visit_id,site_code,signed_in_at,member_id,visitor_type,purpose\n", "missing column"),
    ("visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status,extra\n", "unexpected column"),
    ("visit_id,visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n", "duplicated column"),
])
def test_wrong_header_quarantines_whole_file(header, why):
    with pytest.raises(Quarantine, match=why):
        parse("visits", header + "V1,WAL,2021-10-04 10:00,M1,member,course,ok\n")


@pytest.mark.parametrize("source", ["visits", "zoom", "pathways", "wellbeing_calls"])
def test_empty_file_is_quarantined(source):
    with pytest.raises(Quarantine, match="empty file"):
        parse(source, "", name="contacts.csv")


def test_not_utf8_is_quarantined():
    with pytest.raises(Quarantine, match="UTF-8"):
        decode("visit_id,caf\xe9\n".encode("latin-1"))


ZOOM_MEETING = (
    "Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,\n"
    "812 3456 7890,Anxiety Management (Week 2),10/05/2021 10:00:12 AM,10/05/2021 11:31:40 AM,host@merseycare.nhs.uk,92,14,\n"
)


def test_zoom_per_join_form_with_trailing_commas_and_extra_columns():
    out = parse("zoom", ZOOM_MEETING + ",,,,,,,\n"
                "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,In Waiting Room,\n"
                "Ann Example,Ann@Example.org ,10/05/2021 09:58:31 AM,10/05/2021 10:40:02 AM,42,No,No,\n"
                "Jo  B (Joanne Bloggs),,10/05/2021 12:58:31 PM,10/05/2021 01:40:02 PM,42,Yes,\n"
                ",,10/05/2021 09:58:31 AM,10/05/2021 10:40:02 AM,42,Yes,\n")
    (meeting,) = out.tables["zoom_meetings"]
    assert meeting["meeting_id"] == "81234567890" and meeting["start_time"].hour == 10
    assert meeting["start_time"].month == 10 and meeting["start_time"].day == 5  # MM/DD/YYYY
    assert meeting["host_email_domain"] == "merseycare.nhs.uk" and meeting["participant_form"] == "per_join"
    ann, jo = out.tables["zoom_participants"]
    assert ann["email_pseudonym"] == P.pseudonym("email", "ann@example.org")
    assert jo["email_pseudonym"] is None and jo["name_pseudonym"] == P.pseudonym("name", "jo b")
    assert jo["join_time"].hour == 12 and jo["leave_time"].hour == 13
    assert out.rejects == [(7, "participant has neither User Email nor Name: no person can be identified")]
    assert out.rows_read == 4  # the meeting row and three participant rows


def test_zoom_unique_users_form_and_empty_separator():
    out = parse("zoom", ZOOM_MEETING + "\n"
                "Name (Original Name),User Email,Total Duration (Minutes),Guest\n"
                "Ann Example,ann@example.org,84,No\n")
    assert out.tables["zoom_meetings"][0]["participant_form"] == "unique_users"
    (ann,) = out.tables["zoom_participants"]
    assert ann["duration_minutes"] == 84 and ann["join_time"] is None


def test_zoom_unusable_meeting_row_quarantines():
    bad = ZOOM_MEETING.replace("10/05/2021 10:00:12 AM", "yesterday")
    with pytest.raises(Quarantine, match="Start Time"):
        parse("zoom", bad)


@pytest.mark.parametrize("raw,key", [
    ("Jo B (Joanne Bloggs)", "jo b"), ("  ANN   Example ", "ann example"), ("Sam", "sam"),
])
def test_display_name_key(raw, key):
    assert display_name_key(raw) == key


def test_pathways_file_name_decides_the_table_and_offsets_become_utc():
    out = parse("pathways", "contact_id,member_id,advisor_id,site_code,contact_date,mode,outcome,updated_at\n"
                "K1,M1,A1,WAL,2021-10-04,face_to_face,attended,2021-10-04T15:22:10+01:00\n"
                "K2,M1,A1,,2021-10-04,phone,attended,2021-10-04T15:22:10\n", name="contacts_2021.csv")
    (k1,) = out.tables["pathway_contacts"]
    assert k1["updated_at"].hour == 14 and k1["site_code"] == "WAL"
    assert "no UTC offset" in out.rejects[0][1]
    with pytest.raises(Quarantine, match="contacts"):
        parse("pathways", "x\n", name="notes.csv")


def test_wellbeing_personal_ref_is_pseudonymised_and_utc_kept():
    out = parse("wellbeing_calls",
                "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"
                "C1,RX1234,2022-03-31T23:30:00Z,S1,outbound,successful,300\n"
                "C2,RX1234,2022-03-31T23:30:00Z,S1,outbound,successful,-3\n")
    (c1,) = out.tables["wellbeing_calls"]
    assert c1["service_user_pseudonym"] == P.pseudonym("service_user", "RX1234") != "RX1234"
    assert "RX1234" not in repr(out.tables)
    assert c1["call_started_at_utc"].hour == 23
    assert "whole number" in out.rejects[0][1]


def test_pseudonyms_stable_per_key_and_differ_across_keys():
    other = Pseudonymiser(b"j" * 32)
    assert P.pseudonym("email", "a@b.org") == P.pseudonym("email", "a@b.org")
    assert P.pseudonym("email", "a@b.org") != other.pseudonym("email", "a@b.org")
    assert P.pseudonym("email", "x") != P.pseudonym("name", "x")
    assert P.pseudonym("email", "") is None
