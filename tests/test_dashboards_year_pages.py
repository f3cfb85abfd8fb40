"""Only the year pages whose data changed are drawn again (dashboards.year_pages), and the pages
left as they were are the pages a full drawing would write."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from dashboards import year_pages
from tests.test_dashboards import _annual

YEARS = ("2020/21", "2021/22", "2022/23", "2023/24")
OLD = 1_000_000_000  # an mtime (2001) no page written by the test can have


def marts(**visits) -> dict:
    """Four years of marts; `visits` overrides a year's visits, e.g. {"2023/24": 400} as y2023_24=400."""
    kpi = []
    for i, y in enumerate(YEARS):
        n = visits.get("y" + y.replace("/", "_"), 9000 + 500 * i)
        kpi += _annual(y, visits=n, visiting_members=2000 + i, pathway_contacts=3900 + i, social_prescriptions=6600,
                       zoom_sessions=600, zoom_members=2800, zoom_attendances=7300, wellbeing_calls=4400,
                       wellbeing_successful_contacts=2200, wellbeing_people_reached=1090)
    monthly = pd.DataFrame(
        [(y, f"{2020 + i}-{m:02d}-01", "WAL", "visits", visits.get("y" + y.replace("/", "_"), 9000 + 500 * i) // 3)
         for i, y in enumerate(YEARS) for m in (4, 5, 6)],
        columns=["financial_year", "month", "site_code", "kpi", "value"])
    monthly = monthly.assign(month=pd.to_datetime(monthly["month"]).dt.date)
    category = pd.DataFrame({"financial_year": list(YEARS), "category": "debt", "social_prescriptions": 1800,
                             "accepted_or_completed": 900})
    return {"kpi_annual": pd.DataFrame(kpi), "monthly": monthly, "category": category, "funnel": None, "outcomes": {}}


QUALITY = {"status": "pass", "summary": "12 files loaded", "as_of": "2024-06-03 06:00 UTC",
           "sources": {"visits": {"files_loaded": 12, "rows_loaded": 9000}}}


def stamp_old(out) -> dict[str, bytes]:
    """Set every file's mtime to OLD; return the contents."""
    out_files = {}
    for p in out.iterdir():
        os.utime(p, (OLD, OLD))
        out_files[p.name] = p.read_bytes()
    return out_files


def rewritten(out) -> set[str]:
    return {p.name for p in out.iterdir() if p.stat().st_mtime != OLD}


def draw(out, m, quality=QUALITY, disclosure=True, everything=False) -> set[str]:
    index, redrawn = year_pages.render_changed(m, quality, disclosure, out, everything=everything)
    assert index == out / "index.html"
    return redrawn


def same_as_full_drawing(out, m, tmp_path, quality=QUALITY, disclosure=True) -> None:
    fresh = tmp_path / "fresh"
    draw(fresh, m, quality, disclosure)
    for y in YEARS:
        name = y.replace("/", "-") + ".html"
        assert (out / name).read_bytes() == (fresh / name).read_bytes(), name
    assert (out / "index.html").read_bytes() == (fresh / "index.html").read_bytes()


def test_new_data_in_the_latest_year_redraws_its_page_and_the_index_only(tmp_path):
    out = tmp_path / "dashboards"
    assert draw(out, marts()) == set(YEARS)  # the first time: every year
    before = stamp_old(out)
    m = marts(y2023_24=9400)  # a new day of the newest year
    quality = {**QUALITY, "summary": "13 files loaded", "as_of": "2024-06-04 06:00 UTC",
               "sources": {"visits": {"files_loaded": 13, "rows_loaded": 9400}}}
    assert draw(out, m, quality) == {"2023/24"}
    assert rewritten(out) == {"2023-24.html", "index.html", year_pages.STATE}
    assert (out / "2023-24.html").read_bytes() != before["2023-24.html"] and "9,400" in (out / "2023-24.html").read_text()
    assert "13 files loaded" in (out / "index.html").read_text()  # the run's summary: on the index
    same_as_full_drawing(out, m, tmp_path, quality)


def test_a_correction_to_an_old_year_redraws_it_and_the_year_after_that_compares_with_it(tmp_path):
    out = tmp_path / "dashboards"
    draw(out, marts())
    stamp_old(out)
    m = marts(y2021_22=9999)
    assert draw(out, m) == {"2021/22", "2022/23"}
    assert rewritten(out) == {"2021-22.html", "2022-23.html", "index.html", year_pages.STATE}
    same_as_full_drawing(out, m, tmp_path)


def test_nothing_changed_or_rows_in_another_order_redraws_no_year(tmp_path):
    out = tmp_path / "dashboards"
    draw(out, marts())
    stamp_old(out)
    m = marts()
    m["kpi_annual"] = m["kpi_annual"].iloc[::-1]
    assert draw(out, m) == set()
    assert rewritten(out) == {"index.html", year_pages.STATE}


@pytest.mark.parametrize("change", ["disclosure", "full_refresh", "code", "state_lost", "page_deleted"])
def test_a_changed_setting_code_or_a_full_refresh_redraws_every_year(change, tmp_path, monkeypatch):
    out = tmp_path / "dashboards"
    draw(out, marts())
    stamp_old(out)
    disclosure, everything, expected = True, False, set(YEARS)
    if change == "disclosure":
        disclosure = False
    elif change == "full_refresh":
        everything = True
    elif change == "code":
        extra = tmp_path / "figures_v2.py"
        extra.write_text("# the code that draws the pages changed\n")
        monkeypatch.setattr(year_pages, "CODE", [*year_pages.CODE, extra])
    elif change == "state_lost":
        (out / year_pages.STATE).write_text("{not json")
    else:
        (out / "2020-21.html").unlink()
        expected = {"2020/21"}
    assert draw(out, marts(), disclosure=disclosure, everything=everything) == expected
    assert rewritten(out) == {y.replace("/", "-") + ".html" for y in expected} | {"index.html", year_pages.STATE}
    if change == "disclosure":
        assert all("Disclosure control OFF" in (out / f"{y.replace('/', '-')}.html").read_text() for y in YEARS)
    same_as_full_drawing(out, marts(), tmp_path, disclosure=disclosure)


def test_a_years_own_quality_status_redraws_that_year(tmp_path):
    out = tmp_path / "dashboards"
    draw(out, marts())
    stamp_old(out)
    quality = {**QUALITY, "years": {"2020/21": {"status": "warn", "notes": ["a late correction"]}}}
    assert draw(out, marts(), quality) == {"2020/21"}
    assert "a late correction" in (out / "2020-21.html").read_text()
    same_as_full_drawing(out, marts(), tmp_path, quality)
