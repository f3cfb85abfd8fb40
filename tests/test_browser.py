"""The dashboards in a real browser: Debian's headless Chromium opens the pages from disk, network off.

Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe: JSON
messages ending in NUL on file descriptors 3 and 4), so the test needs nothing but the
standard library. The network is off three ways: a dead proxy, a host resolver that
resolves nothing, and DevTools' offline emulation; every request the page makes is
recorded and anything that is not file:, data: or blob: fails the test.

Chromium comes from Debian (`make browser` installs it; CI runs that first). Without it
the tests skip locally, and fail under CI (CI=true), so CI can never pass by skipping.
Screenshots go to test-artifacts/ (gitignored; CI keeps them as artefacts).
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from dashboards import disclosure as dc
from dashboards.page import headline_values, render_dashboard
from tests.support import REPO

ARTIFACTS = REPO / "test-artifacts"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--remote-debugging-pipe",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


def chromium_or_skip() -> str:
    exe = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if exe:
        return exe
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail("CI=true but Debian's chromium is not installed: .ci/run must run `make browser` first")
    pytest.skip("Debian's chromium is not installed (`make browser`, or apt-get install chromium)")


class Browser:
    """Headless Chromium driven over the DevTools pipe."""

    def __init__(self, exe: str, profile: Path, log):
        to_r, self._to_w = os.pipe()
        self._from_r, from_w = os.pipe()
        # Chromium reads commands on fd 3 and writes on fd 4. Lift our ends above 9 first so
        # the dup2s in the child cannot overwrite each other.
        hi_r = fcntl.fcntl(to_r, fcntl.F_DUPFD_CLOEXEC, 10)
        hi_w = fcntl.fcntl(from_w, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(to_r)
        os.close(from_w)

        def child_fds():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen([exe, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, close_fds=False,
                                     preexec_fn=child_fds, start_new_session=True)
        os.close(hi_r)
        os.close(hi_w)
        self._q: queue.Queue = queue.Queue()
        self._id = 0
        self.events: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        with os.fdopen(self._from_r, "rb", buffering=0) as f:
            while chunk := f.read(1 << 16):
                buf += chunk
                *msgs, buf = buf.split(b"\0")
                for m in msgs:
                    self._q.put(json.loads(m))
        self._q.put(None)

    def _next(self, deadline: float) -> dict:
        try:
            m = self._q.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError("no answer from chromium") from None
        if m is None:
            raise RuntimeError("chromium closed the DevTools pipe")
        return m

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._next(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, method: str, session: str, timeout: float = 60) -> dict:
        seen = [e for e in self.events if e.get("method") == method and e.get("sessionId") == session]
        if seen:
            return seen[0]
        deadline = time.monotonic() + timeout
        while True:
            m = self._next(deadline)
            self.events.append(m)
            if m.get("method") == method and m.get("sessionId") == session:
                return m

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)  # our own process group (start_new_session)
            self.proc.wait()
        os.close(self._to_w)


@dataclass
class PageReport:
    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    values: dict = field(default_factory=dict)
    screenshot: Path | None = None

    @property
    def remote_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOCAL_SCHEMES)]


# Run in the page once it has loaded: what a reader (or a screen reader) gets.
PROBE = """(() => {
  const txt = el => el ? (el.innerText ?? el.textContent).replace(/\\s+/g, ' ').trim() : null;  // SVG: textContent
  const figs = [...document.querySelectorAll('figure div[id^="fig-"]')];
  return {
    title: document.title,
    banner: txt(document.getElementById('disclosure')),
    cards: Object.fromEntries([...document.querySelectorAll('.big[data-kpi]')].map(e => [e.dataset.kpi, txt(e)])),
    kpi_table: [...document.querySelectorAll('#kpi-table tbody tr')].map(r => [...r.cells].map(txt)),
    figures: figs.map(f => f.id),
    drawn: figs.filter(f => f.classList.contains('js-plotly-plot') && f.querySelector('svg.main-svg')).map(f => f.id),
    svg_titles: figs.map(f => txt(f.querySelector('.gtitle'))),
    svg_text: Object.fromEntries(figs.map(f => [f.id, txt(f.querySelector('svg.main-svg'))])),
    tables: document.querySelectorAll('figure details table').length,
    links: [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')),
    csv: (document.getElementById('kpi-csv') || {}).href || null,
    text: document.body.innerText,
    page_width: document.documentElement.scrollWidth,
  };
})()"""


def open_page(browser: Browser, path: Path, screenshot: str | None = None, width: int = 1280) -> PageReport:
    """Open one file in a fresh tab, wait until every chart is drawn, and report what happened."""
    url = path.resolve().as_uri()
    report = PageReport(url)
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    s = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        for m in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
            browser.send(m, session=s)
        browser.send("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1,
                                                          "uploadThroughput": -1}, session=s)
        browser.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                            "mobile": False}, session=s)
        start = len(browser.events)
        browser.send("Page.navigate", {"url": url}, session=s)
        browser.wait_for("Page.loadEventFired", s)
        deadline = time.monotonic() + 30
        while True:  # plotly draws on load; give it until every figure has its SVG
            v = _eval(browser, s, PROBE)
            if len(v["drawn"]) == len(v["figures"]) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        report.values = v
        if screenshot:
            size = browser.send("Page.getLayoutMetrics", session=s)["cssContentSize"]
            shot = browser.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}, session=s)
            ARTIFACTS.mkdir(exist_ok=True)
            report.screenshot = ARTIFACTS / screenshot
            report.screenshot.write_bytes(base64.b64decode(shot["data"]))
        _eval(browser, s, "1")  # flush: events that arrived meanwhile are now in browser.events
        for e in browser.events[start:]:
            if e.get("sessionId") != s:
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                report.errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                report.errors.append("console.error: " + " ".join(str(a.get("value", a.get("description")))
                                                                  for a in p["args"]))
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                report.errors.append(f"log: {p['entry']['text']} {p['entry'].get('url', '')}".strip())
            elif e["method"] == "Network.requestWillBeSent":
                report.requests.append(p["request"]["url"])
    finally:
        browser.send("Target.closeTarget", {"targetId": target})
    return report


def _eval(browser: Browser, session: str, expression: str):
    r = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
    if "exceptionDetails" in r:
        raise RuntimeError(f"probe failed: {r['exceptionDetails']}")
    return r["result"].get("value")


@pytest.fixture(scope="module")
def browser():
    exe = chromium_or_skip()
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile, \
            open(ARTIFACTS / "chromium.log", "wb") as log:
        b = Browser(exe, Path(profile), log)
        try:
            yield b
        finally:
            b.close()


def assert_clean(report: PageReport) -> None:
    assert not report.errors, f"{report.url}: console errors {report.errors}"
    assert not report.remote_requests, f"{report.url}: tried the network: {report.remote_requests}"
    assert report.requests and report.requests[0] == report.url


def assert_year_page(report: PageReport, kpi_annual: pd.DataFrame, year: str, disclosure: bool = True) -> None:
    """Drawn, clean, and showing the KPI figures exactly as the disclosure rules publish them."""
    v = report.values
    assert_clean(report)
    assert v["figures"] and v["drawn"] == v["figures"], f"charts not drawn: {set(v['figures']) - set(v['drawn'])}"
    assert v["tables"] >= len(v["figures"])  # a data table behind every chart
    assert all(v["svg_titles"]), "every chart shows its finding as a title"
    h = headline_values(dc.control_frames({"kpi_annual": kpi_annual}, disclosure)["kpi_annual"], year)
    for kpi in ("visits", "pathway_contacts", "zoom_sessions", "wellbeing_successful_contacts"):
        assert v["cards"][kpi] == h[kpi], kpi
    shown = {row[0].rstrip("0123456789"): row[-1] for row in v["kpi_table"]}  # label minus its footnote number
    assert shown["Social prescriptions"] == h["social_prescriptions"]
    assert shown["Zoom members"] == h["zoom_members"]
    assert shown["Prescriptions per contact"] == h["prescriptions_per_contact"]
    assert v["csv"].startswith("data:text/csv")
    assert ("Disclosure control ON" in v["banner"]) is disclosure
    if disclosure:
        assert "INTERNAL" not in v["title"]


# --- the harness itself -----------------------------------------------------------

def test_the_harness_sees_errors_and_network_attempts(browser, tmp_path):
    """A page that misbehaves must be caught: otherwise a clean report proves nothing."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><script src="https://cdn.plot.ly/plotly-2.0.0.min.js"></script>'
                   "</head><body><p>hello</p><script>console.error('boom'); undefinedFunction();</script>"
                   "</body></html>", encoding="utf-8")
    r = open_page(browser, bad)
    assert any("boom" in e for e in r.errors)
    assert any("undefinedFunction" in e for e in r.errors)
    assert r.remote_requests == ["https://cdn.plot.ly/plotly-2.0.0.min.js"]
    assert "hello" in r.values["text"]


# --- the dashboards, from hand-made marts ------------------------------------------

def _annual(year, **counts):
    rows = [dict(financial_year=year, kpi=k, value=float(v)) for k, v in counts.items()]
    ratio = lambda n, d: counts[n] / counts[d] if counts[d] else float("nan")  # noqa: E731
    rows += [dict(financial_year=year, kpi="prescriptions_per_contact",
                  value=ratio("social_prescriptions", "pathway_contacts")),
             dict(financial_year=year, kpi="sessions_per_member", value=ratio("zoom_attendances", "zoom_members"))]
    return rows


@pytest.fixture(scope="module")
def marts():
    kpi_annual = pd.DataFrame(
        _annual("2020/21", visits=0, visiting_members=0, pathway_contacts=3150, social_prescriptions=5040,
                zoom_sessions=905, zoom_members=3410, zoom_attendances=8870, wellbeing_calls=6480,
                wellbeing_successful_contacts=3520, wellbeing_people_reached=1390)
        + _annual("2021/22", visits=11022, visiting_members=2318, pathway_contacts=4820, social_prescriptions=8507,
                  zoom_sessions=644, zoom_members=2870, zoom_attendances=6233, wellbeing_calls=3964,
                  wellbeing_successful_contacts=2210, wellbeing_people_reached=902))
    rows = []
    for year, start in (("2020/21", 2020), ("2021/22", 2021)):
        for i, month in enumerate(pd.date_range(f"{start}-04-01", periods=12, freq="MS")):
            rows += [(year, month.date(), "ZOOM", "zoom_attendances", 700 - 10 * i),
                     (year, month.date(), "ZOOM", "zoom_sessions", 60),
                     (year, month.date(), "PHONE", "wellbeing_calls", 400 - 5 * i),
                     (year, month.date(), "WAL", "pathway_contacts", 150 + i),
                     (year, month.date(), "SOU", "pathway_contacts", 5)]  # suppressed every month
            if year == "2021/22" and i >= 6:  # sites reopen in October 2021
                rows += [(year, month.date(), s, "visits", n + 40 * i)
                         for s, n in (("WAL", 900), ("SOU", 500), ("BOO", 400), ("PCL", 60), ("PSL", 3))]
    monthly = pd.DataFrame(rows, columns=["financial_year", "month", "site_code", "kpi", "value"])
    cats = ["housing", "debt", "benefits", "employment", "wellbeing", "other"]
    category = pd.DataFrame({"financial_year": "2021/22", "category": cats,
                             "social_prescriptions": [2100, 1800, 1700, 900, 2002, 5],
                             "accepted_or_completed": [1200, 1000, 900, 400, 1249, 0]})
    funnel = pd.DataFrame({"financial_year": "2021/22", "stage_order": [1, 2, 3, 4],
                           "stage": ["contacts_recorded", "contacts_attended", "prescriptions_made",
                                     "prescriptions_accepted_or_completed"], "value": [5591, 4820, 8507, 4749]})
    quality = {"status": "warn", "summary": "1 file quarantined",
               "sources": {"visits": {"files_loaded": 40, "files_quarantined": 1, "files_duplicate": 0,
                                      "rows_loaded": 11400, "rows_rejected": 12}}}
    return dict(kpi_annual=kpi_annual, monthly=monthly, category=category, funnel=funnel, quality=quality)


@pytest.fixture(scope="module")
def pages(marts, tmp_path_factory):
    out = tmp_path_factory.mktemp("dashboards")
    render_dashboard(marts["kpi_annual"], marts["monthly"], out, category=marts["category"], funnel=marts["funnel"],
                     quality=marts["quality"])
    return out


def test_year_page_in_the_browser(browser, pages, marts):
    r = open_page(browser, pages / "2021-22.html", screenshot="dashboard-2021-22.png")
    assert_year_page(r, marts["kpi_annual"], "2021/22")
    v = r.values
    assert v["cards"]["visits"] == "11,020" and "11,022" not in v["text"]
    assert v["figures"] == ["fig-change", "fig-sources", "fig-visits", "fig-pathways", "fig-categories", "fig-funnel"]
    assert "Sites opened in October 2021" in v["svg_titles"][2]
    assert "All 5 sites open since October 2021" in v["text"]
    assert "<8" in v["svg_text"]["fig-categories"]  # 'Other' (5) is drawn as suppressed, not as 5
    assert "+53%" in v["svg_text"]["fig-change"]  # pathway contacts 3,150 -> 4,820
    assert r.screenshot.stat().st_size > 50_000
    assert v["page_width"] <= 1280, "the page fits the screen"


def test_index_in_the_browser(browser, pages):
    r = open_page(browser, pages / "index.html", screenshot="dashboard-index.png")
    assert_clean(r)
    v = r.values
    years = [h for h in v["links"] if h.endswith(".html") and h != "index.html"]
    assert years == ["2021-22.html", "2020-21.html"]
    assert all((pages / h).exists() for h in years)
    assert "Passed with warnings" in v["text"] and "Apr 2021 to Mar 2022" in v["text"]
    assert "11,020" in v["text"]
    assert v["page_width"] <= 1280, "the index fits the screen"


def test_internal_page_in_the_browser(browser, marts, tmp_path):
    render_dashboard(marts["kpi_annual"], marts["monthly"], tmp_path, year="2021/22", disclosure=False)
    r = open_page(browser, tmp_path / "2021-22.html")
    assert_year_page(r, marts["kpi_annual"], "2021/22", disclosure=False)
    assert r.values["cards"]["visits"] == "11,022"
    assert "INTERNAL" in r.values["title"] and "for internal use only" in r.values["banner"]


def test_a_narrow_screen_still_draws_everything(browser, pages):
    r = open_page(browser, pages / "2021-22.html", screenshot="dashboard-2021-22-narrow.png", width=420)
    assert_clean(r)
    assert r.values["drawn"] == r.values["figures"]
    assert r.values["page_width"] <= 420, "no sideways scrolling of the whole page on a phone"


def test_disclosure_default_is_on():
    assert dc.DISCLOSURE_DEFAULT is True
