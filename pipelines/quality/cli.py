"""`outcomes checks [--home DIR] [--format text|json]`: the last run's quality, in one screen.

Reads <home>/quality/last_run.json (written once at the end of every run that recorded a check).
Exit code 0 when the last run published (or only warned), 1 when a blocking check stopped
publication, 2 when there is no run to report on. A run that failed before any check ran
(ingestion itself failing) leaves the previous run's summary: the run id and time say which.
"""
from __future__ import annotations

import json

from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home

KIND_TEXT = {"great_expectations": "Great Expectations", "dbt": "dbt test", "python": "Python"}
VERDICT_TEXT = {"published": "PUBLISHED", "withheld": "publication WITHHELD", "not_published": "NOT PUBLISHED"}


def register(subparsers) -> None:
    help_ = "Summarise the quality checks of the last run (the report is <home>/dashboards/quality.html)."
    p = subparsers.add_parser("checks", help=help_, description=help_)
    p.add_argument("--home", help="state folder (default $OUTCOMES_HOME or ./.outcomes)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_checks)


def _example(f: dict) -> str:
    for s in f.get("samples") or []:
        if "file_path" in s and "line_number" in s:
            return f", e.g. {s['file_path']}:{s['line_number']}"
    return ""


def _check_lines(c: dict) -> list[str]:
    lines = [f"  {c['check']}  [{KIND_TEXT.get(c.get('kind'), c.get('kind'))}] {c.get('data', '')}"]
    for f in (c.get("failures") or [])[:8]:
        count = f.get("count")
        n = f": {count:,} row(s)" if isinstance(count, int) else ""
        sev = "" if f.get("severity") == ("error" if c["status"] == "failed" else "warn") else f"({f.get('severity')}) "
        lines.append(f"    - {sev}{f.get('what')}{n}{_example(f)}")
    return lines


def render_text(summary: dict, note: str | None = None) -> str:
    counts = summary.get("counts") or {}
    out = [f"Quality of run {summary['run_id']} (started {summary.get('started_at')}): "
           f"{VERDICT_TEXT.get(summary.get('verdict'), summary.get('verdict'))}",
           f"  {summary.get('headline')}"]
    if note:
        out.append(f"  note: {note}")
    checks = summary.get("checks") or []
    failed = [c for c in checks if c["status"] == "failed"]
    warned = [c for c in checks if c["status"] == "warning"]
    if failed:
        out.append(f"Blocking failures ({len(failed)}):" if all(c.get("blocks") for c in failed)
                   else f"Failures ({len(failed)}):")
        for c in failed:
            out += _check_lines(c)
    if warned:
        out.append(f"Warnings ({len(warned)}):")
        for c in warned:
            out += _check_lines(c)
    fresh = summary.get("freshness") or []
    if fresh:
        parts = []
        for f in fresh:
            age = "never delivered" if f.get("last_file_at") is None else f"{f.get('age_days_text')} days"
            parts.append(f"{f['source']} {'STALE' if f.get('stale') else 'fresh'} ({age}, "
                         f"expected at least every {f.get('max_age_days'):g})")
        out.append("Freshness: " + "; ".join(parts))
    uncounted = [r for r in summary.get("ledger") or [] if r.get("files_quarantined")]
    if uncounted:
        out.append("Uncounted (quarantined files): " + "; ".join(
            f"{r['source']} {r['rows_uncounted']:,} row(s) in {r['files_quarantined']:,} file(s)" for r in uncounted))
    out.append(f"Checks: {counts.get('passed', 0)} passed, {counts.get('warning', 0)} warning(s), "
               f"{counts.get('failed', 0)} failed, {counts.get('not_run', 0)} not run (of {counts.get('total', 0)})")
    last = summary.get("last_published")
    if last:
        out.append(f"Published KPI snapshot: run {last.get('run_id')} at {last.get('at')} ({last.get('path')})")
    out.append(f"Report: {summary.get('report')}")
    return "\n".join(out) + "\n"


def cmd_checks(args) -> int:
    from pipelines.quality.store import load_last_run

    home = Home.resolve(args.home)
    summary = load_last_run(home)
    if summary is None:
        raise UsageError(f"no quality results under {home.root}: run `outcomes run --landing DIR` first")
    if args.format == "json":
        print(json.dumps(summary, indent=1, sort_keys=True))
    else:
        print(render_text(summary), end="")
    return 1 if summary.get("blocking_failures") else 0
