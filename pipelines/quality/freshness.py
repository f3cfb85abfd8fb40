"""Source freshness: days since each source last delivered a new file (warning, not blocking).

"New file" = a file loaded into raw.* (ledger.files status 'loaded'); duplicates and
quarantined files do not count, since they add no data. The latest event date in the data is
shown beside it for information. Thresholds: pipelines.quality.config (FRESHNESS_MAX_AGE_DAYS).
"""
from __future__ import annotations

from datetime import datetime, timezone

from pipelines.lib.contracts import ACTIVITY_SOURCES
from pipelines.quality.config import QualityConfig

LABELS = {"visits": "Kiosk visits", "zoom": "Zoom", "pathways": "Pathways", "wellbeing_calls": "Wellbeing calls"}

# The latest event per source, for information (local dates; calls converted from UTC).
LATEST_EVENT_SQL = {
    "visits": "SELECT CAST(max(signed_in_at) AS DATE) FROM raw.visits",
    "zoom": "SELECT CAST(max(start_time) AS DATE) FROM raw.zoom_meetings",
    "pathways": "SELECT max(contact_date) FROM raw.pathway_contacts",
    "wellbeing_calls": "SELECT CAST(max(timezone('Europe/London', call_started_at_utc AT TIME ZONE 'UTC')) AS DATE) "
                       "FROM raw.wellbeing_calls",
}


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def freshness(con, cfg: QualityConfig, now: datetime | None = None) -> list[dict]:
    """One dict per source: source, label, stale, last_file_at, age_days, max_age_days, ..."""
    now = now or utc_now()
    last = {s: (at, n) for s, at, n in con.execute(
        "SELECT source, max(loaded_at), count(*) FROM ledger.files WHERE status = 'loaded' GROUP BY source").fetchall()}
    out = []
    for source in ACTIVITY_SOURCES:
        at, n = last.get(source, (None, 0))
        max_age = cfg.freshness_max_age_days[source]
        age = None if at is None else max((now - at).total_seconds() / 86400, 0.0)
        stale = age is None or age > max_age
        try:
            latest_event = con.execute(LATEST_EVENT_SQL[source]).fetchone()[0]
        except Exception:
            latest_event = None
        if at is None:
            message = f"{source}: no file has ever been loaded (expected at least every {max_age:g} days)"
        else:
            message = (f"{source}: newest file loaded {age:.1f} days ago "
                       f"({'more than' if stale else 'within'} the expected {max_age:g} days)")
        out.append({
            "freshness": True, "source": source, "label": LABELS[source], "stale": stale,
            "last_file_at": at.isoformat(sep=" ", timespec="seconds") if at else None,
            "age_days": None if age is None else round(age, 2),
            "age_days_text": "never" if age is None else f"{age:.1f}",
            "max_age_days": max_age, "files_loaded": int(n or 0),
            "latest_event_date": latest_event.isoformat() if latest_event else None,
            "message": message,
        })
    return out
