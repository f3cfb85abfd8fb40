"""Dashboards: figures from hand-made marts, and the offline, disclosure-controlled HTML pages."""

import re
from html.parser import HTMLParser
from urllib.parse import unquote

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from dashboards import disclosure as dc
from dashboards import figures as fg
from dashboards import quality as dq
from dashboards.kpis import OKABE_ITO, SITES
from dashboards.page import headline_values, kpi_csv, months_covered, remove_stale_temp_files, render_dashboard

PLOTLY_JS = get_plotlyjs()


def controlled(mart: str, df, disclosure: bool = True):
    """One mart as a page gets it: through disclosure control (the figures never see the switch)."""
    return dc.control_frames({mart: df}, disclosure)[mart]


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
    t = fg.kpi_table(controlled("kpi_annual", kpi_annual), "2021/22").set_index("kpi")
    assert t.at["visits", "value"] == 11020 and t.at["visits", "shown"] == "11,020"
    assert t.at["prescriptions_per_contact", "value"] == pytest.approx(8505 / 4820)
    assert t.at["sessions_per_member", "shown"] == f"{7310 / 2870:.2f}"
    assert len(t) == 12


def test_headline_values(kpi_annual):
    h = headline_values(controlled("kpi_annual", kpi_annual), "2021/22")
    assert h["visits"] == "11,020"
    assert h["social_prescriptions"] == "8,505"
    assert h["prescriptions_per_contact"] == "1.76"
    assert h["wellbeing_success_rate"] == "50%"  # 2,210 of 4,410
    assert headline_values(controlled("kpi_annual", kpi_annual, disclosure=False), "2021-22")["visits"] == "11,022"


def test_headline_ratio_hidden_when_count_suppressed(kpi_annual):
    h = headline_values(controlled("kpi_annual", kpi_annual), "2022/23")
    assert h["visits"] == "<8" and h["pathway_contacts"] == "10"
    assert h["prescriptions_per_contact"] == "n/a"  # 5 prescriptions is suppressed
    assert h["sessions_per_member"] == "n/a"        # 6 members is suppressed
    assert h["wellbeing_success_rate"] == "n/a"
    assert headline_values(controlled("kpi_annual", kpi_annual, disclosure=False), "2022/23")["sessions_per_member"] == f"{40 / 6:.2f}"


def test_headline_values_for_a_missing_year(kpi_annual):
    assert set(headline_values(controlled("kpi_annual", kpi_annual), "2019/20").values()) == {"n/a"}


def test_year_on_year_figure(kpi_annual):
    fig = fg.year_on_year_figure(controlled("kpi_annual", kpi_annual), "2021/22")
    assert fig.layout.title.text == "Visits rose from 9,805 in 2020/21 to 11,020 in 2021/22"
    bar = fig.data[0]
    assert bar.y[-1] == "Visits"  # first KPI drawn at the top
    assert bar.x[-1] == pytest.approx((11020 - 9805) / 9805 * 100)
    assert bar.marker.color[-1] == OKABE_ITO["blue"]
    zoom = list(bar.y).index("Zoom sessions")
    assert bar.marker.color[zoom] == OKABE_ITO["vermillion"] and bar.text[zoom] == "-29%"


def test_year_on_year_no_change_from_a_suppressed_count(kpi_annual):
    fig = fg.year_on_year_figure(controlled("kpi_annual", kpi_annual), "2022/23")
    assert fig.layout.title.text == "Visits: <8 in 2022/23"
    assert "Visits" not in fig.data[0].y and "Pathway contacts" in fig.data[0].y


def test_change_sentence():
    assert fg.change_sentence("Visits", "900", "800", "2020/21", "2021/22", -0.11) == \
        "Visits fell from 900 in 2020/21 to 800 in 2021/22"
    assert fg.change_sentence("Visits", "900", "900", "2020/21", "2021/22", 0.0) == \
        "Visits were unchanged at 900 in 2020/21 and 2021/22"


def test_monthly_figure_sites_as_series_with_zoom_and_phone(monthly):
    kpis = ["visits", "zoom_attendances", "wellbeing_calls"]
    fig = fg.monthly_figure(controlled("monthly", monthly), "2021/22", kpis, "Activity")
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
    # 1,010 + 400 (+ suppressed 0); Walton's first visits are the latest site event
    assert fig.layout.title.text == "Walton opened in June 2021; activity peaked in June 2021 at 1,410"


def test_monthly_figure_single_kpi_and_disclosure_off(monthly):
    fig = fg.monthly_figure(controlled("monthly", monthly, disclosure=False), "2021/22", ["pathway_contacts"], "Pathway contacts")
    assert [t.name for t in fig.data] == ["Southport", "Site not recorded"]
    assert list(fig.data[1].y) == [0, 0, 2]
    assert fig.layout.title.text == "Pathway contacts peaked in June 2021 at 15"


def test_monthly_figure_empty_year(monthly):
    fig = fg.monthly_figure(controlled("monthly", monthly), "2019/20", ["visits"], "Visits")
    assert len(fig.data) == 0 and fig.layout.title.text == "No visits recorded in 2019/20"


def test_category_figure(category):
    fig = fg.category_figure(controlled("category", category), "2021/22")
    accepted, bar = fig.data  # accepted drawn first, so each category's prescriptions bar sits on top
    assert bar.name == "Social prescriptions" and accepted.name == "Accepted or completed"
    assert list(bar.y) == ["Other", "Physical activity", "Debt", "Housing"]  # largest at the top
    assert list(bar.x) == [None, 205, 1805, 2130]
    assert list(bar.text) == ["<8", "205", "1,805", "2,130"]
    assert list(accepted.x) == [None, 100, 900, 1000] and list(accepted.text) == ["<8", "100", "900", "1,000"]
    assert bar.marker.color == OKABE_ITO["blue"] and accepted.marker.color == OKABE_ITO["orange"]
    assert accepted.marker.pattern.shape == "/"  # told apart by more than colour
    assert fig.layout.title.text == ("Housing was the most common social prescription category in 2021/22 "
                                     "(2,130 of 4,140)")  # total of the rounded cells


def test_category_data_shares_from_rounded_cells(category):
    d = fg.category_data(controlled("category", category), "2021/22").set_index("category")
    assert d.at["housing", "share"] == pytest.approx(2130 / 4140) and d.at["housing", "share_shown"] == "51%"
    assert pd.isna(d.at["other", "share"]) and d.at["other", "share_shown"] == "n/a"  # suppressed: no share
    assert d.at["other", "accepted_shown"] == "<8"


def test_funnel_figure(funnel):
    fig = fg.funnel_figure(controlled("funnel", funnel), "2021/22")
    assert list(fig.data[0].y) == ["Contacts booked", "Contacts attended", "Social prescriptions"]
    assert list(fig.data[0].x) == [6120, 4820, 8505]
    assert list(fig.data[0].text) == ["6,120", "4,820 (79% of contacts booked)", "8,505 (1.76 per attended contact)"]
    assert fig.layout.title.text == "79% of booked contacts attended (2021/22)"  # 4,820 / 6,120, rounded counts


def test_funnel_all_four_stages(funnel):
    four = pd.concat([funnel, pd.DataFrame({"financial_year": ["2021/22"], "stage_order": [4],
                                            "stage": ["prescriptions_accepted_or_completed"], "value": [4749]})])
    d = fg.funnel_data(controlled("funnel", four), "2021/22")
    assert list(d["label"]) == ["Contacts booked", "Contacts attended", "Social prescriptions", "Accepted or completed"]
    assert d["rate_shown"].iloc[-1] == "56% of social prescriptions"  # 4,750 / 8,505
    assert fg.funnel_figure(controlled("funnel", four), "2021/22").layout.title.text == (
        "79% of booked contacts attended; 56% of prescriptions accepted or completed (2021/22)")


def test_funnel_rate_hidden_when_a_stage_is_suppressed():
    f = pd.DataFrame({"financial_year": "2022/23", "stage_order": [1, 2],
                      "stage": ["contacts_recorded", "contacts_attended"], "value": [20, 5]})
    d = fg.funnel_data(controlled("funnel", f), "2022/23")
    assert list(d["shown"]) == ["20", "<8"] and list(d["rate_shown"]) == ["", "n/a"]
    assert fg.funnel_figure(controlled("funnel", f), "2022/23").layout.title.text == "20 contacts booked led to <8 contacts attended in 2022/23"


def test_category_figure_reads_a_generic_value_column():
    df = pd.DataFrame({"financial_year": ["2021/22"], "category": ["debt"], "value": [12]})
    assert list(fg.category_figure(controlled("category", df), "2021/22").data[0].x) == [10]


def test_optional_marts_may_be_missing():
    assert fg.category_data(controlled("category", None), "2021/22").empty
    assert fg.funnel_data(controlled("funnel", pd.DataFrame(columns=["financial_year", "stage", "value"])), "2021/22").empty


# --- sites open and closed ----------------------------------------------------

@pytest.fixture
def reopening():
    """Zoom every month from April 2020 (the calendar); Walton open Apr-May 2021, closed Jun-Jul, reopened
    Aug-Sep; Southport open from Sep 2021 with a "<8" month; Bootle only in 2020 (so open at the first month)."""
    rows = [(f"{m[:4]}/{(int(m[:4]) + 1) % 100:02d}" if int(m[5:7]) >= 4 else
             f"{int(m[:4]) - 1}/{int(m[:4]) % 100:02d}", m, "ZOOM", "zoom_attendances", 100)
            for m in [f"{y}-{mo:02d}-01" for y, mo in [(2020, 4), (2020, 5)] + [(2021, k) for k in range(4, 10)]]]
    rows += [("2020/21", "2020-04-01", "BOO", "visits", 50), ("2020/21", "2020-05-01", "BOO", "visits", 40)]
    rows += [("2021/22", f"2021-{k:02d}-01", "WAL", "visits", 200) for k in (4, 5, 8, 9)]
    rows += [("2021/22", "2021-09-01", "SOU", "visits", 5)]
    df = pd.DataFrame(rows, columns=["financial_year", "month", "site_code", "kpi", "value"])
    return df.assign(month=pd.to_datetime(df["month"]).dt.date)


def test_site_periods(reopening):
    p = fg.site_periods(reopening)
    got = [(r.site_code, f"{r.opened:%Y-%m}", None if pd.isna(r.closed) else f"{r.closed:%Y-%m}", r.first)
           for r in p.itertuples()]
    assert got == [("WAL", "2021-04", "2021-06", True), ("WAL", "2021-08", None, False),
                   ("SOU", "2021-09", None, True), ("BOO", "2020-04", "2020-06", True)]


def test_sites_open_since(reopening):
    s = fg.sites_open_data(controlled("monthly", reopening), "2021/22").set_index("site_code")
    assert list(s.index) == ["WAL", "SOU"]
    assert s.at["WAL", "open_since_shown"] == "August 2021" and s.at["WAL", "months_open"] == 4
    assert bool(s.at["WAL", "closed_in_year"]) and not bool(s.at["SOU", "closed_in_year"])
    assert s.at["WAL", "value"] == 800 and s.at["WAL", "shown"] == "800"
    assert s.at["SOU", "value"] == 0 and s.at["SOU", "shown"] == "0 + 1 month <8"  # the "<8" month adds 0
    assert fg.sites_open_sentence(controlled("monthly", reopening), "2021/22") == "Open Walton since August 2021; Southport since September 2021"
    assert fg.sites_open_sentence(controlled("monthly", reopening), "2020/21") == "Bootle open since April 2020"
    assert fg.sites_open_sentence(controlled("monthly", reopening), "2019/20") == "No site visits recorded in 2019/20"


def test_sites_open_sentence_all_sites():
    rows = [("2021/22", "2021-09-01", "ZOOM", "zoom_attendances", 90)]
    rows += [("2021/22", "2021-10-01", s, "visits", 40) for s in ("WAL", "SOU", "BOO", "PCL", "PSL")]
    df = pd.DataFrame(rows, columns=["financial_year", "month", "site_code", "kpi", "value"])
    assert fg.sites_open_sentence(controlled("monthly", df), "2021/22") == "All 5 sites open since October 2021"
    fig = fg.monthly_figure(controlled("monthly", df), "2021/22", ["visits"], "Visits")
    assert fig.layout.title.text == "Sites opened in October 2021; visits peaked in October 2021 at 200"
    assert [a.text for a in fig.layout.annotations] == ["No site visits", "Sites opened Oct 2021"]


def test_closure_and_reopening_marked_on_the_visits_chart(reopening):
    fig = fg.monthly_figure(controlled("monthly", reopening), "2021/22", ["visits"], "Visits")
    assert [a.text for a in fig.layout.annotations] == [
        "No site visits", "Walton opened Apr 2021", "Walton closed Jun 2021", "Walton reopened Aug 2021",
        "Southport opened Sep 2021"]
    shapes = [(sh.type, str(sh.x0)[:10], str(sh.x1)[:10]) for sh in fig.layout.shapes]
    assert shapes == [("rect", "2021-05-17", "2021-07-16"),  # June and July: no site open, shaded
                      ("line", "2021-03-17", "2021-03-17"), ("line", "2021-05-17", "2021-05-17"),  # between months
                      ("line", "2021-07-17", "2021-07-17"), ("line", "2021-08-17", "2021-08-17")]
    assert fig.layout.title.text == "Southport opened in September 2021; visits peaked in April 2021 at 200"
    # Bootle was open at the first month of data: when it opened is unknown, so nothing is marked
    assert not fg.monthly_figure(controlled("monthly", reopening), "2020/21", ["visits"], "Visits").layout.annotations
    # the pathway chart is not about sites opening
    assert not fg.monthly_figure(controlled("monthly", reopening), "2021/22", ["zoom_attendances"], "Zoom").layout.shapes


def test_site_periods_without_visits():
    df = pd.DataFrame({"financial_year": ["2021/22"], "month": [pd.Timestamp("2021-04-01").date()],
                       "site_code": ["ZOOM"], "kpi": ["zoom_attendances"], "value": [10]})
    assert fg.site_periods(df).empty and fg.site_periods(None).empty
    fig = fg.sources_monthly_figure(controlled("monthly", df), "2021/22")
    assert not fig.layout.shapes  # nothing said about sites when no visits were ever recorded


# --- by source ----------------------------------------------------------------

def test_sources_monthly_data_totals_of_controlled_cells(monthly):
    d = fg.sources_monthly_data(controlled("monthly", monthly), "2021/22")
    assert list(dict.fromkeys(d["series"])) == ["Visits (kiosk sign-ins)", "Pathway contacts", "Zoom attendances",
                                                "Wellbeing calls"]
    v = d.set_index(["kpi", d["month"].dt.strftime("%Y-%m")])["value"]
    assert v[("visits", "2021-05")] == 0            # PSL's 3 visits are suppressed: the total adds 0
    assert v[("visits", "2021-06")] == 1010
    assert v[("pathway_contacts", "2021-06")] == 15  # SOU 13 -> 15, UNKNOWN 2 -> suppressed
    assert v[("wellbeing_calls", "2021-06")] == 0    # 7 -> suppressed
    assert v[("zoom_attendances", "2021-04")] == 610
    off = fg.sources_monthly_data(controlled("monthly", monthly, disclosure=False), "2021/22").set_index(
        ["kpi", d["month"].dt.strftime("%Y-%m")])["value"]
    assert off[("pathway_contacts", "2021-06")] == 15 and off[("visits", "2021-05")] == 3


def test_sources_monthly_figure(monthly):
    fig = fg.sources_monthly_figure(controlled("monthly", monthly), "2021/22")
    assert [t.name for t in fig.data] == ["Visits (kiosk sign-ins)", "Pathway contacts", "Zoom attendances",
                                          "Wellbeing calls"]
    assert len({t.line.color for t in fig.data}) == 4 and len({t.line.dash for t in fig.data}) == 4
    assert all(t.line.color in OKABE_ITO.values() for t in fig.data)
    assert fig.layout.title.text == "Zoom attendances were the largest source in 2021/22, peaking at 610 in April 2021"
    assert fg.sources_monthly_data(controlled("monthly", monthly), "2019/20").empty


# --- year on year from zero -----------------------------------------------------

def test_year_on_year_from_zero(kpi_annual):
    k = kpi_annual.copy()
    k.loc[(k["financial_year"] == "2020/21") & k["kpi"].isin(["visits", "visiting_members"]), "value"] = 0.0
    d = fg.year_on_year_data(controlled("kpi_annual", k), "2021/22").set_index("kpi")
    assert d.at["visits", "change_shown"] == "up from 0" and pd.isna(d.at["visits", "change"])
    fig = fg.year_on_year_figure(controlled("kpi_annual", k), "2021/22")
    assert fig.layout.title.text == "Visits rose from 0 in 2020/21 to 11,020 in 2021/22"
    assert "Visits" not in fig.data[0].y
    assert fig.layout.annotations[-1].text == "Not drawn (0 in 2020/21): Visits, Visiting members"


# --- quality summary ----------------------------------------------------------

def test_ledger_summary():
    files = pd.DataFrame({
        "source": ["visits", "visits", "visits", "zoom", "pathways"],
        "status": ["loaded", "quarantined", "duplicate", "loaded", "loaded"],
        "rows_loaded": [100, 0, 0, 40, 30], "rows_rejected": [2, 0, 0, 0, 0],
        "loaded_at": pd.to_datetime(["2022-04-01 10:00", "2022-04-01 10:00", "2022-04-02 09:30", "2022-04-01 10:00",
                                     "2022-04-01 10:00"]),
    })
    q = dq.ledger_summary(files, ["visits", "zoom", "pathways", "wellbeing_calls"])
    assert q["sources"]["visits"] == {"files_loaded": 1, "files_quarantined": 1, "files_duplicate": 1,
                                      "rows_loaded": 100, "rows_rejected": 2}
    assert q["sources"]["wellbeing_calls"]["files_loaded"] == 0
    assert q["status"] == "warn"  # no wellbeing calls at all: their figures are 0
    assert q["summary"] == "No file loaded for wellbeing calls; 1 file quarantined; rows rejected in visits"
    assert q["as_of"] == "2022-04-02 09:30 UTC"
    ok = dq.ledger_summary(files[files["status"] == "loaded"].assign(rows_rejected=0), ["visits"])
    assert ok["status"] == "pass" and ok["summary"] == "Every file delivered was loaded whole"
    assert dq.ledger_summary(files, ["visits", "zoom", "pathways"])["summary"] == \
        "1 file quarantined; rows rejected in visits"


def test_add_checks_worsens_the_status():
    q = {"status": "pass", "sources": {}}
    out = dq.add_checks(q, [{"name": "orphan prescriptions", "status": "warn", "detail": "12 orphans"}])
    assert out["status"] == "warn" and q["status"] == "pass" and len(out["checks"]) == 1
    assert dq.add_checks(out, [{"name": "x", "status": "fail"}])["status"] == "fail"
    assert dq.worst() is None and dq.worst("pass", None) == "pass"



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


class _Rows(HTMLParser):
    """The body rows of the table with a given id, as lists of cell texts."""

    def __init__(self, table_id):
        super().__init__()
        self.table_id, self.depth, self.in_body, self.rows, self.cell = table_id, 0, False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and (self.depth or dict(attrs).get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tbody":
            self.in_body = True
        elif self.depth and self.in_body and tag == "tr":
            self.rows.append([])
        elif self.depth and self.in_body and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if self.depth and tag == "table":
            self.depth -= 1
        elif self.depth and tag == "tbody":
            self.in_body = False
        elif self.cell is not None and tag in ("td", "th"):
            self.rows[-1].append(" ".join(self.cell.split()))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def _table_rows(page, table_id):
    p = _Rows(table_id)
    p.feed(page)
    return p.rows


def _outside_plotly_js(page):
    return page.replace(PLOTLY_JS, "")


def test_render_dashboard_writes_offline_controlled_pages(tmp_path, kpi_annual, monthly, category, funnel):
    quality = {"status": "warn", "summary": "1 file quarantined",
               "sources": {"visits": {"files_loaded": 412, "files_quarantined": 1, "files_duplicate": 3,
                                      "rows_loaded": 10022, "rows_rejected": 3}},
               "years": {"2020/21": {"status": "pass"}}, "rows re-read": 13}
    index = render_dashboard(kpi_annual, monthly, tmp_path, category=category, funnel=funnel, quality=quality)
    assert index == tmp_path / "index.html"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2020-21.html", "2021-22.html", "2022-23.html",
                                                          "index.html"]  # no temp files left behind
    idx = index.read_text(encoding="utf-8")
    assert_valid_html(idx)
    assert all(f'href="{y}.html"' in idx for y in ("2020-21", "2021-22", "2022-23"))
    assert "11,020" in idx and "11,022" not in idx
    assert PLOTLY_JS not in idx  # the index has no charts: keep it small
    years = _table_rows(idx, "years")
    assert [r[0] for r in years] == ["2022/23", "2021/22", "2020/21"]  # newest first
    by_year = {r[0]: r for r in years}
    assert by_year["2021/22"][1] == "Apr 2021 to Jun 2021 (part year)"
    assert by_year["2021/22"][2] == "! Passed with warnings" and by_year["2020/21"][2] == "✓ Passed"
    assert by_year["2022/23"][1] == "n/a"  # no monthly rows for that year

    page = (tmp_path / "2021-22.html").read_text(encoding="utf-8")
    assert_valid_html(page)
    assert page.count(PLOTLY_JS) == 1
    rest = _outside_plotly_js(page)
    assert "cdn.plot.ly" not in rest and "https://" not in rest and "http://" not in rest
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert "Disclosure control ON" in page
    assert "11,020" in page and "11,022" not in page and "8,505" in page
    assert "Visits rose from 9,805 in 2020/21 to 11,020 in 2021/22" in page
    figs = ("fig-change", "fig-sources", "fig-visits", "fig-pathways", "fig-categories", "fig-funnel")
    for fid in figs:
        assert f'id="{fid}"' in page
    assert page.count("<details><summary>Data table</summary><table>") == len(figs)  # a table behind every chart
    assert 'id="def-visits"' in page and "never void" not in page  # definitions as footnotes
    assert 'id="def-contacts_booked"' in page and 'id="def-sites_open"' in page
    # quality: files are counted exactly, rows are controlled; unknown keys listed, controlled too. The
    # run's summary is on the index; a year page has its year's status (dashboards.year_pages: why)
    assert _table_rows(idx, "quality-sources") == [["Visits", "412", "1", "3", "10,020", "<8"]]
    assert "<dt>rows re-read</dt><dd>15</dd>" in idx and "rows re-read" not in page
    assert "Data behind 2021/22: " in page and "1 file quarantined" in idx and "1 file quarantined" not in page
    assert 'href="index.html#quality"' in page and _table_rows(page, "quality-sources") == []
    # visits card: previous year and since when sites were open
    assert "by 3,310 visiting members" in page and "(2020/21: 2,100)" in page
    assert "Open Peripatetic South Liverpool since May 2021; Walton since June 2021" in page


def test_csv_download_is_the_controlled_table(tmp_path, kpi_annual, monthly):
    render_dashboard(kpi_annual, monthly, tmp_path)
    page = (tmp_path / "2021-22.html").read_text(encoding="utf-8")
    m = re.search(r'<a id="kpi-csv" download="life-rooms-kpis-2021-22\.csv" href="data:text/csv;charset=utf-8,([^"]*)"',
                  page)
    text = unquote(m.group(1))
    assert text == kpi_csv(controlled("kpi_annual", kpi_annual), "2021/22")
    lines = text.splitlines()
    assert lines[0] == "financial_year,kpi,label,value,shown,disclosure_control"
    assert '2021/22,visits,Visits,11020,"11,020",on' in lines
    assert "11022" not in text
    small = kpi_csv(controlled("kpi_annual", kpi_annual), "2022/23")
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


def test_months_covered(monthly):
    assert months_covered(monthly, "2021/22") == "Apr 2021 to Jun 2021 (part year)"
    full = pd.DataFrame({"financial_year": "2021/22", "month": [pd.Timestamp("2021-04-01"), pd.Timestamp("2022-03-01")]})
    assert months_covered(full, "2021/22") == "Apr 2021 to Mar 2022"
    assert months_covered(monthly, "2019/20") == "n/a"


def test_internal_pages_say_so_everywhere(tmp_path, kpi_annual, monthly):
    render_dashboard(kpi_annual, monthly, tmp_path, disclosure=False)
    for name in ("index.html", "2021-22.html"):
        page = (tmp_path / name).read_text(encoding="utf-8")
        assert "(INTERNAL: unrounded)</title>" in page
        assert '<meta name="disclosure-control" content="off">' in page
        assert "Disclosure control is off" in page


def test_quality_absent_says_not_checked(tmp_path, kpi_annual, monthly):
    render_dashboard(kpi_annual, monthly, tmp_path)
    idx = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert {r[2] for r in _table_rows(idx, "years")} == {"? Not checked"}
    assert "no quality summary was given" in idx


def test_year_page_compares_every_headline(tmp_path, kpi_annual, monthly, category):
    page = render_dashboard(kpi_annual, monthly, tmp_path, year="2021/22", category=category).read_text(
        encoding="utf-8")
    assert_valid_html(page)
    cards = re.findall(r'<div class="card" id="card-(\w+)">(.*?)</div>', page)
    assert [k for k, _ in cards] == ["visits", "pathway_contacts", "zoom_sessions", "wellbeing_successful_contacts"]
    text = {k: re.sub(r"<[^>]+>", "", body) for k, body in cards}
    assert "▲ up 12% on 2020/21 (9,805)" in text["visits"]
    assert "(2020/21: 6,630)" in text["pathway_contacts"] and "(2020/21: 1.70)" in text["pathway_contacts"]
    assert "most often for housing, debt, physical activity" in text["pathway_contacts"]
    assert "▼ down 29% on 2020/21 (910)" in text["zoom_sessions"] and "(2020/21: 3,400)" in text["zoom_sessions"]
    assert "out of 4,410 calls made" in text["wellbeing_successful_contacts"]
    assert "50% successful" in text["wellbeing_successful_contacts"]
    assert "(2020/21: 50%)" in text["wellbeing_successful_contacts"]
    change = {r[0]: r[1:] for r in _table_rows(page, "kpi-table")}
    assert change["Visits1"] == ["9,805", "11,020"]
    cat = re.search(r'<table><caption>Housing was the most common.*?</table>', page).group(0)
    assert "<td class=\"n\">51%</td>" in cat and "<td class=\"n\">&lt;8</td>" in cat


def test_render_removes_temporary_files_of_killed_writes_but_not_a_live_write(tmp_path, kpi_annual, monthly):
    import os
    import time

    out = tmp_path / "dashboards"
    out.mkdir()
    hour_ago = time.time() - 3600
    stale = [out / ".2021-22.html.k3j_x9a2.tmp", out / ".index.html.0a1b2c3d.tmp", out / ".quality.html.4242.tmp"]
    for p in stale:
        p.write_text("<html><body>half a pa")
        os.utime(p, (hour_ago, hour_ago))
    live = out / ".2022-23.html.zz9_live.tmp"  # another run writing right now: not touched
    live.write_text("<html>")
    visible = out / "notes.tmp"  # not one of ours (not hidden)
    visible.write_text("x")
    os.utime(visible, (hour_ago, hour_ago))
    (out / "dbt-docs").mkdir()
    nested = out / "dbt-docs" / ".index.html.tmp"  # outcomes docs' own, in its own folder
    nested.write_text("x")
    os.utime(nested, (hour_ago, hour_ago))
    render_dashboard(kpi_annual, monthly, out)
    assert not [p for p in stale if p.exists()]
    assert live.exists() and visible.exists() and nested.exists()
    assert (out / "index.html").exists()
    assert sorted(p.name for p in out.glob(".*")) == [live.name]
    os.utime(live, (hour_ago, hour_ago))
    assert remove_stale_temp_files(out) == [live]  # once untouched long enough, it goes too



def test_every_chart_is_drawn_with_the_white_template(tmp_path, kpi_annual, monthly):
    """The figures are built without a template (plotly copied it for each one) and every chart
    is drawn with `plotly_white`, as plotly itself writes it into a figure."""
    import json

    import plotly.graph_objects as go

    from dashboards import figures as fg

    render_dashboard(kpi_annual, monthly, tmp_path)
    page = (tmp_path / "2021-22.html").read_text(encoding="utf-8")
    charts = page.count("Plotly.newPlot(")
    white = json.dumps(go.Figure(layout=dict(template=fg.TEMPLATE)).to_dict()["layout"]["template"],
                       separators=(",", ":"))
    assert fg.LAYOUT["template"] is None and fg.TEMPLATE == "plotly_white"
    assert charts >= 3 and page.count('"template":' + white) == charts
