"""Writing the exports: CSV quoting and encodings, and the per-source tally the summary reports."""
from __future__ import annotations

import hashlib
from pathlib import Path

BOM = b"\xef\xbb\xbf"

HEADERS = {
    "visits": ("visit_id", "site_code", "signed_in_at", "member_id", "visitor_type", "purpose", "status"),
    "contacts": ("contact_id", "member_id", "advisor_id", "site_code", "contact_date", "mode", "outcome",
                 "updated_at"),
    "prescriptions": ("prescription_id", "contact_id", "category", "referred_to", "created_date", "status",
                      "updated_at"),
    "wellbeing_calls": ("call_id", "service_user_ref", "call_started_at", "staff_id", "direction", "outcome",
                        "duration_seconds"),
    "zoom_meeting": ("Meeting ID", "Topic", "Start Time", "End Time", "User Email", "Duration (Minutes)",
                     "Participants"),
    "zoom_per_join": ("Name (Original Name)", "User Email", "Join Time", "Leave Time", "Duration (Minutes)",
                      "Guest"),
    "zoom_unique_users": ("Name (Original Name)", "User Email", "Total Duration (Minutes)", "Guest"),
}

ACTIVITY_SOURCES = ("visits", "zoom", "pathways", "wellbeing_calls")
OUTCOME_SOURCES = ("members", "reference", "outcome_measures")  # written after the activity, own seeds
SOURCES = ACTIVITY_SOURCES + OUTCOME_SOURCES




def quote(v: str) -> str:
    if "," in v or '"' in v or "\n" in v or "\r" in v:
        return '"' + v.replace('"', '""') + '"'
    return v


def csv_line(fields) -> str:
    return ",".join(quote(f) for f in fields)


def encode(lines: list[str], crlf: bool = False, bom: bool = False) -> bytes:
    nl = "\r\n" if crlf else "\n"
    data = (nl.join(lines) + nl).encode("utf-8")
    return BOM + data if bom else data


class Landing:
    """Writes files and keeps the per-source ledger the summary reports."""

    def __init__(self, root: Path):
        self.root = root
        self._dirs: set[str] = set()
        self._hashes: set[bytes] = set()
        self.files = {s: {"written": 0, "ignored": 0, "quarantined": 0, "duplicate": 0, "loadable": 0}
                      for s in SOURCES}
        self.rows = {s: {"read": 0, "rejected": 0} for s in SOURCES}
        self.mess: dict[str, list] = {"ignored": [], "quarantined": [], "duplicate_copies": [],
                                      "zoom_reexports": []}

    def write(self, rel: str, data: bytes, source: str, rows: int = 0, rejected: int = 0,
              status: str = "data") -> None:
        path = self.root / rel
        parent = str(path.parent)
        if parent not in self._dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._dirs.add(parent)
        path.write_bytes(data)
        f = self.files[source]
        f["written"] += 1
        if status == "ignored":
            f["ignored"] += 1
            self.mess["ignored"].append(rel)
            return
        digest = hashlib.sha256(data).digest()
        if digest in self._hashes:
            f["duplicate"] += 1
            return
        self._hashes.add(digest)
        if status == "quarantined":
            f["quarantined"] += 1
            self.mess["quarantined"].append(rel)
            return
        f["loadable"] += 1
        self.rows[source]["read"] += rows
        self.rows[source]["rejected"] += rejected

    def copy(self, rel: str, data: bytes, source: str, original: str) -> None:
        """A byte-identical re-delivery under another name."""
        self.write(rel, data, source)
        self.mess["duplicate_copies"].append({"path": rel, "same_bytes_as": original})
