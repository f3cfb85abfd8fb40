"""The quality summary the pages print (shape: dashboards.page.render_dashboard's docstring).

Built from the ingestion ledger now; the quality checks add their results with
add_checks. Plain functions from DataFrames to dicts: no warehouse access here.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd

ORDER = {"pass": 0, "warn": 1, "fail": 2}
LEDGER_COLUMNS = ["source", "status", "rows_read", "rows_loaded", "rows_rejected", "loaded_at"]


def worst(*statuses: str | None) -> str | None:
    """The worst of the given statuses (fail > warn > pass); None if none was given."""
    known = [s for s in statuses if s in ORDER]
    return max(known, key=ORDER.__getitem__) if known else None


def ledger_summary(files: pd.DataFrame, sources: Iterable[str] = ()) -> dict:
    """Summarise ledger.files: per source, files loaded / quarantined / duplicate and rows loaded / rejected.

    Status: "warn" when any file was quarantined, any row rejected (their
    records are in no figure) or a named source has no loaded file at all (its
    figures are 0), else "pass". Failing is for the quality checks to decide
    (add_checks): the dashboards are only rendered when the blocking ones pass. `sources` lists the sources expected (every one is
    listed, with zeros when nothing arrived). The ledger holds no field values,
    so nothing personal can reach the summary.
    """
    f = files if files is not None else pd.DataFrame(columns=LEDGER_COLUMNS)
    names = list(dict.fromkeys([*sources, *sorted(f["source"].dropna().unique())]))
    out_sources = {}
    for src in names:
        g = f[f["source"] == src]
        loaded = g[g["status"] == "loaded"]
        out_sources[src] = {
            "files_loaded": int(len(loaded)),
            "files_quarantined": int((g["status"] == "quarantined").sum()),
            "files_duplicate": int((g["status"] == "duplicate").sum()),
            "rows_loaded": int(loaded["rows_loaded"].fillna(0).sum()),
            "rows_rejected": int(g["rows_rejected"].fillna(0).sum()),
        }
        if "rows_read" in g:  # the data rows quarantined files hold: in no figure
            out_sources[src]["rows_uncounted"] = int(g.loc[g["status"] == "quarantined", "rows_read"].fillna(0).sum())
    quarantined = sum(v["files_quarantined"] for v in out_sources.values())
    rejected = sum(v["rows_rejected"] for v in out_sources.values())
    missing = [s for s, v in out_sources.items() if v["files_loaded"] == 0]
    parts = []
    if missing:
        parts.append("no file loaded for " + ", ".join(s.replace("_", " ") for s in missing))
    if quarantined:
        parts.append(f"{quarantined} file{'s' if quarantined != 1 else ''} quarantined")
    if rejected:
        parts.append("rows rejected in " + ", ".join(s.replace("_", " ") for s, v in out_sources.items()
                                                     if v["rows_rejected"]))
    status = "warn" if (missing or quarantined or rejected) else "pass"
    summary = "; ".join(parts) if parts else "every file delivered was loaded whole"
    out: dict = {"status": status, "summary": summary[0].upper() + summary[1:], "sources": out_sources}
    if "loaded_at" in f and f["loaded_at"].notna().any():
        out["as_of"] = f"{pd.Timestamp(f['loaded_at'].max()):%Y-%m-%d %H:%M} UTC"
    return out


def add_checks(quality: Mapping, checks: Iterable[Mapping]) -> dict:
    """A copy of `quality` with check results appended ({"name", "status", "detail"}) and the status worsened to match."""
    out = dict(quality)
    out["checks"] = [*(quality.get("checks") or []), *checks]
    out["status"] = worst(quality.get("status"), *(c.get("status") for c in out["checks"]))
    return out
