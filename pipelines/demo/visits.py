"""Kiosk sign-in exports (``visits/``): one file per kiosk per open day, overlapping, with void and
staff sign-ins, bad rows and the named one-off mess."""
from __future__ import annotations

import math
import random
from collections import deque
from datetime import date, timedelta

from pipelines.demo.allocation import Quota, allocate
from pipelines.demo.calendar import FIRST_FY, MESS_FY, REOPEN, closed_day, fy_end, fy_folder, fy_of, fy_start
from pipelines.demo.files import HEADERS, Landing, encode

_PURPOSES = ("course", "pathways", "drop_in", "cafe", "library", "computers", "other")
_PURPOSE_W = (36, 16, 15, 13, 5, 9, 6)


VISIT_SITES = ("WAL", "SOU", "BOO", "PCL", "PSL")
_OPEN_DAYS = {"WAL": (0, 1, 2, 3, 4, 5, 6), "SOU": (0, 1, 2, 3, 4), "BOO": (0, 1, 2, 3, 4),
              "PCL": (1, 3), "PSL": (2, 4)}
_SITE_W = {"WAL": 1.0, "SOU": 0.75, "BOO": 0.85, "PCL": 0.45, "PSL": 0.4}
MONTH_WEIGHTS = {1: 0.95, 2: 1.0, 3: 1.0, 4: 0.95, 5: 1.0, 6: 0.95, 7: 0.85, 8: 0.8, 9: 1.0,
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
        return d >= REOPEN and d.weekday() in _OPEN_DAYS[self.site] and not closed_day(d)


def write_visits(L: Landing, seed: int, scale: float, years: int, targets: dict, manifest: dict) -> None:
    data_end = fy_end(FIRST_FY + years - 1)
    if data_end < REOPEN:
        return
    rng = random.Random(f"{seed}:visits")
    n_main = max(1, math.ceil(math.sqrt(scale) - 1e-9))
    n_peri = max(1, math.ceil(math.sqrt(scale) / 2 - 1e-9))
    kiosks: list[_Kiosk] = []
    for site in VISIT_SITES:
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
        for o in range(max(fy_start(fy), REOPEN).toordinal(), fy_end(fy).toordinal() + 1):
            d = date.fromordinal(o)
            ramp = 1.0
            if d < REOPEN + timedelta(days=120):
                ramp = 0.55 + 0.45 * (o - REOPEN.toordinal()) / 120
            for k in kiosks:
                if not k.open_on(d):
                    continue
                n_site = n_peri if k.peripatetic else n_main
                w = _SITE_W[k.site] / n_site * MONTH_WEIGHTS[d.month] * ramp * rng.uniform(0.6, 1.4)
                if d.weekday() >= 5:
                    w *= 0.5 if d.weekday() == 5 else 0.3
                slots.append((o, k.idx))
                weights.append(w)
        for slot, c in zip(slots, allocate(V, weights)):
            if c:
                alloc[slot] = c
        VM = t["visiting_members"]
        K = VM and max(VM, min(V, round(0.86 * V)))
        years_state[fy] = {"id_q": Quota(rng, K, V), "new_q": Quota(rng, VM, K), "introduced": [],
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
        lo, hi = max(fy_start(mess_fy), REOPEN).toordinal() + 30, fy_end(mess_fy).toordinal() - 10
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
                rel = f"visits/{fy_folder(fy_of(d))}/BOO/.~lock.kiosk_BOO1_{d.isoformat()}.csv#"
                L.write(rel, f",DEMO-KIOSK/kiosk,demo-kiosk,{d.strftime('%d.%m.%Y')} 17:02,"
                             f"file:///C:/Users/kiosk/AppData/Local/Temp;\n".encode(), "visits", status="ignored")
    manifest.setdefault("member_id_max", {})["visits"] = ctx["next_member"]


def _visits_export(L: Landing, k: _Kiosk, d: date, o: int, dup: bool) -> None:
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
    data = encode(lines, crlf, bom)
    rel = f"visits/{fy_folder(fy_of(d))}/{k.site}/kiosk_{k.code}_{d.isoformat()}.csv"
    L.write(rel, data, "visits", rows=len(lines) - 1, rejected=bad)
    if dup:
        L.copy(rel[:-4] + " (1).csv", data, "visits", rel)


def _visits_wrong_header(L: Landing, rng: random.Random, d: date, fresh_member) -> None:
    """An export from an old kiosk build with renamed columns: quarantined whole."""
    lines = ["visit_ref,site,signed_in,member_no,visitor_type,purpose,status"]
    for i in range(6):
        day = d - timedelta(days=i)
        lines.append(f"SOU9-{9000000 + i},SOU,{day.isoformat()} {rng.randint(9, 16):02d}:{rng.randint(0, 59):02d},"
                     f"M{fresh_member()},member,course,ok")
    rel = f"visits/{fy_folder(fy_of(d))}/SOU/kiosk_SOU9_{d.isoformat()}_legacy.csv"
    L.write(rel, encode(lines, True, True), "visits", rows=len(lines) - 1, status="quarantined")


def _visits_part(L: Landing, rng: random.Random, k: _Kiosk, d: date, fresh_member) -> None:
    """An export still being copied in: new visit ids and a cut-off last line."""
    lines = [",".join(HEADERS["visits"])]
    for i in range(5):
        lines.append(f"{k.code}-{8000000 + i},{k.site},{d.isoformat()} {10 + i:02d}:{rng.randint(0, 59):02d}:00,"
                     f"M{fresh_member()},member,cafe,ok")
    lines.append(f"{k.code}-8000005,{k.site},{d.isoformat()} 15:4")
    rel = f"visits/{fy_folder(fy_of(d))}/{k.site}/kiosk_{k.code}_{d.isoformat()}_2.csv.part"
    L.write(rel, "\n".join(lines).encode(), "visits", status="ignored")
