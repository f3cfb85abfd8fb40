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


def _is_missing(n) -> bool:
    return n is None or n is pd.NA or (isinstance(n, float) and math.isnan(n))


def _as_count(n) -> int:
    """Counts arrive as DOUBLE from the marts; refuse anything that is not a whole, non-negative number."""
    f = float(n)
    if f < 0 or not f.is_integer():
        raise ValueError(f"not a count: {n!r}")
    return int(f)


def suppress_count(n, disclosure: bool = DISCLOSURE_DEFAULT) -> int | None:
    """The publishable value of one count: None if suppressed (or missing), else rounded to ROUNDING_BASE."""
    if _is_missing(n):
        return None
    c = _as_count(n)
    if not disclosure:
        return c
    if 0 < c <= REDACTION_THRESHOLD:
        return None
    return (c + ROUNDING_BASE // 2) // ROUNDING_BASE * ROUNDING_BASE


def display_count(n, disclosure: bool = DISCLOSURE_DEFAULT) -> str:
    """One count as text: "11,020", "<8", or "n/a" when there is no value at all."""
    if _is_missing(n):
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
