"""The whole pipeline on the demo landing zone, through the console script, as `make run` does it."""
import csv
import io
import json
import re

import duckdb
import pytest

from dashboards import disclosure as dc
from pipelines.demo.generator import expected_kpis
from pipelines.lib import kpi_registry
from tests.support import REPO, kpis, outcomes
from tests.test_browser import assert_year_page, browser, open_page  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

PUBLISHED_2021_22 = {
    "visits": 11022, "pathway_contacts": 4820, "social_prescriptions": 8507,
    "zoom_sessions": 644, "zoom_members": 2870, "wellbeing_successful_contacts": 2210,
}


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo-home")
    first = outcomes("demo", "--home", str(home))
    return home, first


def test_published_2021_22_figures_are_exact(demo_home):
    home, _ = demo_home
    got = kpis(home)
    assert {k: got[("2021/22", k)] for k in PUBLISHED_2021_22} == PUBLISHED_2021_22


def test_every_kpi_of_every_year_matches_the_generator_design(demo_home):
    home, _ = demo_home
    got = kpis(home)
    expected = expected_kpis(scale=1.0, years=5)
    assert sorted({y for y, _ in got}) == sorted(expected)
    for year, values in expected.items():
        for kpi in kpi_registry.names():
            if kpi in kpi_registry.ratios() and values[kpi] is not None:
                assert got[(year, kpi)] == pytest.approx(values[kpi], rel=1e-12), (year, kpi)
            else:
                assert got[(year, kpi)] == values[kpi], (year, kpi)


def test_run_prints_the_kpi_table_and_the_dashboard_path(demo_home):
    home, first = demo_home
    assert "11,022" in first.stdout and "2021/22" in first.stdout
    index = home / "dashboards" / "index.html"
    assert f"dashboards: {index}" in first.stdout and index.exists()
    page = (home / "dashboards" / "2021-22.html").read_text()
    assert "11,020" in page  # 11,022 after rounding to the nearest 5 (disclosure control on)
    assert "cdn.plot.ly/plotly" not in page.replace(page[page.find("<script"):page.find("</script>")], "")
    assert 'src="http' not in page


def test_csv_and_json_formats(demo_home):
    home, _ = demo_home
    text = outcomes("kpis", "--home", str(home), "--format", "csv", "--year", "2021/22").stdout
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["financial_year", "kpi", "value"]
    assert [r[1] for r in rows[1:]] == list(kpi_registry.names()) and {r[0] for r in rows[1:]} == {"2021/22"}
    assert dict((r[1], r[2]) for r in rows[1:])["prescriptions_per_contact"] == repr(8507 / 4820)
    data = json.loads(outcomes("kpis", "--home", str(home), "--format", "json").stdout)
    assert {"financial_year": "2021/22", "kpi": "visits", "value": 11022.0} in data


def test_a_new_home_takes_the_prepared_parse(demo_home):
    """dbt runs in the home with the vars and profile `outcomes prepare` parsed with, so a new
    home's first build reuses that parse (no whole parse: ~2.4 s) and the warehouse it builds is
    the home's (the profile's relative path is resolved in the home, nowhere else)."""
    home, _ = demo_home
    # dbt.log is written at info: a whole parse says so there ("Unable to do partial parsing because
    # saved manifest not found. Starting full parse.")
    log = (home / "dbt" / "target" / "dbt.log").read_text()
    assert '"name": "FoundStats"' in log and "Unable to do partial parsing" not in log
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM main.kpi_annual").fetchone()[0] > 0
    assert not (home / "dbt" / "warehouse.duckdb").exists() and not (REPO / "dbt_project" / "warehouse.duckdb").exists()


def test_demo_year_page_in_a_browser_shows_who_we_reach_and_do_people_feel_better(browser, demo_home):  # noqa: F811
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        kpi_annual = con.execute("SELECT * FROM main.kpi_annual").df()
        s = con.execute("SELECT members_decile_1_3, members_known_decile FROM main.mart_reach_summary "
                        "WHERE financial_year = '2021/22' AND site_code = 'ALL'").fetchone()
        w = con.execute("SELECT improved, paired_members FROM main.mart_wellbeing_change "
                        "WHERE financial_year = '2021/22' AND measure = 'swemwbs'").fetchone()
    r = open_page(browser, home / "dashboards" / "2021-22.html", screenshot="demo-2021-22.png")
    assert_year_page(r, kpi_annual, "2021/22")
    v = r.values
    assert v["cards"]["visits"] == "11,020"  # the published figure, rounded: the demo's activity is unchanged
    assert "fig-reach" in v["drawn"] and "fig-swemwbs-change" in v["drawn"]
    assert "Who we reach" in v["text"] and "Do people feel better" in v["text"]
    assert "No data yet" not in v["text"]
    # the headline shares, from the rounded counts (disclosure control on)
    share_1_3 = dc.safe_ratio(*s)
    improved = dc.safe_ratio(*w)
    assert f"{share_1_3:.0%} of members reached live in IMD deciles 1-3" in v["text"]
    assert f"{improved:.0%} of paired members improved their SWEMWBS" in v["svg_titles"][v["figures"].index("fig-swemwbs-change")]
    assert share_1_3 > 0.5  # Merseyside: most members in deciles 1-3
    assert len(re.findall(r"\d+% \([\d,]+\)", v["svg_text"]["fig-reach"])) == 10  # a bar per decile: share (count)
    assert "Anxiety yesterday" in v["text"]


def test_second_run_adds_nothing(demo_home):
    home, _ = demo_home
    before = kpis(home)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    counts = con.execute("SELECT (SELECT count(*) FROM raw.visits), (SELECT count(*) FROM ledger.files)").fetchone()
    con.close()
    state = {p: p.stat().st_mtime_ns for p in (home / "warehouse.duckdb", home / "dashboards/index.html",
                                                home / "published/kpi_annual.csv", home / "quality/last_run.json")}
    runs = sorted((home / "runs").iterdir())
    again = outcomes("run", "--landing", str(home / "landing"), "--home", str(home))
    # nothing changed: no job, no dbt, nothing written or published anew
    assert again.stdout.startswith("nothing new: the ") and "11,022" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in state} == state and sorted((home / "runs").iterdir()) == runs
    assert kpis(home) == before
    # a file written again with the same bytes: its stat key changed, so the contents decide (the
    # same: nothing new) and the record takes the new stat keys for the next run
    record = json.loads((home / "state/last_run_inputs.json").read_text())
    touched = next((home / "landing/visits").rglob("*.csv"))
    touched.write_bytes(touched.read_bytes())
    again = outcomes("run", "--landing", str(home / "landing"), "--home", str(home))
    assert again.stdout.startswith("nothing new: the ") and sorted((home / "runs").iterdir()) == runs
    after = json.loads((home / "state/last_run_inputs.json").read_text())
    assert after["landing_stats"] != record["landing_stats"]
    assert {k: v for k, v in after.items() if k != "landing_stats"} == {k: v for k, v in record.items() if k != "landing_stats"}
    forced = outcomes("run", "--landing", str(home / "landing"), "--home", str(home), "--full-refresh")
    assert "0 loaded" in forced.stdout and "already seen" in forced.stdout
    assert kpis(home) == before
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT (SELECT count(*) FROM raw.visits), (SELECT count(*) FROM ledger.files)").fetchone() == counts
    con.close()
