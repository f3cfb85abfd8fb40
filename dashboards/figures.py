"""Plain functions from mart DataFrames to Plotly figures, testable without a browser.

Each chart has a ``*_data`` function that returns the numbers the chart draws (the
page prints them as the chart's data table) and a ``*_figure`` function that draws
them. Every function here takes the marts as dashboards.disclosure.control_frames
returns them: counts already controlled, with their text beside them (``<column>_shown``);
totals are sums of the controlled cells and ratios come from them, so nothing here
knows whether control is on. Titles state the finding, in words.
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd
import plotly.graph_objects as go

from pipelines.lib import kpi_registry

from . import disclosure as dc
from .kpis import (FUNNEL_STAGES, OKABE_ITO, PHYSICAL_SITES, SITES, headline_counts, kpi_label, ratios, sources,
                   previous_year, site_colour, site_label)

# The charts' template, given when a chart is drawn (page._chart): set on each figure as it is built,
# plotly validated and copied the whole template every time (~9 ms a figure, ~0.35 s of a 1x run).
TEMPLATE = "plotly_white"
LAYOUT = dict(
    template=None,
    font=dict(family="system-ui, -apple-system, 'Segoe UI', Arial, sans-serif", size=14, color="#1a1a1a"),
    title=dict(x=0, xanchor="left", font=dict(size=18)),
    margin=dict(l=60, r=30, t=70, b=60),
    height=440,
)
RISE, FALL = OKABE_ITO["blue"], OKABE_ITO["vermillion"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"]  # so series differ by more than colour


def _year_rows(df: pd.DataFrame | None, year: str) -> pd.DataFrame:
    if df is None or df.empty:
        return pd.DataFrame(columns=[] if df is None else df.columns)
    return df[df["financial_year"] == year]


def _fmt_ratio(r: float | None, pct: bool = False) -> str:
    if r is None or pd.isna(r):
        return dc.NOT_SHOWN_TEXT
    return f"{r:.0%}" if pct else f"{r:.2f}"


# --- annual KPIs --------------------------------------------------------------

def kpi_table(kpi_annual: pd.DataFrame, year: str) -> pd.DataFrame:
    """The year's KPIs as published: kpi, label, value (controlled; NaN when not shown), shown (text).

    Ratios are recomputed from the controlled counts (the mart's unrounded ratio is never shown).
    """
    rows_ = _year_rows(kpi_annual, year)
    values = dict(zip(rows_["kpi"], rows_["value"]))
    texts = dict(zip(rows_["kpi"], rows_["value" + dc.SHOWN]))
    known, ratio_parts = list(kpi_registry.names()), ratios()
    kpis = known + sorted(k for k in values if k not in known)
    rows = []
    for k in kpis:
        if k in ratio_parts:
            num, den = ratio_parts[k]
            value = dc.ratio(values.get(num), values.get(den))
            shown = _fmt_ratio(value)
        else:
            value = None if dc.is_missing(values.get(k)) else values[k]
            shown = texts.get(k, dc.NOT_SHOWN_TEXT)
        rows.append(dict(financial_year=year, kpi=k, label=kpi_label(k),
                         value=float("nan") if value is None else value, shown=shown))
    return pd.DataFrame(rows)


def year_on_year_data(kpi_annual: pd.DataFrame, year: str) -> pd.DataFrame:
    """Headline counts this year against last year, from the controlled counts.

    Columns: kpi, label, previous_year, previous / current (shown texts),
    previous_value / current_value (controlled numbers, NaN when not shown),
    change (fraction, None when it cannot be computed: a suppressed count or a
    previous 0) and change_shown ("+53%", "up from 0", "n/a").
    """
    prev = previous_year(year)
    cur_t = kpi_table(kpi_annual, year).set_index("kpi")
    prev_t = kpi_table(kpi_annual, prev).set_index("kpi")
    rows = []
    for k in headline_counts():
        c, p = cur_t.at[k, "value"], prev_t.at[k, "value"]
        change = None if pd.isna(c) or pd.isna(p) or p == 0 else (c - p) / p
        if change is not None:
            change_shown = f"{change:+.0%}"
        elif not pd.isna(c) and not pd.isna(p) and p == 0:
            change_shown = "up from 0" if c > 0 else "unchanged"
        else:
            change_shown = dc.NOT_SHOWN_TEXT
        rows.append(dict(kpi=k, label=kpi_label(k), previous_year=prev, previous=prev_t.at[k, "shown"],
                         current=cur_t.at[k, "shown"], previous_value=p, current_value=c, change=change,
                         change_shown=change_shown))
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


def year_on_year_figure(kpi_annual: pd.DataFrame, year: str) -> go.Figure:
    """Percentage change on last year for each headline count (bars left = fell, right = rose).

    A count that was 0 last year has no percentage change: it is listed under
    the chart instead of drawn."""
    d = year_on_year_data(kpi_annual, year)
    v = d.set_index("kpi").loc["visits"]
    change = None if pd.isna(v.change) else v.change
    if change is None and v.change_shown == "up from 0":
        change = math.inf  # "rose from 0 to ..."
    title = change_sentence("Visits", v.previous, v.current, v.previous_year, year, change)
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
    from_zero = d[d["change_shown"] == "up from 0"]
    if not from_zero.empty:
        fig.add_annotation(text=f"Not drawn (0 in {v.previous_year}): " + ", ".join(from_zero["label"]),
                           showarrow=False, xref="paper", yref="paper", x=0, y=-0.2, xanchor="left",
                           font=dict(size=13, color="#444"))
        fig.update_layout(margin=dict(LAYOUT["margin"], b=90))
    return fig


# --- monthly by site ----------------------------------------------------------

def monthly_data(monthly: pd.DataFrame, year: str, kpis: Sequence[str]) -> pd.DataFrame:
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
    order = {s: i for i, s in enumerate(SITES)}
    series = sorted(set(zip(m["site_code"], m["kpi"])),
                    key=lambda sk: (list(kpis).index(sk[1]), order.get(sk[0], len(order)), sk[0]))
    grid = pd.MultiIndex.from_tuples([(mo, s, k) for mo in months for s, k in series],
                                     names=["month", "site_code", "kpi"])
    m = m.set_index(["month", "site_code", "kpi"])[["value", "value" + dc.SHOWN]].reindex(grid).reset_index()
    absent = m["value" + dc.SHOWN].isna()  # no row: a true 0
    m.loc[absent, "value"], m.loc[absent, "value" + dc.SHOWN] = 0, "0"
    several = len(set(kpis)) > 1
    m["series"] = [_series_name(s, k) if several else site_label(s) for s, k in zip(m["site_code"], m["kpi"])]
    m["shown"] = m["value" + dc.SHOWN]
    m["value"] = m["value"].astype("Int64")
    return m[cols]


def _series_name(site: str, kpi: str) -> str:
    """'Walton visits', 'Zoom attendances', 'Phone wellbeing calls'."""
    site, what = site_label(site), kpi_label(kpi)
    return what if what.lower().startswith(site.lower()) else f"{site} {what.lower()}"


def monthly_figure(monthly: pd.DataFrame, year: str, kpis: Sequence[str], subject: str) -> go.Figure:
    """One line per site (Zoom and phone are sites too); suppressed months are gaps.

    When the chart shows visits, months with no site visits are shaded and the
    months sites opened, closed or reopened are marked (from site_periods)."""
    d = monthly_data(monthly, year, kpis)
    fig = go.Figure()
    for i, (name, g) in enumerate(d.groupby("series", sort=False)):
        fig.add_trace(go.Scatter(
            x=list(g["month"]), y=[None if pd.isna(v) else int(v) for v in g["value"]], name=name,
            mode="lines+markers", connectgaps=False,
            line=dict(color=site_colour(g["site_code"].iloc[0]), dash=DASHES[i % len(DASHES)], width=2.5),
            customdata=list(g["shown"]), hovertemplate=f"{name}: %{{customdata}}<extra></extra>",
        ))
    title = _peak_sentence(d, subject, year)
    if "visits" in kpis:
        opened = _mark_site_periods(fig, monthly, year)
        if opened and not d.empty:
            title = f"{opened}; {title[0].lower() + title[1:]}"
    _monthly_layout(fig, title)
    return fig


def _monthly_layout(fig: go.Figure, title: str) -> None:
    fig.update_layout(**LAYOUT, title_text=title, hovermode="x unified",
                      legend=dict(orientation="h", yanchor="top", y=-0.17, x=0))
    fig.update_xaxes(dtick="M1", tickformat="%b\n%Y")
    fig.update_yaxes(title_text="Count (per month)", rangemode="tozero", tickformat=",d")


def _peak_sentence(d: pd.DataFrame, subject: str, year: str) -> str:
    by_month = d.assign(value=d["value"].fillna(0)).groupby("month")["value"].sum()  # totals of controlled cells
    if by_month.empty or by_month.max() == 0:
        return f"No {subject[0].lower() + subject[1:]} recorded in {year}"
    peak = by_month.idxmax()
    return f"{subject} peaked in {peak:%B %Y} at {int(by_month.max()):,}"


# --- sites open and closed ----------------------------------------------------

def site_periods(monthly: pd.DataFrame | None) -> pd.DataFrame:
    """When each site was open, from the monthly visits: one row per run of months with visits.

    Columns: site_code, site, opened (first month of the run), closed (first
    month after it with no visits; NaT while still open at the last month the
    mart has), first (True for the site's first run). The calendar is every
    month from the mart's first to its last month (any KPI), so a month with
    Zoom or calls but no visits at a site counts as closed there. A month with
    1..7 visits is open: the pages show "<8" there, never 0, so this discloses
    nothing more than the published cells.
    """
    cols = ["site_code", "site", "opened", "closed", "first"]
    if monthly is None or monthly.empty:
        return pd.DataFrame(columns=cols)
    months = pd.to_datetime(monthly["month"])
    span = pd.date_range(months.min(), months.max(), freq="MS")
    v = monthly.assign(month=months)
    v = v[(v["kpi"] == "visits") & _visited(v["value"])]
    order = {s: i for i, s in enumerate(SITES)}
    rows = []
    for site in sorted(set(v["site_code"]), key=lambda s: (order.get(s, len(order)), s)):
        open_months = set(v.loc[v["site_code"] == site, "month"])
        run_start = None
        for mo in list(span) + [None]:
            is_open = mo is not None and mo in open_months
            if is_open and run_start is None:
                run_start = mo
            elif not is_open and run_start is not None:
                rows.append(dict(site_code=site, site=site_label(site), opened=run_start,
                                 closed=pd.NaT if mo is None else mo,
                                 first=not any(r["site_code"] == site for r in rows)))
                run_start = None
    return pd.DataFrame(rows, columns=cols)


def _visited(values: pd.Series) -> pd.Series:
    """Months with any visit: a controlled count above 0, or suppressed (1..7, shown "<8", never 0)."""
    return (values.isna() | values.fillna(0).gt(0)).astype(bool)


def sites_open_data(monthly: pd.DataFrame | None, year: str) -> pd.DataFrame:
    """Each site with visits in the year: since when it was open, months open in the year, visits (controlled).

    Columns: site_code, site, open_since (first month of the run of open months
    that holds the site's last open month in the year), open_since_shown
    ("October 2021"), months_open (months of the year with visits), closed_in_year
    (True if the site had no visits in some month of the year after opening),
    value, shown."""
    cols = ["site_code", "site", "open_since", "open_since_shown", "months_open", "closed_in_year", "value", "shown"]
    shown = monthly_data(monthly, year, ["visits"])
    periods = site_periods(monthly)
    if shown.empty or periods.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for site, g in shown.groupby("site_code", sort=False):
        open_months = g.loc[_visited(g["value"]), "month"]
        if open_months.empty:
            continue
        last = open_months.max()
        p = periods[(periods["site_code"] == site) & (periods["opened"] <= last)].iloc[-1]
        after_open = g[g["month"] >= open_months.min()]
        cells = g["value"]
        v = dc.shown_total(cells)
        hidden = int(cells.isna().sum())  # months shown as "<8", which add 0 to the total
        text = f"{v:,}" + (f" + {hidden} month{'s' if hidden > 1 else ''} {dc.SUPPRESSED_TEXT}" if hidden else "")
        rows.append(dict(site_code=site, site=site_label(site), open_since=p.opened,
                         open_since_shown=f"{p.opened:%B %Y}", months_open=len(open_months),
                         closed_in_year=bool((~_visited(after_open["value"])).any()), value=v, shown=text))
    out = pd.DataFrame(rows, columns=cols)
    out["value"] = out["value"].astype("Int64")
    return out


def sites_open_sentence(monthly: pd.DataFrame | None, year: str) -> str:
    """'All 5 sites open since October 2021', 'Walton open since April 2020; Bootle since June 2022',
    or 'No site visits recorded in 2020/21'."""
    s = sites_open_data(monthly, year)
    if s.empty:
        return f"No site visits recorded in {year}"
    groups = list(s.groupby("open_since", sort=True))
    if len(groups) == 1:
        since = s["open_since_shown"].iloc[0]
        n = len(s)
        if n == 1:
            return f"{s['site'].iloc[0]} open since {since}"
        every = "All " if set(s["site_code"]) >= set(PHYSICAL_SITES) else ""
        return f"{every}{n} sites open since {since}"
    parts = [f"{', '.join(g['site'])} since {g['open_since_shown'].iloc[0]}" for _, g in groups]
    return "Open " + "; ".join(parts)


def _mark_site_periods(fig: go.Figure, monthly: pd.DataFrame, year: str) -> str | None:
    """Shade the year's months with no site visits; mark each site's opening, closing, reopening.

    Returns a short finding for the title ("Sites opened in October 2021") or None."""
    m = _year_rows(monthly, year)
    periods = site_periods(monthly)
    if m.empty or periods.empty:  # no visits in any year: nothing to say about sites
        return None
    months = pd.date_range(pd.to_datetime(m["month"]).min(), pd.to_datetime(m["month"]).max(), freq="MS")
    span_start = pd.to_datetime(monthly["month"]).min()
    half = pd.Timedelta(days=15)
    # months of this year in which no site had a visit
    open_any = set()
    for p in periods.itertuples():
        end = months[-1] + pd.offsets.MonthBegin(1) if pd.isna(p.closed) else p.closed
        open_any |= {mo for mo in months if p.opened <= mo < end}
    closed = [mo for mo in months if mo not in open_any]
    for run in _runs(closed):
        fig.add_vrect(x0=run[0] - half, x1=run[-1] + half, fillcolor="#bbbbbb", opacity=0.25, line_width=0,
                      layer="below", annotation_text="No site visits", annotation_position="top left",
                      annotation_font=dict(size=12, color="#444"))
    # events inside the year: (month, verb) -> sites
    events: dict[tuple, list[str]] = {}
    for p in periods.itertuples():
        if p.opened in months and p.opened != span_start:
            events.setdefault((p.opened, "opened" if p.first else "reopened"), []).append(p.site)
        if not pd.isna(p.closed) and p.closed in months:
            events.setdefault((p.closed, "closed"), []).append(p.site)
    all_sites = set(periods["site"])
    best = None  # the title's finding: the opening with the most sites, the latest on a tie
    for i, ((mo, verb), sites) in enumerate(sorted(events.items())):
        who = "Sites" if set(sites) == all_sites and len(sites) > 1 else ", ".join(sites)
        fig.add_vline(x=mo - half, line=dict(color="#1a1a1a", dash="dot", width=1.5))
        fig.add_annotation(x=mo - half, xref="x", y=1 - 0.07 * (i % 3), yref="paper", text=f"{who} {verb} {mo:%b %Y}",
                           showarrow=False, xanchor="left", yanchor="top", bgcolor="rgba(255,255,255,0.85)",
                           font=dict(size=12, color="#1a1a1a"))
        if verb != "closed" and (best is None or (len(sites), mo) >= best[0]):
            best = ((len(sites), mo), f"{who} {verb} in {mo:%B %Y}")
    return best and best[1]


def _runs(months: list) -> list[list]:
    """Consecutive months grouped: [[Apr, May], [Aug]]."""
    runs: list[list] = []
    for mo in months:
        if runs and runs[-1][-1] + pd.offsets.MonthBegin(1) == mo:
            runs[-1].append(mo)
        else:
            runs.append([mo])
    return runs


# --- monthly by source --------------------------------------------------------

def sources_monthly_data(monthly: pd.DataFrame, year: str) -> pd.DataFrame:
    """One series per source (kiosk visits, pathway contacts, Zoom attendances, wellbeing calls) per month.

    Each month's value is the total of that source's controlled site cells
    (dashboards.disclosure.shown_total), so it can be reproduced from the by-site
    tables. Every source is listed for every month: one with nothing counted is 0.
    Columns: month, kpi, series, value (Int64), shown.
    """
    cols = ["month", "kpi", "series", "value", "shown"]
    d = monthly_data(monthly, year, list(sources()))
    if d.empty:
        return pd.DataFrame(columns=cols)
    months = sorted(set(d["month"]))
    rows = []
    for k, label in sources().items():
        for mo in months:
            cells = d.loc[(d["kpi"] == k) & (d["month"] == mo), "value"]
            v = int(cells.fillna(0).sum())  # cells are controlled already: suppressed add 0
            rows.append(dict(month=mo, kpi=k, series=label, value=v, shown=f"{v:,}"))
    out = pd.DataFrame(rows, columns=cols)
    out["value"] = out["value"].astype("Int64")
    return out


def sources_monthly_figure(monthly: pd.DataFrame, year: str) -> go.Figure:
    """One line per source; months with no site visits shaded, site openings marked."""
    d = sources_monthly_data(monthly, year)
    colours = [OKABE_ITO["blue"], OKABE_ITO["bluish_green"], OKABE_ITO["vermillion"], OKABE_ITO["black"]]
    symbols = ["circle", "square", "diamond", "triangle-up"]
    fig = go.Figure()
    for i, (name, g) in enumerate(d.groupby("series", sort=False)):
        fig.add_trace(go.Scatter(
            x=list(g["month"]), y=[int(v) for v in g["value"]], name=name, mode="lines+markers",
            line=dict(color=colours[i % len(colours)], dash=DASHES[i % len(DASHES)], width=2.5),
            marker=dict(symbol=symbols[i % len(symbols)], size=7),
            customdata=list(g["shown"]), hovertemplate=f"{name}: %{{customdata}}<extra></extra>",
        ))
    if d.empty or int(d["value"].sum()) == 0:
        title = f"Nothing recorded in {year}"
    else:
        totals = d.groupby("series", sort=False)["value"].sum()
        top = totals.idxmax()
        g = d[d["series"] == top]
        peak = g.loc[g["value"].astype(int).idxmax()]
        title = (f"{top.split(' (')[0]} were the largest source in {year}, "
                 f"peaking at {int(peak.value):,} in {peak.month:%B %Y}")
    _mark_site_periods(fig, monthly, year)
    _monthly_layout(fig, title)
    return fig


# --- optional marts -----------------------------------------------------------

def category_data(category: pd.DataFrame | None, year: str) -> pd.DataFrame:
    """Controlled social prescriptions by category, largest first.

    Reads the mart's `social_prescriptions` column (or a generic `value`), and
    `accepted_or_completed` when present. Columns: category, label, value,
    shown, share (of the total of the shown cells; None where suppressed),
    share_shown, accepted (controlled, NaN when the mart has no such column),
    accepted_shown."""
    cols = ["category", "label", "value", "shown", "share", "share_shown", "accepted", "accepted_shown"]
    c = _year_rows(category, year)
    if c.empty:
        return pd.DataFrame(columns=cols)
    col = "social_prescriptions" if "social_prescriptions" in c else "value"
    has_accepted = "accepted_or_completed" in c
    c = c.rename(columns={col: "value", col + dc.SHOWN: "shown"})
    c["label"] = c["category"].str.replace("_", " ").str.capitalize()
    if has_accepted:
        c["accepted_shown"] = c["accepted_or_completed" + dc.SHOWN]
        c["accepted"] = c["accepted_or_completed"]
    else:
        c["accepted_shown"], c["accepted"] = dc.NOT_SHOWN_TEXT, pd.array([pd.NA] * len(c), dtype="Int64")
    tot = int(c["value"].fillna(0).sum())  # total of the shown cells
    c["share"] = [None if pd.isna(v) or tot == 0 else v / tot for v in c["value"]]
    c["share_shown"] = [_fmt_ratio(r, pct=True) for r in c["share"]]
    return c.sort_values(["value", "label"], ascending=[False, True], na_position="last")[cols].reset_index(drop=True)


def category_figure(category: pd.DataFrame | None, year: str) -> go.Figure:
    """Horizontal bars, largest category at the top; accepted or completed beside them when known."""
    d = category_data(category, year)
    tot = int(d["value"].fillna(0).sum())
    if d.empty or tot == 0:
        title = f"No social prescriptions by category in {year}"
    else:
        top = d.iloc[0]
        title = (f"{top.label} was the most common social prescription category in {year} "
                 f"({int(top.value):,} of {tot:,})")
    r = d.iloc[::-1]
    has_accepted = bool(not d.empty and d["accepted"].notna().any())
    fig = go.Figure()
    if has_accepted:  # drawn first: within each category pair the later trace sits on top
        fig.add_trace(go.Bar(
            x=[None if pd.isna(v) else int(v) for v in r["accepted"]], y=list(r["label"]), orientation="h",
            name="Accepted or completed", marker=dict(color=OKABE_ITO["orange"], pattern_shape="/"),
            text=list(r["accepted_shown"]), textposition="outside", cliponaxis=False,
            hovertemplate="%{y}: %{text} accepted or completed<extra></extra>",
        ))
    fig.add_trace(go.Bar(
        x=[None if pd.isna(v) else int(v) for v in r["value"]], y=list(r["label"]), orientation="h",
        name="Social prescriptions", marker_color=OKABE_ITO["blue"], text=list(r["shown"]),
        textposition="outside", cliponaxis=False, hovertemplate="%{y}: %{text} social prescriptions<extra></extra>",
    ))
    fig.update_layout(**LAYOUT, title_text=title, showlegend=has_accepted, barmode="group",
                      legend=dict(orientation="h", yanchor="top", y=-0.15, x=0, traceorder="reversed"))
    if has_accepted:
        fig.update_layout(height=max(LAYOUT["height"], 60 + 42 * len(d)))
    fig.update_xaxes(title_text="Social prescriptions", tickformat=",d")
    return fig


def funnel_data(funnel: pd.DataFrame | None, year: str) -> pd.DataFrame:
    """Controlled pathway funnel, stages by `stage_order` (else the mart's row order).

    Columns: stage, label, value, shown, rate_shown: each stage against the one
    before it, from the controlled counts ("86% of contacts booked",
    "1.76 per attended contact"; "n/a" where a count is suppressed)."""
    f = _year_rows(funnel, year)
    if f.empty:
        return pd.DataFrame(columns=["stage", "label", "value", "shown", "rate_shown"])
    if "stage_order" in f:
        f = f.sort_values("stage_order", kind="stable")
    f = f.reset_index(drop=True)
    f["label"] = [FUNNEL_STAGES.get(s, (s.replace("_", " ").capitalize(),))[0] for s in f["stage"]]
    f["shown"] = f["value" + dc.SHOWN]
    rates = [""]
    for (prev, cur) in zip(f.itertuples(), list(f.itertuples())[1:]):
        r = dc.ratio(cur.value, prev.value)
        fmt = FUNNEL_RATES.get((prev.stage, cur.stage), "{:.0%} of " + prev.label.lower())
        rates.append(dc.NOT_SHOWN_TEXT if r is None else fmt.format(r))
    f["rate_shown"] = rates
    return f[["stage", "label", "value", "shown", "rate_shown"]]


# How each stage reads against the one before; contacts -> prescriptions is a rate, not a share.
FUNNEL_RATES = {
    ("contacts_recorded", "contacts_attended"): "{:.0%} of contacts booked",
    ("contacts_attended", "prescriptions_made"): "{:.2f} per attended contact",
    ("prescriptions_made", "prescriptions_accepted_or_completed"): "{:.0%} of social prescriptions",
}


def funnel_figure(funnel: pd.DataFrame | None, year: str) -> go.Figure:
    """Pathway funnel from booking to accepted or completed prescriptions.

    The stages mix units (contacts, then prescriptions, of which a contact can
    have several), so the title gives a rate within each unit."""
    d = funnel_data(funnel, year)
    title = f"Pathway funnel, {year}"
    by = d.set_index("stage")
    parts = []
    if {"contacts_recorded", "contacts_attended"} <= set(by.index):
        r = dc.ratio(by.at["contacts_attended", "value"], by.at["contacts_recorded", "value"])
        if r is not None:
            parts.append(f"{r:.0%} of booked contacts attended")
    if {"prescriptions_made", "prescriptions_accepted_or_completed"} <= set(by.index):
        r = dc.ratio(by.at["prescriptions_accepted_or_completed", "value"], by.at["prescriptions_made", "value"])
        if r is not None:
            parts.append(f"{r:.0%} of prescriptions accepted or completed")
    if parts:
        title = f"{'; '.join(parts)} ({year})"
        title = title[0].upper() + title[1:]
    elif len(d) >= 2:
        first, last = d.iloc[0], d.iloc[-1]
        title = f"{first.shown} {first.label.lower()} led to {last.shown} {last.label.lower()} in {year}"
    colours = [OKABE_ITO["sky_blue"], OKABE_ITO["blue"], OKABE_ITO["bluish_green"], OKABE_ITO["orange"]]
    text_colours = ["#1a1a1a", "#ffffff", "#1a1a1a", "#1a1a1a"]  # 4.5:1 or better on each fill
    fig = go.Figure(go.Funnel(
        x=[None if pd.isna(v) else int(v) for v in d["value"]], y=list(d["label"]),
        text=[f"{s}" + (f" ({r})" if r else "") for s, r in zip(d["shown"], d["rate_shown"])],
        textinfo="text", textfont=dict(color=[text_colours[i % len(colours)] for i in range(len(d))]),
        marker=dict(color=[colours[i % len(colours)] for i in range(len(d))]),
        connector=dict(fillcolor="#eeeeee"),
        hovertemplate="%{y}: %{text}<extra></extra>",
    ))
    fig.update_layout(**LAYOUT, title_text=title, showlegend=False)
    fig.update_yaxes(automargin=True)
    return fig
