"""Dashboards: figures from hand-made marts, and the offline, disclosure-controlled HTML pages."""

import re
from html.parser import HTMLParser
from urllib.parse import unquote

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from dashboards import figures as fg
from dashboards.kpis import OKABE_ITO, SITES
from dashboards.page import headline_values, kpi_csv, render_dashboard

PLOTLY_JS = get_plotlyjs()


def _annual(year, **counts):
    base = dict(visits=0, visiting_members=0, pathway_contacts=0, social_prescriptions=0, zoom_sessions=0,
                zoom_members=0, zoom_attendances=0, wellbeing_calls=0, wellbeing_successful_contacts=0,
                wellbeing_people_reached=0)
    base.update(counts)
    ratio = lambda n, d: base[n] / base[d] if base[d] else float("nan")  # noqa: E731 - as the mart computes them
    base["sessions_per_member"] = ratio("zoom_attendances", "zoom_members")
    base["prescriptions_per_contact"] = ratio("social_prescriptions", "pathway_contacts")
    return [dict(financial_year=year, kpi=k, value=float(v)) for k, v in base.items()]


@pytest.fixture
def kpi_annual():
    return pd.DataFrame(
        _annual("2020/21", visits=9803, visiting_members=2101, pathway_contacts=3911, social_prescriptions=6630,
                zoom_sessions=910, zoom_members=3402, zoom_attendances=9120, wellbeing_calls=6203,
                wellbeing_successful_contacts=3102, wellbeing_people_reached=1480)
        + _annual("2021/22", visits=11022, visiting_members=3312, pathway_contacts=4820, social_prescriptions=8507,
                  zoom_sessions=644, zoom_members=2870, zoom_attendances=7311, wellbeing_calls=4412,
                  wellbeing_successful_contacts=2210, wellbeing_people_reached=1093)
        + _annual("2022/23", visits=3, visiting_members=2, pathway_contacts=12, social_prescriptions=5,
                  zoom_sessions=13, zoom_members=6, zoom_attendances=40, wellbeing_calls=9,
                  wellbeing_successful_contacts=4, wellbeing_people_reached=4))


@pytest.fixture
def monthly():
    rows = [
        ("2021/22", "2021-04-01", "ZOOM", "zoom_attendances", 612),
        ("2021/22", "2021-04-01", "PHONE", "wellbeing_calls", 301),
        ("2021/22", "2021-05-01", "ZOOM", "zoom_attendances", 598),
        ("2021/22", "2021-05-01", "PHONE", "wellbeing_calls", 288),
        ("2021/22", "2021-05-01", "PSL", "visits", 3),        # suppressed
        ("2021/22", "2021-06-01", "WAL", "visits", 1012),     # Walton first in the legend
        ("2021/22", "2021-06-01", "ZOOM", "zoom_attendances", 402),
        ("2021/22", "2021-06-01", "PHONE", "wellbeing_calls", 7),  # suppressed
        ("2021/22", "2021-06-01", "SOU", "pathway_contacts", 13),
        ("2021/22", "2021-06-01", "UNKNOWN", "pathway_contacts", 2),
        ("2020/21", "2020-04-01", "ZOOM", "zoom_attendances", 900),
    ]
    df = pd.DataFrame(rows, columns=["financial_year", "month", "site_code", "kpi", "value"])
    return df.assign(month=pd.to_datetime(df["month"]).dt.date)  # DuckDB DATE arrives as dates


@pytest.fixture
def category():
    return pd.DataFrame({"financial_year": "2021/22", "category": ["debt", "housing", "other", "physical_activity"],
                         "social_prescriptions": [1804, 2132, 5, 203], "accepted_or_completed": [900, 1000, 2, 100]})


@pytest.fixture
def funnel():
    # as mart_pathway_funnel writes it: stage_order, stages mixing contacts and prescriptions
    return pd.DataFrame({"financial_year": "2021/22", "stage_order": [3, 1, 2],
                         "stage": ["prescriptions_made", "contacts_recorded", "contacts_attended"],
                         "value": [8507, 6121, 4820]})


# --- figures ------------------------------------------------------------------

def test_kpi_table_counts_rounded_and_ratios_recomputed(kpi_annual):
    t = fg.kpi_table(kpi_annual, "2021/22").set_index("kpi")
    assert t.at["visits", "value"] == 11020 and t.at["visits", "shown"] == "11,020"
    assert t.at["prescriptions_per_contact", "value"] == pytest.approx(8505 / 4820)
    assert t.at["sessions_per_member", "shown"] == f"{7310 / 2870:.2f}"
    assert len(t) == 12


def test_headline_values(kpi_annual):
    h = headline_values(kpi_annual, "2021/22")
    assert h["visits"] == "11,020"
    assert h["social_prescriptions"] == "8,505"
    assert h["prescriptions_per_contact"] == "1.76"
    assert h["wellbeing_success_rate"] == "50%"  # 2,210 of 4,410
    assert headline_values(kpi_annual, "2021-22", disclosure=False)["visits"] == "11,022"


def test_headline_ratio_hidden_when_count_suppressed(kpi_annual):
    h = headline_values(kpi_annual, "2022/23")
    assert h["visits"] == "<8" and h["pathway_contacts"] == "10"
    assert h["prescriptions_per_contact"] == "n/a"  # 5 prescriptions is suppressed
    assert h["sessions_per_member"] == "n/a"        # 6 members is suppressed
    assert h["wellbeing_success_rate"] == "n/a"
    assert headline_values(kpi_annual, "2022/23", disclosure=False)["sessions_per_member"] == f"{40 / 6:.2f}"


def test_headline_values_for_a_missing_year(kpi_annual):
    assert set(headline_values(kpi_annual, "2019/20").values()) == {"n/a"}


def test_year_on_year_figure(kpi_annual):
    fig = fg.year_on_year_figure(kpi_annual, "2021/22")
    assert fig.layout.title.text == "Visits rose from 9,805 in 2020/21 to 11,020 in 2021/22"
    bar = fig.data[0]
    assert bar.y[-1] == "Visits"  # first KPI drawn at the top
    assert bar.x[-1] == pytest.approx((11020 - 9805) / 9805 * 100)
    assert bar.marker.color[-1] == OKABE_ITO["blue"]
    zoom = list(bar.y).index("Zoom sessions")
    assert bar.marker.color[zoom] == OKABE_ITO["vermillion"] and bar.text[zoom] == "-29%"


def test_year_on_year_no_change_from_a_suppressed_count(kpi_annual):
    fig = fg.year_on_year_figure(kpi_annual, "2022/23")
    assert fig.layout.title.text == "Visits: <8 in 2022/23"
    assert "Visits" not in fig.data[0].y and "Pathway contacts" in fig.data[0].y


def test_change_sentence():
    assert fg.change_sentence("Visits", "900", "800", "2020/21", "2021/22", -0.11) == \
        "Visits fell from 900 in 2020/21 to 800 in 2021/22"
    assert fg.change_sentence("Visits", "900", "900", "2020/21", "2021/22", 0.0) == \
        "Visits were unchanged at 900 in 2020/21 and 2021/22"


def test_monthly_figure_sites_as_series_with_zoom_and_phone(monthly):
    kpis = ["visits", "zoom_attendances", "wellbeing_calls"]
    fig = fg.monthly_figure(monthly, "2021/22", kpis, "Activity")
    names = [t.name for t in fig.data]
    assert names == ["Walton visits", "Peripatetic South Liverpool visits", "Zoom attendances",
                     "Phone wellbeing calls"]
    by = {t.name: t for t in fig.data}
    assert list(by["Walton visits"].y) == [0, 0, 1010]          # months without a row are zeros
    assert list(by["Peripatetic South Liverpool visits"].y) == [0, None, 0]  # 3 suppressed: a gap
    assert list(by["Peripatetic South Liverpool visits"].customdata) == ["0", "<8", "0"]
    assert list(by["Zoom attendances"].y) == [610, 600, 400]
    assert list(by["Phone wellbeing calls"].y) == [300, 290, None]
    assert by["Zoom attendances"].line.color == SITES["ZOOM"][1]
    assert len({t.line.color for t in fig.data}) == 4
    assert fig.layout.title.text == "Activity peaked in June 2021 at 1,410"  # 1,010 + 400 (+ suppressed 0)


def test_monthly_figure_single_kpi_and_disclosure_off(monthly):
    fig = fg.monthly_figure(monthly, "2021/22", ["pathway_contacts"], "Pathway contacts", disclosure=False)
    assert [t.name for t in fig.data] == ["Southport", "Site not recorded"]
    assert list(fig.data[1].y) == [0, 0, 2]
    assert fig.layout.title.text == "Pathway contacts peaked in June 2021 at 15"


def test_monthly_figure_empty_year(monthly):
    fig = fg.monthly_figure(monthly, "2019/20", ["visits"], "Visits")
    assert len(fig.data) == 0 and fig.layout.title.text == "No visits recorded in 2019/20"


def test_category_figure(category):
    fig = fg.category_figure(category, "2021/22")
    bar = fig.data[0]
    assert list(bar.y) == ["Other", "Physical activity", "Debt", "Housing"]  # largest at the top
    assert list(bar.x) == [None, 205, 1805, 2130]
    assert list(bar.text) == ["<8", "205", "1,805", "2,130"]
    assert fig.layout.title.text == ("Housing was the most common social prescription category in 2021/22 "
                                     "(2,130 of 4,140)")  # total of the rounded cells


def test_funnel_figure(funnel):
    fig = fg.funnel_figure(funnel, "2021/22")
    assert list(fig.data[0].y) == ["Contacts recorded", "Contacts attended", "Prescriptions made"]
    assert list(fig.data[0].x) == [6120, 4820, 8505]
    assert fig.layout.title.text == "6,120 contacts recorded led to 8,505 prescriptions made in 2021/22"


def test_category_figure_reads_a_generic_value_column():
    df = pd.DataFrame({"financial_year": ["2021/22"], "category": ["debt"], "value": [12]})
    assert list(fg.category_figure(df, "2021/22").data[0].x) == [10]


def test_optional_marts_may_be_missing():
    assert fg.category_data(None, "2021/22").empty
    assert fg.funnel_data(pd.DataFrame(columns=["financial_year", "stage", "value"]), "2021/22").empty


# --- pages --------------------------------------------------------------------

class _Checker(HTMLParser):
    """Tag balance and unique ids: enough to catch a broken page without a browser."""
    VOID = {"meta", "link", "br", "hr", "img", "input", "col", "source", "wbr"}

    def __init__(self):
        super().__init__()
        self.stack, self.ids, self.errors = [], [], []

    def handle_starttag(self, tag, attrs):
        self.ids += [v for k, v in attrs if k == "id"]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unexpected </{tag}>")


def assert_valid_html(text):
    assert text.startswith("<!DOCTYPE html>")
    c = _Checker()
    c.feed(text)
    c.close()
    assert not c.errors and not c.stack, (c.errors, c.stack)
    assert len(c.ids) == len(set(c.ids)), "duplicate ids"


def _outside_plotly_js(page):
    return page.replace(PLOTLY_JS, "")


def test_render_dashboard_writes_offline_controlled_pages(tmp_path, kpi_annual, monthly, category, funnel):
    index = render_dashboard(kpi_annual, monthly, tmp_path, category=category, funnel=funnel,
                             quality={"rows rejected": 3, "files loaded": 412})
    assert index == tmp_path / "index.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2020-21.html", "2021-22.html", "2022-23.html",
                                                          "index.html"]  # no temp files left behind
    idx = index.read_text(encoding="utf-8")
    assert_valid_html(idx)
    assert all(f'href="{y}.html"' in idx for y in ("2020-21", "2021-22", "2022-23"))
    assert "11,020" in idx and "11,022" not in idx
    assert PLOTLY_JS not in idx  # the index has no charts: keep it small

    page = (tmp_path / "2021-22.html").read_text(encoding="utf-8")
    assert_valid_html(page)
    assert page.count(PLOTLY_JS) == 1
    rest = _outside_plotly_js(page)
    assert "cdn.plot.ly" not in rest and "https://" not in rest and "http://" not in rest
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "Disclosure control ON" in page
    assert "11,020" in page and "11,022" not in page and "8,505" in page
    assert "Visits rose from 9,805 in 2020/21 to 11,020 in 2021/22" in page
    for fid in ("fig-change", "fig-activity", "fig-pathways", "fig-categories", "fig-funnel"):
        assert f'id="{fid}"' in page
    assert page.count("<details><summary>Data table</summary><table>") == 5  # a table behind every chart
    assert 'id="def-visits"' in page and "never void" not in page  # definitions as footnotes
    assert "<dt>rows rejected</dt><dd>&lt;8</dd>" in page and "<dd>410</dd>" in page


def test_csv_download_is_the_controlled_table(tmp_path, kpi_annual, monthly):
    render_dashboard(kpi_annual, monthly, tmp_path)
    page = (tmp_path / "2021-22.html").read_text(encoding="utf-8")
    m = re.search(r'<a download="life-rooms-kpis-2021-22\.csv" href="data:text/csv;charset=utf-8,([^"]*)"', page)
    text = unquote(m.group(1))
    assert text == kpi_csv(kpi_annual, "2021/22")
    lines = text.splitlines()
    assert lines[0] == "financial_year,kpi,label,value,shown,disclosure_control"
    assert '2021/22,visits,Visits,11020,"11,020",on' in lines
    assert "11022" not in text
    small = kpi_csv(kpi_annual, "2022/23")
    assert "2022/23,visits,Visits,,<8,on" in small.splitlines()


def test_disclosure_off_banner_and_true_figures(tmp_path, kpi_annual, monthly):
    render_dashboard(kpi_annual, monthly, tmp_path, disclosure=False)
    page = (tmp_path / "2021-22.html").read_text(encoding="utf-8")
    assert "Disclosure control OFF" in page and "internal use only" in page
    assert "Disclosure control ON" not in page
    assert "11,022" in page
    assert "life-rooms-kpis-2021-22-INTERNAL.csv" in page
    assert "internal use only" in (tmp_path / "index.html").read_text(encoding="utf-8")


def test_render_one_year_and_skip_optional_charts(tmp_path, kpi_annual, monthly):
    page = render_dashboard(kpi_annual, monthly, tmp_path, year="2021/22", category=None,
                            funnel=pd.DataFrame(columns=["financial_year", "stage", "value"]))
    assert page == tmp_path / "2021-22.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2021-22.html", "index.html"]
    text = page.read_text(encoding="utf-8")
    assert 'id="fig-categories"' not in text and 'id="fig-funnel"' not in text
    idx = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert 'href="2021-22.html"' in idx and 'href="2020-21.html"' not in idx  # only pages that exist


def test_first_year_has_no_comparison_and_empty_monthly(tmp_path, kpi_annual):
    empty = pd.DataFrame(columns=["financial_year", "month", "site_code", "kpi", "value"])
    page = render_dashboard(kpi_annual, empty, tmp_path, year="2020-21").read_text(encoding="utf-8")
    assert_valid_html(page)
    assert 'id="fig-change"' not in page and 'class="prev"' not in page
    assert "No monthly" in page


def test_unknown_year_is_an_error(tmp_path, kpi_annual, monthly):
    with pytest.raises(ValueError, match="2030/31"):
        render_dashboard(kpi_annual, monthly, tmp_path, year="2030/31")
