"""The KPI registry: the one list of KPIs (dbt_project/seeds/kpi_registry.csv).

dbt reads it as the seed `kpi_registry` (kpi_annual's KPIs and ratios, the monthly mart's
additive KPIs, the reconciliation); Python reads the same file here (the CLI's order and
formats, the checks, the trace and explain, the dashboards' labels and definitions). Adding a
KPI is one row here plus the SQL of its units in `int_kpi_units` (docs/architecture.md).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pipelines.lib.dbt_project import DBT_PROJECT_DIR


@dataclass(frozen=True)
class Kpi:
    name: str
    order: int
    label: str                     # commissioner-facing name
    kind: str                      # "count" or "ratio"
    numerator: str | None          # ratios: count KPI over count KPI
    denominator: str | None
    additive: bool                 # sums over months and sites (in mart_monthly_by_site)
    unit_kind: str | None          # what one counted unit is (audit_kpi_units.unit_kind)
    unit: str                      # the same, for people reading a trace
    own_role: str | None           # evidence role of the unit's own records
    source: str                    # ledger source of the files behind it
    file_prefix: str | None        # pathways: contacts / prescriptions files only
    rule_models: tuple[str, ...]   # the intermediate models holding its rules
    series_label: str | None       # the source's activity series on the dashboards, if it is one
    card: str | None               # the headline card (a KPI) it is shown on
    card_text: str | None          # its line on that card, "{}" for the value (empty: the card's own)
    definition: str                # in the contract's words (explain, trace, docs)
    plain_definition: str          # in plain words (dashboards' footnotes)

    @property
    def is_ratio(self) -> bool:
        return self.kind == "ratio"

    @property
    def person(self) -> bool:
        """A distinct-person count: annual only, no month or site split."""
        return not self.is_ratio and not self.additive

    @property
    def monthly(self) -> bool:
        return self.additive


def registry_path(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    return project_dir / "seeds" / "kpi_registry.csv"


@cache
def load(path: Path | None = None) -> dict[str, Kpi]:
    """name -> Kpi, in display order."""
    with (path or registry_path()).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    kpis = [Kpi(
        name=r["kpi"], order=int(r["display_order"]), label=r["label"], kind=r["kind"],
        numerator=r["numerator"] or None, denominator=r["denominator"] or None,
        additive=r["additive"] == "true", unit_kind=r["unit_kind"] or None, unit=r["unit_label"],
        own_role=r["own_role"] or None, source=r["source"], file_prefix=r["file_prefix"] or None,
        rule_models=tuple(r["rule_models"].split()), series_label=r["series_label"] or None,
        card=r["card"] or None, card_text=r["card_text"] or None,
        definition=r["definition"], plain_definition=r["plain_definition"],
    ) for r in rows]
    return {k.name: k for k in sorted(kpis, key=lambda k: k.order)}


def names(path: Path | None = None) -> tuple[str, ...]:
    return tuple(load(path))


def ratios(path: Path | None = None) -> dict[str, tuple[str, str]]:
    """ratio KPI -> (numerator, denominator)."""
    return {k.name: (k.numerator, k.denominator) for k in load(path).values() if k.is_ratio}


def counts(path: Path | None = None) -> tuple[str, ...]:
    return tuple(k.name for k in load(path).values() if not k.is_ratio)


def additive(path: Path | None = None) -> tuple[str, ...]:
    return tuple(k.name for k in load(path).values() if k.additive)


def order(path: Path | None = None) -> dict[str, int]:
    """Sort key: registry order first, unknown KPIs after."""
    return {k: i for i, k in enumerate(load(path))}
