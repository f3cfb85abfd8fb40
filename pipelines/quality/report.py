"""The quality report: one self-contained HTML page (no script, no CDN) beside the dashboards.

Rendered once per run, when the run ends (`render_report`, from the run's records in
pipelines.quality.store), with last_run.json, the same summary as data. It shows
the verdict (published or withheld, and why), what failed with samples of the failing rows
(lineage and pseudonyms only: free text and identities are withheld), the warnings, source
freshness, and every check that ran with the data it ran on.
"""
from __future__ import annotations

import html
import json

from pipelines.lib.atomic import write_text as write_atomic
from pipelines.lib.home import Home
from pipelines.quality.store import last_run_path, report_path, summarise

STATUS_TEXT = {"failed": "FAILED", "warning": "warning", "passed": "passed", "not_run": "not run"}
KIND_TEXT = {"great_expectations": "Great Expectations", "dbt": "dbt test", "python": "Python"}

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Arial,sans-serif;color:#1a1a1a;max-width:1200px;margin:0 auto;padding:1rem 1.5rem;line-height:1.45}
h1{margin:.2em 0} h2{margin-top:1.8em;border-bottom:2px solid #ddd} a{color:#005a8c}
.banner{padding:.7em 1em;border-left:8px solid;margin:1em 0;font-size:1.05em;font-weight:600}
.banner.withheld{background:#fdecea;border-color:#b00020} .banner.published{background:#e9f5ee;border-color:#00603f}
.banner.not_published{background:#fff4e5;border-color:#8a4b00}
table{border-collapse:collapse;margin:.5em 0 1em;font-variant-numeric:tabular-nums;width:100%}
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top} thead th{background:#f0f0f0}
td.n{text-align:right} .failed{color:#b00020;font-weight:700} .warning{color:#8a4b00;font-weight:600}
.passed{color:#00603f} .not_run{color:#555} .small{font-size:.9em;color:#444}
td.failed,td.warning,td.passed,td.not_run,td.k{white-space:nowrap}
.samples td,.samples th{font-size:.85em;font-family:ui-monospace,Consolas,monospace}
details{margin:.3em 0} summary{cursor:pointer;color:#005a8c} code{font-size:.92em;overflow-wrap:anywhere}
td{overflow-wrap:anywhere}
.card{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:.8em 0}
"""


def _e(v) -> str:
    return html.escape("" if v is None else str(v))


def _samples_table(samples: list[dict]) -> str:
    if not samples:
        return ""
    cols: list[str] = []
    for s in samples:
        cols += [c for c in s if c not in cols]
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    rows = "".join("<tr>" + "".join(f"<td>{_e(s.get(c))}</td>" for c in cols) + "</tr>" for s in samples)
    return (f'<table class="samples"><caption class="small">sample of the failing rows '
            f'(file and line point to the raw export)</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>')


def _failure(f: dict) -> str:
    count = f.get("count")
    parts = [f'<p><span class="{"failed" if f.get("severity") == "error" else "warning"}">'
             f'{"blocking" if f.get("severity") == "error" else "warning"}</span>: {_e(f.get("what"))}']
    if count is not None:
        parts.append(f" &mdash; {_e(f'{count:,}' if isinstance(count, int) else count)} row(s)")
    if f.get("column"):
        parts.append(f' <span class="small">(column {_e(f["column"])})</span>')
    if f.get("observed"):
        parts.append(f'<br><span class="small">observed: {_e(f["observed"])}</span>')
    if f.get("error"):
        parts.append(f'<br><span class="small">error: {_e(f["error"])}</span>')
    if f.get("found_in_run"):
        parts.append(f'<br><span class="small">found in run {_e(str(f["found_in_run"])[:8])}</span>')
    parts.append("</p>")
    return "".join(parts) + _samples_table(f.get("samples") or [])


def _check_card(c: dict) -> str:
    fails = "".join(_failure(f) for f in c.get("failures") or [])
    return (f'<div class="card" id="{_e(c["check"])}"><h3><span class="{_e(c["status"])}">{_e(STATUS_TEXT.get(c["status"], c["status"]))}'
            f'</span> <code>{_e(c["check"])}</code></h3>'
            f'<p class="small">{_e(KIND_TEXT.get(c.get("kind"), c.get("kind")))}; '
            f'{"blocking" if c.get("blocking") else "warning only"}. {_e(c.get("description"))}</p>'
            f'<p><b>Data:</b> {_e(c.get("data"))}</p>{fails}</div>')


def _freshness(rows: list[dict]) -> str:
    if not rows:
        return "<p>No freshness result in this run.</p>"
    body = "".join(
        f'<tr><td>{_e(r.get("source"))}</td><td class="{"warning" if r.get("stale") else "passed"}">'
        f'{"STALE" if r.get("stale") else "fresh"}</td><td>{_e(r.get("last_file_at") or "never")}</td>'
        f'<td class="n">{_e(r.get("age_days_text"))}</td><td class="n">{_e(r.get("max_age_days"))}</td>'
        f'<td>{_e(r.get("latest_event_date") or "")}</td></tr>' for r in rows)
    return ('<table><thead><tr><th>source</th><th>status</th><th>newest file loaded (UTC)</th><th>days since</th>'
            '<th>expected at least every (days)</th><th>latest event in the data</th></tr></thead>'
            f"<tbody>{body}</tbody></table>")


LEDGER_COLUMNS = (("files_loaded", "files loaded"), ("files_quarantined", "files quarantined"),
                  ("files_duplicate", "duplicate files"), ("rows_read", "rows read"), ("rows_loaded", "rows loaded"),
                  ("rows_rejected", "rows rejected"), ("rows_uncounted", "rows in quarantined files (uncounted)"))


def _ledger(rows: list[dict]) -> str:
    """Files and rows by source from the ingestion ledger, with the rows no figure counts."""
    if not rows:
        return "<p>No ledger summary in this run (ingestion did not run).</p>"
    head = "".join(f'<th class="n">{_e(h)}</th>' for _, h in LEDGER_COLUMNS)
    body = "".join(f'<tr><td>{_e(r.get("source"))}</td>'
                   + "".join(f'<td class="n">{int(r.get(k) or 0):,}</td>' for k, _ in LEDGER_COLUMNS) + "</tr>"
                   for r in rows)
    return (f'<table id="ledger"><thead><tr><th>source</th>{head}</tr></thead><tbody>{body}</tbody></table>'
            '<p class="small">Rows read = rows loaded + rows rejected for every loaded file. A quarantined file is '
            "counted nowhere; its rows are the data lines it holds after the header (ledger.files.rows_read), so "
            "this is how much delivered data no figure includes. A link to a file outside the landing zone is "
            "never read: 0 rows.</p>")


def _all_checks(checks: list[dict]) -> str:
    body = "".join(
        f'<tr><td class="{_e(c["status"])}">{_e(STATUS_TEXT.get(c["status"], c["status"]))}</td>'
        f'<td><code>{_e(c["check"])}</code></td><td class="k">{_e(KIND_TEXT.get(c.get("kind"), c.get("kind")))}</td>'
        f'<td class="k">{"blocking" if c.get("blocking") else "warning"}</td><td class="small">{_e(c.get("data"))}</td></tr>'
        for c in checks)
    return ('<table><thead><tr><th>status</th><th>check (asset:name)</th><th>kind</th><th>severity</th>'
            f'<th>data checked</th></tr></thead><tbody>{body}</tbody></table>')


def render_html(summary: dict) -> str:
    checks = summary.get("checks") or []
    failed = [c for c in checks if c["status"] == "failed"]
    warned = [c for c in checks if c["status"] == "warning"]
    counts = summary.get("counts") or {}
    published = summary.get("published_this_run") or {}
    last = summary.get("last_published")
    pub_lines = []
    for what, label in (("kpi_snapshot", "published KPI snapshot"), ("dashboards", "dashboards")):
        p = published.get(what)
        pub_lines.append(f"<li>{label}: " + (f"refreshed in this run ({_e(p.get('path'))})" if p else
                                              "<b>not refreshed in this run</b>") + "</li>")
    if last:
        pub_lines.append(f"<li>last published KPI snapshot: run <code>{_e(last.get('run_id'))}</code> at "
                         f"{_e(last.get('at'))}</li>")
    sections = [
        f'<div class="banner {_e(summary.get("verdict"))}">{_e(summary.get("headline"))}</div>',
        f'<p>Run <code>{_e(summary.get("run_id"))}</code>, started {_e(summary.get("started_at"))}, '
        f'report updated {_e(summary.get("updated_at"))}. Checks: {counts.get("passed", 0)} passed, '
        f'{counts.get("warning", 0)} warning(s), {counts.get("failed", 0)} failed, '
        f'{counts.get("not_run", 0)} not run (of {counts.get("total", 0)}).</p>',
        f"<ul>{''.join(pub_lines)}</ul>",
        '<p class="small">Blocking checks (schema, keys, code sets, reconciliation, plausibility) stop the '
        "dashboards and the published KPI snapshot from being refreshed: the previous good version stays. "
        "Warnings are shown here and on the dashboards but do not stop publication. Summary on the command line: "
        "<code>outcomes checks</code>.</p>",
    ]
    sections.append("<h2>Failed checks</h2>" + ("".join(_check_card(c) for c in failed) or "<p>None.</p>"))
    sections.append("<h2>Warnings</h2>" + ("".join(_check_card(c) for c in warned) or "<p>None.</p>"))
    sections.append("<h2>Source freshness</h2>" + _freshness(summary.get("freshness") or []))
    sections.append("<h2>Files and rows by source</h2>" + _ledger(summary.get("ledger") or []))
    sections.append(f"<h2>Every check ({len(checks)})</h2>" + _all_checks(checks))
    title = "Life Rooms outcomes: data quality"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{CSS}</style></head>'
            f'<body><nav><a href="index.html">Dashboards</a></nav><h1>{title}</h1>{"".join(sections)}</body></html>\n')


def render_report(home: Home, run_id: str) -> dict:
    """Summarise the run's records into last_run.json and quality.html; returns the summary."""
    summary = summarise(home, run_id)
    write_atomic(last_run_path(home), json.dumps(summary, indent=1, sort_keys=True) + "\n")
    write_atomic(report_path(home), render_html(summary))
    return summary
