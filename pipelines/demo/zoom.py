"""Zoom "meeting participants" reports (``zoom/``): one file per meeting occurrence, staff hosts,
guests under several display names, rejoins, re-exports."""
from __future__ import annotations

import hashlib
import math
import random
from datetime import datetime, timedelta

from pipelines.demo.allocation import allocate_bounded
from pipelines.demo.calendar import FIRST_FY, MESS_FY, at_minute, fy_end, fy_folder, fy_start, zoom_time
from pipelines.demo.files import HEADERS, Landing, csv_line, encode

# (full first name, nickname): nicknames are all distinct and never a full name, so a
# guest's display-name key stays unique whichever form the guest uses.
_FIRST = (
    ("Joanne", "Jo"), ("Samuel", "Sam"), ("Karen", "Kaz"), ("Thomas", "Tom"), ("Elizabeth", "Liz"),
    ("Michael", "Mick"), ("Catherine", "Cath"), ("Anthony", "Tony"), ("Margaret", "Maggie"),
    ("Robert", "Bob"), ("Patricia", "Trish"), ("William", "Billy"), ("Jennifer", "Jen"),
    ("Christopher", "Chris"), ("Rebecca", "Becky"), ("Daniel", "Danny"), ("Deborah", "Debs"),
    ("Stephen", "Steve"), ("Susan", "Sue"), ("Matthew", "Matty"), ("Victoria", "Vicky"),
    ("Jonathan", "Jon"), ("Alexandra", "Lexi"), ("Benjamin", "Ben"), ("Kathleen", "Kath"),
    ("Nicholas", "Nick"), ("Jacqueline", "Jackie"), ("Frederick", "Fred"), ("Josephine", "Josie"),
    ("Edward", "Eddie"), ("Gillian", "Gill"), ("Richard", "Rich"), ("Pamela", "Pam"),
    ("Raymond", "Ray"), ("Theresa", "Tess"), ("Francis", "Frank"), ("Dorothy", "Dot"),
    ("Geoffrey", "Geoff"), ("Helen", "Nell"), ("Peter", "Pete"),
)
# Obviously made-up surnames.
_SURNAMES = (
    "Demoson", "Testwood", "Samplewell", "Fakeley", "Mockford", "Placeholder", "Dummington",
    "Exampleton", "Fictionby", "Madeupson", "Synthwell", "Pseudoley", "Notrealby", "Imaginaire",
    "Trialworth", "Specimento", "Prototyp", "Sandboxer", "Dataworth", "Fixtureby", "Stubbington",
    "Loremson", "Ipsumley", "Dolorby", "Mockingham", "Fauxley", "Shamwell", "Testerton",
    "Dummyworth", "Fabricant", "Inventson", "Makebeleaf",
)
_FULLS = {f for f, _ in _FIRST}
_NICKS = {n for _, n in _FIRST}
assert len(_NICKS) == len(_FIRST) and not (_FULLS & _NICKS)
_MEMBER_DOMAINS = ("example.org", "example.com", "example.net", "mail.example")
STAFF_DOMAIN = "merseycare.nhs.uk"
_STAFF = (  # Life Rooms staff (tutors, hosts, co-hosts)
    ("Ada", "Tutorwell"), ("Bea", "Coursely"), ("Cal", "Learnington"), ("Dee", "Classworth"),
    ("Eli", "Lessonby"), ("Fay", "Hostington"), ("Gus", "Facilitar"), ("Hal", "Seminarson"),
    ("Ivy", "Workshopp"), ("Jay", "Modulewell"), ("Kit", "Recoverby"), ("Lou", "Cohostley"),
    ("Max", "Wellbeingham"), ("Nia", "Curriculo"),
)
# External course facilitators: hosts of their own courses only, not on a staff domain.
_FACILITATORS = (
    ("Oona", "Partnerton", "oona.partnerton@recovery-partners.example"),
    ("Piet", "Visitingham", "piet.visitingham@arts-for-health.example"),
)
_SPECIAL_GUESTS = (  # renamed guests in the contract's own `Jo B (Joanne Bloggs)` form
    ("Jo B", "Joanne Bloggs"), ("Sam T", "Samuel Testwood"), ("Kaz D", "Karen Demoson"),
)
_COURSES = (
    ("Anxiety Management", 6), ("Understanding Depression", 6), ("Mindfulness for Beginners", 4),
    ("Sleep Well", 3), ("Building Resilience", 5), ("Creative Writing", 8), ("Managing Stress", 4),
    ("Introduction to Recovery", 6), ("Confidence Building", 5), ("Healthy Eating on a Budget", 3),
    ("Coping with Loss", 6), ("Chair Yoga", 8), ("Digital Skills: Getting Online", 4),
    ("Money Matters: Bills, Benefits and Budgeting", 3), ("Understanding Anger", 5),
    ("Hearing Voices Peer Group", 8), ("Wellbeing Drop-in", 1), ("Art for Wellbeing", 6),
    ("Menopause and Mental Health", 2), ("Living Well with Long Covid", 6),
)




class _People:
    """Zoom attendees: pid even = person with a visible email, odd = guest (email hidden)."""

    def __init__(self, seed: int, rng: random.Random):
        self.seed, self.rng = seed, rng
        self.next_email = 1
        self.next_guest = 0
        self.special_queue: list[int] = []
        self._cache: dict[int, tuple] = {}

    def fresh(self) -> int:
        if self.special_queue:
            return self.special_queue.pop(0)
        if self.rng.random() < 0.27:
            pid = 2 * self.next_guest + 1
            self.next_guest += 1
        else:
            pid = 2 * self.next_email
            self.next_email += 1
        return pid

    def queue_specials(self) -> None:
        self.special_queue = [2 * (10 ** 9 + i) + 1 for i in range(len(_SPECIAL_GUESTS))]

    def identity(self, pid: int) -> tuple[str | None, str, str | None]:
        """(email or None, display name, original name if the person renames themselves)."""
        got = self._cache.get(pid)
        if got is not None:
            return got
        h = int.from_bytes(hashlib.blake2b(f"{self.seed}|{pid}".encode(), digest_size=8).digest(), "big")
        n = pid >> 1
        if pid & 1:  # guest: display name is the identity key, so it is a bijection of n
            if n >= 10 ** 9:
                disp, orig = _SPECIAL_GUESTS[n - 10 ** 9]
                res = (None, disp, orig)
            else:
                block = len(_FIRST) * len(_SURNAMES)
                m, c = n % block, n // block
                combo = (m * 797) % block
                full, nick = _FIRST[combo % len(_FIRST)]
                sur = _SURNAMES[combo // len(_FIRST)]
                suffix = f" {c + 1}" if c else ""
                if h % 10 < 3:
                    res = (None, f"{nick} {sur}{suffix}", f"{full} {sur}")
                else:
                    res = (None, f"{full} {sur}{suffix}", None)
        else:
            full, nick = _FIRST[h % len(_FIRST)]
            sur = _SURNAMES[(h >> 8) % len(_SURNAMES)]
            dom = _MEMBER_DOMAINS[(h >> 16) % len(_MEMBER_DOMAINS)]
            fmt = (h >> 20) % 3
            local = (f"{full}.{sur}{n}", f"{nick}{sur}{n}", f"{full[0]}.{sur}{n}")[fmt].lower()
            renamed = (h >> 24) % 5 == 0
            res = (f"{local}@{dom}", f"{nick} {sur[0]}" if renamed else f"{full} {sur}",
                   f"{full} {sur}" if renamed else None)
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[pid] = res
        return res

    def row_name_email(self, pid: int) -> tuple[str, str]:
        rng = self.rng
        email, disp, orig = self.identity(pid)
        if email is None:
            r = rng.random()
            if r < 0.03:
                disp = disp.replace(" ", "  ", 1)   # white space collapses
            elif r < 0.05:
                disp = disp.upper()                 # case folds
            name = f"{disp} ({orig})" if orig and rng.random() < 0.75 else disp
            return name, ""
        r = rng.random()
        if r < 0.04:
            local, dom = email.split("@")
            email = local[:1].upper() + local[1:] + "@" + dom.capitalize()
        elif r < 0.05:
            email = f" {email} "
        name = f"{disp} ({orig})" if orig and rng.random() < 0.8 else disp
        return name, email


def _staff_email(first: str, sur: str) -> str:
    return f"{first.lower()}.{sur.lower()}@{STAFF_DOMAIN}"


def _zoom_mid(rng: random.Random, used: set[int]) -> int:
    while True:
        m = rng.randint(81000000000, 89999999999)
        if m not in used:
            used.add(m)
            return m


def _fmt_mid(m: int, spaces: bool) -> str:
    s = str(m)
    return f"{s[:3]} {s[3:7]} {s[7:]}" if spaces else s


def write_zoom(L: Landing, seed: int, scale: float, years: int, targets: dict, manifest: dict) -> None:
    rng = random.Random(f"{seed}:zoom")
    people = _People(seed, rng)
    used_mids: set[int] = set()
    topic_mids: dict[str, list[int]] = {}
    hosts = [(f"{f} {s}", _staff_email(f, s)) for f, s in _STAFF[:10]] + [(f"{f} {s}", e) for f, s, e in _FACILITATORS]
    cohosts = [(f"{f} {s}", _staff_email(f, s)) for f, s in _STAFF]
    prev_persons: list[int] = []
    info = manifest.setdefault("zoom", {"staff_only_sessions": 0, "reexported_sessions": 0,
                                        "unique_users_files": 0, "hidden_files": []})
    for fy in range(FIRST_FY, FIRST_FY + years):
        t = targets[fy]
        S, P, A = t["zoom_sessions"], t["zoom_members"], t["zoom_attendances"]
        X = max(1, round(S * 0.03)) if S else 0
        # ---- schedule: courses of weekly occurrences sharing one recurring Meeting ID
        monday0 = fy_start(fy) + timedelta(days=(7 - fy_start(fy).weekday()) % 7)
        occ: list[dict] = []
        keys: set[tuple[int, datetime]] = set()
        run = 0
        while len(occ) < S + X:
            topic, weeks = rng.choice(_COURSES)
            start_week = rng.randrange(0, max(1, 52 - weeks))
            weekday = rng.randrange(5)
            hh, mm = rng.choice(((10, 0), (10, 30), (11, 0), (13, 0), (13, 30), (14, 0), (18, 0), (18, 30)))
            length = rng.choice((60, 90, 90, 120))
            host = rng.choice(hosts)
            co = rng.sample(cohosts, rng.choice((0, 1, 1, 2)))
            co = [c for c in co if c[1] != host[1]]
            mids = topic_mids.setdefault(topic, [])
            mid = rng.choice(mids) if mids and rng.random() < 0.7 else None
            dates = []
            for w in range(weeks):
                dd = monday0 + timedelta(days=7 * (start_week + w) + weekday)
                if dd > fy_end(fy) or (dd.month == 12 and dd.day >= 22) or (dd.month == 1 and dd.day <= 2):
                    continue
                dates.append((w, dd))
            if not dates:
                continue
            if mid is not None and any((mid, at_minute(dd, hh * 60 + mm)) in keys for _, dd in dates):
                mid = None
            if mid is None:
                mid = _zoom_mid(rng, used_mids)
                mids.append(mid)
            for w, dd in dates:
                keys.add((mid, at_minute(dd, hh * 60 + mm)))
                start = at_minute(dd, hh * 60 + mm + rng.randint(-4, 2), rng.randint(0, 59))
                end = start + timedelta(minutes=length + rng.randint(-8, 6), seconds=rng.randint(0, 59))
                occ.append({"mid": mid, "topic": f"{topic} (Week {w + 1})" if weeks > 1 else topic,
                            "start": start, "end": end, "host": host, "co": co, "run": run, "week": w})
            run += 1
        occ = occ[:S + X]
        for i in rng.sample(range(len(occ)), X):
            occ[i]["staff_only"] = True
        occ.sort(key=lambda s: (s["start"], s["mid"]))
        delivered = [s for s in occ if not s.get("staff_only")]
        # ---- attendances per delivered session, then persons
        if S:
            cap = min(30, P)
            weights = [rng.uniform(0.5, 1.5) * (1.3 if s["week"] == 0 else 0.92 ** s["week"]) for s in delivered]
            sizes = allocate_bounded(A, weights, 1, cap)
        else:
            sizes = []
        if fy == MESS_FY:
            people.queue_specials()
        introduced: list[int] = []
        returning = rng.sample(prev_persons, len(prev_persons))
        cohorts: dict[int, list[int]] = {}
        remaining_new, remaining_slots = P, A
        for s, n in zip(delivered, sizes):
            after = remaining_slots - n
            lo = max(n - len(introduced), remaining_new - after, 0)
            hi = min(n, remaining_new)
            want = n * remaining_new / remaining_slots * (1.6 if s["week"] == 0 else 0.8)
            new_k = min(hi, max(lo, int(want + rng.random())))
            chosen: list[int] = []
            seen: set[int] = set()
            cohort = cohorts.setdefault(s["run"], [])
            need = n - new_k
            if need:
                for p in rng.sample(cohort, min(len(cohort), need)):
                    chosen.append(p)
                    seen.add(p)
                tries = 0
                while len(chosen) < need and tries < 50:
                    p = introduced[rng.randrange(len(introduced))]
                    tries += 1
                    if p not in seen:
                        chosen.append(p)
                        seen.add(p)
                if len(chosen) < need:
                    rest = [p for p in introduced if p not in seen]
                    chosen.extend(rng.sample(rest, need - len(chosen)))
            for _ in range(new_k):
                p = returning.pop() if returning and not people.special_queue and rng.random() < 0.2 \
                    else people.fresh()
                chosen.append(p)
                introduced.append(p)
                cohort.append(p)
            for p in chosen[:need]:
                if p not in cohort:
                    cohort.append(p)
            s["attendees"] = chosen
            remaining_new -= new_k
            remaining_slots -= n
        assert remaining_new == 0 and remaining_slots == 0
        prev_persons = introduced
        # ---- files
        n_reexport = max(1, round(S * 0.005)) if S else 0
        reexport = {id(s) for s in rng.sample(delivered, min(n_reexport, len(delivered)))}
        n_copy = max(1, round(len(occ) * 0.003)) if occ else 0
        copy_ids = {id(s) for s in rng.sample(occ, min(n_copy, len(occ)))}
        for s in occ:
            fmt = _zoom_format(rng)
            data, rows = _zoom_file(rng, people, s, fmt)
            folder = f"zoom/{fy_folder(fy)}/{s['start']:%Y-%m}"
            base = f"participants_{s['mid']}_{s['start']:%Y-%m-%d_%H%M}"
            rel = f"{folder}/{base}.csv"
            L.write(rel, data, "zoom", rows=rows)
            info["staff_only_sessions"] += bool(s.get("staff_only"))
            info["unique_users_files"] += fmt["unique"]
            if id(s) in copy_ids:
                L.copy(f"{folder}/{base} - Copy.csv", data, "zoom", rel)
            if id(s) in reexport:
                fmt2 = dict(fmt, unique=not fmt["unique"], spaces=not fmt["spaces"], extra=rng.random() < 0.5)
                data2, rows2 = _zoom_file(rng, people, s, fmt2)
                rel2 = f"{folder}/re-export/participants_{s['mid']}_{s['start']:%Y-%m-%d} (1).csv"
                L.write(rel2, data2, "zoom", rows=rows2)
                info["unique_users_files"] += fmt2["unique"]
                info["reexported_sessions"] += 1
                L.mess["zoom_reexports"].append({"path": rel2, "same_session_as": rel})
        if fy == MESS_FY and S:
            # A download still in progress (hidden name): a session nobody else delivered.
            d = fy_start(fy) + timedelta(days=rng.randint(40, 300))
            start = at_minute(d, 14 * 60, 5)
            hid = {"mid": _zoom_mid(rng, used_mids), "topic": "Sleep Well (Week 1)", "start": start,
                   "end": start + timedelta(minutes=88), "host": hosts[0], "co": [], "run": -1, "week": 0,
                   "attendees": [people.fresh() for _ in range(5)]}
            data, _ = _zoom_file(rng, people, hid, _zoom_format(rng))
            rel = f"zoom/{fy_folder(fy)}/{start:%Y-%m}/.participants_{hid['mid']}.csv"
            L.write(rel, data, "zoom", status="ignored")
            info["hidden_files"].append(rel)


def _zoom_format(rng: random.Random) -> dict:
    return {"unique": rng.random() < 0.15, "extra": rng.random() < 0.2, "consent": rng.random() < 0.5,
            "trailing": rng.random() < 0.85, "sep_commas": rng.random() < 0.3, "spaces": rng.random() < 0.9,
            "bom": rng.random() < 0.6, "crlf": rng.random() < 0.4}


def _zoom_file(rng: random.Random, people: _People, s: dict, fmt: dict) -> tuple[bytes, int]:
    t0, t1 = s["start"], s["end"]
    host_name, host_email = s["host"]
    segs: list[tuple[datetime, list]] = []  # (join, row-without-extras) for per-join
    persons: list[tuple[str, str, int, str]] = []  # for unique users: name, email, total, guest

    def minutes(a: datetime, b: datetime) -> int:
        return max(1, math.ceil((b - a).total_seconds() / 60))

    def add_person(name: str, email: str, spans: list[tuple[datetime, datetime]], guest: str) -> None:
        total = 0
        for a, b in spans:
            m = minutes(a, b)
            total += m
            segs.append((a, [name, email, zoom_time(a), zoom_time(b), str(m), guest]))
        persons.append((spans[0][0], [name, email, str(total), guest]))

    # host (may reconnect too) and staff co-hosts
    if rng.random() < 0.05:
        mid_t = t0 + (t1 - t0) / 2
        add_person(host_name, host_email, [(t0, mid_t), (mid_t + timedelta(seconds=40), t1)], "No")
    else:
        add_person(host_name, host_email, [(t0, t1)], "No")
    for name, email in s["co"]:
        if rng.random() < 0.03:
            email = email.split("@")[0].capitalize() + "@MerseyCare.nhs.uk"
        a = t0 + timedelta(seconds=rng.randint(5, 240))
        add_person(name, email, [(a, t1 - timedelta(seconds=rng.randint(0, 120)))], "No")
    span = (t1 - t0).total_seconds()
    for pid in s.get("attendees", ()):
        name, email = people.row_name_email(pid)
        a = t0 + timedelta(seconds=rng.randint(-240, 720))
        b = t1 - timedelta(seconds=rng.randint(0, 600))
        if rng.random() < 0.08:
            b = t0 + timedelta(seconds=rng.uniform(0.35, 0.7) * span)
        if b <= a + timedelta(minutes=2):
            b = a + timedelta(minutes=5)
        r = rng.random()
        n_seg = 3 if r < 0.03 else 2 if r < 0.11 else 1
        spans = []
        if n_seg == 1:
            spans = [(a, b)]
        else:
            cuts = sorted(a + (b - a) * rng.uniform(0.1, 0.9) for _ in range(n_seg - 1))
            cur = a
            for c in cuts:
                spans.append((cur, c))
                cur = c + timedelta(seconds=rng.randint(20, 300))
            spans.append((cur, max(b, cur + timedelta(minutes=1))))
        add_person(name, email, spans, "Yes")

    n_people = len(persons)
    lines = []
    meeting_row = [_fmt_mid(s["mid"], fmt["spaces"]), s["topic"], zoom_time(t0), zoom_time(t1), host_email,
                   str(minutes(t0, t1)), str(n_people)]
    if fmt["unique"]:
        header = list(HEADERS["zoom_unique_users"])
        body = [r for _, r in sorted(persons, key=lambda x: x[0])]
    else:
        header = list(HEADERS["zoom_per_join"])
        body = [r for _, r in sorted(segs, key=lambda x: x[0])]
    if fmt["extra"]:
        header.append("In Waiting Room")
        body = [r + ["No"] for r in body]
        if fmt["consent"]:
            header.append("Recording Consent")
            body = [r + [rng.choice(("Y", "Y", ""))] for r in body]
    tail = [""] if fmt["trailing"] else []
    lines.append(csv_line(list(HEADERS["zoom_meeting"]) + tail))
    lines.append(csv_line(meeting_row + tail))
    lines.append("," * len(header) if fmt["sep_commas"] else "")
    lines.append(csv_line(header + tail))
    for r in body:
        lines.append(csv_line(r + tail))
    return encode(lines, fmt["crlf"], fmt["bom"]), len(body)
