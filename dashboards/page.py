"""Self-contained HTML dashboards: one page per financial year, plus an index.

A page must open offline, years later, from an email attachment or a shared
drive: plotly.js is inlined once in <head> (from the installed plotly package)
and every figure is drawn with include_plotlyjs=False. No CDN, no network.
render_dashboard applies disclosure control once, to the data it is given
(dashboards.disclosure.control_frames and control_quality); every figure and
table is drawn from the controlled frames, so when control is on (the default)
nothing unrounded is printed, and only the page's banner and notes know the switch.
"""

from __future__ import annotations

import csv
import html
import io
import time
from functools import lru_cache
from pathlib import Path
from typing import Collection, Mapping
from urllib.parse import quote

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from pipelines.lib import kpi_registry
from pipelines.lib.atomic import write_text
from pipelines.lib.csv_safe import csv_safe  # CSV injection: every downloaded cell goes through it

from . import disclosure as dc
from . import figures as fg
from .kpis import FUNNEL_STAGES, TERMS, kpi_definitions, kpi_label, previous_year, ratios, year_slug
from . import outcomes as oc

TITLE = "Life Rooms outcomes"


def definitions() -> dict[str, tuple[str, str]]:
    """Footnoted, numbered in this order: the KPIs, then the pages' other terms."""
    return {**kpi_definitions(), **TERMS, **oc.TERMS}
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
td.n,th.n{text-align:right} tbody th{text-align:left;font-weight:600} #years td{white-space:nowrap} thead th{background:#f0f0f0} tr.total td,tr.total th{font-weight:700;border-top:2px solid #555}
figure{margin:1em 0} details{margin:.3em 0 1.5em} summary{cursor:pointer;color:#005a8c}
.note{color:#444;font-size:.95em} nav a{margin-right:.8em}
.change{font-weight:600;margin:.1em 0 .4em!important} .was{color:#444;font-size:.92em;white-space:nowrap}
.status{font-weight:600;white-space:nowrap} .status.pass{color:#00603f} .status.warn{color:#8a4b00}
.status.fail{color:#b00020} .status.none{color:#444} .status-line{margin:.3em 0 .8em}
dt{font-weight:600} dd{margin:0 0 .4em 1em}
@media (max-width:760px){body{padding:.5rem} table{display:block;overflow-x:auto;max-width:100%} .big{font-size:1.8em}}
"""


# --- values -------------------------------------------------------------------

def headline_values(kpi_annual: pd.DataFrame, year: str) -> dict[str, str]:
    """The year's KPIs as printed on the page, kpi -> text ("11,020", "<8", "1.76", "n/a"),
    plus wellbeing_success_rate (successful contacts / calls, from the controlled counts).
    kpi_annual as dashboards.disclosure.control_frames returns it."""
    year = _norm_year(year)
    t = fg.kpi_table(kpi_annual, year)
    out = dict(zip(t["kpi"], t["shown"]))
    v = t.set_index("kpi")["value"]
    rate = dc.ratio(v["wellbeing_successful_contacts"], v["wellbeing_calls"])
    out["wellbeing_success_rate"] = dc.NOT_SHOWN_TEXT if rate is None else f"{rate:.0%}"
    return out


def kpi_csv(kpi_annual: pd.DataFrame, year: str) -> str:
    """The year's KPI table as CSV, exactly as published (value empty where not shown), from
    kpi_annual as dashboards.disclosure.control_frames returns it (which says how it was controlled).
    Every cell goes through csv_safe: the download is opened in spreadsheets."""
    control = set(kpi_annual.get("disclosure_control", pd.Series(dtype=object)))
    if len(control) != 1:
        raise ValueError("kpi_annual is not disclosure-controlled: pass it through dashboards.disclosure.control_frames")
    t = fg.kpi_table(kpi_annual, _norm_year(year))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["financial_year", "kpi", "label", "value", "shown", "disclosure_control"])
    for r in t.itertuples():
        value = "" if pd.isna(r.value) else (f"{r.value:.4f}" if r.kpi in ratios() else str(int(r.value)))
        w.writerow([csv_safe(c) for c in (r.financial_year, r.kpi, r.label, value, r.shown, *control)])
    return buf.getvalue()


# --- entry point --------------------------------------------------------------

def render_dashboard(kpi_annual: pd.DataFrame, monthly: pd.DataFrame, out_dir: Path, year: str | None = None,
                     disclosure: bool = dc.DISCLOSURE_DEFAULT, category: pd.DataFrame | None = None,
                     funnel: pd.DataFrame | None = None, quality: Mapping | None = None,
                     outcomes: Mapping | None = None, only: Collection[str] | None = None) -> Path:
    """Write out_dir/<2021-22>.html for every financial year in kpi_annual (or only `year`, or
    only the years in `only`: dashboards.year_pages says which changed) and out_dir/index.html.

    Returns index.html when all years are rendered, or the chosen year's page
    when `year` is given ("2021/22" or "2021-22"). The index links the years
    whose pages exist in out_dir. Files are replaced atomically; temporary files
    that killed writes left (see remove_stale_temp_files) are removed first.

    `quality` (optional) is the quality summary of the data behind the run,
    printed on the index (a status per year) and on each year's page. Its
    shape, every key optional (see dashboards.quality, which builds it from
    the ledger):

        {
          "status": "pass" | "warn" | "fail",   # the run as a whole; absent = "not checked"
          "summary": "1 file quarantined; 237 rows rejected",   # one line of plain text
          "as_of": "2025-03-31 18:02 UTC",       # when the newest file was loaded
          "sources": {"visits": {"files_loaded": 412, "files_quarantined": 1, "files_duplicate": 3,
                                 "rows_loaded": 527194, "rows_rejected": 187}, ...},
          "checks": [{"name": "orphan prescriptions", "status": "warn", "detail": "..."}, ...],
          "years": {"2021/22": {"status": "pass", "notes": ["..."]}, ...},   # per year, overrides "status"
        }

    `outcomes` (optional) holds the outcome marts for the "Who we reach" and "Do people feel
    better" sections (dashboards.outcomes): reach_by_decile, reach_summary, wellbeing_change,
    wellbeing_distribution, outcome_inputs. None or missing: the sections say no data has arrived.

    Other keys are listed as they are. Counts of rows (and any other whole
    number) go through disclosure control; counts of files (keys starting
    "files") are not about people and are shown exactly. No value may hold
    personal data: the pages print what they are given.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(out_dir)
    # Disclosure control, once: nothing below sees an uncontrolled count.
    data = dc.control_frames({"kpi_annual": kpi_annual, "monthly": monthly, "category": category, "funnel": funnel,
                              **(outcomes or {})}, disclosure)
    quality = dc.control_quality(quality, disclosure)
    years = sorted(kpi_annual["financial_year"].dropna().unique())
    if year is not None:
        year = _norm_year(year)
        if year not in years:
            raise ValueError(f"no KPIs for financial year {year}; have {years}")
    todo = years if year is None else [year]
    if only is not None:
        todo = [y for y in todo if y in only]
    pages = {}
    for y in todo:
        pages[y] = out_dir / f"{year_slug(y)}.html"
        _write_atomic(pages[y], _year_page(data, y, years, disclosure, quality))
    listed = [y for y in years if (out_dir / f"{year_slug(y)}.html").exists()]
    index = out_dir / "index.html"
    _write_atomic(index, _index_page(data["kpi_annual"], data["monthly"], listed, disclosure, quality))
    return index if year is None else pages[year]


# --- pages --------------------------------------------------------------------

def _year_page(data: Mapping, year: str, years, disclosure: bool, quality) -> str:
    """One year's page from the controlled frames; `disclosure` only says so (banner, notes)."""
    kpi_annual, monthly, category, funnel = (data[k] for k in ("kpi_annual", "monthly", "category", "funnel"))
    h = headline_values(kpi_annual, year)
    prev = previous_year(year)
    has_prev = prev in years
    hp = headline_values(kpi_annual, prev) if has_prev else {}
    yoy = fg.year_on_year_data(kpi_annual, year).set_index("kpi")
    cd = fg.category_data(category, year)

    def was(key: str) -> str:
        """' (2020/21: 5,040)' after a figure, when there is a previous year."""
        return f' <span class="was">({prev}: {_e(hp[key])})</span>' if has_prev else ""

    def card(kpi: str, lines: list[str]) -> str:
        change = ""
        if has_prev:
            change = f'<p class="change">{_change_text(yoy.loc[kpi], prev)}</p>'
        body = "".join(f"<p>{line}</p>" for line in lines)
        return (f'<div class="card" id="card-{kpi}"><h3>{_e(kpi_label(kpi))}{_fn(kpi)}</h3>'
                f'<p class="big" data-kpi="{kpi}">{_e(h[kpi])}</p>{change}{body}</div>')

    top = [r.label for r in cd.itertuples() if not pd.isna(r.value) and r.value > 0][:3]
    top_line = [f'most often for <a href="#categories">{_e(", ".join(top).lower())}</a>'] if top else []
    # Lines that are not a KPI's, placed after the KPI line they follow.
    extra_after = {
        "visiting_members": [f"{_e(fg.sites_open_sentence(monthly, year))}{_fn('sites_open')}"],
        "prescriptions_per_contact": top_line,
        "wellbeing_calls": [f"{_e(h['wellbeing_success_rate'])} successful{_fn('wellbeing_success_rate')}"
                            f"{was('wellbeing_success_rate')}"],
    }
    registry = kpi_registry.load().values()
    cards = "".join(
        card(head.name, [line for k in registry if k.card == head.name and k.card_text
                         for line in [f"{k.card_text.format(_e(h[k.name]))}{_fn(k.name)}{was(k.name)}",
                                      *extra_after.get(k.name, [])]])
        for head in registry if head.card == head.name)

    sections = [f'<h2 id="headline">Headline figures, {year}</h2>{_year_status(quality, year, monthly)}'
                f'<div class="cards">{cards}</div>']
    kt = fg.kpi_table(kpi_annual, year)
    kpt = fg.kpi_table(kpi_annual, prev).set_index("kpi")["shown"] if has_prev else None
    sections.append(_table(f"All KPIs, {year}", ["KPI"] + ([prev] if has_prev else []) + [year],
                           [[f"{_e(r.label)}{_fn(r.kpi)}"] + ([_e(kpt.get(r.kpi, dc.NOT_SHOWN_TEXT))] if has_prev else [])
                            + [_e(r.shown)] for r in kt.itertuples()], table_id="kpi-table"))
    fname = f"life-rooms-kpis-{year_slug(year)}{'' if disclosure else '-INTERNAL'}.csv"
    sections.append(f'<p><a id="kpi-csv" download="{fname}" href="data:text/csv;charset=utf-8,'
                    f'{quote(kpi_csv(kpi_annual, year))}">Download the {year} KPI table (CSV'
                    f'{", disclosure-controlled" if disclosure else ", UNROUNDED, internal use only"})</a></p>')

    if has_prev:
        fig = fg.year_on_year_figure(kpi_annual, year)
        d = fg.year_on_year_data(kpi_annual, year)
        rows = [[_e(r.label), _e(r.previous), _e(r.current), _e(r.change_shown)] for r in d.itertuples()]
        for key, pct in (("prescriptions_per_contact", False), ("sessions_per_member", False),
                         ("wellbeing_success_rate", True)):
            rows.append([_e(kpi_label(key)), _e(hp[key]), _e(h[key]), _e(_ratio_change(hp[key], h[key], pct))])
        sections.append('<h2 id="change">Change on last year</h2>' + _chart(
            "fig-change", fig, _table(_title(fig), ["Measure", prev, year, "Change"], rows)))

    sections.append('<h2 id="monthly">Month by month</h2>')
    d = fg.sources_monthly_data(monthly, year)
    if d.empty:
        sections.append(f'<p class="note">No monthly figures for {year}.</p>')
    else:
        fig = fg.sources_monthly_figure(monthly, year)
        sections.append(_chart("fig-sources", fig, _monthly_table(d, _title(fig)) + _totals_note(disclosure)))
        for fid, kpi, subject in [("fig-visits", "visits", "Visits"),
                                  ("fig-pathways", "pathway_contacts", "Pathway contacts")]:
            d = fg.monthly_data(monthly, year, [kpi])
            if d.empty:
                sections.append(f'<p class="note">No {_e(subject.lower())} by site in {year}.</p>')
                continue
            fig = fg.monthly_figure(monthly, year, [kpi], subject)
            extra = _sites_table(monthly, year) if kpi == "visits" else ""
            sections.append(_chart(fid, fig, _monthly_table(d, _title(fig)) + _totals_note(disclosure), extra))

    if not cd.empty:
        fig = fg.category_figure(category, year)
        has_acc = cd["accepted"].notna().any() or (cd["accepted_shown"] != dc.NOT_SHOWN_TEXT).any()
        header = ["Category", "Social prescriptions", "Share"] + (["Accepted or completed"] if has_acc else [])
        rows = [[_e(r.label), _e(r.shown), _e(r.share_shown)] + ([_e(r.accepted_shown)] if has_acc else [])
                for r in cd.itertuples()]
        total = [_fmt(cd["value"]), ""] + ([_fmt(cd["accepted"])] if has_acc else [])
        sections.append('<h2 id="categories">Social prescriptions by category</h2>' + _chart(
            "fig-categories", fig, _table(_title(fig), header, rows, total=total) + _totals_note(disclosure)))
    fd = fg.funnel_data(funnel, year)
    if not fd.empty:
        fig = fg.funnel_figure(funnel, year)
        sections.append('<h2 id="funnel">Pathway funnel</h2>' + _chart(
            "fig-funnel", fig, _table(_title(fig), ["Stage", "Count", "Against the stage before"],
                                      [[f"{_e(r.label)}{_fn(FUNNEL_STAGES[r.stage][1]) if r.stage in FUNNEL_STAGES else ''}",
                                        _e(r.shown), _e(r.rate_shown)] for r in fd.itertuples()])))

    sections.append(oc.reach_section(year, data, _chart, _table, _fn))
    sections.append(oc.wellbeing_section(year, data, _chart, _table, _fn))
    sections.append(f'<h2 id="quality">Data quality</h2>{_quality(quality, year)}')
    sections.append(_footnotes(disclosure))

    current = ' aria-current="page"'
    nav = " ".join(f'<a href="{year_slug(y)}.html"{current if y == year else ""}>{y}</a>' for y in years)
    body = f'<nav aria-label="Financial years"><a href="index.html">All years</a> {nav}</nav>' \
           f'<h1>{TITLE}, {year}</h1>{_banner(disclosure)}{"".join(sections)}'
    return _html(f"{TITLE}, {year}", body, with_plotly=True, disclosure=disclosure)


def _index_page(kpi_annual, monthly, years, disclosure, quality) -> str:
    cols = ["visits", "pathway_contacts", "social_prescriptions", "zoom_sessions", "zoom_members",
            "wellbeing_successful_contacts"]
    rows = []
    for y in sorted(years, reverse=True):
        h = headline_values(kpi_annual, y)
        rows.append([f'<a href="{year_slug(y)}.html">{y}</a>', _e(months_covered(monthly, y)),
                     _status_html(_year_status_value(quality, y))] + [_e(h[k]) for k in cols])
    table = _table("Financial years: headline figures and the quality of the data behind them",
                   ["Financial year", "Months with data", "Data quality"] + [kpi_label(k) for k in cols], rows,
                   table_id="years")
    body = (f"<h1>{TITLE}</h1>{_banner(disclosure)}"
            "<p>One dashboard per financial year (1 April to 31 March). Each page opens offline and "
            "can be forwarded as a single file.</p>"
            f'{table}<h2 id="quality">Data quality</h2>{_quality(quality)}{_footnotes(disclosure)}')
    return _html(TITLE, body, with_plotly=False, disclosure=disclosure)


def months_covered(monthly: pd.DataFrame | None, year: str) -> str:
    """'Apr 2021 to Mar 2022', or 'Apr 2024 to Jan 2025 (part year)' when the year's data do not span April to March."""
    m = fg._year_rows(monthly, year)
    if m.empty:
        return dc.NOT_SHOWN_TEXT
    months = pd.to_datetime(m["month"])
    first, last = months.min(), months.max()
    part = "" if (first.month, last.month) == (4, 3) else " (part year)"
    return f"{first:%b %Y} to {last:%b %Y}{part}"


# --- pieces -------------------------------------------------------------------

STATUS = {  # status -> (symbol, words, css class): never colour alone
    "pass": ("✓", "Passed", "pass"),
    "warn": ("!", "Passed with warnings", "warn"),
    "fail": ("✗", "Failed", "fail"),
    None: ("?", "Not checked", "none"),
}


def _status_html(status: str | None) -> str:
    sym, words, cls = STATUS.get(status, ("?", str(status), "none"))
    return f'<span class="status {cls}"><span aria-hidden="true">{sym}</span> {_e(words)}</span>'


def year_quality(quality: Mapping | None, year: str) -> dict:
    """What a year page shows of the quality summary: its year's status and notes."""
    notes = (((quality or {}).get("years") or {}).get(year) or {}).get("notes") or []
    return {"status": _year_status_value(quality, year), "notes": [str(n) for n in notes]}


def _year_status_value(quality: Mapping | None, year: str) -> str | None:
    if not quality:
        return None
    y = (quality.get("years") or {}).get(year)
    if isinstance(y, Mapping) and y.get("status"):
        return y["status"]
    return quality.get("status")


def _year_status(quality: Mapping | None, year: str, monthly) -> str:
    """One line under the headline: data months and the quality status, linking to the details."""
    return (f'<p class="status-line">Data: {_e(months_covered(monthly, year))}. Data quality: '
            f'{_status_html(_year_status_value(quality, year))} <a href="#quality">details</a></p>')


def _change_text(r, prev: str) -> str:
    """'▲ up 53% on 2020/21 (3,150)', '▲ up from 0 in 2020/21', or the previous figure when no change is shown."""
    if r.change_shown == "up from 0":
        return f'<span aria-hidden="true">▲</span> up from 0 in {prev}'
    if r.change is None or pd.isna(r.change):
        return f"{prev}: {_e(r.previous)} (change not shown)"
    if r.change == 0:
        return f"unchanged on {prev} ({_e(r.previous)})"
    arrow, word = ("▲", "up") if r.change > 0 else ("▼", "down")
    return f'<span aria-hidden="true">{arrow}</span> {word} {abs(r.change):.0%} on {prev} ({_e(r.previous)})'


def _ratio_change(prev: str, cur: str, pct: bool) -> str:
    """Difference of two shown ratios: '+0.16', '-3 points'; n/a when either is not shown."""
    try:
        a, b = (float(x.rstrip("%")) for x in (prev, cur))
    except ValueError:
        return dc.NOT_SHOWN_TEXT
    return f"{b - a:+.0f} points" if pct else f"{b - a:+.2f}"


def _sites_table(monthly, year) -> str:
    s = fg.sites_open_data(monthly, year)
    if s.empty:
        return f'<p class="note">No site visits recorded in {year}.</p>'
    rows = [[_e(r.site), _e(r.open_since_shown) + (" (closed some months)" if r.closed_in_year else ""),
             str(r.months_open), _e(r.shown)] for r in s.itertuples()]
    return _table(f"{fg.sites_open_sentence(monthly, year)}", ["Site", "Open since", f"Months with visits in {year}",
                                                                 "Visits"], rows, total=["", "", _fmt(s["value"])],
                  table_id="sites-open")
def _html(title: str, body: str, with_plotly: bool, disclosure: bool = True) -> str:
    js = f'<script type="text/javascript">{get_plotlyjs()}</script>' if with_plotly else ""
    if not disclosure:
        title += " (INTERNAL: unrounded)"
    return (f'<!DOCTYPE html>\n<html lang="en-GB"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="disclosure-control" content="{"on" if disclosure else "off"}">'
            f"<title>{_e(title)}</title><style>{CSS}</style>{js}</head>"
            f"<body><main>{body}</main></body></html>\n")


def _banner(disclosure: bool) -> str:
    if disclosure:
        return ('<p class="banner on" role="note" id="disclosure"><strong>Disclosure control ON.</strong> '
                f'Counts of 1 to {dc.REDACTION_THRESHOLD} are shown as {_e(dc.SUPPRESSED_TEXT)}; other counts are '
                f'rounded to the nearest {dc.ROUNDING_BASE}. Totals are sums of the rounded figures shown. '
                'Ratios are computed from the rounded counts and not shown where a count is suppressed.</p>')
    return ('<p class="banner off" role="alert" id="disclosure">Disclosure control OFF: unrounded figures, '
            'for internal use only. Do not publish or share this page.</p>')


@lru_cache(maxsize=None)
def _template() -> dict:
    """The charts' template as plotly writes it into a figure: validated once, not once a figure."""
    return go.Figure(layout=dict(template=fg.TEMPLATE)).to_dict()["layout"]["template"]


def _chart(div_id: str, fig: go.Figure, table_html: str, extra: str = "") -> str:
    """A chart, its title as caption, and the data behind it as a plain table."""
    title = _e(_title(fig))
    spec = fig.to_dict()
    spec["layout"]["template"] = _template()  # the figures are built without it (figures.TEMPLATE)
    plot = pio.to_html(spec, full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOTLY_CONFIG,
                       validate=False)
    return (f'<figure><div role="img" aria-label="{title}">{plot}</div>'
            f"<figcaption class=\"note\">{title}</figcaption>"
            f"<details><summary>Data table</summary>{table_html}</details>{extra}</figure>")


def _totals_note(disclosure: bool) -> str:
    return ('<p class="note">Totals are sums of the rounded figures shown (suppressed cells count as 0), '
            'so they can differ from the annual figures.</p>') if disclosure else ""


def _monthly_table(d: pd.DataFrame, caption: str) -> str:
    series = list(dict.fromkeys(d["series"]))
    rows = []
    for month, g in d.groupby("month", sort=True):
        shown = dict(zip(g["series"], g["shown"]))
        rows.append([f"{month:%b %Y}"] + [_e(shown[s]) for s in series] + [_fmt(g["value"])])
    totals = [_fmt(d.loc[d["series"] == s, "value"]) for s in series] + [_fmt(d["value"])]
    return _table(caption, ["Month"] + series + ["Total"], rows, total=totals)


def _table(caption: str, header: list[str], rows: list[list[str]], total: str | list[str] | None = None,
           table_id: str | None = None) -> str:
    """Plain accessible table; first column is the row header, the rest are right-aligned numbers.
    Cells are HTML already (escaped by the caller); header texts are escaped here."""
    def tds(cells):
        return "".join(f'<td class="n">{c}</td>' for c in cells)

    th = "".join(f'<th scope="col" class="n">{_e(c)}</th>' if i else f'<th scope="col">{_e(c)}</th>'
                 for i, c in enumerate(header))
    body = "".join(f'<tr><th scope="row">{r[0]}</th>{tds(r[1:])}</tr>' for r in rows)
    if total is not None:
        body += f'<tr class="total"><th scope="row">Total</th>{tds(total if isinstance(total, list) else [total])}</tr>'
    tid = f' id="{table_id}"' if table_id else ""
    return f"<table{tid}><caption>{_e(caption)}</caption><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


SOURCE_COUNTS = {  # quality["sources"][source] keys -> column heading
    "files_loaded": "Files loaded",
    "files_quarantined": "Files quarantined",
    "files_duplicate": "Duplicate files",
    "rows_loaded": "Rows loaded",
    "rows_rejected": "Rows rejected",
    "rows_uncounted": "Rows in quarantined files",
}


def _quality_count(key: str, v) -> str:
    """Files are not people: exact. Every other count is controlled text already
    (dashboards.disclosure.control_quality)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if str(key).lower().startswith("files") and (isinstance(v, int) or (isinstance(v, float) and v.is_integer())):
        return f"{int(v):,}"
    return _e(v)


def _quality(quality: Mapping | None, year: str | None = None) -> str:
    """The quality summary (shape in render_dashboard's docstring) as a status line, tables and a list."""
    if not quality:
        return f'<p>{_status_html(None)}: no quality summary was given for this run.</p>'
    out = []
    if year is not None:
        # A year page shows its year's quality only: the run's summary changes with every file,
        # and would redraw every year (dashboards.year_pages); it is on the index.
        yq = year_quality(quality, year)
        out.append(f"<p>Data behind {year}: {_status_html(yq['status'])}</p>")
        if yq["notes"]:
            out.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in yq["notes"]) + "</ul>")
        out.append('<p>The files, rows and checks of the latest run are listed on '
                   '<a href="index.html#quality">the index of all years</a>.</p>')
        return "".join(out)
    if "status" in quality or "summary" in quality:
        summary = f": {_e(quality['summary'])}" if quality.get("summary") else ""
        out.append(f'<p>This run: {_status_html(quality.get("status"))}{summary}</p>')
    if quality.get("as_of"):
        out.append(f'<p class="note">Newest file loaded: {_e(quality["as_of"])}.</p>')
    sources = quality.get("sources") or {}
    if sources:
        keys = [k for k in SOURCE_COUNTS if any(k in v for v in sources.values())]
        rows = [[_e(src.replace("_", " ").capitalize())] + [_quality_count(k, v.get(k, dc.display_count(0))) for k in keys]
                for src, v in sources.items()]
        out.append(_table("Files and rows by source (quarantined files and rejected rows are not counted "
                          "in any figure)", ["Source"] + [SOURCE_COUNTS[k] for k in keys], rows, table_id="quality-sources"))
    checks = quality.get("checks") or []
    if checks:
        rows = [[_e(c.get("name", "")), _status_html(c.get("status")), _e(c.get("detail", ""))] for c in checks]
        out.append(_table("Quality checks", ["Check", "Result", "Detail"], rows, table_id="quality-checks"))
    rest = {k: v for k, v in quality.items() if k not in ("status", "summary", "as_of", "sources", "checks", "years")}
    if rest:
        out.append(_dl(rest))
    return "".join(out)


def _dl(items: Mapping) -> str:
    out = []
    for k, v in items.items():
        shown = _dl(v) if isinstance(v, Mapping) else _quality_count(k, v)
        out.append(f"<dt>{_e(k)}</dt><dd>{shown}</dd>")
    return f"<dl>{''.join(out)}</dl>"


def _footnotes(disclosure: bool = True) -> str:
    items = "".join(f'<li id="def-{k}"><strong>{_e(label)}</strong>: {_e(text)}</li>'
                    for k, (label, text) in definitions().items())
    control = (f"Disclosure control is on: counts of 1 to {dc.REDACTION_THRESHOLD} are shown as "
               f"{_e(dc.SUPPRESSED_TEXT)}, other counts are rounded to the nearest {dc.ROUNDING_BASE}, totals are "
               "sums of the rounded figures, and ratios are computed from the rounded counts (not shown where a "
               "count is suppressed), following OpenSAFELY's output-checking rules."
               if disclosure else "Disclosure control is off: these are unrounded figures for internal use only.")
    return ('<h2 id="definitions">Definitions</h2><ol class="note">'
            f"{items}</ol><p class=\"note\">Financial years run 1 April to 31 March; an event belongs to the year "
            f"of its UK local date. {control} Personal data (names, emails, patient identifiers) never reach "
            "these pages.</p>")


def _fn(key: str) -> str:
    n = list(definitions()).index(key) + 1
    return f'<sup><a href="#def-{key}" aria-label="definition {n}">{n}</a></sup>'


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


# A temporary page untouched this long is a killed write's: no page takes minutes to write.
STALE_TEMP_AFTER_S = 300


def remove_stale_temp_files(out_dir: Path, older_than_s: float = STALE_TEMP_AFTER_S) -> list[Path]:
    """Remove the hidden `.<page>.*.tmp` files (pages, the quality report) that a write killed
    before its rename left in `out_dir`; never read, but they would pile up. Only files not
    modified for `older_than_s`: another run may be writing its pages into the same folder at
    this moment (rendering takes no lock), and deleting its temporary file would fail its
    rename. Best effort: a file that cannot be removed is left. Returns what was removed."""
    removed, now = [], time.time()
    for p in Path(out_dir).glob(".*.tmp"):
        try:
            if p.is_file() and not p.is_symlink() and now - p.stat().st_mtime > older_than_s:
                p.unlink()
                removed.append(p)
        except OSError:
            pass
    return removed


def _write_atomic(path: Path, text: str) -> None:
    """Readers (a browser, a file share) never see a half-written page."""
    write_text(path, text)
