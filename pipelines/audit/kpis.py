"""Which KPI a trace concerns: its counted parts and the ledger files behind it.

What each KPI is (its definition, unit, source and rule models) is the KPI registry
(pipelines/lib/kpi_registry.py); the rules themselves live in the dbt intermediate models.
"""
from __future__ import annotations

from pipelines.lib import kpi_registry


def components(kpi: str) -> tuple[str, ...]:
    """The count KPIs a KPI traces to: itself, or a ratio's numerator and denominator."""
    return kpi_registry.ratios().get(kpi, (kpi,))


def file_in_scope(kpi: str, source: str, file_path: str) -> bool:
    """Does a ledger file (source, landing-relative path) belong to the KPI's source files?"""
    k = kpi_registry.load()[kpi]
    if source != k.source:
        return False
    if k.file_prefix is None:
        return True
    name = file_path.rsplit("/", 1)[-1].lower()
    # A pathways file named neither contacts* nor prescriptions* is quarantined: it concerns both.
    return name.startswith(k.file_prefix) or not name.startswith(("contacts", "prescriptions"))
