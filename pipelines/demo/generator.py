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

One module per export (``visits``, ``zoom``, ``pathways``, ``wellbeing_calls``, ``members``,
``reference``, ``outcome_measures``) on the shared ``calendar``, ``allocation``, ``targets`` and
``files``; this module writes them in a fixed order (each source draws from its own seeded
generator, so the order only fixes the file tally) and returns the summary.
"""
from __future__ import annotations

from pathlib import Path

from pipelines.demo.calendar import FIRST_FY, REOPEN, fy_end, fy_label
from pipelines.demo.files import HEADERS, SOURCES, Landing
from pipelines.demo.members import write_members
from pipelines.demo.outcome_measures import write_outcome_measures
from pipelines.demo.pathways import write_pathways
from pipelines.demo.reference import write_reference
from pipelines.demo.targets import KPIS, PUBLISHED_2021_22, check_args, expected_kpis, yearly_targets
from pipelines.demo.visits import write_visits
from pipelines.demo.wellbeing_calls import write_wellbeing_calls
from pipelines.demo.zoom import write_zoom

__all__ = [
    "write_demo_landing",
    "expected_kpis",
    "PUBLISHED_2021_22",
    "KPIS",
    "HEADERS",
]


def write_demo_landing(root: Path, seed: int = 2122, scale: float = 1.0, years: int = 5) -> dict:
    """Write a synthetic landing zone under ``root`` and return a summary.

    ``root`` gets ``visits/``, ``zoom/``, ``pathways/`` and ``wellbeing_calls/`` (with
    sub-folders). The source folders must not already hold files: the generator never
    deletes anything, and mixing two runs would break the designed figures.

    The summary's ``expected`` maps each financial year (``"2021/22"``) to the twelve KPIs
    the files were designed to give under the contract's rules.
    """
    check_args(scale, years)
    root = Path(root)
    for s in SOURCES:
        p = root / s
        if p.exists() and any(x.is_file() for x in p.rglob("*")):
            raise FileExistsError(f"{p} already holds files; write the demo into an empty landing root")
    root.mkdir(parents=True, exist_ok=True)
    targets = yearly_targets(years, scale)
    L = Landing(root)
    manifest: dict = {}
    has_visits = fy_end(FIRST_FY + years - 1) >= REOPEN
    write_visits(L, seed, scale, years, targets, manifest)
    write_zoom(L, seed, scale, years, targets, manifest)
    write_pathways(L, seed, scale, years, targets, manifest, quarantine_here=not has_visits)
    write_wellbeing_calls(L, seed, scale, years, targets, manifest)
    lsoas = write_reference(L, seed)
    register = write_members(L, seed, years, manifest, lsoas)
    write_outcome_measures(L, seed, scale, years, register)
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
