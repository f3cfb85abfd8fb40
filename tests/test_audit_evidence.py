"""An independent checker for trace evidence: every cited file has the cited SHA-256 and, at the cited
line, holds the cited record (by its id, or for persons by the keyed pseudonym of the raw e-mail,
name or service_user_ref). Used by the slow audit tests; checked itself here on a tiny landing."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from pipelines.lib.parsers import decode, display_name_key, is_blank, records
from pipelines.lib.pseudonym import Pseudonymiser

ID_COLUMN = {"visit": "visit_id", "contact": "contact_id", "prescription": "prescription_id", "call": "call_id"}
SELF_ROLE = {"visits": "visit", "pathway_contacts": "contact", "social_prescriptions": "prescription",
             "zoom_sessions": "session", "zoom_attendances": "attendance", "wellbeing_calls": "call",
             "wellbeing_successful_contacts": "call"}


class LandingIndex:
    """The landing files, parsed once: {line: {column: value}} per file, and each file's SHA-256."""

    def __init__(self, landing: Path, key: bytes):
        self.landing, self.p, self.files = landing, Pseudonymiser(key), {}

    def file(self, rel: str) -> tuple[str, dict[int, dict[str, str]]]:
        if rel not in self.files:
            data = (self.landing / rel).read_bytes()
            lines: dict[int, dict[str, str]] = {}
            header, zoom = None, rel.startswith("zoom/")
            for line, fields in records(decode(data)):
                if is_blank(fields):
                    continue
                values = [f.strip() for f in fields]
                if header is None:
                    header = values
                    continue
                lines[line] = dict(zip(header, values))
                if zoom and line == 2:
                    header = None  # the meeting row; the participant header comes next
            self.files[rel] = (hashlib.sha256(data).hexdigest(), lines)
        return self.files[rel]

    def person(self, row: dict[str, str]) -> str | None:
        email = row.get("User Email", "").strip().lower()
        if email:
            return self.p.pseudonym("email", email)
        return self.p.pseudonym("name", display_name_key(row.get("Name (Original Name)", "")))


def check_evidence(index: LandingIndex, unit: dict, kpi: str) -> list[str]:
    """Problems with one traced unit's evidence (JSON form of `outcomes trace`), empty when all hold."""
    problems = []
    for e in unit["evidence"]:
        where = f"{kpi} {unit['unit_key']}: {e['file_path']}:{e['line_number']}"
        sha, lines = index.file(e["file_path"])
        if sha != e["file_sha256"]:
            problems.append(f"{where}: file SHA-256 is {sha}, cited {e['file_sha256']}")
            continue
        if e["role"] == "file":
            continue
        row = lines.get(e["line_number"])
        if row is None:
            problems.append(f"{where}: no record starts on that line")
            continue
        role, key = e["role"], e["record_key"]
        if role == "row":
            continue
        if role in ID_COLUMN:
            if row.get(ID_COLUMN[role]) != key:
                problems.append(f"{where}: holds {row.get(ID_COLUMN[role])!r}, not {role} {key}")
        elif role == "session":
            if e["line_number"] != 2 or re.sub(r"\s+", "", row.get("Meeting ID", "")) != key.split("@")[0]:
                problems.append(f"{where}: not the meeting row of session {key}")
        elif role == "attendance":
            session, person = key.split("|")
            meeting = lines.get(2, {})
            if re.sub(r"\s+", "", meeting.get("Meeting ID", "")) != session.split("@")[0]:
                problems.append(f"{where}: file is not a report of session {session}")
            if index.person(row) != person:
                problems.append(f"{where}: the participant on that line is not person {person}")
        else:
            problems.append(f"{where}: unknown evidence role {role}")
        # The evidence is of the unit itself (or of the unit's contact / session / person).
        if unit.get("unit_kind") not in ("row", "file") and SELF_ROLE.get(kpi) == role and key != unit["unit_key"]:
            problems.append(f"{where}: evidence of {key}, not of the unit")
        if kpi == "social_prescriptions" and role == "contact" and \
                (unit.get("decided_by") or {}).get("contact_id") not in (None, key):
            problems.append(f"{where}: not the prescription's contact")
        if kpi == "zoom_sessions" and role == "attendance" and key.split("|")[0] != unit["unit_key"]:
            problems.append(f"{where}: attendance of another session")
        if unit.get("unit_kind") == "person" and role == "attendance" and key.split("|")[1] != unit["unit_key"]:
            problems.append(f"{where}: attendance of another person")
        if e.get("is_winning") and unit.get("unit_kind") == "member" and \
                row.get("member_id", "").upper() != unit["unit_key"]:
            problems.append(f"{where}: member_id {row.get('member_id')!r} is not {unit['unit_key']}")
        if e.get("is_winning") and unit.get("unit_kind") == "service_user" and \
                index.p.pseudonym("service_user", row.get("service_user_ref", "")) != unit["unit_key"]:
            problems.append(f"{where}: service_user_ref is not the person {unit['unit_key']}")
    return problems


def test_the_checker_catches_wrong_lines_hashes_and_persons(tmp_path):
    landing = tmp_path
    (landing / "visits").mkdir()
    data = b"visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n" \
           b"V1,WAL,2021-11-01 10:00,M1,member,course,ok\nV2,WAL,2021-11-01 11:00,M2,member,course,ok\n"
    (landing / "visits" / "k.csv").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    (landing / "zoom").mkdir()
    zoom = ("Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,\n"
            "812 3456 7890,T,10/05/2021 10:00:12 AM,10/05/2021 11:31:40 AM,host@merseycare.nhs.uk,92,14,\n"
            ",,,,,,,\n"
            "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,\n"
            "Ann Example,ann@example.org,10/05/2021 09:58:31 AM,10/05/2021 10:40:02 AM,42,No,\n"
            "Jo B (Joanne Bloggs),,10/05/2021 09:58:31 AM,10/05/2021 10:40:02 AM,42,Yes,\n").encode()
    (landing / "zoom" / "z.csv").write_bytes(zoom)
    zsha = hashlib.sha256(zoom).hexdigest()
    index = LandingIndex(landing, b"k" * 32)
    ann, jo = index.p.pseudonym("email", "ann@example.org"), index.p.pseudonym("name", "jo b")

    def unit(key, role, rkey, path, line, sha_, kind="visit"):
        return {"unit_key": key, "unit_kind": kind, "evidence": [
            {"role": role, "record_key": rkey, "file_path": path, "line_number": line, "file_sha256": sha_,
             "is_winning": True}]}
    assert check_evidence(index, unit("V1", "visit", "V1", "visits/k.csv", 2, sha), "visits") == []
    assert check_evidence(index, unit("V1", "visit", "V1", "visits/k.csv", 3, sha), "visits")
    assert check_evidence(index, unit("V1", "visit", "V1", "visits/k.csv", 2, "0" * 64), "visits")
    assert check_evidence(index, unit("M1", "visit", "V1", "visits/k.csv", 2, sha, "member"), "visiting_members") == []
    assert check_evidence(index, unit("M2", "visit", "V1", "visits/k.csv", 2, sha, "member"), "visiting_members")
    s = "81234567890@2021-10-05T10:00:12"
    assert check_evidence(index, unit(f"{s}|{ann}", "attendance", f"{s}|{ann}", "zoom/z.csv", 5, zsha, "attendance"),
                          "zoom_attendances") == []
    assert check_evidence(index, unit(jo, "attendance", f"{s}|{jo}", "zoom/z.csv", 6, zsha, "person"), "zoom_members") == []
    assert check_evidence(index, unit(jo, "attendance", f"{s}|{jo}", "zoom/z.csv", 5, zsha, "person"), "zoom_members")
    assert check_evidence(index, unit(s, "session", s, "zoom/z.csv", 2, zsha, "session"), "zoom_sessions") == []
    assert check_evidence(index, unit(s, "session", s, "zoom/z.csv", 5, zsha, "session"), "zoom_sessions")
    assert check_evidence(index, unit("V2", "visit", "V1", "visits/k.csv", 2, sha), "visits")  # another visit's row
