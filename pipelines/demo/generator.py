"""Synthetic demo landing zone for the Life Rooms outcomes pipeline.

``write_demo_landing(root)`` writes the four raw exports described in
``shared/export-formats.md`` (visits, zoom, pathways, wellbeing_calls) under
``root`` and returns a summary that includes the KPI values the data was
*designed* to produce under the contract's rules.

Design, in one paragraph: for every financial year the generator first fixes the
target KPI counts (the service's published 2021/22 figures times ``scale``; plausible
values for the other years), then builds exactly that many *counted* units (visits,
members, sessions, persons, attendances, attended contacts, live prescriptions,
calls, successful calls, people reached) with exact allocators (largest remainder
over days, selection sampling for "new member / repeat visit" style choices), and
only then adds the mess the contract names: everything added on top of the
counted units is something the contract's rules exclude (void or staff visits,
staff-only Zoom sessions, cancelled or deleted contacts, withdrawn prescriptions,
orphans, rejected rows, quarantined, ignored and duplicate files) or collapses
(overlapping exports, rejoins, re-exports). The figures therefore hold whatever
order the files are loaded in.

Everything is synthetic: names come from small built-in word lists with
made-up surnames, member emails use the reserved ``example.*`` domains, staff
emails ``@merseycare.nhs.uk``, and service-user references start ``DEMO``.

Deterministic: one ``random.Random`` per source seeded from ``seed``; no wall
clock, no global random, no iteration over string-keyed sets. Rows are streamed:
only a rolling window (7 days of kiosk visits, 3 weeks of calls, a few weeks of
pathway versions) is ever held in memory, so scale 100 stays memory-light.
"""
from __future__ import annotations

import hashlib
import math
import random
from array import array
from collections import deque
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

__all__ = [
    "write_demo_landing",
    "expected_kpis",
    "PUBLISHED_2021_22",
    "KPIS",
    "HEADERS",
]

LONDON = ZoneInfo("Europe/London")
UTC = timezone.utc
FIRST_FY = 2020  # 2020/21: sites closed (Covid), Zoom, calls and remote pathways only
REOPEN = date(2021, 10, 4)  # sites reopen for face-to-face in October 2021
MESS_FY = 2021  # the year the named one-off mess is placed in (the published year)
BOM = b"\xef\xbb\xbf"

KPIS = (
    "visits", "visiting_members",
    "pathway_contacts", "social_prescriptions", "prescriptions_per_contact",
    "zoom_sessions", "zoom_members", "zoom_attendances", "sessions_per_member",
    "wellbeing_calls", "wellbeing_successful_contacts", "wellbeing_people_reached",
)

# The 2021/22 figures the service published (shared/export-formats.md).
PUBLISHED_2021_22 = {
    "visits": 11022,
    "pathway_contacts": 4820,
    "social_prescriptions": 8507,
    "zoom_sessions": 644,
    "zoom_members": 2870,
    "wellbeing_successful_contacts": 2210,
}

# Designed yearly counts at scale 1.0. 2021/22 carries the published figures; the
# rest are plausible values chosen for the demo.
_BASE = {
    2020: dict(visits=0, visiting_members=0, pathway_contacts=3150, social_prescriptions=5040,
               zoom_sessions=905, zoom_members=3410, zoom_attendances=8870,
               wellbeing_calls=6480, wellbeing_successful_contacts=3520, wellbeing_people_reached=1390),
    2021: dict(visits=11022, visiting_members=2318, pathway_contacts=4820, social_prescriptions=8507,
               zoom_sessions=644, zoom_members=2870, zoom_attendances=6233,
               wellbeing_calls=3964, wellbeing_successful_contacts=2210, wellbeing_people_reached=902),
    2022: dict(visits=24760, visiting_members=4105, pathway_contacts=6130, social_prescriptions=10420,
               zoom_sessions=512, zoom_members=1960, zoom_attendances=4420,
               wellbeing_calls=2870, wellbeing_successful_contacts=1640, wellbeing_people_reached=705),
    2023: dict(visits=27340, visiting_members=4480, pathway_contacts=6540, social_prescriptions=11250,
               zoom_sessions=468, zoom_members=1720, zoom_attendances=3930,
               wellbeing_calls=2610, wellbeing_successful_contacts=1512, wellbeing_people_reached=650),
    2024: dict(visits=28910, visiting_members=4690, pathway_contacts=6890, social_prescriptions=11980,
               zoom_sessions=455, zoom_members=1655, zoom_attendances=3805,
               wellbeing_calls=2540, wellbeing_successful_contacts=1470, wellbeing_people_reached=628),
}

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

# --------------------------------------------------------------------------- word lists
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
_REFERRED_TO = (
    "Demo Housing Association", "Example Credit Union", "Sample Advice Service (demo)",
    "Testwood Community Garden", "Placeholder Food Pantry", "Mockford Job Club",
    "Example Debt Advice Centre, Bootle", "Fictionby Walking Group", "Demo Library Service",
    "Synthwell Adult Learning", 'The "Open Door" Drop-in (demo)', "Sandboxer Leisure Centre",
    "Exampleton Volunteer Centre", "Sample Benefits Helpline", "Loremson Men's Shed",
)
_PURPOSES = ("course", "pathways", "drop_in", "cafe", "library", "computers", "other")
_PURPOSE_W = (36, 16, 15, 13, 5, 9, 6)
_CATEGORIES = ("housing", "debt", "benefits", "employment", "wellbeing", "learning", "volunteering",
               "community", "physical_activity", "other")
_CATEGORY_W = (12, 14, 16, 6, 18, 10, 5, 10, 6, 3)

# --------------------------------------------------------------------------- time helpers


def fy_of(d: date) -> int:
    return d.year if d.month >= 4 else d.year - 1


def fy_label(fy: int) -> str:
    return f"{fy}/{(fy + 1) % 100:02d}"


def _fy_folder(fy: int) -> str:
    return f"{fy}-{(fy + 1) % 100:02d}"


def _fy_start(fy: int) -> date:
    return date(fy, 4, 1)


def _fy_end(fy: int) -> date:
    return date(fy + 1, 3, 31)


def _closed(d: date) -> bool:
    return (d.month, d.day) in ((12, 25), (12, 26), (1, 1))


def _at(d: date, minute_of_day: int, second: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day) + timedelta(minutes=minute_of_day, seconds=second)


def _zoom_time(t: datetime) -> str:
    h12 = t.hour % 12 or 12
    return f"{t.month:02d}/{t.day:02d}/{t.year:04d} {h12:02d}:{t.minute:02d}:{t.second:02d} " + (
        "AM" if t.hour < 12 else "PM")


def _local_to_utc(t: datetime) -> datetime:
    return t.replace(tzinfo=LONDON).astimezone(UTC).replace(tzinfo=None)


# --------------------------------------------------------------------------- exact allocation


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` into len(weights) integers proportional to weights (largest remainder)."""
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError("nothing to allocate to")
        return []
    wsum = sum(weights)
    raw = [total * w / wsum for w in weights]
    out = [int(r) for r in raw]
    rest = total - sum(out)
    order = sorted(range(n), key=lambda i: out[i] - raw[i])  # largest fractional part first
    for i in order[:rest]:
        out[i] += 1
    return out


def _allocate_bounded(total: int, weights: list[float], lo: int, hi: int) -> list[int]:
    """Like _allocate but every share in [lo, hi]; requires n*lo <= total <= n*hi."""
    n = len(weights)
    if not n * lo <= total <= n * hi:
        raise ValueError("infeasible bounded allocation")
    out = [lo + x for x in _allocate(total - n * lo, weights)]
    over = sum(max(0, x - hi) for x in out)
    out = [min(x, hi) for x in out]
    i = 0
    order = sorted(range(n), key=lambda j: -weights[j])
    while over:
        j = order[i % n]
        if out[j] < hi:
            out[j] += 1
            over -= 1
        i += 1
    return out


class _Quota:
    """Selection sampling: over exactly ``n`` calls of take(), exactly ``k`` return True."""

    __slots__ = ("rng", "need", "left")

    def __init__(self, rng: random.Random, k: int, n: int):
        if not 0 <= k <= n:
            raise ValueError(f"quota {k} of {n}")
        self.rng, self.need, self.left = rng, k, n

    def take(self, force: bool = False) -> bool:
        if self.left <= 0:
            raise RuntimeError("quota over-drawn")
        hit = self.need > 0 and (force or self.rng.random() * self.left < self.need)
        self.left -= 1
        if hit:
            self.need -= 1
        return hit


# --------------------------------------------------------------------------- targets


def _base_for(fy: int) -> dict:
    if fy in _BASE:
        return dict(_BASE[fy])
    last = max(_BASE)
    g = 1.03 ** (fy - last)
    return {k: round(v * g) for k, v in _BASE[last].items()}


def _targets(years: int, scale: float) -> dict[int, dict[str, int]]:
    out = {}
    for i in range(years):
        fy = FIRST_FY + i
        t = {k: round(v * scale) for k, v in _base_for(fy).items()}
        # Keep the designed counts mutually feasible at tiny scales (no-op at sane scales).
        if t["visits"] == 0:
            t["visiting_members"] = 0
        t["visiting_members"] = min(t["visiting_members"], round(0.86 * t["visits"]))
        if t["pathway_contacts"] == 0:
            t["social_prescriptions"] = 0
        t["social_prescriptions"] = min(t["social_prescriptions"], 6 * t["pathway_contacts"])
        if t["zoom_sessions"] == 0:
            t["zoom_members"] = t["zoom_attendances"] = 0
        else:
            t["zoom_members"] = max(1, t["zoom_members"])
            cap = min(30, t["zoom_members"])
            t["zoom_attendances"] = min(max(t["zoom_attendances"], t["zoom_sessions"], t["zoom_members"]),
                                        t["zoom_sessions"] * cap)
            t["zoom_members"] = min(t["zoom_members"], t["zoom_attendances"])
        t["wellbeing_successful_contacts"] = min(t["wellbeing_successful_contacts"], t["wellbeing_calls"])
        s = t["wellbeing_successful_contacts"]
        t["wellbeing_people_reached"] = 0 if s == 0 else min(max(1, t["wellbeing_people_reached"]), s)
        out[fy] = t
    return out


def expected_kpis(scale: float = 1.0, years: int = 5) -> dict[str, dict[str, float | int | None]]:
    """The KPI values the demo landing zone is designed to produce, per financial year."""
    _check_args(scale, years)
    res = {}
    for fy, t in _targets(years, scale).items():
        row: dict[str, float | int | None] = {}
        for k in KPIS:
            if k == "prescriptions_per_contact":
                row[k] = t["social_prescriptions"] / t["pathway_contacts"] if t["pathway_contacts"] else None
            elif k == "sessions_per_member":
                row[k] = t["zoom_attendances"] / t["zoom_members"] if t["zoom_members"] else None
            else:
                row[k] = t[k]
        res[fy_label(fy)] = row
    return res


def _check_args(scale: float, years: int) -> None:
    if not (isinstance(years, int) and years >= 1):
        raise ValueError("years must be an integer >= 1")
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError("scale must be a positive number")


# --------------------------------------------------------------------------- file output


def _q(v: str) -> str:
    if "," in v or '"' in v or "\n" in v or "\r" in v:
        return '"' + v.replace('"', '""') + '"'
    return v


def _line(fields) -> str:
    return ",".join(_q(f) for f in fields)


def _encode(lines: list[str], crlf: bool = False, bom: bool = False) -> bytes:
    nl = "\r\n" if crlf else "\n"
    data = (nl.join(lines) + nl).encode("utf-8")
    return BOM + data if bom else data


class _Landing:
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


# --------------------------------------------------------------------------- visits

_VISIT_SITES = ("WAL", "SOU", "BOO", "PCL", "PSL")
_OPEN_DAYS = {"WAL": (0, 1, 2, 3, 4, 5, 6), "SOU": (0, 1, 2, 3, 4), "BOO": (0, 1, 2, 3, 4),
              "PCL": (1, 3), "PSL": (2, 4)}
_SITE_W = {"WAL": 1.0, "SOU": 0.75, "BOO": 0.85, "PCL": 0.45, "PSL": 0.4}
_MONTH_W = {1: 0.95, 2: 1.0, 3: 1.0, 4: 0.95, 5: 1.0, 6: 0.95, 7: 0.85, 8: 0.8, 9: 1.0,
            10: 1.05, 11: 1.05, 12: 0.75}


class _Kiosk:
    def __init__(self, idx: int, site: str, n: int):
        self.idx, self.site = idx, site
        self.code = f"{site}{n}"
        self.peripatetic = site in ("PCL", "PSL")
        self.window: deque = deque()  # (ordinal, [records])
        self.export_days: set[int] = set()
        self.seq = 0

    def style(self, d: date) -> tuple[bool, bool, bool]:
        """(with_seconds, crlf, bom) of this kiosk's firmware on day d."""
        s = self.site
        secs = s in ("WAL", "BOO") or (s == "SOU" and d >= date(2023, 6, 1))
        crlf = s in ("SOU", "BOO")
        bom = s in ("SOU", "PSL")
        return secs, crlf, bom

    def open_on(self, d: date) -> bool:
        return d >= REOPEN and d.weekday() in _OPEN_DAYS[self.site] and not _closed(d)


def _gen_visits(L: _Landing, seed: int, scale: float, years: int, targets: dict, manifest: dict) -> None:
    data_end = _fy_end(FIRST_FY + years - 1)
    if data_end < REOPEN:
        return
    rng = random.Random(f"{seed}:visits")
    n_main = max(1, math.ceil(math.sqrt(scale) - 1e-9))
    n_peri = max(1, math.ceil(math.sqrt(scale) / 2 - 1e-9))
    kiosks: list[_Kiosk] = []
    for site in _VISIT_SITES:
        for n in range(1, (n_peri if site in ("PCL", "PSL") else n_main) + 1):
            kiosks.append(_Kiosk(len(kiosks), site, n))
    first = REOPEN.toordinal()
    # Export schedule: each kiosk exports at close of every day its site is open, covering
    # the last 7 calendar days, so a Walton visit is in up to 7 files (Walton opens every
    # day), a Southport or Bootle one in 5, a peripatetic tablet's in 2. A fixed kiosk occasionally misses a day (never twice
    # within 8 days, never in the last week), so every visit still lands somewhere.
    for k in kiosks:
        last_miss = -100
        for o in range(first, data_end.toordinal() + 1):
            if not k.open_on(date.fromordinal(o)):
                continue
            if (not k.peripatetic and o - last_miss >= 8 and o != first and o < data_end.toordinal() - 7
                    and rng.random() < 0.015):
                last_miss = o
                continue
            k.export_days.add(o)

    # Exact allocation of each year's counted visits over kiosk-days.
    alloc: dict[tuple[int, int], int] = {}
    years_state: dict[int, dict] = {}
    bad_plan: dict[tuple[int, int], list[str]] = {}
    dup_plan: set[tuple[int, int]] = set()
    ctx = {"next_member": 104217}
    prev_pool: list[int] = []
    for fy in range(FIRST_FY, FIRST_FY + years):
        t = targets[fy]
        V = t["visits"]
        if V == 0:
            continue
        slots, weights = [], []
        for o in range(max(_fy_start(fy), REOPEN).toordinal(), _fy_end(fy).toordinal() + 1):
            d = date.fromordinal(o)
            ramp = 1.0
            if d < REOPEN + timedelta(days=120):
                ramp = 0.55 + 0.45 * (o - REOPEN.toordinal()) / 120
            for k in kiosks:
                if not k.open_on(d):
                    continue
                n_site = n_peri if k.peripatetic else n_main
                w = _SITE_W[k.site] / n_site * _MONTH_W[d.month] * ramp * rng.uniform(0.6, 1.4)
                if d.weekday() >= 5:
                    w *= 0.5 if d.weekday() == 5 else 0.3
                slots.append((o, k.idx))
                weights.append(w)
        for slot, c in zip(slots, _allocate(V, weights)):
            if c:
                alloc[slot] = c
        VM = t["visiting_members"]
        K = VM and max(VM, min(V, round(0.86 * V)))
        years_state[fy] = {"id_q": _Quota(rng, K, V), "new_q": _Quota(rng, VM, K), "introduced": [],
                           "prev": prev_pool, "returning": None, "void_n": 0}
        busy = [s for s in slots if alloc.get(s)]
        n_bad = max(3, round(V * 0.0004))
        kinds = ("missing_id", "bad_date", "unknown_code")
        for i, s in enumerate(sorted(rng.sample(busy, min(n_bad, len(busy))))):
            bad_plan.setdefault(s, []).append(kinds[i % 3])
        n_dup = max(1, round(math.sqrt(scale)))
        fy_exports = [(k.idx, o) for k in kiosks for o in sorted(k.export_days)
                      if fy_of(date.fromordinal(o)) == fy and o <= data_end.toordinal()]
        dup_plan.update(rng.sample(fy_exports, min(n_dup, len(fy_exports))))
        prev_pool = years_state[fy]["introduced"]  # filled in as the year is generated

    mess_fy = MESS_FY if MESS_FY in years_state else None
    special_days: dict[str, int] = {}
    if mess_fy is not None:
        lo, hi = max(_fy_start(mess_fy), REOPEN).toordinal() + 30, _fy_end(mess_fy).toordinal() - 10
        special_days = {"wrong_header": rng.randint(lo, hi), "part": rng.randint(lo, hi),
                        "lock": rng.randint(lo, hi)}
    examples = manifest.setdefault("visits", {"void_visit_ids": [], "staff_rows": 0, "guest_or_carer_visits": 0,
                                              "bad_rows_planned": 0})

    def fresh_member() -> int:
        ctx["next_member"] += 1 + (rng.random() < 0.1)
        return ctx["next_member"]

    def next_vid(k: _Kiosk) -> str:
        k.seq += 1
        return f"{k.code}-{k.seq:07d}"

    def stamp(d: date, minute: int, secs: bool) -> str:
        s = f"{d.isoformat()} {minute // 60:02d}:{minute % 60:02d}"
        return s + f":{rng.randint(0, 59):02d}" if secs else s

    for o in range(first, data_end.toordinal() + 1):
        d = date.fromordinal(o)
        st = years_state.get(fy_of(d))
        if st is not None and st["returning"] is None:  # members who visited last year too
            st["returning"] = rng.sample(st["prev"], len(st["prev"]))
        for k in kiosks:
            if st is not None and k.open_on(d):
                secs, _, _ = k.style(d)
                n = alloc.get((o, k.idx), 0)
                recs = []
                for _ in range(n):
                    if st["id_q"].take():
                        if st["new_q"].take(force=not st["introduced"]):
                            mid = st["returning"].pop() if st["returning"] and rng.random() < 0.45 \
                                else fresh_member()
                            st["introduced"].append(mid)
                        else:
                            intro = st["introduced"]
                            mid = intro[int(len(intro) * rng.random() ** 1.5)]
                        vtype = "volunteer" if rng.random() < 0.07 else "member"
                        purpose = "volunteering" if vtype == "volunteer" else rng.choices(_PURPOSES, _PURPOSE_W)[0]
                        mid_s = f"M{mid}"
                    else:
                        vtype = rng.choices(("guest", "carer", "member"), (45, 30, 25))[0]
                        purpose = rng.choices(_PURPOSES, _PURPOSE_W)[0]
                        mid_s = ""
                        examples["guest_or_carer_visits"] += vtype != "member"
                    ts = stamp(d, rng.randint(540, 1005), secs)
                    recs.append((ts, None, f",{k.site},{ts},{mid_s},{vtype},{purpose},ok", True, None))
                # Staff sign-ins (never counted; a few carry a member number of their own).
                for _ in range(int(n * 0.07 + rng.random())):
                    ts = stamp(d, rng.randint(470, 570), secs)
                    mid_s = f"M{fresh_member()}" if rng.random() < 0.1 else ""
                    recs.append((ts, None, f",{k.site},{ts},{mid_s},staff,other,ok", True, None))
                    examples["staff_rows"] += 1
                # Void sign-ins: void in at least one delivery, in several patterns.
                for _ in range(int(n * 0.01 + rng.random())):
                    n_deliv = sum(1 for x in range(o, o + 7) if x in k.export_days)
                    p = st["void_n"] % 4
                    st["void_n"] += 1
                    if n_deliv == 1 or p == 0:
                        void_at = set(range(n_deliv))          # void in every delivery
                    elif p == 1:
                        void_at = set(range(rng.randint(1, n_deliv - 1), n_deliv))  # ok first, void later
                    elif p == 2:
                        void_at = {0}                            # void only in the oldest delivery
                    else:
                        void_at = {n_deliv - 1}                  # void only in the newest delivery
                    ts = stamp(d, rng.randint(540, 1005), secs)
                    mid_s = f"M{fresh_member()}" if rng.random() < 0.6 else ""
                    ex = None
                    if len(examples["void_visit_ids"]) < 8 and fy_of(d) == MESS_FY:
                        ex = {"visit_id": None, "void_in_deliveries": sorted(void_at), "deliveries": n_deliv}
                        examples["void_visit_ids"].append(ex)
                    recs.append((ts, [void_at, 0], f",{k.site},{ts},{mid_s},member,{rng.choice(_PURPOSES)}",
                                 True, ex))
                # Bad rows (rejected at ingestion, in every overlapping export they appear in).
                for kind in bad_plan.get((o, k.idx), ()):
                    ts = shown = stamp(d, rng.randint(540, 1005), secs)
                    site, vtype, purpose = k.site, "member", "course"
                    mid_s = f"M{fresh_member()}"
                    if kind == "bad_date":
                        shown = rng.choice((f"{d.year}-02-30 {ts[11:16]}", f"{d.day:02d}/{d.month:02d}/{d.year} "
                                                                         f"{ts[11:16]}"))
                    else:
                        which = rng.randrange(3)
                        if which == 0:
                            site = "KIR"
                        elif which == 1:
                            vtype = "contractor"
                        else:
                            purpose = "bingo"
                    recs.append((ts, "bad", f",{site},{shown},{mid_s},{vtype},{purpose},ok",
                                 kind != "missing_id", None))
                    examples["bad_rows_planned"] += 1
                # The kiosk numbers sign-ins in time order.
                recs.sort(key=lambda r: r[0])
                day = []
                for _ts, kind, tail, has_id, ex in recs:
                    vid = next_vid(k) if has_id else ""
                    if ex is not None:
                        ex["visit_id"] = vid
                    day.append((kind, vid + tail))
                k.window.append((o, day))
            if o in k.export_days:
                _visits_export(L, k, d, o, dup=(k.idx, o) in dup_plan)
        if special_days:
            if o == special_days["wrong_header"]:
                _visits_wrong_header(L, rng, d, fresh_member)
            if o == special_days["part"]:
                _visits_part(L, rng, kiosks[0], d, fresh_member)
            if o == special_days["lock"]:
                rel = f"visits/{_fy_folder(fy_of(d))}/BOO/.~lock.kiosk_BOO1_{d.isoformat()}.csv#"
                L.write(rel, f",DEMO-KIOSK/kiosk,demo-kiosk,{d.strftime('%d.%m.%Y')} 17:02,"
                             f"file:///C:/Users/kiosk/AppData/Local/Temp;\n".encode(), "visits", status="ignored")
    manifest.setdefault("member_id_max", {})["visits"] = ctx["next_member"]


def _visits_export(L: _Landing, k: _Kiosk, d: date, o: int, dup: bool) -> None:
    while k.window and k.window[0][0] < o - 6:
        k.window.popleft()
    lines = [",".join(HEADERS["visits"])]
    bad = 0
    for _, recs in k.window:
        for kind, text in recs:
            if kind is None:
                lines.append(text)
            elif kind == "bad":
                lines.append(text)
                bad += 1
            else:
                lines.append(text + (",void" if kind[1] in kind[0] else ",ok"))
                kind[1] += 1
    _, crlf, bom = k.style(d)
    data = _encode(lines, crlf, bom)
    rel = f"visits/{_fy_folder(fy_of(d))}/{k.site}/kiosk_{k.code}_{d.isoformat()}.csv"
    L.write(rel, data, "visits", rows=len(lines) - 1, rejected=bad)
    if dup:
        L.copy(rel[:-4] + " (1).csv", data, "visits", rel)


def _visits_wrong_header(L: _Landing, rng: random.Random, d: date, fresh_member) -> None:
    """An export from an old kiosk build with renamed columns: quarantined whole."""
    lines = ["visit_ref,site,signed_in,member_no,visitor_type,purpose,status"]
    for i in range(6):
        day = d - timedelta(days=i)
        lines.append(f"SOU9-{9000000 + i},SOU,{day.isoformat()} {rng.randint(9, 16):02d}:{rng.randint(0, 59):02d},"
                     f"M{fresh_member()},member,course,ok")
    rel = f"visits/{_fy_folder(fy_of(d))}/SOU/kiosk_SOU9_{d.isoformat()}_legacy.csv"
    L.write(rel, _encode(lines, True, True), "visits", rows=len(lines) - 1, status="quarantined")


def _visits_part(L: _Landing, rng: random.Random, k: _Kiosk, d: date, fresh_member) -> None:
    """An export still being copied in: new visit ids and a cut-off last line."""
    lines = [",".join(HEADERS["visits"])]
    for i in range(5):
        lines.append(f"{k.code}-{8000000 + i},{k.site},{d.isoformat()} {10 + i:02d}:{rng.randint(0, 59):02d}:00,"
                     f"M{fresh_member()},member,cafe,ok")
    lines.append(f"{k.code}-8000005,{k.site},{d.isoformat()} 15:4")
    rel = f"visits/{_fy_folder(fy_of(d))}/{k.site}/kiosk_{k.code}_{d.isoformat()}_2.csv.part"
    L.write(rel, "\n".join(lines).encode(), "visits", status="ignored")


# --------------------------------------------------------------------------- zoom


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


def _gen_zoom(L: _Landing, seed: int, scale: float, years: int, targets: dict, manifest: dict) -> None:
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
        monday0 = _fy_start(fy) + timedelta(days=(7 - _fy_start(fy).weekday()) % 7)
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
                if dd > _fy_end(fy) or (dd.month == 12 and dd.day >= 22) or (dd.month == 1 and dd.day <= 2):
                    continue
                dates.append((w, dd))
            if not dates:
                continue
            if mid is not None and any((mid, _at(dd, hh * 60 + mm)) in keys for _, dd in dates):
                mid = None
            if mid is None:
                mid = _zoom_mid(rng, used_mids)
                mids.append(mid)
            for w, dd in dates:
                keys.add((mid, _at(dd, hh * 60 + mm)))
                start = _at(dd, hh * 60 + mm + rng.randint(-4, 2), rng.randint(0, 59))
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
            sizes = _allocate_bounded(A, weights, 1, cap)
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
            folder = f"zoom/{_fy_folder(fy)}/{s['start']:%Y-%m}"
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
            d = _fy_start(fy) + timedelta(days=rng.randint(40, 300))
            start = _at(d, 14 * 60, 5)
            hid = {"mid": _zoom_mid(rng, used_mids), "topic": "Sleep Well (Week 1)", "start": start,
                   "end": start + timedelta(minutes=88), "host": hosts[0], "co": [], "run": -1, "week": 0,
                   "attendees": [people.fresh() for _ in range(5)]}
            data, _ = _zoom_file(rng, people, hid, _zoom_format(rng))
            rel = f"zoom/{_fy_folder(fy)}/{start:%Y-%m}/.participants_{hid['mid']}.csv"
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
            segs.append((a, [name, email, _zoom_time(a), _zoom_time(b), str(m), guest]))
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
    meeting_row = [_fmt_mid(s["mid"], fmt["spaces"]), s["topic"], _zoom_time(t0), _zoom_time(t1), host_email,
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
    lines.append(_line(list(HEADERS["zoom_meeting"]) + tail))
    lines.append(_line(meeting_row + tail))
    lines.append("," * len(header) if fmt["sep_commas"] else "")
    lines.append(_line(header + tail))
    for r in body:
        lines.append(_line(r + tail))
    return _encode(lines, fmt["crlf"], fmt["bom"]), len(body)


# --------------------------------------------------------------------------- pathways

_PW_E0 = datetime(2020, 4, 6, 6, 0)  # first weekly export: Monday 06:00 local


def _pw_index(t: datetime) -> int:
    if t < _PW_E0:
        return 0
    return int((t - _PW_E0) // timedelta(days=7)) + 1


def _updated_at(t: datetime, export_day: date) -> str:
    aware = t.replace(tzinfo=LONDON)
    if export_day >= date(2023, 1, 1):  # the upgraded system writes UTC
        return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return aware.isoformat(timespec="seconds")


def _gen_pathways(L: _Landing, seed: int, scale: float, years: int, targets: dict, manifest: dict,
                  quarantine_here: bool) -> None:
    rng = random.Random(f"{seed}:pathways")
    data_start, data_end = _fy_start(FIRST_FY), _fy_end(FIRST_FY + years - 1)
    k_final = _pw_index(datetime(data_end.year, data_end.month, data_end.day) + timedelta(days=15))
    buckets: dict[int, tuple[list, list]] = {}
    ids = {"c": 1000000, "p": 2000000}
    info = manifest.setdefault("pathways", {"late_prescription_ids": [], "orphan_prescription_ids": [],
                                            "corrected_contact_ids": [], "cross_year_prescription_ids": [],
                                            "bad_rows_planned": 0})
    advisors = [f"ADV{i:02d}" for i in range(1, 25)]
    fresh_member = [300000]

    def new_id(kind: str) -> str:
        ids[kind] += 1
        return ("C" if kind == "c" else "P") + str(ids[kind])

    def put(which: int, t: datetime, fields: list, bad: bool = False) -> None:
        k = _pw_index(t)
        assert k > flushed[0], "version for an export already written"
        if k > k_final:
            return  # would be in an export that has not happened yet
        buckets.setdefault(k, ([], []))[which].append((t, fields, bad))

    def when(d: date, lo_min: int = 540, hi_min: int = 1050) -> datetime:
        return _at(d, rng.randint(lo_min, hi_min), rng.randint(0, 59))

    def later(t: datetime, lo_h: float, hi_h: float) -> datetime:
        """A later moment, moved forward (never back) into office hours."""
        u = t + timedelta(seconds=int(rng.uniform(lo_h, hi_h) * 3600))
        if u.hour < 8:
            u = u.replace(hour=8 + (u.hour % 2))
        elif u.hour >= 19:
            u = (u + timedelta(days=1)).replace(hour=8 + (u.hour % 2))
        return u

    flushed = [-1]
    dup_exports: set[int] = set()
    hidden_rows: list[list] = []

    def flush(upto: int) -> None:
        for k in range(flushed[0] + 1, min(upto, k_final) + 1):
            c_rows, p_rows = buckets.pop(k, ([], []))
            e = _PW_E0 + timedelta(days=7 * k)
            ed = e.date()
            crlf = bom = ed >= date(2022, 6, 1)
            folder = f"pathways/{_fy_folder(fy_of(ed))}"
            for which, name, rows in ((0, "contacts", c_rows), (1, "prescriptions", p_rows)):
                rows.sort(key=lambda r: (r[0], r[1][0]))
                lines = [",".join(HEADERS[name])]
                for t, fields, _bad in rows:  # fields are CSV-safe (referred_to pre-quoted)
                    lines.append(",".join(fields) + "," + _updated_at(t, ed))
                data = _encode(lines, crlf, bom)
                rel = f"{folder}/{name}_{ed.isoformat()}.csv"
                L.write(rel, data, "pathways", rows=len(rows), rejected=sum(1 for r in rows if r[2]))
                if k in dup_exports and which == 0:
                    L.copy(f"{folder}/resent/{name}_{ed.isoformat()}_resent.csv", data, "pathways", rel)
            flushed[0] = k

    # per-year plans
    plans = {}
    for fy in range(FIRST_FY, FIRST_FY + years):
        t = targets[fy]
        C, SP = t["pathway_contacts"], t["social_prescriptions"]
        days, weights = [], []
        for o in range(_fy_start(fy).toordinal(), _fy_end(fy).toordinal() + 1):
            d = date.fromordinal(o)
            if d.weekday() < 5 and not _closed(d):
                days.append(o)
                weights.append(_MONTH_W[d.month] * rng.uniform(0.7, 1.3))
        per_day = dict(zip(days, _allocate(C, weights)))
        ks = array("b", (rng.choices((0, 1, 2, 3, 4, 5), (12, 30, 30, 18, 7, 3))[0] for _ in range(C)))
        total = sum(ks)
        while total != SP:
            i = rng.randrange(C)
            if total < SP and ks[i] < 6:
                ks[i] += 1
                total += 1
            elif total > SP and ks[i] > 0:
                ks[i] -= 1
                total -= 1
        busy = [o for o in days if per_day[o]] or days
        bad_c = max(2, round(C * 0.0005))
        bad_p = max(2, round(SP * 0.0003))
        last_day = max(busy) if busy else None
        plans[fy] = {"per_day": per_day, "ks": ks, "i": 0,
                     "pending": {"late", "att_cancel", "att_delete", "orphan", "withdrawn", "deleted"},
                     "bad_c": sorted(rng.choice(busy) for _ in range(bad_c)),
                     "bad_p": sorted(rng.choice(busy) for _ in range(bad_p)),
                     "last_day": last_day, "hidden_day": rng.choice(busy) if fy == MESS_FY else None}
        fy_ks = [k for k in range(k_final + 1)
                 if fy_of((_PW_E0 + timedelta(days=7 * k)).date()) == fy]
        dup_exports.update(rng.sample(fy_ks, min(len(fy_ks), max(1, round(math.sqrt(scale))))))

    def contact_fields(cid, mid, adv, site, d, mode, outcome):
        return [cid, mid, adv, site, d.isoformat(), mode, outcome]

    def person_and_place(d: date) -> tuple[str, str, str, str]:
        fresh_member[0] += 1
        if rng.random() < 0.02:
            mid = ""  # no membership number recorded
        elif rng.random() < 0.5:
            mid = f"M{rng.randint(104000, 113000)}"  # often also a site visitor
        else:
            mid = f"M{fresh_member[0]}"
        adv = rng.choice(advisors)
        if d >= REOPEN:
            mode = rng.choices(("face_to_face", "phone", "video"), (60, 32, 8))[0]
        else:
            mode = rng.choices(("phone", "video"), (72, 28))[0]
        if mode == "face_to_face":
            site = rng.choices(_VISIT_SITES, (30, 22, 26, 12, 10))[0]
        else:
            site = "" if rng.random() < 0.6 else rng.choice(("WAL", "SOU", "BOO"))
        return mid, adv, site, mode

    def presc(cid: str, d: date, created: date, t_made: datetime, final: str) -> str:
        pid = new_id("p")
        cat = rng.choices(_CATEGORIES, _CATEGORY_W)[0]
        ref = _q(rng.choice(_REFERRED_TO))
        base = [pid, cid, cat, ref, created.isoformat()]
        put(1, t_made, base + ["made"])
        if final == "accepted" or final == "completed":
            ta = later(t_made, 24, 14 * 24)
            put(1, ta, base + ["accepted"])
            if final == "completed":
                put(1, later(ta, 7 * 24, 28 * 24), base + ["completed"])
        elif final == "declined":
            put(1, later(t_made, 48, 20 * 24), base + ["declined"])
        elif final == "withdrawn":
            put(1, later(t_made, 24, 10 * 24), base + ["withdrawn"])
        elif final == "deleted":
            put(1, later(t_made, 2, 72), base + ["deleted"])
        return pid

    for o in range(data_start.toordinal(), data_end.toordinal() + 1):
        d = date.fromordinal(o)
        fy = fy_of(d)
        pl = plans[fy]
        n = pl["per_day"].get(o, 0)
        pend = pl["pending"]
        for _ in range(n):
            ks = pl["ks"][pl["i"]]
            pl["i"] += 1
            cid = new_id("c")
            mid, adv, site, mode = person_and_place(d)
            fields = contact_fields(cid, mid, adv, site, d, mode, "attended")
            late = "late" in pend and ks >= 1 and d.month != 3
            if late:
                pend.discard("late")
                t_att = when(d + timedelta(days=rng.randint(8, 13)))
                late_rec = {"contact_id": cid, "prescription_ids": []}
                info["late_prescription_ids"].append(late_rec)
            else:
                t_att = when(d, 540, 1050)
                if rng.random() < 0.35:
                    put(0, when(d - timedelta(days=rng.randint(1, 21)), 540, 1020),
                        contact_fields(cid, mid, adv, site, d, mode, "booked"))
            put(0, t_att, fields)
            if not late and rng.random() < 0.05:  # an edit that keeps it attended
                put(0, later(t_att, 24, 6 * 24), contact_fields(cid, mid, rng.choice(advisors),
                                                                  site or "WAL", d, mode, "attended"))
            if fy == MESS_FY and o == pl["hidden_day"] and len(hidden_rows) < 3:
                hidden_rows.append(contact_fields(cid, mid, adv, site, d, mode, "deleted"))
            cross = o == pl["last_day"]
            for _ in range(ks):
                if cross:
                    created = d + timedelta(days=rng.randint(1, 4))
                elif rng.random() < 0.15:
                    created = d + timedelta(days=rng.randint(1, 3))
                else:
                    created = d
                if late:
                    t_made = when(d, 540, 1000)
                else:
                    t_made = when(created, 540, 1080)
                    if t_made <= t_att:
                        t_made = t_att + timedelta(minutes=rng.randint(10, 120))
                final = rng.choices(("made", "accepted", "completed", "declined"), (35, 35, 20, 10))[0]
                pid = presc(cid, d, created, t_made, final)
                if late:
                    late_rec["prescription_ids"].append(pid)
                if cross and fy_of(created) != fy and len(info["cross_year_prescription_ids"]) < 6:
                    info["cross_year_prescription_ids"].append(pid)
            # withdrawn / deleted prescriptions on a counted contact
            r = rng.random()
            if r < 0.04 or ("withdrawn" in pend) or ("deleted" in pend and r < 0.5):
                final = "withdrawn" if ("withdrawn" in pend or r < 0.03) else "deleted"
                pend.discard(final)
                presc(cid, d, d, t_att + timedelta(minutes=rng.randint(10, 90)), final)
        # contacts that do not count
        extras = []
        for kind, rate in (("dna", 0.09), ("cancel", 0.06), ("booked_deleted", 0.01), ("att_cancel", 0.004),
                           ("att_delete", 0.004), ("stale", 0.002)):
            m = int(n * rate + rng.random() * (1 if n else 0))
            if kind in pend and n:
                m = max(m, 1)
                pend.discard(kind)
            extras += [kind] * m
        for kind in extras:
            cid = new_id("c")
            mid, adv, site, mode = person_and_place(d)
            if kind in ("att_cancel", "att_delete"):
                t_att = when(d)
                put(0, t_att, contact_fields(cid, mid, adv, site, d, mode, "attended"))
                out = "cancelled" if kind == "att_cancel" else "deleted"
                t_fix = later(t_att, 24, 10 * 24)
                put(0, t_fix, contact_fields(cid, mid, adv, site, d, mode, out))
                for _ in range(rng.choice((0, 1, 1, 2))):
                    presc(cid, d, d, t_att + timedelta(minutes=rng.randint(10, 60)), rng.choice(("made", "accepted")))
                if len(info["corrected_contact_ids"]) < 6:
                    info["corrected_contact_ids"].append({"contact_id": cid, "attended_then": out})
                continue
            t_b = when(d - timedelta(days=rng.randint(1, 21)), 540, 1020)
            put(0, t_b, contact_fields(cid, mid, adv, site, d, mode, "booked"))
            if kind == "dna":
                put(0, when(d, 1020, 1080), contact_fields(cid, mid, adv, site, d, mode, "did_not_attend"))
            elif kind == "cancel":
                span = (_at(d, 540) - t_b).total_seconds()
                t_c = t_b + timedelta(seconds=int(rng.uniform(7200, max(7201, span))))
                put(0, t_c, contact_fields(cid, mid, adv, site, d, mode, "cancelled"))
            elif kind == "booked_deleted":
                put(0, later(t_b, 1, 48), contact_fields(cid, mid, adv, site, d, mode, "deleted"))
        if "orphan" in pend and ((n and rng.random() < 0.05) or o == pl["last_day"]):
            pend.discard("orphan")
            ghost = new_id("c")  # a contact id that never arrives
            pid = presc(ghost, d, d, when(d), "made")
            info["orphan_prescription_ids"].append({"prescription_id": pid, "contact_id": ghost})
        # bad rows: one record each, rejected at ingestion
        for _ in range(pl["bad_c"].count(o)):
            cid = new_id("c")
            mid, adv, site, mode = person_and_place(d)
            f = contact_fields(cid, mid, adv, site, d, mode, "attended")
            kind = info["bad_rows_planned"] % 3
            if kind == 0:
                f[0] = ""
            elif kind == 1:
                f[4] = rng.choice((f"{d.year}-02-30", f"{d.day:02d}/{d.month:02d}/{d.year}"))
            else:
                if rng.random() < 0.5:
                    f[5] = "in_person"
                else:
                    f[6] = "attend"
            put(0, when(d), f, bad=True)
            info["bad_rows_planned"] += 1
        for _ in range(pl["bad_p"].count(o)):
            f = [new_id("p"), f"C{ids['c']}", rng.choices(_CATEGORIES, _CATEGORY_W)[0], _q(rng.choice(_REFERRED_TO)),
                 d.isoformat(), "made"]
            kind = info["bad_rows_planned"] % 3
            if kind == 0:
                f[0] = ""
            elif kind == 1:
                f[4] = f"{d.year}-13-{d.day:02d}"
            else:
                if rng.random() < 0.5:
                    f[2] = "finance"
                else:
                    f[5] = "pending"
            put(1, when(d, 1060, 1100), f, bad=True)
            info["bad_rows_planned"] += 1
        # exports that can no longer receive versions (earliest future version: a booking
        # made 21 days before its contact date)
        safe = datetime.fromordinal(o - 20)
        if safe >= _PW_E0:
            flush(int((safe - _PW_E0) // timedelta(days=7)))
        if d == _fy_end(fy):
            assert pl["i"] == len(pl["ks"]), "pathway contact quota"
            if pl["pending"]:
                info.setdefault("mess_not_placed", {})[fy_label(fy)] = sorted(pl["pending"])
    flush(k_final)
    manifest.setdefault("member_id_max", {})["pathways"] = fresh_member[0]

    if hidden_rows:
        # A half-written export (hidden temp name): "deletes" three counted contacts.
        t_h = datetime.combine(data_end + timedelta(days=16), datetime.min.time()) + timedelta(hours=5)
        lines = [",".join(HEADERS["contacts"])] + [_line(r + [_updated_at(t_h, data_end)]) for r in hidden_rows]
        rel = f"pathways/{_fy_folder(MESS_FY)}/.contacts_{(data_end + timedelta(days=16)).isoformat()}.csv.tmp"
        L.write(rel, _encode(lines), "pathways", status="ignored")
    if quarantine_here:
        d = date(FIRST_FY, 11, 16)
        lines = ["contact_id,member_id,site_code,contact_date,mode,outcome,updated_at"]
        for i in range(4):
            lines.append(f"C9{i:06d},M{400000 + i},WAL,{d.isoformat()},phone,attended,{d.isoformat()}T10:0{i}:00+00:00")
        L.write(f"pathways/{_fy_folder(FIRST_FY)}/contacts_{d.isoformat()}_manual.csv", _encode(lines),
                "pathways", rows=4, status="quarantined")


# --------------------------------------------------------------------------- wellbeing calls

_WB_E0 = datetime(2020, 4, 13, 6, 0)  # first fortnightly export (UTC); each covers 21 days


def _gen_calls(L: _Landing, seed: int, scale: float, years: int, targets: dict, manifest: dict) -> None:
    rng = random.Random(f"{seed}:calls")
    data_start, data_end = _fy_start(FIRST_FY), _fy_end(FIRST_FY + years - 1)
    final_e = datetime(data_end.year, data_end.month, data_end.day) + timedelta(days=1, hours=6)
    k_final = math.ceil((final_e - _WB_E0) / timedelta(days=14))
    window: deque = deque()  # (t_utc, line, bad)
    info = manifest.setdefault("wellbeing_calls", {"boundary_call_id": None, "bad_rows_planned": 0,
                                                   "part_files": []})
    seq = [0]
    next_ref = [12000]
    prev_reached: list[int] = []
    state: dict = {}
    plans = {}
    dup_exports: set[int] = set()
    for fy in range(FIRST_FY, FIRST_FY + years):
        t = targets[fy]
        WC, WS, WP = t["wellbeing_calls"], t["wellbeing_successful_contacts"], t["wellbeing_people_reached"]
        boundary = fy == 2022
        days, weights = [], []
        for o in range(_fy_start(fy).toordinal(), _fy_end(fy).toordinal() + 1):
            d = date.fromordinal(o)
            if d.weekday() < 6 and not _closed(d):
                days.append(o)
                weights.append((0.15 if d.weekday() == 5 else 1.0) * rng.uniform(0.7, 1.3)
                               * (1.3 if fy == 2020 and d.month in (4, 5, 6, 11, 12, 1) else 1.0))
        n_special = 1 if boundary and WC and WS else 0
        per_day = dict(zip(days, _allocate(WC - n_special, weights)))
        busy = [o for o in days if per_day[o]] or days
        plans[fy] = {"per_day": per_day, "special": n_special,
                     "bad": sorted(rng.choice(busy) for _ in range(max(2, round(WC * 0.0008)))),
                     "WC": WC, "WS": WS, "WP": WP}
        fy_ks = [k for k in range(k_final + 1) if fy_of((_WB_E0 + timedelta(days=14 * k)).date()) == fy]
        dup_exports.update(rng.sample(fy_ks, min(len(fy_ks), max(1, round(math.sqrt(scale))))))

    def call_id() -> str:
        seq[0] += 1
        return f"WBC{seq[0]:07d}"

    def ref(n: int) -> str:
        return f"DEMO{n:07d}"

    def year_state(fy: int) -> dict:
        if fy not in state:
            state.clear()
            pl = plans[fy]
            st = {"succ": _Quota(rng, pl["WS"], pl["WC"]), "new": _Quota(rng, pl["WP"], pl["WS"]),
                  "reached": [], "returning": rng.sample(prev_reached, len(prev_reached)), "fy": fy}
            state[fy] = st
        return state[fy]

    def make_call(st: dict, t_local: datetime, force_success: bool = False) -> tuple[datetime, str]:
        success = st["succ"].take(force=force_success)
        if success:
            if st["new"].take(force=not st["reached"]):
                if st["returning"] and rng.random() < 0.35:
                    r = st["returning"].pop()
                else:
                    next_ref[0] += 1 + (rng.random() < 0.2)
                    r = next_ref[0]
                st["reached"].append(r)
            else:
                reached = st["reached"]
                r = reached[int(len(reached) * rng.random() ** 1.3)]
            outcome, dur = "successful", rng.randint(180, 2700)
        else:
            if st["reached"] and rng.random() < 0.5:
                r = rng.choice(st["reached"])
            else:
                r = rng.randint(12000, next_ref[0] + 500)
            outcome = rng.choices(("no_answer", "voicemail", "wrong_number", "declined", "callback_requested"),
                                  (45, 30, 5, 8, 12))[0]
            dur = {"no_answer": 0, "voicemail": rng.randint(15, 90), "wrong_number": rng.randint(5, 40),
                   "declined": rng.randint(10, 120), "callback_requested": rng.randint(30, 180)}[outcome]
        direction = "inbound" if (success and rng.random() < 0.15) else "outbound"
        t_utc = _local_to_utc(t_local)
        staff = f"WB{rng.randint(1, 14):02d}"
        cid = call_id()
        return t_utc, f"{cid},{ref(r)},{t_utc:%Y-%m-%dT%H:%M:%S}Z,{staff},{direction},{outcome},{dur}"

    flushed = [-1]

    def flush(upto: int) -> None:
        for k in range(flushed[0] + 1, min(upto, k_final) + 1):
            e = _WB_E0 + timedelta(days=14 * k)
            lo = e - timedelta(days=21)
            rows = sorted((r for r in window if lo <= r[0] < e), key=lambda r: (r[0], r[1]))
            lines = [",".join(HEADERS["wellbeing_calls"])] + [r[1] for r in rows]
            excel = e.date() >= date(2023, 4, 1)
            data = _encode(lines, crlf=excel, bom=excel)
            folder = f"wellbeing_calls/{_fy_folder(fy_of(e.date()))}"
            rel = f"{folder}/call_log_{e.date().isoformat()}.csv"
            L.write(rel, data, "wellbeing_calls", rows=len(rows), rejected=sum(1 for r in rows if r[2]))
            if k in dup_exports:
                L.copy(f"{folder}/resent/call_log_{e.date().isoformat()}.csv", data, "wellbeing_calls", rel)
            while window and window[0][0] < e - timedelta(days=7):
                window.popleft()
            flushed[0] = k

    for o in range(data_start.toordinal(), data_end.toordinal() + 1):
        d = date.fromordinal(o)
        fy = fy_of(d)
        st = year_state(fy)
        pl = plans[fy]
        day_calls = []
        if pl["special"] and d == _fy_start(fy):
            pl["special"] = 0
            # 00:30 BST on 1 April = 23:30Z on 31 March: belongs to the new year.
            t_utc, text = make_call(st, _at(d, 30), force_success=True)
            assert f"{t_utc:%Y-%m-%dT%H:%M:%S}" == f"{d.year}-03-31T23:30:00"
            info["boundary_call_id"] = text.split(",", 1)[0]
            day_calls.append((t_utc, text, False))
        n = pl["per_day"].get(o, 0)
        minutes = sorted(rng.randint(540, 1110) for _ in range(n))
        for m in minutes:
            t_utc, text = make_call(st, _at(d, m, rng.randint(0, 59)))
            day_calls.append((t_utc, text, False))
        for _ in range(pl["bad"].count(o)):
            kind = info["bad_rows_planned"] % 3
            info["bad_rows_planned"] += 1
            t_utc = _local_to_utc(_at(d, rng.randint(540, 1100), 7))
            f = [call_id(), ref(rng.randint(12000, next_ref[0] + 10)), f"{t_utc:%Y-%m-%dT%H:%M:%S}Z",
                 f"WB{rng.randint(1, 14):02d}", "outbound", "no_answer", "0"]
            if kind == 0:
                f[0] = ""
            elif kind == 1:
                f[2] = rng.choice((f"{d.year}-02-30T{t_utc:%H:%M:%S}Z", f"{d:%d/%m/%Y} {t_utc:%H:%M}"))
            else:
                if rng.random() < 0.5:
                    f[5] = "engaged"
                else:
                    f[4] = "internal"
            day_calls.append((t_utc, ",".join(f), True))
        day_calls.sort(key=lambda r: r[0])
        window.extend(day_calls)
        if fy == MESS_FY and d == date(2022, 3, 21):
            # An export still being written: new calls in 2021/22 and a cut-off last line.
            lines = [",".join(HEADERS["wellbeing_calls"])]
            for i in range(4):
                lines.append(f"WBC9{i:06d},DEMO9{i:06d},2022-03-2{i}T10:1{i}:00Z,WB03,outbound,successful,600")
            lines.append("WBC9000004,DEMO9000004,2022-03-2")
            rel = f"wellbeing_calls/{_fy_folder(fy)}/call_log_2022-03-28.csv.part"
            L.write(rel, "\n".join(lines).encode(), "wellbeing_calls", status="ignored")
            info["part_files"].append(rel)
        # Exports whose 21-day window can receive no more calls.
        limit = datetime(d.year, d.month, d.day, 23, 0)
        k_safe = flushed[0]
        while k_safe + 1 <= k_final and _WB_E0 + timedelta(days=14 * (k_safe + 1)) <= limit:
            k_safe += 1
        flush(k_safe)
        if d == _fy_end(fy):
            prev_reached = st["reached"]
            assert st["succ"].need == 0 and st["new"].need == 0 and st["succ"].left == 0, "call quotas"
    flush(k_final)


# --------------------------------------------------------------------------- entry point


# --------------------------------------------------------------------------- deprivation lookups
# Small synthetic stand-ins for the published files, with their real headers: an extract of the ONS
# postcode directory and the IoD 2019 File 7. Merseyside is among England's most deprived areas, so
# most of the service's LSOAs are in deciles 1-3. Codes and postcodes are made up (E0199xxxx).

_DECILE_W = (30, 14, 11, 8, 7, 6, 6, 6, 5, 7)  # the demo area's LSOAs by IMD decile
_MEMBER_DECILE_W = (40, 17, 12, 7, 6, 5, 4, 3, 3, 3)  # who comes: more from the most deprived areas
_OUTWARD = ("L1", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "L10", "L11", "L12", "L13", "L14", "L15", "L17",
            "L18", "L19", "L20", "L21", "L22", "L23", "L24", "L25", "L27", "L28", "L30", "L31", "L32", "L33",
            "L36", "PR8", "PR9", "CH41", "CH42", "CH44", "CH45", "CH46", "CH49", "WA9", "WA10")
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
POSTCODE_LSOA_HEADER = ("pcd7", "pcd8", "pcds", "dointr", "doterm", "oscty", "lsoa11cd", "msoa11cd", "ladcd")
IMD_HEADER = ("LSOA code (2011)", "LSOA name (2011)", "Local Authority District code (2019)",
              "Local Authority District name (2019)", "Index of Multiple Deprivation (IMD) Score",
              "Index of Multiple Deprivation (IMD) Rank (where 1 is most deprived)",
              "Index of Multiple Deprivation (IMD) Decile (where 1 is most deprived 10% of LSOAs)")
_LADS = (("E08000012", "Liverpool"), ("E08000014", "Sefton"), ("E08000011", "Knowsley"),
         ("E08000015", "Wirral"), ("E08000013", "St. Helens"))


def _gen_reference(L: _Landing, seed: int) -> dict:
    """The lookups; returns {decile: [postcodes]} plus postcodes outside England ('wales') and
    valid-looking postcodes the lookup does not hold ('missing'), for the register."""
    rng = random.Random(f"{seed}:reference")
    n_lsoa = 600
    deciles = _allocate(n_lsoa, [float(w) for w in _DECILE_W])
    codes, imd_rows, pc_rows = [], [], []
    by_decile: dict[int, list[str]] = {dd: [] for dd in range(1, 11)}
    used: set[str] = set()

    def new_postcode() -> str:
        while True:
            pc = f"{rng.choice(_OUTWARD)} {rng.randint(0, 9)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
            if pc not in used:
                used.add(pc)
                return pc

    i = 0
    for decile, n in enumerate(deciles, start=1):
        for _ in range(n):
            i += 1
            code = f"E0199{i:04d}"
            lad, lad_name = _LADS[i % len(_LADS)]
            rank = rng.randint((decile - 1) * 3284 + 1, decile * 3284)
            imd_rows.append((code, f"{lad_name} {i:03d}{'ABCDE'[i % 5]}", lad, lad_name,
                             f"{max(1.0, 90 - rank / 400):.3f}", str(rank), str(decile)))
            codes.append(code)
            for _ in range(rng.randint(4, 8)):
                pc = new_postcode()
                by_decile[decile].append(pc)
                pc_rows.append((pc, code))
    wales = []
    for j in range(1, 6):  # across the border: an LSOA, but no English IMD decile
        pc = f"CH{rng.choice((5, 6, 7))} {rng.randint(1, 9)}{rng.choice(_INWARD_LETTERS)}{rng.choice(_INWARD_LETTERS)}"
        if pc not in used:
            used.add(pc)
            wales.append(pc)
            pc_rows.append((pc, f"W0100{j:04d}"))
    missing = [new_postcode() for _ in range(40)]  # new builds, typos: valid shape, not in the extract
    pc_rows.sort()
    lines = [",".join(POSTCODE_LSOA_HEADER)]
    for pc, code in pc_rows:
        out, inw = pc.split()
        lines.append(",".join((f"{out:<4}{inw}", f"{out:<4} {inw}", pc, "198001", "", "E99999999", code,
                               "E0299" + code[-4:], "E08000012")))
    # terminated, non-geographic postcodes carry no LSOA: rejected rows (they can resolve nothing)
    for pc in (new_postcode(), new_postcode()):
        out, inw = pc.split()
        lines.append(",".join((f"{out:<4}{inw}", f"{out:<4} {inw}", pc, "198001", "200112", "", "", "", "")))
    L.write("reference/ons/postcode_lsoa_merseyside_2021-05.csv", _encode(lines, crlf=True), "reference",
            rows=len(lines) - 1, rejected=2)
    lines = [",".join(_q(h) for h in IMD_HEADER)] + [_line(r) for r in imd_rows]
    data = _encode(lines, bom=True)
    L.write("reference/iod2019/imd2019_file7_merseyside.csv", data, "reference", rows=len(imd_rows))
    return {"by_decile": by_decile, "wales": wales, "missing": missing}


# --------------------------------------------------------------------------- membership register

_REFERRALS = ("self", "gp", "mental_health_service", "voluntary_sector", "other", "")
_REFERRAL_W = (38, 24, 18, 10, 5, 5)


def _spell(rng: random.Random, pc: str) -> str:
    """A postcode as people type it: any case and spacing."""
    r = rng.random()
    if r < 0.55:
        return pc
    if r < 0.72:
        return pc.lower()
    if r < 0.85:
        return pc.replace(" ", "")
    if r < 0.93:
        return pc.replace(" ", "  ")
    return " " + pc.lower().replace(" ", "") + " "


def _gen_members(L: _Landing, seed: int, years: int, manifest: dict, lsoas: dict) -> list[str]:
    """Whole-register exports, one at the end of 2021/22 (if the demo reaches it) and one at the end
    of the data: members registered since, members who moved, and a re-delivered copy. Returns the
    member ids on the register."""
    rng = random.Random(f"{seed}:members")
    mx = manifest.get("member_id_max", {})
    ids = list(range(104000, max(mx.get("visits", 104217), 113000) + 1)) + \
        list(range(300001, mx.get("pathways", 300000) + 1))
    start, end = date(2016, 1, 4), _fy_end(FIRST_FY + years - 1)
    exports = sorted({min(_fy_end(MESS_FY), end), end})
    people = []
    for n, mid in enumerate(ids):
        if rng.random() < 0.03:
            continue  # never registered (or the number was mistyped at the kiosk): decile unknown
        # ids were issued in order: registration dates follow them
        frac = n / max(1, len(ids) - 1)
        registered = start + timedelta(days=int(frac * (end - start).days * rng.uniform(0.85, 1.0)))
        people.append([f"M{mid}", registered, _member_postcode(rng, lsoas), rng.randint(1941, 2005),
                       rng.choices(_REFERRALS, _REFERRAL_W)[0]])
    for k, export in enumerate(exports):
        if k:  # between exports some members move house
            for p in people:
                if rng.random() < 0.05:
                    p[2] = _member_postcode(rng, lsoas)
        lines, bad = [",".join(("member_id", "registered_on", "postcode", "year_of_birth", "referral_source"))], 0
        for mid, registered, postcode, yob, ref in people:
            if registered > export:
                continue
            yob_s = "" if rng.random() < 0.06 else str(yob)
            reg_s = registered.isoformat()
            if k < len(exports) - 1 and rng.random() < 0.004:  # hand-edited in a spreadsheet (fixed by the newest export)
                bad += 1
                if rng.random() < 0.5:
                    reg_s = registered.strftime("%d/%m/%Y")
                else:
                    yob_s = f"{str(yob)[:2]}?{str(yob)[3]}"
            lines.append(_line((mid, reg_s, postcode, yob_s, ref)))
        rel = f"members/{_fy_folder(fy_of(export))}/members_{export:%Y%m%d}.csv"
        data = _encode(lines, crlf=True, bom=True)
        L.write(rel, data, "members", rows=len(lines) - 1, rejected=bad)
        if k == 0:
            L.copy(f"members/resent/members_{export:%Y%m%d}.csv", data, "members", rel)  # sent again
    return [p[0] for p in people]


def _member_postcode(rng: random.Random, lsoas: dict) -> str:
    r = rng.random()
    if r < 0.03:
        return ""  # not given
    if r < 0.06:
        return rng.choice(rng.choice(list(lsoas["by_decile"].values()))).split()[0]  # outward code only
    if r < 0.07:
        return rng.choice(("NFA", "n/a", "unknown"))  # no fixed abode, placeholders
    if r < 0.10:
        return _spell(rng, rng.choice(lsoas["missing"]))  # not in the lookup
    if r < 0.105:
        return _spell(rng, rng.choice(lsoas["wales"]))  # in the lookup, no English IMD decile
    decile = rng.choices(range(1, 11), [float(w) for w in _MEMBER_DECILE_W])[0]
    return _spell(rng, rng.choice(lsoas["by_decile"][decile]))


# --------------------------------------------------------------------------- wellbeing questionnaires

OUTCOME_HEADER = ("response_id", "member_id", "measure", "timepoint", "completed_on",
                  "item_1", "item_2", "item_3", "item_4", "item_5", "item_6", "item_7")


def _swemwbs_items(rng: random.Random, raw: int) -> list[int]:
    raw = max(7, min(35, raw))
    items = [1] * 7
    for _ in range(raw - 7):
        i = rng.choice([j for j in range(7) if items[j] < 5])
        items[i] += 1
    return items


def _gen_outcomes(L: _Landing, seed: int, scale: float, years: int, register: list[str]) -> None:
    """SWEMWBS (and, for some, ONS4) at baseline and follow-up, one export a month. Realistic mess:
    baselines never followed up, follow-ups too early to pair (under 42 days), incomplete
    questionnaires (a missing item: rejected), and re-exported responses (the same response_id)."""
    rng = random.Random(f"{seed}:outcomes")
    end = _fy_end(FIRST_FY + years - 1)
    responses: list[tuple] = []  # (completed_on, row fields, bad)
    n = 0
    for fy in range(FIRST_FY, FIRST_FY + years):
        for _ in range(max(60, round(520 * scale))):
            n += 1
            mid = rng.choice(register)
            base_on = _fy_start(fy) + timedelta(days=rng.randint(0, 364))
            base_raw = round(rng.gauss(19.5, 4.5))
            ons = rng.random() < 0.45
            base_ons = [rng.randint(2, 8), rng.randint(3, 8), rng.randint(2, 8), rng.randint(2, 9)]
            gain = rng.gauss(2.2, 4.0)
            plan = [("baseline", base_on, base_raw, base_ons)]
            r = rng.random()
            if r < 0.10:  # an early check-in: too soon to pair, then (often) a proper follow-up
                plan.append(("follow_up", base_on + timedelta(days=rng.randint(21, 41)), base_raw + 1, base_ons))
            if r < 0.68:
                follow_raw = round(base_raw + gain)
                follow_ons = [max(0, min(10, v + round(rng.gauss(0.8, 1.5)) * (-1 if k == 3 else 1)))
                              for k, v in enumerate(base_ons)]
                plan.append(("follow_up", base_on + timedelta(days=rng.randint(42, 150)), follow_raw, follow_ons))
            for j, (timepoint, on, raw, ons_items) in enumerate(plan):
                if on > end:
                    continue
                items = _swemwbs_items(rng, raw)
                bad = rng.random() < 0.03
                cells = [str(x) for x in items]
                if bad:
                    cells[rng.randrange(7)] = ""  # a question left blank: the response is rejected
                responses.append((on, [f"R{n:06d}{j}S", mid, "swemwbs", timepoint, on.isoformat(), *cells], bad))
                if ons:
                    responses.append((on, [f"R{n:06d}{j}O", mid, "ons4", timepoint, on.isoformat(),
                                           *[str(x) for x in ons_items], "", "", ""], False))
    responses.sort(key=lambda x: (x[0], x[1][0]))
    months: dict[tuple[int, int], list] = {}
    for on, fields, bad in responses:
        months.setdefault((on.year, on.month), []).append((fields, bad))
    previous: list = []
    for (y, m), rows in sorted(months.items()):
        out = list(rows)
        if previous and rng.random() < 0.25:
            out = previous[-3:] + out  # the system re-exports the last few responses of last month
        lines = [",".join(OUTCOME_HEADER)] + [_line(f) for f, _ in out]
        fy = fy_of(date(y, m, 1))
        L.write(f"outcome_measures/{_fy_folder(fy)}/responses_{y:04d}-{m:02d}.csv", _encode(lines), "outcome_measures",
                rows=len(out), rejected=sum(1 for _, b in out if b))
        previous = rows


def write_demo_landing(root: Path, seed: int = 2122, scale: float = 1.0, years: int = 5) -> dict:
    """Write a synthetic landing zone under ``root`` and return a summary.

    ``root`` gets ``visits/``, ``zoom/``, ``pathways/`` and ``wellbeing_calls/`` (with
    sub-folders). The source folders must not already hold files: the generator never
    deletes anything, and mixing two runs would break the designed figures.

    The summary's ``expected`` maps each financial year (``"2021/22"``) to the twelve KPIs
    the files were designed to give under the contract's rules.
    """
    _check_args(scale, years)
    root = Path(root)
    for s in SOURCES:
        p = root / s
        if p.exists() and any(x.is_file() for x in p.rglob("*")):
            raise FileExistsError(f"{p} already holds files; write the demo into an empty landing root")
    root.mkdir(parents=True, exist_ok=True)
    targets = _targets(years, scale)
    L = _Landing(root)
    manifest: dict = {}
    has_visits = _fy_end(FIRST_FY + years - 1) >= REOPEN
    _gen_visits(L, seed, scale, years, targets, manifest)
    _gen_zoom(L, seed, scale, years, targets, manifest)
    _gen_pathways(L, seed, scale, years, targets, manifest, quarantine_here=not has_visits)
    _gen_calls(L, seed, scale, years, targets, manifest)
    lsoas = _gen_reference(L, seed)
    register = _gen_members(L, seed, years, manifest, lsoas)
    _gen_outcomes(L, seed, scale, years, register)
    total = {k: sum(L.files[s][k] for s in SOURCES) for k in ("written", "ignored", "quarantined", "duplicate",
                                                               "loadable")}
    rows = {s: {"read": r["read"], "loaded": r["read"] - r["rejected"], "rejected": r["rejected"]}
            for s, r in L.rows.items()}
    manifest.update(L.mess)
    return {
        "seed": seed,
        "scale": scale,
        "years": years,
        "financial_years": [fy_label(FIRST_FY + i) for i in range(years)],
        "files": {**L.files, "total": total},
        "rows": rows,
        "expected": expected_kpis(scale, years),
        "mess": manifest,
    }
