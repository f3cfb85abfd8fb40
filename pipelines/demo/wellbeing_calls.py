"""The wellbeing team's call logs (``wellbeing_calls/``): every call attempt, the successful contacts
and the people reached, plus bad rows and the named one-off mess."""
from __future__ import annotations

import math
import random
from collections import deque
from datetime import date, datetime, timedelta

from pipelines.demo.allocation import Quota, allocate
from pipelines.demo.calendar import (
    FIRST_FY,
    MESS_FY,
    at_minute,
    closed_day,
    fy_end,
    fy_folder,
    fy_of,
    fy_start,
    local_to_utc,
)
from pipelines.demo.files import HEADERS, Landing, encode
from pipelines.demo.targets import wellbeing_targets

_WB_E0 = datetime(2020, 4, 13, 6, 0)  # first fortnightly export (UTC); each covers 21 days


def write_wellbeing_calls(L: Landing, seed: int, scale: float, years: int, targets: dict, manifest: dict) -> None:
    rng = random.Random(f"{seed}:calls")
    data_start, data_end = fy_start(FIRST_FY), fy_end(FIRST_FY + years - 1)
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
        WC, WS, WP = wellbeing_targets(t)
        boundary = fy == 2022
        days, weights = [], []
        for o in range(fy_start(fy).toordinal(), fy_end(fy).toordinal() + 1):
            d = date.fromordinal(o)
            if d.weekday() < 6 and not closed_day(d):
                days.append(o)
                weights.append((0.15 if d.weekday() == 5 else 1.0) * rng.uniform(0.7, 1.3)
                               * (1.3 if fy == 2020 and d.month in (4, 5, 6, 11, 12, 1) else 1.0))
        n_special = 1 if boundary and WC and WS else 0
        per_day = dict(zip(days, allocate(WC - n_special, weights)))
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
            st = {"succ": Quota(rng, pl["WS"], pl["WC"]), "new": Quota(rng, pl["WP"], pl["WS"]),
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
        t_utc = local_to_utc(t_local)
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
            data = encode(lines, crlf=excel, bom=excel)
            folder = f"wellbeing_calls/{fy_folder(fy_of(e.date()))}"
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
        if pl["special"] and d == fy_start(fy):
            pl["special"] = 0
            # 00:30 BST on 1 April = 23:30Z on 31 March: belongs to the new year.
            t_utc, text = make_call(st, at_minute(d, 30), force_success=True)
            assert f"{t_utc:%Y-%m-%dT%H:%M:%S}" == f"{d.year}-03-31T23:30:00"
            info["boundary_call_id"] = text.split(",", 1)[0]
            day_calls.append((t_utc, text, False))
        n = pl["per_day"].get(o, 0)
        minutes = sorted(rng.randint(540, 1110) for _ in range(n))
        for m in minutes:
            t_utc, text = make_call(st, at_minute(d, m, rng.randint(0, 59)))
            day_calls.append((t_utc, text, False))
        for _ in range(pl["bad"].count(o)):
            kind = info["bad_rows_planned"] % 3
            info["bad_rows_planned"] += 1
            t_utc = local_to_utc(at_minute(d, rng.randint(540, 1100), 7))
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
            rel = f"wellbeing_calls/{fy_folder(fy)}/call_log_2022-03-28.csv.part"
            L.write(rel, "\n".join(lines).encode(), "wellbeing_calls", status="ignored")
            info["part_files"].append(rel)
        # Exports whose 21-day window can receive no more calls.
        limit = datetime(d.year, d.month, d.day, 23, 0)
        k_safe = flushed[0]
        while k_safe + 1 <= k_final and _WB_E0 + timedelta(days=14 * (k_safe + 1)) <= limit:
            k_safe += 1
        flush(k_safe)
        if d == fy_end(fy):
            prev_reached = st["reached"]
            assert st["succ"].need == 0 and st["new"].need == 0 and st["succ"].left == 0, "call quotas"
    flush(k_final)
