"""The membership register (``members/``): whole-register exports with referral source and the
postcode as people type it."""
from __future__ import annotations

import random
from datetime import date, timedelta

from pipelines.demo.calendar import FIRST_FY, MESS_FY, fy_end, fy_folder, fy_of
from pipelines.demo.files import Landing, csv_line, encode
from pipelines.demo.reference import MEMBER_DECILE_WEIGHTS

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


def write_members(L: Landing, seed: int, years: int, manifest: dict, lsoas: dict) -> list[str]:
    """Whole-register exports, one at the end of 2021/22 (if the demo reaches it) and one at the end
    of the data: members registered since, members who moved, and a re-delivered copy. Returns the
    member ids on the register."""
    rng = random.Random(f"{seed}:members")
    mx = manifest.get("member_id_max", {})
    ids = list(range(104000, max(mx.get("visits", 104217), 113000) + 1)) + \
        list(range(300001, mx.get("pathways", 300000) + 1))
    start, end = date(2016, 1, 4), fy_end(FIRST_FY + years - 1)
    exports = sorted({min(fy_end(MESS_FY), end), end})
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
            lines.append(csv_line((mid, reg_s, postcode, yob_s, ref)))
        rel = f"members/{fy_folder(fy_of(export))}/members_{export:%Y%m%d}.csv"
        data = encode(lines, crlf=True, bom=True)
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
    decile = rng.choices(range(1, 11), [float(w) for w in MEMBER_DECILE_WEIGHTS])[0]
    return _spell(rng, rng.choice(lsoas["by_decile"][decile]))
