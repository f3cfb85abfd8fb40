"""The year pages' outcome sections: "Who we reach" (members by IMD decile) and "Do people
feel better" (paired wellbeing change), from the outcome marts.

As in dashboards.figures, each chart has a ``*_data`` function returning the numbers it draws
(printed as its data table) and a ``*_figure`` function, from the marts as
dashboards.disclosure.control_frames returns them: every share is computed from the controlled
counts, and a mean is there only when the count of members behind it is shown (control blanks
it otherwise). When an input has not arrived the section says so in words instead of drawing an
empty chart (contract, "The landing zone").
"""
from __future__ import annotations

import html
from typing import Mapping

import pandas as pd
import plotly.graph_objects as go

from . import disclosure as dc
from .kpis import OKABE_ITO, SITES

DECILES = [str(d) for d in range(1, 11)]
ENGLAND_SHARE = 0.10  # each IMD decile holds 10% of England's LSOAs by construction
ONS4_LABELS = {"life_satisfaction": "Life satisfaction", "worthwhile": "Things done are worthwhile",
               "happiness": "Happiness yesterday", "anxiety": "Anxiety yesterday"}

# term -> (label, definition): footnoted on the year pages after the KPIs (dashboards.page.DEFINITIONS)
TERMS = {
    "members_reached": ("Members reached", "Distinct members with a counted visit or a counted pathway contact in the "
                        "year. By site: members with a counted visit at that site."),
    "imd_decile": ("IMD decile", "The English Indices of Deprivation 2019 decile of the small area (LSOA) of the "
                   "member's postcode on the membership register: 1 is England's most deprived 10% of areas, 10 the "
                   "least. Each decile holds 10% of England's areas, so a service reaching everyone equally would "
                   "show 10% in each. 'Unknown': not on the register, no full postcode, or a postcode the lookup "
                   "does not hold; never dropped, but not in the shares. Postcodes are never stored, only the area."),
    "share_decile_1_3": ("Share in deciles 1-3", "Members reached with a known IMD decile of 1, 2 or 3, divided by "
                         "members reached with a known decile (from the rounded counts)."),
    "swemwbs": ("SWEMWBS", "The Short Warwick-Edinburgh Mental Wellbeing Scale: 7 statements scored 1-5, summed "
                "(7-35) and converted to the metric score by the scale's published table. Higher is better."),
    "paired_members": ("Paired members", "Members with a baseline questionnaire and a follow-up completed at least 42 "
                       "days after their first baseline (their latest such follow-up), counted in the year of the "
                       "follow-up. Questionnaires without a pair are in no change figure."),
    "improved": ("Improved / worsened", "A SWEMWBS change of 3 metric points or more up (improved) or down "
                 "(worsened) between the baseline and the follow-up."),
    "ons4": ("ONS4", "The ONS personal wellbeing questions, each 0-10: life satisfaction, feeling that things done are "
             "worthwhile, happiness yesterday (higher is better) and anxiety yesterday (lower is better)."),
}


def _e(x) -> str:
    return html.escape(str(x))


def _pct(r: float | None) -> str:
    return dc.NOT_SHOWN_TEXT if r is None else f"{r:.0%}"


def _year(df: pd.DataFrame | None, year: str) -> pd.DataFrame:
    if df is None or df.empty:
        return pd.DataFrame() if df is None else df.iloc[0:0]
    return df[df["financial_year"] == year]


def inputs_state(inputs: pd.DataFrame | None) -> dict:
    """Which outcome inputs have arrived (mart_outcome_inputs; no row: none)."""
    row = {} if inputs is None or inputs.empty else inputs.iloc[0].to_dict()

    def n(key):
        v = row.get(key)
        return 0 if v is None or pd.isna(v) else int(v)

    def s(key):
        v = row.get(key)
        return None if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)

    return {"register": n("register_members") > 0, "register_date": (s("register_latest_export_date") or "")[:10] or None,
            "postcode_lookup": s("postcode_lookup_file"), "imd_lookup": s("imd_lookup_file"),
            "questionnaires": n("outcome_responses") > 0, "swemwbs": n("swemwbs_responses") > 0,
            "ons4": n("ons4_responses") > 0}


# --- who we reach -------------------------------------------------------------------------------

def reach_data(by_decile: pd.DataFrame | None, year: str, site: str = "ALL") -> pd.DataFrame:
    """Members reached by IMD decile (1..10, unknown) for one year and site: members (controlled),
    shown, share (of the known-decile cells shown; None for unknown) and share_shown."""
    cols = ["imd_decile", "members", "shown", "share", "share_shown"]
    d = _year(by_decile, year)
    if d.empty:
        return pd.DataFrame(columns=cols)
    d = d[d["site_code"] == site]
    counts = dict(zip(d["imd_decile"], d["members"]))
    texts = dict(zip(d["imd_decile"], d["members" + dc.SHOWN]))
    keys = DECILES + ["unknown"]
    out = pd.DataFrame({"imd_decile": keys, "shown": [texts.get(k, "0") for k in keys]})  # no row: 0
    out["members"] = pd.array([counts.get(k, 0) for k in keys], dtype="Int64")
    known = int(out.loc[out["imd_decile"] != "unknown", "members"].fillna(0).sum())
    out["share"] = [None if k == "unknown" or pd.isna(v) or known == 0 else v / known
                    for k, v in zip(out["imd_decile"], out["members"])]
    out["share_shown"] = ["" if k == "unknown" else _pct(r) for k, r in zip(out["imd_decile"], out["share"])]
    return out[cols]


def reach_summary(summary: pd.DataFrame | None, year: str, site: str = "ALL") -> dict | None:
    """Headline numbers of one year and site (controlled), or None when nobody was reached."""
    s = _year(summary, year)
    s = s[s["site_code"] == site] if not s.empty else s
    if s.empty:
        return None
    r = s.iloc[0]
    return {
        "members_reached": r.members_reached_shown,
        "known": r.members_known_decile_shown,
        "unknown": r.members_unknown_decile_shown,
        "share_1_3": dc.ratio(r.members_decile_1_3, r.members_known_decile),
        "share_1": dc.ratio(r.members_decile_1, r.members_known_decile),
    }


def reach_figure(by_decile: pd.DataFrame | None, year: str, share_1_3: float | None = None) -> go.Figure:
    from .figures import LAYOUT

    d = reach_data(by_decile, year, "ALL")
    k = d[d["imd_decile"] != "unknown"]
    if share_1_3 is None:
        title = f"Members reached in {year} by deprivation of where they live"
    else:
        title = (f"{share_1_3:.0%} of members reached in {year} live in England's most deprived 30% of areas "
                 f"(10% a decile if even)")
    fig = go.Figure()
    fig.add_trace(go.Bar(
        x=[f"{x}" for x in k["imd_decile"]], y=[None if r is None else r for r in k["share"]],
        text=[f"{s} ({c})" if s != dc.NOT_SHOWN_TEXT else c for s, c in zip(k["share_shown"], k["shown"])],
        textposition="outside", cliponaxis=False, name="Members reached", marker_color=OKABE_ITO["blue"],
        hovertemplate="IMD decile %{x}: %{text}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=DECILES, y=[ENGLAND_SHARE] * 10, mode="lines", name="England: 10% of areas in each decile",
        line=dict(color=OKABE_ITO["vermillion"], dash="dash", width=2), hoverinfo="skip"))
    fig.update_layout(**LAYOUT, title_text=title, legend=dict(orientation="h", yanchor="top", y=-0.2, x=0))
    fig.update_xaxes(title_text="IMD 2019 decile (1 = most deprived 10% of England)", type="category")
    fig.update_yaxes(title_text="Share of members with a known decile", tickformat=".0%", rangemode="tozero")
    return fig


def reach_section(year: str, marts: Mapping, chart, table, fn) -> str:
    """'Who we reach': the bar chart against England's 10%, the decile 1-3 headline, tables by
    decile and by site; or why there is nothing to show yet."""
    state = inputs_state(marts.get("outcome_inputs"))
    out = ['<h2 id="reach">Who we reach</h2>']
    missing = []
    if not state["register"]:
        missing.append("the membership register (landing folder members/)")
    if not state["postcode_lookup"] or not state["imd_lookup"]:
        missing.append("the deprivation lookups (landing folder reference/: the ONS postcode-to-LSOA extract and "
                       "the English Indices of Deprivation 2019)")
    s = reach_summary(marts.get("reach_summary"), year, "ALL")
    if missing:
        out.append(f'<p class="note" id="reach-no-data"><strong>No data yet:</strong> {_e(" and ".join(missing))} '
                   f'{"has" if len(missing) == 1 else "have"} not arrived, so members reached cannot be placed by '
                   "deprivation.</p>")
        if s is not None:
            out.append(f"<p>{_e(s['members_reached'])} members reached in {year}{fn('members_reached')}.</p>")
        return "".join(out)
    if s is None:
        out.append(f'<p class="note" id="reach-no-data">No members reached in {year}.</p>')
        return "".join(out)
    share = s["share_1_3"]
    out.append(f'<p class="status-line" id="reach-headline"><span class="big" data-kpi="share_decile_1_3">'
               f'{_e(_pct(share))}</span> of members reached live in IMD deciles 1-3{fn("share_decile_1_3")}, '
               f"England's most deprived 30% of areas ({_e(_pct(s['share_1']))} in decile 1, the most deprived "
               f"10%; 30% and 10% if the service reached every area equally). {_e(s['members_reached'])} members "
               f"reached{fn('members_reached')}, {_e(s['unknown'])} of them with an unknown decile"
               f"{fn('imd_decile')}.</p>")
    d = reach_data(marts.get("reach_by_decile"), year, "ALL")
    fig = reach_figure(marts.get("reach_by_decile"), year, share)
    rows = [[_e(("Decile " + k) if k != "unknown" else "Unknown"), _e(c), _e(p), "10%" if k != "unknown" else ""]
            for k, c, p in zip(d["imd_decile"], d["shown"], d["share_shown"])]
    total = [_e(f"{int(d['members'].fillna(0).sum()):,}"), "", ""]
    out.append(chart("fig-reach", fig, table(f"Members reached in {year} by IMD decile",
                                             ["IMD decile", "Members", "Share of known", "England"], rows,
                                             total=total, table_id="reach-table")))
    site_rows = []
    sm = _year(marts.get("reach_summary"), year)
    for code in [c for c in sm["site_code"] if c != "ALL"] if not sm.empty else []:
        ss = reach_summary(sm, year, code)
        site_rows.append([_e(SITES.get(code, (code,))[0]), _e(ss["members_reached"]), _e(_pct(ss["share_1_3"])),
                          _e(_pct(ss["share_1"])), _e(ss["unknown"])])
    if site_rows:
        out.append(table(f"Members with a counted visit at each site in {year}, by deprivation",
                         ["Site", "Members", "Deciles 1-3", "Decile 1", "Unknown decile"], site_rows,
                         table_id="reach-sites"))
    lookups = f"Lookups in force: {state['postcode_lookup']} and {state['imd_lookup']}"
    register = f"; membership register of {state['register_date']}" if state["register_date"] else ""
    out.append(f'<p class="note">{_e(lookups + register)}.</p>')
    return "".join(out)


# --- do people feel better ---------------------------------------------------------------------

def _mean(v) -> str:
    return dc.NOT_SHOWN_TEXT if dc.is_missing(v) else f"{v:.1f}"


def _signed(v) -> str:
    return dc.NOT_SHOWN_TEXT if dc.is_missing(v) else f"{v:+.1f}"


def swemwbs_summary(change: pd.DataFrame | None, year: str) -> dict | None:
    c = _year(change, year)
    c = c[c["measure"] == "swemwbs"] if not c.empty else c
    if c.empty:
        return None
    r = c.iloc[0]
    return {"paired": r.paired_members_shown, "paired_n": None if dc.is_missing(r.paired_members) else r.paired_members,
            "baseline": _mean(r.mean_baseline), "follow_up": _mean(r.mean_follow_up), "change": _signed(r.mean_change),
            "improved": r.improved_shown, "worsened": r.worsened_shown,
            "share_improved": dc.ratio(r.improved, r.paired_members),
            "share_worsened": dc.ratio(r.worsened, r.paired_members)}


def change_distribution_data(dist: pd.DataFrame | None, year: str) -> pd.DataFrame:
    cols = ["band_order", "band", "members", "shown"]
    d = _year(dist, year)
    if d.empty:
        return pd.DataFrame(columns=cols)
    d = d.sort_values("band_order").copy()
    d["shown"] = d["paired_members" + dc.SHOWN]
    d["members"] = d["paired_members"]
    return d[cols].reset_index(drop=True)


def change_distribution_figure(dist: pd.DataFrame | None, year: str, share_improved: float | None = None) -> go.Figure:
    from .figures import LAYOUT

    d = change_distribution_data(dist, year)
    title = (f"{share_improved:.0%} of paired members improved their SWEMWBS score by 3 points or more in {year}"
             if share_improved is not None else f"Change in SWEMWBS score between baseline and follow-up, {year}")
    colours = [OKABE_ITO["vermillion"] if o <= 3 else OKABE_ITO["blue"] if o >= 6 else "#999999"
               for o in d["band_order"]]
    fig = go.Figure(go.Bar(
        x=list(d["band"]), y=[None if pd.isna(v) else int(v) for v in d["members"]], text=list(d["shown"]),
        textposition="outside", cliponaxis=False, marker_color=colours,
        hovertemplate="%{x}: %{text} members<extra></extra>"))
    fig.update_layout(**LAYOUT, title_text=title, showlegend=False)
    fig.update_xaxes(title_text="Change in SWEMWBS metric score (follow-up minus baseline)", type="category")
    fig.update_yaxes(title_text="Paired members", tickformat=",d", rangemode="tozero")
    return fig


def wellbeing_section(year: str, marts: Mapping, chart, table, fn) -> str:
    state = inputs_state(marts.get("outcome_inputs"))
    out = ['<h2 id="wellbeing">Do people feel better</h2>']
    if not state["questionnaires"]:
        out.append('<p class="note" id="wellbeing-no-data"><strong>No data yet:</strong> no wellbeing questionnaires '
                   "(SWEMWBS or ONS4, landing folder outcome_measures/) have arrived, so there is no change to "
                   "report.</p>")
        return "".join(out)
    s = swemwbs_summary(marts.get("wellbeing_change"), year)
    if s is None:
        out.append(f'<p class="note" id="wellbeing-no-data">No paired SWEMWBS questionnaires in {year}: no member '
                   f"has a follow-up in {year} at least 42 days after their baseline{fn('paired_members')}.</p>")
    else:
        out.append(
            f'<p class="status-line" id="wellbeing-headline"><span class="big" data-kpi="swemwbs_share_improved">'
            f'{_e(_pct(s["share_improved"]))}</span> of {_e(s["paired"])} paired members{fn("paired_members")} '
            f'improved their SWEMWBS{fn("swemwbs")} wellbeing score by 3 points or more{fn("improved")} '
            f'({_e(s["improved"])} improved, {_e(s["worsened"])} worsened, {_e(_pct(s["share_worsened"]))}). '
            f'Mean score {_e(s["baseline"])} at baseline and {_e(s["follow_up"])} at follow-up '
            f'(change {_e(s["change"])}).</p>')
        fig = change_distribution_figure(marts.get("wellbeing_distribution"), year, s["share_improved"])
        d = change_distribution_data(marts.get("wellbeing_distribution"), year)
        rows = [[_e(b), _e(c)] for b, c in zip(d["band"], d["shown"])]
        out.append(chart("fig-swemwbs-change", fig, table(
            f"Paired members by change in SWEMWBS score, {year}", ["Change (metric points)", "Paired members"],
            rows, total=[_e(f"{int(d['members'].fillna(0).sum()):,}")], table_id="swemwbs-table")))
    o = _year(marts.get("wellbeing_change"), year)
    o = o[o["measure"] == "ons4"].sort_values("item_order") if not o.empty else o
    if o.empty:
        out.append(f'<p class="note" id="ons4-no-data">No paired ONS4 questionnaires in {year}{fn("ons4")}.</p>')
    else:
        rows = []
        for r in o.itertuples():
            better = "higher" if r.higher_is_better else "lower"
            verdict = dc.NOT_SHOWN_TEXT if dc.is_missing(r.paired_members) else (
                "better" if r.mean_improvement > 0 else "worse" if r.mean_improvement < 0 else "no change")
            rows.append([_e(ONS4_LABELS.get(r.item, r.item)), _e(r.paired_members_shown),
                         _e(_mean(r.mean_baseline)), _e(_mean(r.mean_follow_up)), _e(_signed(r.mean_change)),
                         _e(better), _e(verdict)])
        out.append(table(f"ONS4 personal wellbeing of paired members, {year} (0-10)",
                         ["Question", "Paired members", "Mean at baseline", "Mean at follow-up", "Change",
                          "Better is", "On average"], rows, table_id="ons4-table"))
    out.append('<p class="note">Means are shown only where the number of paired members behind them is shown '
               "(not suppressed).</p>")
    return "".join(out)
