"""The designed figures: each financial year's KPI counts at a scale, and the KPIs they give."""
from __future__ import annotations

import math

from pipelines.demo.calendar import FIRST_FY, fy_label

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


def _base_for(fy: int) -> dict:
    if fy in _BASE:
        return dict(_BASE[fy])
    last = max(_BASE)
    g = 1.03 ** (fy - last)
    return {k: round(v * g) for k, v in _BASE[last].items()}


def yearly_targets(years: int, scale: float) -> dict[int, dict[str, int]]:
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
    check_args(scale, years)
    res = {}
    for fy, t in yearly_targets(years, scale).items():
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


def check_args(scale: float, years: int) -> None:
    if not (isinstance(years, int) and years >= 1):
        raise ValueError("years must be an integer >= 1")
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError("scale must be a positive number")


def wellbeing_targets(t: dict[str, int]) -> tuple[int, int, int]:
    """A year's designed wellbeing figures: calls, successful contacts, people reached."""
    return t["wellbeing_calls"], t["wellbeing_successful_contacts"], t["wellbeing_people_reached"]
