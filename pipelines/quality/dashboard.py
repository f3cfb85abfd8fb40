"""The quality summary handed to the dashboards (render_dashboard's `quality` argument).

The dashboards are only rendered when every blocking check upstream passed, so this says
which checks passed and lists the warnings: stale sources first. Shape (the one documented
in dashboards.page.render_dashboard; every value plain text or a list of dicts):

    {"status": "pass" | "warn",
     "summary": "All 152 blocking checks passed; 1 stale source (zoom); 1 other warning.",
     "checks": [{"name": "Zoom: new exports", "status": "warn",
                 "detail": "no new file for 30.0 days (expected at least every 8 days)"},
                {"name": "Blocking checks", "status": "pass", "detail": "..."}, ...]}

No counts of people are given (the detail texts hold days, percentages and check counts only),
so nothing here needs disclosure control.
"""
from __future__ import annotations

from pipelines.lib.home import Home

KIND_NAMES = {"orphan_social_prescriptions": "Orphan social prescriptions",
              "kpi_year_on_year_movement": "Year-on-year movement",
              "redelivered_with_different_content": "Redelivered with different content"}


def _detail(c: dict) -> str:
    """A warning's line: what it found where the check says so in words (no counts), else a pointer."""
    redelivery = (c.get("details") or {}).get("redelivery")
    if redelivery:
        found = "; ".join(f"{x['label']} in {', '.join(x['fields'])}" for x in redelivery["conflicts"])
        return (f"{c['asset']}: records delivered again with different content ({found}); the newest export's "
                "version is counted. Both versions are listed in quality.html")
    return f"{c['asset']}: see the quality report (quality.html)"


def dashboard_quality(con, home: Home, run_id: str, base: dict | None = None) -> dict:
    """The quality dict; with `base` (e.g. dashboards.quality.ledger_summary), the checks are
    appended to it and its status worsened to match."""
    mine = _checks_quality(con, home, run_id)
    if not base:
        return mine
    order = {"pass": 0, "warn": 1, "fail": 2}
    out = dict(base)
    out["checks"] = [*(base.get("checks") or []), *mine["checks"]]
    out["status"] = max((s for s in (base.get("status"), mine["status"]) if s in order), key=order.__getitem__)
    out["summary"] = "; ".join(s.rstrip(".") for s in (base.get("summary"), mine["summary"]) if s) + "."
    return out


def _checks_quality(con, home: Home, run_id: str) -> dict:
    from pipelines.quality.config import load
    from pipelines.quality.freshness import freshness
    from pipelines.quality.movement import movement
    from pipelines.quality.store import summarise

    cfg = load()
    fresh = freshness(con, cfg)
    try:
        moved = movement(con, cfg)
    except Exception:
        moved = {"kpis": [], "moved": []}
    summary = summarise(home, run_id)
    checks = []
    for f in fresh:
        if f["last_file_at"] is None:
            detail = f"no export has been loaded yet (expected at least every {f['max_age_days']:g} days)"
        else:
            detail = (f"newest export loaded {f['age_days_text']} days ago "
                      f"(expected at least every {f['max_age_days']:g} days)")
        checks.append({"name": f"{f['label']}: new exports", "status": "warn" if f["stale"] else "pass",
                       "detail": ("STALE: " if f["stale"] else "") + detail})
    for k in moved.get("kpis", []):
        if k["moved"]:
            checks.append({"name": f"Year-on-year movement: {k['kpi']}", "status": "warn",
                           "detail": f"{k['change_pct']:+.0f}% against the same months last year "
                                     f"(more than {moved['threshold_pct']:g}%): check before quoting it"})
    other = [c for c in summary["checks"] if c["status"] == "warning"
             and c["name"] not in ("source_freshness", "kpi_year_on_year_movement")]
    for c in other:
        checks.append({"name": KIND_NAMES.get(c["name"], c["name"].replace("_", " ")), "status": "warn",
                       "detail": _detail(c)})
    passed_blocking = sum(1 for c in summary["checks"] if c.get("blocking") and c["status"] in ("passed", "warning"))
    checks.insert(0, {"name": "Blocking checks", "status": "pass",
                      "detail": f"{passed_blocking} blocking checks (schema, keys, code sets, reconciliation) "
                                "passed on the data behind these figures; details in quality.html"})
    stale = [f["source"] for f in fresh if f["stale"]]
    n_warn = sum(1 for c in checks if c["status"] == "warn")
    parts = [f"All {passed_blocking} blocking checks passed"]
    if stale:
        parts.append(f"stale source{'s' if len(stale) > 1 else ''}: {', '.join(stale)}")
    if n_warn - len(stale):
        parts.append(f"{n_warn - len(stale)} other warning{'s' if n_warn - len(stale) > 1 else ''}")
    return {"status": "warn" if n_warn else "pass", "summary": "; ".join(parts) + ".", "checks": checks}
