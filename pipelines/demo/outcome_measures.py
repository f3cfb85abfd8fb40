"""Wellbeing questionnaires (``outcome_measures/``): SWEMWBS (and ONS4) at baseline and follow-up."""
from __future__ import annotations

import random
from datetime import date, timedelta

from pipelines.demo.calendar import FIRST_FY, fy_end, fy_folder, fy_of, fy_start
from pipelines.demo.files import Landing, csv_line, encode

OUTCOME_HEADER = ("response_id", "member_id", "measure", "timepoint", "completed_on",
                  "item_1", "item_2", "item_3", "item_4", "item_5", "item_6", "item_7")


def _swemwbs_items(rng: random.Random, raw: int) -> list[int]:
    raw = max(7, min(35, raw))
    items = [1] * 7
    for _ in range(raw - 7):
        i = rng.choice([j for j in range(7) if items[j] < 5])
        items[i] += 1
    return items


def write_outcome_measures(L: Landing, seed: int, scale: float, years: int, register: list[str]) -> None:
    """SWEMWBS (and, for some, ONS4) at baseline and follow-up, one export a month. Realistic mess:
    baselines never followed up, follow-ups too early to pair (under 42 days), incomplete
    questionnaires (a missing item: rejected), and re-exported responses (the same response_id)."""
    rng = random.Random(f"{seed}:outcomes")
    end = fy_end(FIRST_FY + years - 1)
    responses: list[tuple] = []  # (completed_on, row fields, bad)
    n = 0
    for fy in range(FIRST_FY, FIRST_FY + years):
        for _ in range(max(60, round(520 * scale))):
            n += 1
            mid = rng.choice(register)
            base_on = fy_start(fy) + timedelta(days=rng.randint(0, 364))
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
        lines = [",".join(OUTCOME_HEADER)] + [csv_line(f) for f, _ in out]
        fy = fy_of(date(y, m, 1))
        L.write(f"outcome_measures/{fy_folder(fy)}/responses_{y:04d}-{m:02d}.csv", encode(lines), "outcome_measures",
                rows=len(out), rejected=sum(1 for _, b in out if b))
        previous = rows
