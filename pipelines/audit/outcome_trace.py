"""`outcomes trace` for the outcome figures: members reached (by IMD decile) and SWEMWBS paired
members, each counted unit with its file:line evidence (dbt view audit_outcome_units).

    outcomes trace members_reached --year 2021/22 --decile 1
    outcomes trace swemwbs_paired_members --year 2021/22

The published figure is read back from the mart the dashboards use (mart_reach_by_deprivation,
site ALL; mart_wellbeing_change) and must equal the number of units listed, as for the KPIs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from pipelines.lib.errors import UsageError

DECILES = tuple(str(d) for d in range(1, 11)) + ("unknown",)


@dataclass(frozen=True)
class OutcomeFigure:
    name: str
    definition: str
    published_from: str
    year_sql: str
    published_sql: str  # $y, optional $d
    decile: bool = False


FIGURES = {f.name: f for f in (
    OutcomeFigure(
        "members_reached",
        "Distinct members with a counted visit or a counted pathway contact in the financial year, by the IMD 2019 "
        "decile of the LSOA of their postcode on the register (newest export); 'unknown' when not on the register, "
        "without a full postcode in the lookup, or in an LSOA the IMD lookup lacks.",
        "mart_reach_by_deprivation",
        "SELECT DISTINCT financial_year FROM main.mart_reach_by_deprivation ORDER BY 1",
        "SELECT coalesce(sum(members), 0) FROM main.mart_reach_by_deprivation "
        "WHERE financial_year = $y AND site_code = 'ALL' AND ($d IS NULL OR imd_decile = $d)",
        decile=True),
    OutcomeFigure(
        "swemwbs_paired_members",
        "Members with a SWEMWBS pair whose follow-up is in the financial year: their earliest baseline and their latest "
        "follow-up completed at least 42 days after it.",
        "mart_wellbeing_change",
        "SELECT DISTINCT financial_year FROM main.mart_wellbeing_change WHERE measure = 'swemwbs' ORDER BY 1",
        "SELECT coalesce(sum(paired_members), 0) FROM main.mart_wellbeing_change "
        "WHERE financial_year = $y AND measure = 'swemwbs' AND $d IS NULL"),
)}


def trace(con, kpi: str, year: str | None, decile: str | None, *, site=None, month=None, excluded=False):
    from pipelines.audit.trace import Evidence, Trace, Unit

    f = FIGURES[kpi]
    if excluded or site is not None or month is not None:
        raise UsageError(f"{kpi} is traced per year{' and IMD decile' if f.decile else ''} only: "
                         "drop --site/--month/--excluded")
    if decile is not None:
        decile = decile.strip().lower()
        if not f.decile:
            raise UsageError(f"--decile applies to members_reached only, not {kpi}")
        if decile not in DECILES:
            raise UsageError(f"--decile {decile!r}: use 1..10 or unknown")
    years = [y for (y,) in con.execute(f.year_sql).fetchall()]
    if year is not None and year not in years:
        raise UsageError(f"no {kpi} figures for {year}; years with data: {', '.join(years) or 'none'}")
    out = []
    for y in ([year] if year else years):
        rows = con.execute(
            "SELECT financial_year, unit_kind, unit_key, imd_decile, decided_by, evidence FROM main.audit_outcome_units "
            "WHERE kpi = $k AND financial_year = $y AND ($d IS NULL OR imd_decile = $d) ORDER BY unit_key",
            {"k": kpi, "y": y, "d": decile}).fetchall()
        units = [Unit(kpi, fy, kind, key, decided_by=json.loads(d),
                      evidence=[Evidence(e["role"], e["record_key"], e["file_path"], e["line_number"],
                                         e["file_sha256"], e["is_winning"]) for e in ev or []])
                 for fy, kind, key, _, d, ev in rows]
        (published,) = con.execute(f.published_sql, {"y": y, "d": decile}).fetchone()
        out.append(Trace(kpi, y, None, None, float(published), units,
                         scope_note=f"IMD decile {decile}" if decile else None, published_from=f.published_from))
    return out
