"""The year pages' "Who we reach" and "Do people feel better" sections, from hand-made marts."""
from __future__ import annotations

import pandas as pd
import pytest

from dashboards import disclosure as dc
from dashboards import outcomes as oc
from dashboards.page import render_dashboard

FY = "2021/22"
DECILES = [str(d) for d in range(1, 11)] + ["unknown"]


def kpi_annual() -> pd.DataFrame:
    from pipelines.lib.kpi_registry import names

    return pd.DataFrame({"financial_year": FY, "kpi": list(names()), "value": [100.0] * len(names())})


def monthly() -> pd.DataFrame:
    return pd.DataFrame(columns=["financial_year", "month", "site_code", "kpi", "value"])


def reach_marts(counts: dict[str, int]) -> dict:
    by = pd.DataFrame({"financial_year": FY, "site_code": "ALL", "imd_decile": DECILES,
                       "decile_order": range(1, 12), "members": [counts.get(k, 0) for k in DECILES]})
    known = sum(v for k, v in counts.items() if k != "unknown")
    d13 = sum(counts.get(k, 0) for k in "123")
    summary = pd.DataFrame([{"financial_year": FY, "site_code": "ALL", "members_reached": known + counts.get("unknown", 0),
                             "members_known_decile": known, "members_unknown_decile": counts.get("unknown", 0),
                             "members_decile_1_3": d13, "members_decile_1": counts.get("1", 0),
                             "share_decile_1_3": d13 / known, "share_decile_1": counts.get("1", 0) / known}])
    inputs = pd.DataFrame([{"register_members": 500, "register_latest_export_date": "2022-03-31",
                            "postcode_lookup_file": "reference/postcode_lsoa.csv", "imd_lookup_file": "reference/imd2019.csv",
                            "outcome_responses": 0, "swemwbs_responses": 0, "ons4_responses": 0}])
    return {"reach_by_decile": by, "reach_summary": summary, "outcome_inputs": inputs}


def test_reach_data_controls_counts_and_computes_shares_from_them():
    # 1: 52 -> 50, 2: 23 -> 25, 3: 4 -> suppressed, 10: 26 -> 25; known shown = 100
    m = reach_marts({"1": 52, "2": 23, "3": 4, "10": 26, "unknown": 9})
    m = dc.control_frames(m)  # as the page gets them
    d = oc.reach_data(m["reach_by_decile"], FY).set_index("imd_decile")
    assert list(d["shown"][["1", "2", "3", "10", "unknown"]]) == ["50", "25", "<8", "25", "10"]
    assert d.loc["1", "share"] == pytest.approx(0.5) and pd.isna(d.loc["3", "share"])
    assert pd.isna(d.loc["unknown", "share"]) and d.loc["unknown", "share_shown"] == ""
    # headline share: (52+23+4 = 79 -> 80) / (105 -> 105) from the rounded counts
    s = oc.reach_summary(m["reach_summary"], FY)
    assert s["share_1_3"] == pytest.approx(80 / 105) and s["members_reached"] == "115"


def test_reach_section_draws_the_chart_against_england_and_names_the_lookups(tmp_path):
    m = reach_marts({"1": 52, "2": 23, "3": 4, "10": 26, "unknown": 9})
    page = render_dashboard(kpi_annual(), monthly(), tmp_path, year=FY, outcomes=m).read_text()
    assert 'id="fig-reach"' in page and "England: 10% of areas in each decile" in page
    assert 'data-kpi="share_decile_1_3">76%<' in page  # 80/105
    assert "reference/imd2019.csv" in page and "membership register of 2022-03-31" in page
    assert 'id="reach-no-data"' not in page
    assert ">52<" not in page.split('id="reach"')[1].split('id="wellbeing"')[0]  # no unrounded count
    # no questionnaires yet: said in words
    assert 'id="wellbeing-no-data"' in page and "no wellbeing questionnaires" in page


def test_no_outcome_marts_at_all_says_no_data_yet(tmp_path):
    page = render_dashboard(kpi_annual(), monthly(), tmp_path, year=FY).read_text()
    assert "No data yet:" in page and "the membership register (landing folder members/)" in page
    assert 'id="wellbeing-no-data"' in page and 'id="fig-reach"' not in page


def wellbeing_marts(paired: int, improved: int, worsened: int) -> dict:
    change = pd.DataFrame([
        {"financial_year": FY, "measure": "swemwbs", "item": "swemwbs", "item_order": 1, "higher_is_better": True,
         "paired_members": paired, "mean_baseline": 18.611, "mean_follow_up": 21.04, "mean_change": 2.429,
         "mean_improvement": 2.429, "improved": improved, "worsened": worsened,
         "share_improved": improved / paired, "share_worsened": worsened / paired},
        {"financial_year": FY, "measure": "ons4", "item": "anxiety", "item_order": 4, "higher_is_better": False,
         "paired_members": paired, "mean_baseline": 5.5, "mean_follow_up": 4.25, "mean_change": -1.25,
         "mean_improvement": 1.25, "improved": None, "worsened": None, "share_improved": None, "share_worsened": None},
    ])
    bands = ["down 9 or more", "down 6 to 9", "down 3 to 6", "down less than 3", "same or up less than 3",
             "up 3 to 6", "up 6 to 9", "up 9 or more"]
    dist = pd.DataFrame({"financial_year": FY, "band_order": range(1, 9), "band": bands,
                         "paired_members": [0, 0, worsened, 0, paired - improved - worsened, improved, 0, 0]})
    inputs = pd.DataFrame([{"register_members": 0, "outcome_responses": 2 * paired, "swemwbs_responses": paired,
                            "ons4_responses": paired}])
    return {"wellbeing_change": change, "wellbeing_distribution": dist, "outcome_inputs": inputs}


def test_wellbeing_section_share_improved_means_and_ons4(tmp_path):
    m = wellbeing_marts(paired=120, improved=41, worsened=9)
    page = render_dashboard(kpi_annual(), monthly(), tmp_path, year=FY, outcomes=m).read_text()
    # 41 -> 40 of 120: 33%; worsened 9 -> 10: 8%
    assert 'data-kpi="swemwbs_share_improved">33%<' in page and "(40 improved, 10 worsened, 8%)" in page
    assert "Mean score 18.6 at baseline and 21.0 at follow-up (change +2.4)" in page
    assert 'id="fig-swemwbs-change"' in page and 'id="ons4-table"' in page
    ons4 = page.split('id="ons4-table"')[1].split("</table>")[0]
    assert "Anxiety yesterday" in ons4 and "-1.2" in ons4 and "lower" in ons4 and "better" in ons4
    # the register has not arrived: "Who we reach" says so
    assert 'id="reach-no-data"' in page


def test_means_are_not_shown_for_a_suppressed_number_of_members(tmp_path):
    m = wellbeing_marts(paired=6, improved=2, worsened=1)
    page = render_dashboard(kpi_annual(), monthly(), tmp_path, year=FY, outcomes=m).read_text()
    assert 'data-kpi="swemwbs_share_improved">n/a<' in page
    assert "Mean score n/a at baseline and n/a at follow-up (change n/a)" in page
    section = page.split('id="wellbeing"')[1].split('id="quality"')[0]
    assert "18.6" not in section and "5.5" not in section


def test_disclosure_off_shows_true_counts(tmp_path):
    m = wellbeing_marts(paired=6, improved=2, worsened=1)
    page = render_dashboard(kpi_annual(), monthly(), tmp_path, year=FY, outcomes=m, disclosure=False).read_text()
    section = page.split('id="wellbeing"')[1].split('id="quality"')[0]
    assert 'data-kpi="swemwbs_share_improved">33%<' in section and "18.6" in section
