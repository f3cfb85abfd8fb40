"""What a run was computed from, so a run with nothing new can be skipped without doing any work.

A published result depends on three things: the landing zone's files (each file's path and
content digest), the code (pipelines, dbt project, dashboards, suites) and the settings read
from the environment. After a whole-job run succeeds, their fingerprints are written to
<home>/state/last_run_inputs.json; `outcomes run` (and `outcomes demo`) with the same three
and the outputs still in place has nothing to do, and says so instead of starting Dagster and
dbt. Anything else (a new or changed file, an edit to a model, another staff domain, a missing
warehouse or dashboard) runs the job as before; `--full-refresh` always does. The files are
compared by their stat keys first (`unchanged_by_stats`: no content digest looked up), by their
contents only when a stat key changed.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pipelines.lib.atomic import write_text
from pipelines.lib.digests import DigestCache
from pipelines.lib.engine import engine
from pipelines.lib.home import Home
from pipelines.lib.landing import LandingFile, Listing

REPO = Path(__file__).resolve().parents[2]
# What a run's results are computed from, relative to the repository.
CODE = ("pipelines", "dashboards", "expectations", "dbt_project/models", "dbt_project/macros",
        "dbt_project/seeds", "dbt_project/tests", "dbt_project/dbt_project.yml", "dbt_project/profiles.yml")
CODE_SUFFIXES = (".py", ".sql", ".yml", ".yaml", ".csv", ".json")
# Environment variables that change where or how a run works, not what it computes.
NOT_SETTINGS = frozenset({"OUTCOMES_HOME", "OUTCOMES_LANDING", "OUTCOMES_DEBUG",
                          "OUTCOMES_LOCK_TIMEOUT", "OUTCOMES_DBT_MEMORY_LIMIT", "OUTCOMES_DBT_THREADS",
                          "OUTCOMES_DUCKDB_MEMORY_LIMIT", "OUTCOMES_ISOLATE"})


def _digest(lines) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode() + b"\n")
    return h.hexdigest()


listing = Listing  # every discovered file with its stat key (None: a link out of the zone)


def stats_fingerprint(listed: Listing) -> str:
    """Digest of every file's path and stat key. Equal stat keys mean equal contents (the digest
    cache's rule: any write changes a file's ctime), so a run whose listing digest equals the last
    run's has nothing new without looking up a single content digest."""
    lines = (f"{rel}\0{outside}" if key is None else "%s\0%d %d %d %d %d" % (rel, *key)
             for rel, _, _, outside, key in listed.entries)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def landing_files(landing: Path, digests: DigestCache | None = None,
                  listed: Listing | None = None) -> list[tuple[str, str, str]]:
    """(source, landing-relative path, content digest) of every discovered file (digests: the
    home's remembered digests, pipelines/lib/digests.py; none: every file read)."""
    digests = digests or DigestCache()
    # a remembered digest by path first, as a load's `pending` does: a LandingFile only for a file
    # to read (a day at 100x: 344,497 look-ups, 2.3 -> 0.5 s)
    return [(source, rel, (key is not None and digests.remembered(where, key))
             or digests.digest(LandingFile(source, where, rel, outside), key))
            for rel, source, where, outside, key in (listing(landing) if listed is None else listed).entries]


def landing_fingerprint(landing: Path, files: list[tuple[str, str, str]] | None = None) -> tuple[str, int]:
    """(digest of every discovered file's path and content digest, number of files)."""
    files = landing_files(landing) if files is None else files
    return _digest(f"{rel}\0{digest}" for _, rel, digest in files), len(files)


def code_fingerprint(repo: Path = REPO) -> str:
    paths = []
    for name in CODE:
        p = repo / name
        paths += [p] if p.is_file() else sorted(x for x in p.rglob("*") if x.is_file() and x.suffix in CODE_SUFFIXES
                                                and "__pycache__" not in x.parts)
    return _digest(f"{p.relative_to(repo)}\0{hashlib.sha256(p.read_bytes()).hexdigest()}" for p in paths)


def settings_fingerprint(environ=os.environ) -> str:
    return _digest(f"{k}={v}" for k, v in sorted(environ.items()) if k.startswith("OUTCOMES_") and k not in NOT_SETTINGS)


def computed_from(landing: Path, engine_name: str = "") -> dict:
    """What a run computes from besides the landing files: the landing root, the code, the settings
    and the engine (`--engine`, else $OUTCOMES_ENGINE, a setting: another engine computes anew)."""
    return {"landing": str(landing.resolve()), "code": code_fingerprint(), "settings": settings_fingerprint(),
            "engine": engine(engine_name or None)}


def fingerprint(landing: Path, files: list[tuple[str, str, str]] | None = None, engine_name: str = "",
                stats: str | None = None, computed: dict | None = None) -> dict:
    """`computed_from` (or `computed`, when already known) and the landing files' contents; stats:
    the listing's stats_fingerprint, recorded for the next run's `unchanged_by_stats`."""
    digest, count = landing_fingerprint(landing, files)
    computed = computed_from(landing, engine_name) if computed is None else computed
    return {**computed, "landing_files": count, "landing_digest": digest,
            **({} if stats is None else {"landing_stats": stats})}


def state_path(home: Home) -> Path:
    return home.state / "last_run_inputs.json"


def save(home: Home, inputs: dict, run_id: str) -> None:
    write_text(state_path(home), json.dumps({**inputs, "run_id": run_id}, indent=1, sort_keys=True) + "\n")


def forget(home: Home) -> None:
    state_path(home).unlink(missing_ok=True)


def last_inputs(home: Home) -> dict | None:
    """The inputs of the last successful whole run, if its outputs are still there."""
    try:
        last = json.loads(state_path(home).read_text())
    except (FileNotFoundError, ValueError):
        return None
    outputs = home.warehouse.exists() and (home.dashboards / "index.html").exists()
    return last if outputs else None


def unchanged_since(home: Home, inputs: dict, ignore: tuple[str, ...] = ()) -> dict | None:
    """The last successful whole run's record when it was computed from exactly `inputs` (but the
    keys in `ignore`) and its outputs are still there; else None (the job must run)."""
    last = last_inputs(home)
    return last if last is not None and all(last.get(k) == v for k, v in inputs.items() if k not in ignore) else None


def unchanged_by_stats(home: Home, computed: dict, listed: Listing, stats: str) -> dict | None:
    """`unchanged_since` judged by the files' stat keys (`stats`) instead of their contents: no
    remembered digest loaded or looked up (a 100x landing zone: 344,544 of them). None when any
    file's stat key changed, even with the same content: then the contents decide. `computed`:
    `computed_from` of this run."""
    return unchanged_since(home, {**computed, "landing_files": len(listed), "landing_stats": stats})


def only_landing_changed(home: Home, inputs: dict) -> bool:
    """The last successful whole run used the same code, settings and landing root, and its outputs
    are in place: every model is built, and only the files that are new need to flow through."""
    last = last_inputs(home)
    return last is not None and all(last.get(k) == inputs[k] for k in ("landing", "code", "settings", "engine"))
