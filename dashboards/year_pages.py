"""Which year pages need drawing again: a fingerprint per page of everything it is drawn from.

Drawing a year's page (its Plotly figures) is most of the dashboard step's time, and a day's
exports usually change one year. A year page shows that year's and the year before's rows of
every mart, the site periods of the whole monthly mart (when a site opened or closed), the
list of years (its navigation), its year's quality status and notes, under a disclosure
setting, drawn by this package's code. The fingerprint hashes exactly those; a page whose
fingerprint equals the one it was last written with is left as it is. The run's own quality
summary (files, rows, checks, newest file) is on the index only, which is written every run.
A full refresh draws every page (pipelines/assets/dashboards.py).
"""
from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path
from typing import Mapping

import pandas as pd

from pipelines.lib import kpi_registry
from pipelines.lib.atomic import write_text

from . import figures as fg
from .kpis import previous_year, year_slug
from .page import render_dashboard, year_quality

STATE = ".year-pages.json"  # in the dashboards folder, beside the pages it describes
CODE = [*sorted(Path(__file__).parent.glob("*.py")),
        Path(__file__).parents[1] / "pipelines" / "assets" / "dashboards.py"]  # what reads the marts


def code_version() -> str:
    """The code and the settings that draw a page: this package, the asset reading the marts,
    the KPI registry (labels, cards) and Plotly."""
    h = hashlib.sha256(f"plotly {version('plotly')}\n".encode())
    for path in [*CODE, kpi_registry.registry_path()]:
        h.update(f"{path.name}\n".encode() + (path.read_bytes() if path.exists() else b"<missing>"))
    return h.hexdigest()


def frame_digest(df: pd.DataFrame | None) -> str:
    """Rows as text, in sorted order: the same rows in another order are the same data."""
    if df is None:
        return "none"
    rows = sorted(json.dumps([str(v) for v in row]) for row in df.itertuples(index=False, name=None))
    return hashlib.sha256(json.dumps([list(map(str, df.columns)), [str(t) for t in df.dtypes], rows]).encode()).hexdigest()


def year_rows(df: pd.DataFrame | None, years: set[str]) -> pd.DataFrame | None:
    """The rows of `years`; a frame without financial years is taken whole."""
    if df is None or "financial_year" not in df.columns:
        return df
    return df[df["financial_year"].isin(years)]


def fingerprints(frames: Mapping[str, pd.DataFrame | Mapping], quality: Mapping | None, disclosure: bool) -> dict[str, str]:
    """Financial year -> fingerprint of its page, for every year of frames["kpi_annual"].
    `frames`: the marts as the asset reads them (outcome marts nested under "outcomes")."""
    flat = {k: v for k, v in frames.items() if isinstance(v, pd.DataFrame) and k != "ledger"}
    flat.update({f"outcomes.{k}": v for k, v in (frames.get("outcomes") or {}).items()})
    years = sorted(frames["kpi_annual"]["financial_year"].dropna().unique())
    shared = [code_version(), f"disclosure={bool(disclosure)}", json.dumps(years),
              frame_digest(fg.site_periods(frames.get("monthly")))]
    out = {}
    for y in years:
        shown = {y, previous_year(y)}
        parts = shared + [json.dumps(year_quality(quality, y), sort_keys=True, default=str)]
        parts += [f"{name}:{frame_digest(year_rows(df, shown))}" for name, df in sorted(flat.items())]
        out[y] = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return out


def load(out_dir: Path) -> dict[str, str]:
    """The fingerprints the pages in `out_dir` were written with; {} if none or unreadable."""
    try:
        state = json.loads((Path(out_dir) / STATE).read_text())
        return {str(k): str(v) for k, v in state.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def to_draw(out_dir: Path, now: Mapping[str, str], *, everything: bool = False) -> set[str]:
    """The years whose page is missing or was drawn from other data or code."""
    before = {} if everything else load(out_dir)
    return {y for y, fp in now.items() if before.get(y) != fp or not (Path(out_dir) / f"{year_slug(y)}.html").exists()}


def save(out_dir: Path, now: Mapping[str, str]) -> None:
    """After the pages are written: a run killed before this draws them again next time."""
    write_text(Path(out_dir) / STATE, json.dumps(dict(sorted(now.items())), indent=1) + "\n")


def render_changed(marts: Mapping, quality: Mapping | None, disclosure: bool, out_dir: Path,
                   *, everything: bool = False) -> tuple[Path, set[str]]:
    """Draw the pages of the years that changed (every year with `everything`) and the index;
    returns the index and the years drawn. `marts`: as pipelines.assets.dashboards reads them."""
    now = fingerprints(marts, quality, disclosure)
    redraw = to_draw(out_dir, now, everything=everything)
    index = render_dashboard(marts["kpi_annual"], marts["monthly"], out_dir, disclosure=disclosure,
                             category=marts.get("category"), funnel=marts.get("funnel"), quality=quality,
                             outcomes=marts.get("outcomes"), only=redraw)
    save(out_dir, now)
    return index, redraw
