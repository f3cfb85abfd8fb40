"""Pathway advisors' case-management exports (``pathways/``): contacts and social prescriptions,
re-exported as records change, with cancelled, deleted, withdrawn and orphan records."""
from __future__ import annotations

import math
import random
from array import array
from datetime import date, datetime, timedelta

from pipelines.demo.allocation import allocate
from pipelines.demo.calendar import (
    FIRST_FY,
    LONDON,
    MESS_FY,
    REOPEN,
    UTC,
    at_minute,
    closed_day,
    fy_end,
    fy_folder,
    fy_label,
    fy_of,
    fy_start,
)
from pipelines.demo.files import HEADERS, Landing, csv_line, encode, quote
from pipelines.demo.visits import MONTH_WEIGHTS, VISIT_SITES

_REFERRED_TO = (
    "Demo Housing Association", "Example Credit Union", "Sample Advice Service (demo)",
    "Testwood Community Garden", "Placeholder Food Pantry", "Mockford Job Club",
    "Example Debt Advice Centre, Bootle", "Fictionby Walking Group", "Demo Library Service",
    "Synthwell Adult Learning", 'The "Open Door" Drop-in (demo)', "Sandboxer Leisure Centre",
    "Exampleton Volunteer Centre", "Sample Benefits Helpline", "Loremson Men's Shed",
)
_CATEGORIES = ("housing", "debt", "benefits", "employment", "wellbeing", "learning", "volunteering",
               "community", "physical_activity", "other")
_CATEGORY_W = (12, 14, 16, 6, 18, 10, 5, 10, 6, 3)


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


def write_pathways(L: Landing, seed: int, scale: float, years: int, targets: dict, manifest: dict,
                  quarantine_here: bool) -> None:
    rng = random.Random(f"{seed}:pathways")
    data_start, data_end = fy_start(FIRST_FY), fy_end(FIRST_FY + years - 1)
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
        return at_minute(d, rng.randint(lo_min, hi_min), rng.randint(0, 59))

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
            folder = f"pathways/{fy_folder(fy_of(ed))}"
            for which, name, rows in ((0, "contacts", c_rows), (1, "prescriptions", p_rows)):
                rows.sort(key=lambda r: (r[0], r[1][0]))
                lines = [",".join(HEADERS[name])]
                for t, fields, _bad in rows:  # fields are CSV-safe (referred_to pre-quoted)
                    lines.append(",".join(fields) + "," + _updated_at(t, ed))
                data = encode(lines, crlf, bom)
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
        for o in range(fy_start(fy).toordinal(), fy_end(fy).toordinal() + 1):
            d = date.fromordinal(o)
            if d.weekday() < 5 and not closed_day(d):
                days.append(o)
                weights.append(MONTH_WEIGHTS[d.month] * rng.uniform(0.7, 1.3))
        per_day = dict(zip(days, allocate(C, weights)))
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
            site = rng.choices(VISIT_SITES, (30, 22, 26, 12, 10))[0]
        else:
            site = "" if rng.random() < 0.6 else rng.choice(("WAL", "SOU", "BOO"))
        return mid, adv, site, mode

    def presc(cid: str, d: date, created: date, t_made: datetime, final: str) -> str:
        pid = new_id("p")
        cat = rng.choices(_CATEGORIES, _CATEGORY_W)[0]
        ref = quote(rng.choice(_REFERRED_TO))
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
                span = (at_minute(d, 540) - t_b).total_seconds()
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
            f = [new_id("p"), f"C{ids['c']}", rng.choices(_CATEGORIES, _CATEGORY_W)[0], quote(rng.choice(_REFERRED_TO)),
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
        if d == fy_end(fy):
            assert pl["i"] == len(pl["ks"]), "pathway contact quota"
            if pl["pending"]:
                info.setdefault("mess_not_placed", {})[fy_label(fy)] = sorted(pl["pending"])
    flush(k_final)
    manifest.setdefault("member_id_max", {})["pathways"] = fresh_member[0]

    if hidden_rows:
        # A half-written export (hidden temp name): "deletes" three counted contacts.
        t_h = datetime.combine(data_end + timedelta(days=16), datetime.min.time()) + timedelta(hours=5)
        lines = [",".join(HEADERS["contacts"])] + [csv_line(r + [_updated_at(t_h, data_end)]) for r in hidden_rows]
        rel = f"pathways/{fy_folder(MESS_FY)}/.contacts_{(data_end + timedelta(days=16)).isoformat()}.csv.tmp"
        L.write(rel, encode(lines), "pathways", status="ignored")
    if quarantine_here:
        d = date(FIRST_FY, 11, 16)
        lines = ["contact_id,member_id,site_code,contact_date,mode,outcome,updated_at"]
        for i in range(4):
            lines.append(f"C9{i:06d},M{400000 + i},WAL,{d.isoformat()},phone,attended,{d.isoformat()}T10:0{i}:00+00:00")
        L.write(f"pathways/{fy_folder(FIRST_FY)}/contacts_{d.isoformat()}_manual.csv", encode(lines),
                "pathways", rows=4, status="quarantined")
