"""Random delivery histories of the four activity exports (/work/shared/export-formats.md), for
the incremental-refresh property test (tests/test_incremental_properties.py).

`history(seed, batches)` returns the deliveries, batch by batch, each a list of (landing path,
bytes). Every file is a valid export; what makes the history hard is how later batches reach back
into earlier years: corrections of old contacts and prescriptions (new `updated_at`, moved date,
other outcome or status), stale versions delivered late, kiosk `void`s and changed visits, calls
re-delivered with another outcome, prescriptions whose contact arrives in a later batch (orphans),
Zoom meetings re-exported with more participants, visits, contacts and calls corrected to another
member or service user (visits and calls also into another year), a participant who hosts later
(and so is staff everywhere), guests without e-mail, staff-domain participants, and redeliveries
of earlier files, byte for byte and with changed content, under new names. Events span four
financial years, 2019/20 to 2022/23, with some on the edges of a year (31 March / 1 April, UTC vs
London).
"""
from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta

START, END = datetime(2019, 4, 1), datetime(2023, 3, 31, 23, 0)
EDGES = [datetime(2020, 3, 31, 23, 30), datetime(2021, 3, 31, 23, 30), datetime(2022, 3, 31, 23, 30),
         datetime(2020, 4, 1, 0, 30), datetime(2022, 4, 1, 0, 15)]
SITES = ["WAL", "SOU", "BOO", "PCL", "PSL"]
VISITOR_TYPES = ["member", "member", "member", "guest", "carer", "volunteer", "staff"]
PURPOSES = ["course", "pathways", "drop_in", "cafe", "library", "computers", "volunteering", "other"]
MODES = ["face_to_face", "phone", "video"]
CONTACT_OUTCOMES = ["attended", "attended", "attended", "booked", "did_not_attend", "cancelled", "deleted"]
CATEGORIES = ["housing", "debt", "benefits", "employment", "wellbeing", "learning", "volunteering",
              "community", "physical_activity", "other"]
REFERRED_TO = ["StepChange", "Citizens Advice, Sefton", "Recovery College", "Sefton Housing Options", "Parkrun"]
RX_STATUSES = ["made", "made", "accepted", "completed", "declined", "withdrawn", "deleted"]
CALL_OUTCOMES = ["successful", "successful", "no_answer", "voicemail", "wrong_number", "declined", "callback_requested"]
HEADERS = {
    "visits": ["visit_id", "site_code", "signed_in_at", "member_id", "visitor_type", "purpose", "status"],
    "contacts": ["contact_id", "member_id", "advisor_id", "site_code", "contact_date", "mode", "outcome", "updated_at"],
    "prescriptions": ["prescription_id", "contact_id", "category", "referred_to", "created_date", "status", "updated_at"],
    "calls": ["call_id", "service_user_ref", "call_started_at", "staff_id", "direction", "outcome", "duration_seconds"],
}
STAFF_HOSTS = ["helen.host@merseycare.nhs.uk", "ian.host@merseycare.nhs.uk"]
# Zoom people: (display name, email); "" email is a guest Zoom hides (counted by name); the
# merseycare.nhs.uk ones are staff by domain; some members host a meeting in a later batch.
PEOPLE = [(f"Person {i}", f"person{i}@example.org") for i in range(12)] + \
    [("Guest One", ""), ("Jo B (Joanne Bloggs)", ""), ("Staff Sam", "sam.staff@merseycare.nhs.uk")]


def csv_text(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode()


class History:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        # the corrections that move a record to another person or year draw from their own
        # generator: the rest of a seed's history stays as it was before they were added
        self.moves = random.Random(seed + 1_000)
        self.visits: dict[str, list[str]] = {}
        self.contacts: dict[str, list[str]] = {}
        self.prescriptions: dict[str, list[str]] = {}
        self.calls: dict[str, list[str]] = {}
        self.sessions: dict[tuple[str, datetime], tuple[str, list[tuple[str, str]]]] = {}
        self.delivered: list[tuple[str, bytes]] = []
        self.pending_contacts: list[str] = []  # referenced by a prescription, not yet delivered
        self.clock = datetime(2019, 4, 2, 9, 0)  # updated_at: strictly increasing, never tied
        self.n = 0

    def when(self, r: random.Random | None = None) -> datetime:
        r = r or self.rng
        if r.random() < 0.1:
            return r.choice(EDGES)
        return START + timedelta(minutes=r.randrange(int((END - START).total_seconds() // 60)))

    def next_id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n:04d}"

    def updated_at(self) -> str:
        self.clock += timedelta(minutes=self.rng.randrange(1, 5000))
        return self.clock.strftime("%Y-%m-%dT%H:%M:%S") + self.rng.choice(["+00:00", "+01:00"])

    # --- one export per source --------------------------------------------------------------

    def visits_file(self) -> list[list[str]]:
        r, rows = self.rng, []
        for _ in range(r.randrange(3, 9)):
            vid = self.next_id("V-")
            member = r.choice(["", f"M{r.randrange(1, 30)}"])
            self.visits[vid] = [vid, r.choice(SITES), self.when().strftime("%Y-%m-%d %H:%M"), member,
                                r.choice(VISITOR_TYPES), r.choice(PURPOSES), "ok"]
            rows.append(self.visits[vid])
        for vid in r.sample(sorted(self.visits), min(len(self.visits), r.randrange(0, 5))):
            row = list(self.visits[vid])
            change = r.random()
            if change < 0.35:
                row[6] = "void"  # void in this delivery: void for good
            elif change < 0.7:
                row[1], row[5] = r.choice(SITES), r.choice(PURPOSES)  # a later export changes it
                self.visits[vid] = row
            rows.append(row)  # else an overlapping export repeats it
        return rows

    def visit_moves(self, b: int) -> list[list[str]]:
        """Visits corrected to another member (or none) or time, maybe in another year: an export
        whose newest sign-in (a new visit at the very end of the history) makes it the newest."""
        m, rows = self.moves, []
        for vid in m.sample(sorted(self.visits), min(len(self.visits), m.randrange(2, 6))):
            row = list(self.visits[vid])
            if m.random() < 0.7:
                row[3] = m.choice(["", f"M{m.randrange(1, 30)}", f"M{m.randrange(1, 30)}"])
            else:
                row[2] = self.when(m).strftime("%Y-%m-%d %H:%M")
            if m.random() < 0.2:
                row[4] = m.choice(VISITOR_TYPES)
            self.visits[vid] = row
            rows.append(row)
        vid = self.next_id("V-")
        self.visits[vid] = [vid, "WAL", (END + timedelta(minutes=b)).strftime("%Y-%m-%d %H:%M"),
                            f"M{m.randrange(1, 30)}", "member", "cafe", "ok"]
        return [self.visits[vid]] + rows

    def contacts_file(self) -> list[list[str]]:
        r, rows = self.rng, []
        late = [c for c in self.pending_contacts if r.random() < 0.6]  # un-orphans prescriptions
        self.pending_contacts = [c for c in self.pending_contacts if c not in late]
        for cid in [self.next_id("C-") for _ in range(r.randrange(2, 6))] + late:
            self.contacts[cid] = [cid, f"M{r.randrange(1, 30)}", r.choice(["A01", "A02"]), r.choice(SITES),
                                  self.when().strftime("%Y-%m-%d"), r.choice(MODES), r.choice(CONTACT_OUTCOMES),
                                  self.updated_at()]
            rows.append(self.contacts[cid])
        for cid in r.sample(sorted(self.contacts), min(len(self.contacts), r.randrange(0, 4))):
            old = list(self.contacts[cid])
            row = list(old)
            roll = r.random()
            if roll < 0.4:
                row[4] = self.when().strftime("%Y-%m-%d")  # moved, maybe into another year
            elif roll < 0.8:
                row[6] = r.choice(CONTACT_OUTCOMES)
            else:
                row[1] = f"M{r.randrange(1, 30)}"  # corrected to another member
            row[7] = self.updated_at()
            self.contacts[cid] = row
            rows.append(row)  # a correction, maybe to a contact years old
            if r.random() < 0.3:
                rows.append(old)  # and a stale version delivered late: the newer updated_at still wins
        return rows

    def prescriptions_file(self) -> list[list[str]]:
        r, rows = self.rng, []
        for _ in range(r.randrange(2, 7)):
            if r.random() < 0.2 or not self.contacts:
                contact = self.next_id("C-")  # its contact comes later: an orphan until then
                self.pending_contacts.append(contact)
            else:
                contact = r.choice(sorted(self.contacts))
            pid = self.next_id("RX-")
            self.prescriptions[pid] = [pid, contact, r.choice(CATEGORIES), r.choice(REFERRED_TO),
                                       self.when().strftime("%Y-%m-%d"), r.choice(RX_STATUSES), self.updated_at()]
            rows.append(self.prescriptions[pid])
        for pid in r.sample(sorted(self.prescriptions), min(len(self.prescriptions), r.randrange(0, 3))):
            row = list(self.prescriptions[pid])
            row[5], row[6] = r.choice(RX_STATUSES), self.updated_at()
            self.prescriptions[pid] = row
            rows.append(row)
        return rows

    def calls_file(self) -> list[list[str]]:
        r, rows = self.rng, []
        for _ in range(r.randrange(2, 7)):
            cid = self.next_id("W-")
            outcome = r.choice(CALL_OUTCOMES)
            self.calls[cid] = [cid, f"RMY{r.randrange(1, 15):07d}", self.when().strftime("%Y-%m-%dT%H:%M:%SZ"),
                               r.choice(["ST01", "ST02"]), r.choice(["outbound", "inbound"]), outcome,
                               str(r.randrange(1, 900) if outcome == "successful" else 0)]
            rows.append(self.calls[cid])
        for cid in r.sample(sorted(self.calls), min(len(self.calls), r.randrange(0, 4))):
            row = list(self.calls[cid])
            if r.random() < 0.6:
                row[5] = r.choice(CALL_OUTCOMES)  # re-delivered with another outcome
                self.calls[cid] = row
            rows.append(row)
        m = self.moves
        for cid in m.sample(sorted(self.calls), min(len(self.calls), m.randrange(0, 3))):
            row = list(self.calls[cid])
            if m.random() < 0.6:
                row[1] = m.choice(["", f"RMY{m.randrange(1, 15):07d}"])  # another service user (or none)
            else:
                row[2] = self.when(m).strftime("%Y-%m-%dT%H:%M:%SZ")  # maybe into another year
            self.calls[cid] = row
            rows.append(row)
        return rows

    def zoom_files(self, batch: int) -> list[tuple[str, bytes]]:
        r, files = self.rng, []
        for _ in range(r.randrange(1, 3)):
            start = self.when().replace(second=r.randrange(60))
            meeting = f"8{r.randrange(10, 99)} {r.randrange(1000, 9999)} {r.randrange(1000, 9999)}"
            host = r.choice(STAFF_HOSTS) if r.random() < 0.8 else r.choice(PEOPLE[:12])[1]  # a member hosts
            self.sessions[(meeting, start)] = (host, r.sample(PEOPLE, r.randrange(1, 6)))
            files.append((meeting, start))
        if self.sessions and r.random() < 0.6:
            key = r.choice(sorted(self.sessions))  # an old meeting re-exported with more people
            host, people = self.sessions[key]
            self.sessions[key] = (host, people + [p for p in r.sample(PEOPLE, 2) if p not in people])
            files.append(key)
        return [(f"zoom/b{batch}/participants_{m.replace(' ', '')}_{i}.csv", self.zoom_export(m, s))
                for i, (m, s) in enumerate(files)]

    def zoom_export(self, meeting: str, start: datetime) -> bytes:
        host, people = self.sessions[(meeting, start)]
        t = "%m/%d/%Y %I:%M:%S %p"
        end = start + timedelta(minutes=60)
        head = (f"Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants,\n"
                f"{meeting},Coffee Morning,{start.strftime(t)},{end.strftime(t)},{host},60,{len(people)},\n\n")
        if self.rng.random() < 0.3:  # "show unique users": one row per person
            rows = "".join(f"{name},{email},50,{'Yes' if not email else 'No'},\n" for name, email in people)
            return (head + "Name (Original Name),User Email,Total Duration (Minutes),Guest,\n" + rows).encode()
        rows = []
        for name, email in people:
            for j in range(self.rng.choice([1, 1, 2])):  # drops and rejoins
                join = start + timedelta(minutes=25 * j)
                rows.append(f"{name},{email},{join.strftime(t)},{(join + timedelta(minutes=20)).strftime(t)},20,"
                            f"{'Yes' if not email else 'No'},\n")
        return (head + "Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest,\n"
                + "".join(rows)).encode()

    # --- a batch ------------------------------------------------------------------------------

    def batch(self, b: int) -> list[tuple[str, bytes]]:
        r = self.rng
        files = [(f"visits/kiosk_b{b}.csv", csv_text(HEADERS["visits"], self.visits_file())),
                 (f"pathways/contacts_b{b}.csv", csv_text(HEADERS["contacts"], self.contacts_file())),
                 (f"pathways/prescriptions_b{b}.csv", csv_text(HEADERS["prescriptions"], self.prescriptions_file())),
                 (f"wellbeing_calls/calls_b{b}.csv", csv_text(HEADERS["calls"], self.calls_file()))]
        files += self.zoom_files(b)
        files = [f for f in files if r.random() < 0.85]  # not every source delivers every time
        if b:
            files.append((f"visits/kiosk_corrections_b{b}.csv", csv_text(HEADERS["visits"], self.visit_moves(b))))
        if self.delivered and r.random() < 0.5:
            path, data = r.choice(self.delivered)  # byte for byte, under another name
            files.append((redelivered(path, b, "copy"), data))
        if self.delivered and r.random() < 0.4:
            path, data = r.choice([f for f in self.delivered if not f[0].startswith("zoom/")] or self.delivered)
            lines = data.decode().splitlines(keepends=True)
            if not path.startswith("zoom/") and len(lines) > 2:
                lines.pop(r.randrange(1, len(lines)))  # the same export again, one row fewer
            files.append((redelivered(path, b, "changed"), "".join(lines).encode() + b"\n"))
        self.delivered += files
        return files


def redelivered(path: str, batch: int, how: str) -> str:
    folder, name = path.split("/", 1)
    return f"{folder}/redelivered_b{batch}_{how}/{name}"


def history(seed: int, batches: int) -> list[list[tuple[str, bytes]]]:
    h = History(seed)
    return [h.batch(b) for b in range(batches)]
