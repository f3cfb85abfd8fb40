"""Every quality threshold in one place: named constants, each overridable by an environment
variable (documented in docs/quality.md). Read at check time, so a changed variable applies to
the next run without code changes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from pipelines.lib.contracts import ACTIVITY_SOURCES

# --- freshness: how often each source is expected to deliver a new file -----------------------
# A source is stale when its newest loaded file (ledger.files.loaded_at, status 'loaded') is
# older than this many days, or when it has never delivered. Kiosks export daily (each export
# covers the last 7 days); Zoom writes one file per meeting occurrence (weekly courses);
# pathways and wellbeing-call exports are weekly. A week plus a day of grace, except the call
# log, which the team sends fortnightly.
FRESHNESS_MAX_AGE_DAYS: dict[str, int] = {
    "visits": 8,
    "zoom": 8,
    "pathways": 8,
    "wellbeing_calls": 15,
}
FRESHNESS_ENV = "OUTCOMES_FRESHNESS_DAYS_{source}"  # e.g. OUTCOMES_FRESHNESS_DAYS_ZOOM=30

# --- year-on-year movement of the additive KPIs --------------------------------------------------
# The latest financial year's months so far are compared with the same months a year earlier;
# a KPI that moved by more than this percentage (either way) is a warning.
KPI_MOVEMENT_PCT = 25.0
KPI_MOVEMENT_PCT_ENV = "OUTCOMES_KPI_MOVEMENT_PCT"
# ... unless last year's figure for those months is below this: small bases swing wildly.
KPI_MOVEMENT_MIN_BASE = 20
KPI_MOVEMENT_MIN_BASE_ENV = "OUTCOMES_KPI_MOVEMENT_MIN_BASE"

# --- report --------------------------------------------------------------------------------------
SAMPLE_ROWS = 5  # failing rows shown per failed expectation / dbt test
SAMPLE_ROWS_ENV = "OUTCOMES_QUALITY_SAMPLE_ROWS"

# Great Expectations suites (expectations/*.yml); a test may point this elsewhere.
EXPECTATIONS_DIR_ENV = "OUTCOMES_EXPECTATIONS_DIR"


def _number(env: str, default: float) -> float:
    raw = os.environ.get(env)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{env}={raw!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{env}={raw!r} must be 0 or more")
    return value


@dataclass(frozen=True)
class QualityConfig:
    freshness_max_age_days: dict[str, float]
    kpi_movement_pct: float
    kpi_movement_min_base: float
    sample_rows: int


def load() -> QualityConfig:
    """The thresholds in force now: constants above, overridden by the environment."""
    return QualityConfig(
        freshness_max_age_days={
            s: _number(FRESHNESS_ENV.format(source=s.upper()), FRESHNESS_MAX_AGE_DAYS[s]) for s in ACTIVITY_SOURCES},
        kpi_movement_pct=_number(KPI_MOVEMENT_PCT_ENV, KPI_MOVEMENT_PCT),
        kpi_movement_min_base=_number(KPI_MOVEMENT_MIN_BASE_ENV, KPI_MOVEMENT_MIN_BASE),
        sample_rows=int(_number(SAMPLE_ROWS_ENV, SAMPLE_ROWS)),
    )
