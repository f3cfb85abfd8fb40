"""The dashboards the pipeline writes for the demo data: no personal data in any file, every page clean in a browser.

The personal identifiers are read back from the raw demo exports (the only place they
exist): e-mails and display names (with the parenthesised original names) from the Zoom
reports, service_user_refs from the wellbeing call logs. Every file under
<home>/dashboards is then searched for every one of them.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest
from plotly.offline import get_plotlyjs

from tests.support import demo_run
from tests.test_browser import assert_clean, assert_year_page, browser, open_page  # noqa: F401, F811 (fixture)

pytestmark = pytest.mark.slow

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
PLOTLY_JS = get_plotlyjs()


def personal_identifiers(landing: Path) -> dict[str, set[str]]:
    """{"emails", "names", "service_user_refs"} as they appear in the raw exports (trimmed, lower-cased)."""
    emails, names, refs = set(), set(), set()
    for f in (landing / "zoom").rglob("*.csv"):
        text = f.read_text(encoding="utf-8-sig")
        emails |= {e.lower() for e in EMAIL.findall(text)}  # participants and hosts
        participants = False
        for row in csv.reader(text.splitlines()):
            if not row or not any(c.strip() for c in row):
                participants = False
            elif row[0].startswith("Name (Original Name)"):
                participants = True
            elif participants:
                m = re.fullmatch(r"\s*(.*?)\s*(?:\((.*)\))?\s*", row[0])
                names |= {" ".join(n.split()).lower() for n in m.groups() if n and n.strip()}
    for f in (landing / "wellbeing_calls").rglob("*.csv"):
        with f.open(encoding="utf-8-sig", newline="") as fh:
            for r in csv.DictReader(fh):
                if r.get("service_user_ref", "").strip():
                    refs.add(r["service_user_ref"].strip().lower())
    return {"emails": emails, "names": names, "service_user_refs": refs}


def find_personal_data(path: Path, ids: dict[str, set[str]]) -> list[str]:
    """Every identifier found in one output file (case-insensitive; names as whole words).

    The page's own text (everything but the inlined plotly.js) is searched for every
    identifier, also after percent-decoding (the CSV download is a data: link). The
    inlined plotly.js is the installed package's text, the same in every page: it is
    checked once, by its e-mail-like and word tokens (names, being common words, are
    not looked for in code)."""
    raw = path.read_text(encoding="utf-8", errors="replace")
    ours = raw.replace(PLOTLY_JS, " ")
    found = [f"plotly.js: {hit}" for hit in _library_hits(ids)] if ours != raw else []
    names = sorted(ids["names"], key=len, reverse=True)
    for text, scope in ((ours, "page"), (unquote(ours), "decoded")):
        low = " ".join(text.lower().split())
        found += [f"{scope}: email {e}" for e in ids["emails"] if e in low]
        found += [f"{scope}: service_user_ref {r}" for r in ids["service_user_refs"] if r in low]
        for i in range(0, len(names), 500):
            rx = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in names[i:i + 500]) + r")(?!\w)")
            found += [f"{scope}: name {m.group(0)}" for m in rx.finditer(low)]
    return sorted(set(found))


_LIBRARY: dict[int, list[str]] = {}


def _library_hits(ids: dict[str, set[str]]) -> list[str]:
    if id(ids) not in _LIBRARY:
        low = PLOTLY_JS.lower()
        emailish = set(re.findall(r"[\w.+%-]*@[\w.-]+", low))
        words = set(re.findall(r"\w+", low))
        _LIBRARY[id(ids)] = ([f"email {e}" for e in ids["emails"] if any(e in t for t in emailish)]
                             + [f"service_user_ref {r}" for r in ids["service_user_refs"]
                                if (r in words if re.fullmatch(r"\w+", r) else r in low)])
    return _LIBRARY[id(ids)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    landing, home, _ = demo_run(tmp_path_factory)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    kpi_annual = con.execute("SELECT * FROM main.kpi_annual ORDER BY financial_year, kpi").df()
    con.close()
    return dict(landing=landing, home=home, dashboards=home / "dashboards", kpi_annual=kpi_annual,
                ids=personal_identifiers(landing))


def test_the_scan_knows_what_to_look_for(demo, tmp_path):
    ids = demo["ids"]
    assert len(ids["emails"]) > 50 and len(ids["names"]) > 50 and len(ids["service_user_refs"]) > 50
    assert any("(" not in n for n in ids["names"]) and any("@merseycare.nhs.uk" in e for e in ids["emails"])
    # positive control: a page with one of each planted in it is caught
    name, email, ref = sorted(ids["names"])[0], sorted(ids["emails"])[0], sorted(ids["service_user_refs"])[0]
    planted = tmp_path / "planted.html"
    planted.write_text(f"<p>{name.title()}</p><a href='data:text/csv,{email.replace('@', '%40')}'>x</a>"
                       f"<td>{ref.upper()}</td>", encoding="utf-8")
    found = find_personal_data(planted, ids)
    assert any(f"name {name}" in f for f in found)
    assert any(f"email {email}" in f for f in found)
    assert any(f"service_user_ref {ref}" in f for f in found)


def test_no_personal_data_in_any_generated_file(demo):
    files = [p for p in demo["dashboards"].rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"index.html", "2021-22.html"}
    leaks = {p.name: hits for p in files if (hits := find_personal_data(p, demo["ids"]))}
    assert not leaks


def test_every_generated_page_in_the_browser(browser, demo):  # noqa: F811 (the fixture)
    d = demo["dashboards"]
    index = open_page(browser, d / "index.html", screenshot="demo-index.png")
    assert_clean(index)
    years = [h for h in index.values["links"] if re.fullmatch(r"\d{4}-\d{2}\.html", h)]
    assert sorted(years) == sorted(p.name for p in d.glob("????-??.html")) and "2021-22.html" in years
    for page in years:
        year = page[:-5].replace("-", "/")
        r = open_page(browser, d / page, screenshot=f"demo-{page[:-5]}.png" if year == "2021/22" else None)
        assert_year_page(r, demo["kpi_annual"], year)
    assert "Passed with warnings" in index.values["text"]  # the demo carries a quarantined file and bad rows

