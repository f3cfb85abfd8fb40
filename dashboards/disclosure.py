"""Statistical disclosure control for everything the dashboards publish.

The rules are the OpenSAFELY ones, kept as named constants so a reviewer can
check them at a glance:

- a count of 1..REDACTION_THRESHOLD is suppressed and shown as "<8";
- every other count is rounded to the nearest ROUNDING_BASE; 0 stays 0
  (a true zero discloses nobody);
- a total is the sum of the controlled cells, never the true total, so it
  cannot be differenced against the cells to recover a suppressed one
  (suppressed cells add 0: a total is "the sum of what is shown");
- a ratio is computed from the controlled counts, so readers can reproduce it
  from the published numbers and it leaks nothing the counts do not; it is not
  shown (None) when either count is suppressed or the denominator is 0.

Control is ON by default. Passing ``disclosure=False`` gives the true figures,
for internal use only; the page says so in a banner. The pipeline reads the
switch from the environment variable ENV_VAR (see from_env): only an explicit
"off" turns control off.

A page applies the rules once, to the data it is given (``control_frames`` for the marts,
``control_quality`` for the quality summary): each count column becomes its controlled value
(nullable Int64, <NA> where suppressed) with its text beside it in ``<column>_shown`` ("11,020",
"<8", "n/a"), and a mean is blanked where the count behind it is suppressed. The figure and table
functions (dashboards.figures, dashboards.outcomes) only ever see controlled frames: totals are
sums of the controlled cells (``shown_total``) and ratios come from them (``ratio``).
"""

from __future__ import annotations

import math
import os
from typing import Iterable, Mapping

import pandas as pd

REDACTION_THRESHOLD = 7
ROUNDING_BASE = 5
DISCLOSURE_DEFAULT = True

ENV_VAR = "OUTCOMES_DISCLOSURE_CONTROL"
ENV_OFF = frozenset({"off", "false", "0", "no"})
ENV_ON = frozenset({"", "on", "true", "1", "yes"})

SUPPRESSED_TEXT = f"<{REDACTION_THRESHOLD + 1}"
NOT_SHOWN_TEXT = "n/a"  # missing value, or a ratio we may not show


def is_missing(n) -> bool:
    return n is None or n is pd.NA or (isinstance(n, float) and math.isnan(n))


def _as_count(n) -> int:
    """Counts arrive as DOUBLE from the marts; refuse anything that is not a whole, non-negative number."""
    f = float(n)
    if f < 0 or not f.is_integer():
        raise ValueError(f"not a count: {n!r}")
    return int(f)


def suppress_count(n, disclosure: bool = DISCLOSURE_DEFAULT) -> int | None:
    """The publishable value of one count: None if suppressed (or missing), else rounded to ROUNDING_BASE."""
    if is_missing(n):
        return None
    c = _as_count(n)
    if not disclosure:
        return c
    if 0 < c <= REDACTION_THRESHOLD:
        return None
    return (c + ROUNDING_BASE // 2) // ROUNDING_BASE * ROUNDING_BASE


def display_count(n, disclosure: bool = DISCLOSURE_DEFAULT) -> str:
    """One count as text: "11,020", "<8", or "n/a" when there is no value at all."""
    if is_missing(n):
        return NOT_SHOWN_TEXT
    c = suppress_count(n, disclosure)
    return SUPPRESSED_TEXT if c is None else f"{c:,}"


def total(cells: Iterable, disclosure: bool = DISCLOSURE_DEFAULT) -> int:
    """Sum of the controlled cells (suppressed and missing cells add 0)."""
    return sum(c for c in (suppress_count(n, disclosure) for n in cells) if c is not None)


def safe_ratio(num, den, disclosure: bool = DISCLOSURE_DEFAULT) -> float | None:
    """num/den from the controlled counts; None if either is suppressed or missing, or den is 0."""
    n, d = suppress_count(num, disclosure), suppress_count(den, disclosure)
    if n is None or d is None or d == 0:
        return None
    return n / d


def apply_to_frame(df: pd.DataFrame, value_col: str = "value", disclosure: bool = DISCLOSURE_DEFAULT) -> pd.DataFrame:
    """A copy of df with value_col controlled, as nullable Int64 (<NA> where suppressed or missing)."""
    out = df.copy()
    out[value_col] = pd.array([suppress_count(v, disclosure) for v in df[value_col]], dtype="Int64")
    return out


# --- applied once, to the frames a page is given ------------------------------------------------

SHOWN = "_shown"  # suffix of the text column beside each controlled count column

# Per mart: the columns holding counts of people or events (controlled), the grain the page
# publishes them at (rows are summed to it first, so each published cell is controlled once),
# and means blanked where their count is suppressed. Marts not listed (outcome_inputs: only
# whether each input arrived) pass through unchanged; they are never printed as numbers.
FRAME_RULES: dict[str, dict] = {
    "kpi_annual": {"counts": ["value"]},  # ratio KPIs: recomputed by the page from the controlled counts
    "monthly": {"counts": ["value"], "grain": ["financial_year", "month", "site_code", "kpi"]},
    "category": {"counts": ["social_prescriptions", "value", "accepted_or_completed"],
                 "grain": ["financial_year", "category"]},
    "funnel": {"counts": ["value"], "grain": ["financial_year", "stage"], "order": "stage_order"},
    "reach_by_decile": {"counts": ["members"]},
    "reach_summary": {"counts": ["members_reached", "members_known_decile", "members_unknown_decile",
                                 "members_decile_1_3", "members_decile_1"]},
    "wellbeing_change": {"counts": ["paired_members", "improved", "worsened"],
                         "means_of": ("paired_members", ["mean_baseline", "mean_follow_up", "mean_change",
                                                         "mean_improvement"])},
    "wellbeing_distribution": {"counts": ["paired_members"]},
}
# Derived shares and ratios in the marts are never printed: the page recomputes them from the
# controlled counts. They are dropped so that no unrounded one can reach a page.
DERIVED_COLUMNS = frozenset({"share_decile_1_3", "share_decile_1", "share_improved", "share_worsened"})


def control_frames(frames: Mapping[str, pd.DataFrame | None],
                   disclosure: bool = DISCLOSURE_DEFAULT) -> dict[str, pd.DataFrame | None]:
    """The page's marts, by name (FRAME_RULES), disclosure-controlled: what every figure and table
    of the page is drawn from. In kpi_annual only the count KPIs are values (a ratio KPI's value is
    <NA>: the page recomputes it from the controlled counts), and the column ``disclosure_control``
    ("on" or "off") says how the frame was controlled, for the KPI table's download."""
    out: dict[str, pd.DataFrame | None] = {}
    for name, df in frames.items():
        rules = FRAME_RULES.get(name)
        if df is None or rules is None:
            out[name] = df
            continue
        df = df.drop(columns=[c for c in df.columns if c in DERIVED_COLUMNS])
        counts = [c for c in rules["counts"] if c in df.columns]
        if "grain" in rules and set(rules["grain"]) <= set(df.columns):
            df = _to_grain(df, rules["grain"], counts, rules.get("order"))
        if name == "kpi_annual" and "kpi" in df.columns:
            df = df.assign(value=df["value"].where(~df["kpi"].isin(_ratio_kpis())))
        df = _control_columns(df, counts, disclosure)
        if "means_of" in rules and rules["means_of"][0] in df.columns:
            count, means = rules["means_of"]
            for m in (m for m in means if m in df.columns):
                df[m] = df[m].where(df[count].notna())
        if name == "kpi_annual":
            df["disclosure_control"] = "on" if disclosure else "off"
        out[name] = df
    return out


def _to_grain(df: pd.DataFrame, grain: list[str], counts: list[str], order: str | None) -> pd.DataFrame:
    """Rows summed to the published grain (a no-op for a mart already at it), first-seen order kept;
    `order` (a stage order) sorts first and keeps each group's first value."""
    if "month" in grain:
        df = df.assign(month=pd.to_datetime(df["month"]))
    agg = {c: "sum" for c in counts}
    if order and order in df.columns:
        df = df.sort_values(order, kind="stable")
        agg[order] = "first"
    if not agg:
        return df.drop_duplicates(grain)[grain]
    return df.groupby(grain, as_index=False, sort=False).agg(agg)


def _control_columns(df: pd.DataFrame, counts: list[str], disclosure: bool) -> pd.DataFrame:
    """Each count column controlled (nullable Int64), its text in <column>_shown."""
    out = df.copy()
    for c in counts:
        out[c + SHOWN] = pd.Series([display_count(v, disclosure) for v in df[c]], index=df.index, dtype=object)
        out[c] = pd.array([suppress_count(v, disclosure) for v in df[c]], dtype="Int64")
    return out


def _ratio_kpis() -> set[str]:
    from pipelines.lib import kpi_registry

    return {k.name for k in kpi_registry.load().values() if k.is_ratio}


def control_quality(quality: Mapping | None, disclosure: bool = DISCLOSURE_DEFAULT) -> Mapping | None:
    """The quality summary with every count that is not of files as its controlled text: files
    are not people (shown exactly); rows and any other whole number are controlled."""
    if not quality:
        return quality

    def walk(key, v):
        if isinstance(v, Mapping):
            return {k: walk(k, x) for k, x in v.items()}
        if isinstance(v, bool) or str(key).lower().startswith("files"):
            return v
        if isinstance(v, int) or (isinstance(v, float) and v.is_integer()):
            return display_count(v, disclosure)
        return v

    out = dict(quality)
    for key, v in quality.items():
        if key == "sources":
            out[key] = {src: walk(src, counts) for src, counts in (v or {}).items()}
        elif key not in ("status", "summary", "as_of", "checks", "years"):
            out[key] = walk(key, v)
    return out


def ratio(num, den) -> float | None:
    """num/den of two controlled counts; None if either is suppressed or missing, or den is 0."""
    if is_missing(num) or is_missing(den) or den == 0:
        return None
    return num / den


def shown_total(cells: Iterable) -> int:
    """Sum of controlled cells (suppressed and missing cells add 0): a total of what is shown."""
    return int(sum(0 if is_missing(c) else c for c in cells))


def from_env(environ: Mapping[str, str] | None = None) -> bool:
    """The disclosure switch from ENV_VAR: True (control on) unless it is set to off/false/0/no.

    Any other value is refused rather than guessed at: a typo must not decide
    whether unrounded figures are published."""
    raw = (os.environ if environ is None else environ).get(ENV_VAR, "")
    value = raw.strip().lower()
    if value in ENV_OFF:
        return False
    if value in ENV_ON:
        return True
    raise ValueError(f"{ENV_VAR}={raw!r}: use 'on' (the default) or 'off' (internal use only)")
