"""Plain functions from mart DataFrames to Plotly figures, testable without a browser.

Each chart has a ``*_data`` function that returns the disclosure-controlled
numbers the chart draws (the page prints them as the chart's data table) and a
``*_figure`` function that draws them. Raw counts never leave ``*_data``
except through dashboards.disclosure. Titles state the finding, in words.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import plotly.graph_objects as go

from . import disclosure as dc
from .kpis import KPIS, OKABE_ITO, RATIOS, SITES, kpi_label, previous_year, site_colour, site_label

LAYOUT = dict(
    template="plotly_white",
    font=dict(family="system-ui, -apple-system, 'Segoe UI', Arial, sans-serif", size=14, color="#1a1a1a"),
    title=dict(x=0, xanchor="left", font=dict(size=18)),
    margin=dict(l=60, r=30, t=70, b=60),
    height=440,
)
RISE, FALL = OKABE_ITO["blue"], OKABE_ITO["vermillion"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]  # so series differ by more than colour
HEADLINE_COUNTS = ["visits", "visiting_members", "pathway_contacts", "social_prescriptions",
                   "zoom_sessions", "zoom_members", "zoom_attendances",
                   "wellbeing_calls", "wellbeing_successful_contacts", "wellbeing_people_reached"]


def _year_rows(df: pd.DataFrame | None, year: str) -> pd.DataFrame:
    if df is None or df.empty:
        return pd.DataFrame(columns=[] if df is None else df.columns)
    return df[df["financial_year"] == year]


def _fmt_ratio(r: float | None, pct: bool = False) -> str:
    if r is None:
        return dc.NOT_SHOWN_TEXT
    return f"{r:.0%}" if pct else f"{r:.2f}"


# --- annual KPIs --------------------------------------------------------------

def kpi_table(kpi_annual: pd.DataFrame, year: str, disclosure: bool = dc.DISCLOSURE_DEFAULT) -> pd.DataFrame:
    """The year's KPIs as published: kpi, label, value (controlled; NaN when not shown), shown (text).

    Counts go through suppress_count; ratios are recomputed from the controlled
    counts (the mart's unrounded ratio is never shown).
    """
    raw = dict(zip(*(_year_rows(kpi_annual, year)[c] for c in ("kpi", "value"))))
    kpis = list(KPIS) + sorted(k for k in raw if k not in KPIS)
    rows = []
    for k in kpis:
        if k in RATIOS:
            num, den = RATIOS[k]
            value = dc.safe_ratio(raw.get(num), raw.get(den), disclosure)
            shown = _fmt_ratio(value)
        else:
            value = dc.suppress_count(raw.get(k), disclosure)
            shown = dc.display_count(raw.get(k), disclosure)
        rows.append(dict(financial_year=year, kpi=k, label=kpi_label(k),
                         value=float("nan") if value is None else value, shown=shown))
    return pd.DataFrame(rows)


def year_on_year_data(kpi_annual: pd.DataFrame, year: str, disclosure: bool = dc.DISCLOSURE_DEFAULT) -> pd.DataFrame:
    """Headline counts this year against last year: label, previous, current, change (fraction or None), shown texts."""
    prev = previous_year(year)
    cur_t = kpi_table(kpi_annual, year, disclosure).set_index("kpi")
    prev_t = kpi_table(kpi_annual, prev, disclosure).set_index("kpi")
    rows = []
    for k in HEADLINE_COUNTS:
        c, p = cur_t.at[k, "value"], prev_t.at[k, "value"]
        change = None if pd.isna(c) or pd.isna(p) or p == 0 else (c - p) / p
        rows.append(dict(kpi=k, label=kpi_label(k), previous_year=prev, previous=prev_t.at[k, "shown"],
                         current=cur_t.at[k, "shown"], change=change,
                         change_shown=dc.NOT_SHOWN_TEXT if change is None else f"{change:+.0%}"))
    return pd.DataFrame(rows)


def change_sentence(label: str, previous: str, current: str, prev_year: str, year: str,
                    change: float | None) -> str:
    """'Visits rose from 9,800 in 2020/21 to 11,020 in 2021/22'."""
    if change is None or pd.isna(change):
        return f"{label}: {current} in {year}"
    verb = "rose" if change > 0 else "fell" if change < 0 else "were unchanged"
    if change == 0:
        return f"{label} {verb} at {current} in {prev_year} and {year}"
    return f"{label} {verb} from {previous} in {prev_year} to {current} in {year}"


def year_on_year_figure(kpi_annual: pd.DataFrame, year: str, disclosure: bool = dc.DISCLOSURE_DEFAULT) -> go.Figure:
    """Percentage change on last year for each headline count (bars left = fell, right = rose)."""
    d = year_on_year_data(kpi_annual, year, disclosure)
    v = d.set_index("kpi").loc["visits"]
    title = change_sentence("Visits", v.previous, v.current, v.previous_year, year, v.change)
    shown = d[d["change"].notna()].iloc[::-1]  # first KPI at the top
    fig = go.Figure(go.Bar(
        x=[c * 100 for c in shown["change"]], y=list(shown["label"]), orientation="h",
        marker_color=[RISE if c >= 0 else FALL for c in shown["change"]],
        text=list(shown["change_shown"]), textposition="outside", cliponaxis=False,
        customdata=list(zip(shown["previous"], shown["current"])),
        hovertemplate="%{y}: %{customdata[0]} → %{customdata[1]} (%{text})<extra></extra>",
    ))
    fig.update_layout(**LAYOUT, title_text=title, showlegend=False)
    fig.update_xaxes(title_text=f"Change from {v.previous_year} (%)", ticksuffix="%", zeroline=True,
                     zerolinecolor="#1a1a1a")
    if shown.empty:
        fig.add_annotation(text=f"No {v.previous_year} figures to compare with", showarrow=False,
                           xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


# --- monthly by site ----------------------------------------------------------

def monthly_data(monthly: pd.DataFrame, year: str, kpis: Sequence[str],
                 disclosure: bool = dc.DISCLOSURE_DEFAULT) -> pd.DataFrame:
    """Controlled monthly counts, one row per month and series (site_code, kpi).

    A series with no row for a month inside the span of months the year has
    data for is a true 0 (the mart only writes non-zero rows), so gaps in the
    chart mean suppression, never absence.
    """
    cols = ["month", "site_code", "kpi", "series", "value", "shown"]
    m = _year_rows(monthly, year)
    if m.empty:
        return pd.DataFrame(columns=cols)
    months = pd.date_range(pd.to_datetime(m["month"]).min(), pd.to_datetime(m["month"]).max(), freq="MS")
    m = m[m["kpi"].isin(kpis)].assign(month=lambda x: pd.to_datetime(x["month"]))
    if m.empty:
        return pd.DataFrame(columns=cols)
    m = m.groupby(["month", "site_code", "kpi"], as_index=False)["value"].sum()
    order = {s: i for i, s in enumerate(SITES)}
    series = sorted(set(zip(m["site_code"], m["kpi"])),
                    key=lambda sk: (list(kpis).index(sk[1]), order.get(sk[0], len(order)), sk[0]))
    grid = pd.MultiIndex.from_tuples([(mo, s, k) for mo in months for s, k in series],
                                     names=["month", "site_code", "kpi"])
    m = m.set_index(["month", "site_code", "kpi"]).reindex(grid, fill_value=0).reset_index()
    several = len(set(kpis)) > 1
    m["series"] = [_series_name(s, k) if several else site_label(s) for s, k in zip(m["site_code"], m["kpi"])]
    m["shown"] = [dc.display_count(v, disclosure) for v in m["value"]]
    m = dc.apply_to_frame(m, "value", disclosure)
    return m[cols]


def _series_name(site: str, kpi: str) -> str:
    """'Walton visits', 'Zoom attendances', 'Phone wellbeing calls'."""
    site, what = site_label(site), kpi_label(kpi)
    return what if what.lower().startswith(site.lower()) else f"{site} {what.lower()}"


def monthly_figure(monthly: pd.DataFrame, year: str, kpis: Sequence[str], subject: str,
                   disclosure: bool = dc.DISCLOSURE_DEFAULT) -> go.Figure:
    """One line per site (Zoom and phone are sites too); suppressed months are gaps."""
    d = monthly_data(monthly, year, kpis, disclosure)
    fig = go.Figure()
    for i, (name, g) in enumerate(d.groupby("series", sort=False)):
        fig.add_trace(go.Scatter(
            x=list(g["month"]), y=[None if pd.isna(v) else int(v) for v in g["value"]], name=name,
            mode="lines+markers", connectgaps=False,
            line=dict(color=site_colour(g["site_code"].iloc[0]), dash=DASHES[i % len(DASHES)], width=2.5),
            customdata=list(g["shown"]), hovertemplate=f"{name}: %{{customdata}}<extra></extra>",
        ))
    fig.update_layout(**LAYOUT, title_text=_peak_sentence(d, subject, year), hovermode="x unified",
                      legend=dict(orientation="h", yanchor="top", y=-0.15, x=0))
    fig.update_xaxes(title_text="Month", dtick="M1", tickformat="%b\n%Y")
    fig.update_yaxes(title_text="Count (per month)", rangemode="tozero", tickformat=",d")
    return fig


def _peak_sentence(d: pd.DataFrame, subject: str, year: str) -> str:
    by_month = d.assign(value=d["value"].fillna(0)).groupby("month")["value"].sum()  # totals of controlled cells
    if by_month.empty or by_month.max() == 0:
        return f"No {subject[0].lower() + subject[1:]} recorded in {year}"
    peak = by_month.idxmax()
    return f"{subject} peaked in {peak:%B %Y} at {int(by_month.max()):,}"


# --- optional marts -----------------------------------------------------------

def category_data(category: pd.DataFrame | None, year: str, disclosure: bool = dc.DISCLOSURE_DEFAULT) -> pd.DataFrame:
    """Controlled social prescriptions by category, largest first.

    Reads the mart's `social_prescriptions` column (or a generic `value`)."""
    c = _year_rows(category, year)
    if c.empty:
        return pd.DataFrame(columns=["category", "label", "value", "shown"])
    col = "social_prescriptions" if "social_prescriptions" in c else "value"
    c = c.groupby("category", as_index=False)[col].sum().rename(columns={col: "value"})
    c["label"] = c["category"].str.replace("_", " ").str.capitalize()
    c["shown"] = [dc.display_count(v, disclosure) for v in c["value"]]
    c = dc.apply_to_frame(c, "value", disclosure)
    return c.sort_values(["value", "label"], ascending=[False, True], na_position="last")[
        ["category", "label", "value", "shown"]].reset_index(drop=True)


def category_figure(category: pd.DataFrame | None, year: str, disclosure: bool = dc.DISCLOSURE_DEFAULT) -> go.Figure:
    """Horizontal bars, largest category at the top."""
    d = category_data(category, year, disclosure)
    tot = int(d["value"].fillna(0).sum())
    if d.empty or tot == 0:
        title = f"No social prescriptions by category in {year}"
    else:
        top = d.iloc[0]
        title = (f"{top.label} was the most common social prescription category in {year} "
                 f"({int(top.value):,} of {tot:,})")
    r = d.iloc[::-1]
    fig = go.Figure(go.Bar(
        x=[None if pd.isna(v) else int(v) for v in r["value"]], y=list(r["label"]), orientation="h",
        marker_color=OKABE_ITO["blue"], text=list(r["shown"]), textposition="outside", cliponaxis=False,
        hovertemplate="%{y}: %{text}<extra></extra>",
    ))
    fig.update_layout(**LAYOUT, title_text=title, showlegend=False)
    fig.update_xaxes(title_text="Social prescriptions", tickformat=",d")
    return fig


def funnel_data(funnel: pd.DataFrame | None, year: str, disclosure: bool = dc.DISCLOSURE_DEFAULT) -> pd.DataFrame:
    """Controlled pathway funnel, stages by `stage_order` (else the mart's row order)."""
    f = _year_rows(funnel, year)
    if f.empty:
        return pd.DataFrame(columns=["stage", "label", "value", "shown"])
    if "stage_order" in f:
        f = f.sort_values("stage_order", kind="stable")
    f = f.groupby("stage", as_index=False, sort=False)["value"].sum()
    f["label"] = f["stage"].str.replace("_", " ").str.capitalize()
    f["shown"] = [dc.display_count(v, disclosure) for v in f["value"]]
    return dc.apply_to_frame(f, "value", disclosure)[["stage", "label", "value", "shown"]]


def funnel_figure(funnel: pd.DataFrame | None, year: str, disclosure: bool = dc.DISCLOSURE_DEFAULT) -> go.Figure:
    """Pathway funnel from first stage to last.

    No percentage in the title: the mart's stages mix units (contacts, then
    prescriptions, of which a contact can have several)."""
    d = funnel_data(funnel, year, disclosure)
    title = f"Pathway funnel, {year}"
    if len(d) >= 2:
        first, last = d.iloc[0], d.iloc[-1]
        title = f"{first.shown} {first.label.lower()} led to {last.shown} {last.label.lower()} in {year}"
    fig = go.Figure(go.Funnel(
        x=[None if pd.isna(v) else int(v) for v in d["value"]], y=list(d["label"]),
        text=list(d["shown"]), textinfo="text", marker_color=OKABE_ITO["bluish_green"],
        hovertemplate="%{y}: %{text}<extra></extra>",
    ))
    fig.update_layout(**LAYOUT, title_text=title, showlegend=False)
    return fig
