"""Self-contained HTML dashboards: one page per financial year, plus an index.

A page must open offline, years later, from an email attachment or a shared
drive: plotly.js is inlined once in <head> (from the installed plotly package)
and every figure is drawn with include_plotlyjs=False. No CDN, no network.
Every number on a page comes from dashboards.figures' controlled tables, so
when disclosure is on (the default) nothing unrounded is printed.
"""

from __future__ import annotations

import csv
import html
import io
import os
import tempfile
from pathlib import Path
from typing import Mapping
from urllib.parse import quote

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from . import disclosure as dc
from . import figures as fg
from .kpis import KPIS, RATIOS, kpi_label, previous_year, year_slug

TITLE = "Life Rooms outcomes"
ACTIVITY_KPIS = ["visits", "zoom_attendances", "wellbeing_calls"]  # one per channel: sites, Zoom, phone
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Arial,sans-serif;color:#1a1a1a;max-width:1200px;margin:0 auto;padding:1rem 1.5rem;line-height:1.45}
a{color:#005a8c} h1{margin:.2em 0} h2{margin-top:2em;border-bottom:2px solid #ddd}
.banner{padding:.7em 1em;border-left:8px solid;margin:1em 0;font-size:1.05em}
.banner.on{background:#e8f3fa;border-color:#0072B2} .banner.off{background:#fdecea;border-color:#D55E00;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(250px,1fr));gap:1em}
.card{border:1px solid #ccc;border-radius:6px;padding:1em} .card h3{margin:0;font-size:1em;font-weight:600}
.big{font-size:2.2em;font-weight:700;margin:.15em 0} .card p{margin:.25em 0}
.prev{color:#444;font-size:.95em}
table{border-collapse:collapse;margin:.5em 0 1em;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:.3em 0} th,td{border:1px solid #bbb;padding:.25em .6em}
td.n,th.n{text-align:right} thead th{background:#f0f0f0} tr.total td,tr.total th{font-weight:700;border-top:2px solid #555}
figure{margin:1em 0} details{margin:.3em 0 1.5em} summary{cursor:pointer;color:#005a8c}
.note{color:#444;font-size:.95em} nav a{margin-right:.8em}
"""


# --- values -------------------------------------------------------------------

def headline_values(kpi_annual: pd.DataFrame, year: str, disclosure: bool = dc.DISCLOSURE_DEFAULT) -> dict[str, str]:
    """The year's KPIs as printed on the page, kpi -> text ("11,020", "<8", "1.76", "n/a"),
    plus wellbeing_success_rate (successful contacts / calls, from the controlled counts)."""
    year = _norm_year(year)
    t = fg.kpi_table(kpi_annual, year, disclosure)
    out = dict(zip(t["kpi"], t["shown"]))
    v = t.set_index("kpi")["value"]
    rate = dc.safe_ratio(v["wellbeing_successful_contacts"], v["wellbeing_calls"], disclosure=False)  # already controlled
    out["wellbeing_success_rate"] = dc.NOT_SHOWN_TEXT if rate is None else f"{rate:.0%}"
    return out


def kpi_csv(kpi_annual: pd.DataFrame, year: str, disclosure: bool = dc.DISCLOSURE_DEFAULT) -> str:
    """The year's KPI table as CSV, exactly as published (value empty where not shown)."""
    t = fg.kpi_table(kpi_annual, _norm_year(year), disclosure)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["financial_year", "kpi", "label", "value", "shown", "disclosure_control"])
    for r in t.itertuples():
        value = "" if pd.isna(r.value) else (f"{r.value:.4f}" if r.kpi in RATIOS else str(int(r.value)))
        w.writerow([r.financial_year, r.kpi, r.label, value, r.shown, "on" if disclosure else "off"])
    return buf.getvalue()


# --- entry point --------------------------------------------------------------

def render_dashboard(kpi_annual: pd.DataFrame, monthly: pd.DataFrame, out_dir: Path, year: str | None = None,
                     disclosure: bool = dc.DISCLOSURE_DEFAULT, category: pd.DataFrame | None = None,
                     funnel: pd.DataFrame | None = None, quality: dict | None = None) -> Path:
    """Write out_dir/<2021-22>.html for every financial year in kpi_annual (or only `year`) and out_dir/index.html.

    Returns index.html when all years are rendered, or the chosen year's page
    when `year` is given ("2021/22" or "2021-22"). The index links the years
    whose pages exist in out_dir. Files are replaced atomically.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    years = sorted(kpi_annual["financial_year"].dropna().unique())
    if year is not None:
        year = _norm_year(year)
        if year not in years:
            raise ValueError(f"no KPIs for financial year {year}; have {years}")
    todo = years if year is None else [year]
    pages = {}
    for y in todo:
        pages[y] = out_dir / f"{year_slug(y)}.html"
        _write_atomic(pages[y], _year_page(kpi_annual, monthly, y, years, disclosure, category, funnel, quality))
    listed = [y for y in years if (out_dir / f"{year_slug(y)}.html").exists()]
    index = out_dir / "index.html"
    _write_atomic(index, _index_page(kpi_annual, listed, disclosure, quality))
    return index if year is None else pages[year]


# --- pages --------------------------------------------------------------------

def _year_page(kpi_annual, monthly, year, years, disclosure, category, funnel, quality) -> str:
    h = headline_values(kpi_annual, year, disclosure)
    prev = previous_year(year)
    has_prev = prev in years
    hp = headline_values(kpi_annual, prev, disclosure) if has_prev else {}
    yoy = fg.year_on_year_data(kpi_annual, year, disclosure).set_index("kpi")

    def card(kpi: str, lines: list[str]) -> str:
        prev_line = ""
        if has_prev:
            prev_line = f'<p class="prev">{prev}: {_e(hp[kpi])}; change {_e(yoy.at[kpi, "change_shown"])}</p>'
        body = "".join(f"<p>{line}</p>" for line in lines)
        return (f'<div class="card"><h3>{_e(kpi_label(kpi))}{_fn(kpi)}</h3>'
                f'<p class="big">{_e(h[kpi])}</p>{body}{prev_line}</div>')

    cards = "".join([
        card("visits", [f"by {_e(h['visiting_members'])} visiting members{_fn('visiting_members')}"]),
        card("pathway_contacts", [f"led to {_e(h['social_prescriptions'])} social prescriptions{_fn('social_prescriptions')}",
                                  f"{_e(h['prescriptions_per_contact'])} prescriptions per contact{_fn('prescriptions_per_contact')}"]),
        card("zoom_sessions", [f"attended by {_e(h['zoom_members'])} members{_fn('zoom_members')}",
                               f"{_e(h['sessions_per_member'])} sessions per member{_fn('sessions_per_member')}"]),
        card("wellbeing_successful_contacts", [f"out of {_e(h['wellbeing_calls'])} calls{_fn('wellbeing_calls')} "
                                               f"({_e(h['wellbeing_success_rate'])} successful)",
                                               f"{_e(h['wellbeing_people_reached'])} people reached{_fn('wellbeing_people_reached')}"]),
    ])

    sections = [f'<h2 id="headline">Headline figures, {year}</h2><div class="cards">{cards}</div>']
    kt = fg.kpi_table(kpi_annual, year, disclosure)
    sections.append(_table(f"All KPIs, {year}", ["KPI", year],
                           [[f"{_e(r.label)}{_fn(r.kpi)}", _e(r.shown)] for r in kt.itertuples()]))
    fname = f"life-rooms-kpis-{year_slug(year)}{'' if disclosure else '-INTERNAL'}.csv"
    sections.append(f'<p><a download="{fname}" href="data:text/csv;charset=utf-8,'
                    f'{quote(kpi_csv(kpi_annual, year, disclosure))}">Download this table (CSV)</a></p>')

    if has_prev:
        fig = fg.year_on_year_figure(kpi_annual, year, disclosure)
        d = fg.year_on_year_data(kpi_annual, year, disclosure)
        sections.append('<h2 id="change">Change on last year</h2>' + _chart(
            "fig-change", fig, _table(_title(fig), ["Measure", prev, year, "Change"],
                                      [[_e(r.label), _e(r.previous), _e(r.current), _e(r.change_shown)]
                                       for r in d.itertuples()])))

    sections.append('<h2 id="monthly">Month by month</h2>')
    for fid, kpis, subject in [("fig-activity", ACTIVITY_KPIS, "Visits, Zoom attendances and wellbeing calls"),
                               ("fig-pathways", ["pathway_contacts"], "Pathway contacts")]:
        d = fg.monthly_data(monthly, year, kpis, disclosure)
        if d.empty:
            sections.append(f'<p class="note">No monthly {_e(subject.lower())} for {year}.</p>')
            continue
        fig = fg.monthly_figure(monthly, year, kpis, subject, disclosure)
        sections.append(_chart(fid, fig, _monthly_table(d, _title(fig), disclosure)))

    cd = fg.category_data(category, year, disclosure)
    if not cd.empty:
        fig = fg.category_figure(category, year, disclosure)
        sections.append('<h2 id="categories">Social prescriptions by category</h2>' + _chart(
            "fig-categories", fig, _table(_title(fig), ["Category", "Social prescriptions"],
                                          [[_e(r.label), _e(r.shown)] for r in cd.itertuples()],
                                          total=_fmt(cd["value"]))))
    fd = fg.funnel_data(funnel, year, disclosure)
    if not fd.empty:
        fig = fg.funnel_figure(funnel, year, disclosure)
        sections.append('<h2 id="funnel">Pathway funnel</h2>' + _chart(
            "fig-funnel", fig, _table(_title(fig), ["Stage", "Count"],
                                      [[_e(r.label), _e(r.shown)] for r in fd.itertuples()])))

    if quality:
        sections.append(f'<h2 id="quality">Data quality</h2>{_quality(quality, disclosure)}')
    sections.append(_footnotes())

    current = ' aria-current="page"'
    nav = " ".join(f'<a href="{year_slug(y)}.html"{current if y == year else ""}>{y}</a>' for y in years)
    body = f'<nav><a href="index.html">All years</a> {nav}</nav><h1>{TITLE}, {year}</h1>' \
           f'{_banner(disclosure)}{"".join(sections)}'
    return _html(f"{TITLE}, {year}", body, with_plotly=True)


def _index_page(kpi_annual, years, disclosure, quality) -> str:
    cols = ["visits", "pathway_contacts", "social_prescriptions", "zoom_sessions", "wellbeing_successful_contacts"]
    rows = []
    for y in sorted(years, reverse=True):
        h = headline_values(kpi_annual, y, disclosure)
        rows.append([f'<a href="{year_slug(y)}.html">{y}</a>'] + [_e(h[k]) for k in cols])
    table = _table("Headline figures by financial year", ["Financial year"] + [kpi_label(k) for k in cols], rows)
    q = f'<h2 id="quality">Data quality</h2>{_quality(quality, disclosure)}' if quality else ""
    body = f"<h1>{TITLE}</h1>{_banner(disclosure)}<p>One page per financial year (1 April to 31 March).</p>" \
           f"{table}{q}{_footnotes()}"
    return _html(TITLE, body, with_plotly=False)


# --- pieces -------------------------------------------------------------------

def _html(title: str, body: str, with_plotly: bool) -> str:
    js = f'<script type="text/javascript">{get_plotlyjs()}</script>' if with_plotly else ""
    return (f'<!DOCTYPE html>\n<html lang="en-GB"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style>{js}</head>"
            f"<body><main>{body}</main></body></html>\n")


def _banner(disclosure: bool) -> str:
    if disclosure:
        return ('<p class="banner on" role="note"><strong>Disclosure control ON.</strong> '
                f'Counts of 1 to {dc.REDACTION_THRESHOLD} are shown as {_e(dc.SUPPRESSED_TEXT)}; other counts are '
                f'rounded to the nearest {dc.ROUNDING_BASE}. Totals are sums of the rounded figures shown. '
                'Ratios are computed from the rounded counts and not shown where a count is suppressed.</p>')
    return ('<p class="banner off" role="alert">Disclosure control OFF: unrounded figures, '
            'for internal use only. Do not publish or share this page.</p>')


def _chart(div_id: str, fig: go.Figure, table_html: str) -> str:
    """A chart, its title as caption, and the data behind it as a plain table."""
    title = _e(_title(fig))
    plot = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOTLY_CONFIG)
    return (f'<figure><div role="img" aria-label="{title}">{plot}</div>'
            f"<figcaption class=\"note\">{title}</figcaption>"
            f"<details><summary>Data table</summary>{table_html}</details></figure>")


def _monthly_table(d: pd.DataFrame, caption: str, disclosure: bool) -> str:
    series = list(dict.fromkeys(d["series"]))
    rows = []
    for month, g in d.groupby("month", sort=True):
        shown = dict(zip(g["series"], g["shown"]))
        rows.append([f"{month:%b %Y}"] + [_e(shown[s]) for s in series] + [_fmt(g["value"])])
    totals = [_fmt(d.loc[d["series"] == s, "value"]) for s in series] + [_fmt(d["value"])]
    note = ('<p class="note">Totals are sums of the rounded figures shown (suppressed cells count as 0), '
            'so they can differ from the annual figures.</p>') if disclosure else ""
    return _table(caption, ["Month"] + series + ["Total"], rows, total=totals) + note


def _table(caption: str, header: list[str], rows: list[list[str]], total: str | list[str] | None = None) -> str:
    """Plain accessible table; first column is the row header, the rest are right-aligned numbers.
    Cells are HTML already (escaped by the caller); header texts are escaped here."""
    def tds(cells):
        return "".join(f'<td class="n">{c}</td>' for c in cells)

    th = "".join(f'<th scope="col" class="n">{_e(c)}</th>' if i else f'<th scope="col">{_e(c)}</th>'
                 for i, c in enumerate(header))
    body = "".join(f'<tr><th scope="row">{r[0]}</th>{tds(r[1:])}</tr>' for r in rows)
    if total is not None:
        body += f'<tr class="total"><th scope="row">Total</th>{tds(total if isinstance(total, list) else [total])}</tr>'
    return f"<table><caption>{_e(caption)}</caption><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _quality(quality: Mapping, disclosure: bool) -> str:
    """Flat or nested mapping of check -> result; whole-number results are counts and are controlled."""
    items = []
    for k, v in quality.items():
        if isinstance(v, Mapping):
            shown = _quality(v, disclosure)
        elif isinstance(v, bool):
            shown = "yes" if v else "no"
        elif isinstance(v, int) or (isinstance(v, float) and v.is_integer()):
            shown = _e(dc.display_count(v, disclosure))
        else:
            shown = _e(v)
        items.append(f"<dt>{_e(k)}</dt><dd>{shown}</dd>")
    return f"<dl>{''.join(items)}</dl>"


def _footnotes() -> str:
    items = "".join(f'<li id="def-{k}"><strong>{_e(label)}</strong>: {_e(text)}</li>' for k, (label, text) in KPIS.items())
    return ('<h2 id="definitions">Definitions</h2><ol class="note">'
            f"{items}</ol><p class=\"note\">Financial years run 1 April to 31 March; an event belongs to the year "
            "of its UK local date. Personal data (names, emails, patient identifiers) never reach these pages.</p>")


def _fn(kpi: str) -> str:
    n = list(KPIS).index(kpi) + 1
    return f'<sup><a href="#def-{kpi}" aria-label="definition {n}">{n}</a></sup>'


def _fmt(values: pd.Series) -> str:
    """Total of already-controlled cells."""
    return f"{int(values.fillna(0).sum()):,}"


def _title(fig: go.Figure) -> str:
    return fig.layout.title.text or ""


def _e(x) -> str:
    return html.escape(str(x))


def _norm_year(year: str) -> str:
    """Accept '2021/22' or '2021-22'."""
    return str(year).replace("-", "/")


def _write_atomic(path: Path, text: str) -> None:
    """Readers (a browser, a file share) never see a half-written page."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
