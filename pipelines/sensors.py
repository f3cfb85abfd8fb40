"""The landing sensor: new export files request a run, however often it ticks.

The cursor is the set of SHA-256 digests already requested, and a run's `run_key` is the
digest of the new files' digests: both come from file content, never the clock. So a file
is requested once; a byte-identical copy under a new name, or the same file seen again, is
not; `.part` and hidden files are not seen at all until renamed. A run that fails leaves its
files in the ledger as not loaded: the nightly reconciliation run picks them up.

The landing root is scanned (listed and hashed) in a daemon thread, and a tick evaluated by a
code server waits for the scan at most SCAN_WAIT_SECONDS: a gRPC worker thread is joined before
its process can exit, so a long tick used to hold `dagster dev` up to a minute after Ctrl-C or
SIGTERM (docs/orchestration.md, "Stopping `make dev`").
"""
from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from pipelines.assets.raw import raw_key
from pipelines.jobs import refresh_all
from pipelines.lib.digests import DigestCache
from pipelines.lib.landing import LandingFile, discover
from pipelines.resources import OutcomesResource

# Hashing is the expensive part of a tick: a file keeps its digest while its stat is unchanged,
# remembered in the home between processes (pipelines/lib/digests.py; the digest is always of
# the content).
_DIGESTS: dict[Path, DigestCache] = {}

# The longest a tick evaluated off the main thread (in a code server) waits for the landing scan:
# a scan not finished by then goes on in its daemon thread, the tick skips, and the next tick takes
# its result. Listing 200,000 files alone takes ~11 s on 2 cores; a small landing root, well under 1 s.
SCAN_WAIT_SECONDS = 3.0
_SCANS: dict[Path, concurrent.futures.Future] = {}
_SCANS_LOCK = threading.Lock()


def digests(state: Path | None) -> DigestCache:
    if state not in _DIGESTS:
        _DIGESTS[state] = DigestCache(state)
    return _DIGESTS[state]


def encode_cursor(digests: Iterable[str]) -> str:
    """Sorted raw digests, deflated and base64'd: ~32 bytes per file, deterministic."""
    raw = b"".join(bytes.fromhex(d) for d in sorted(set(digests)))
    return base64.b64encode(zlib.compress(raw, 9)).decode()


def decode_cursor(cursor: str | None) -> set[str]:
    if not cursor:
        return set()
    raw = zlib.decompress(base64.b64decode(cursor))
    return {raw[i:i + 32].hex() for i in range(0, len(raw), 32)}


def run_key(digests: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()


def scan(landing: Path, state: Path | None = None) -> dict[str, LandingFile]:
    """Each distinct content under the landing root: digest -> first file (by path) holding it
    (state: the home's state folder, where digests are remembered)."""
    found: dict[str, LandingFile] = {}
    cache = digests(state)
    for f in discover(landing):
        found.setdefault(cache.digest(f), f)
    cache.save()
    return found


def _start_scan(landing: Path, state: Path | None) -> concurrent.futures.Future:
    future: concurrent.futures.Future = concurrent.futures.Future()

    def work() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(scan(landing, state))
        except BaseException as exc:  # the tick that takes the result raises it
            future.set_exception(exc)

    # A daemon thread: a process that is stopping never waits for a scan.
    threading.Thread(target=work, name="landing-scan", daemon=True).start()
    return future


def scan_landing(landing: Path, wait: float | None = None, state: Path | None = None) -> dict[str, LandingFile] | None:
    """`scan(landing)` run in a daemon thread, or the one already running: None if it has not
    finished within `wait` seconds (it goes on; a later call returns its result). `wait=None`
    waits for it. A finished scan is returned once; the call after starts a new one."""
    with _SCANS_LOCK:
        future = _SCANS.get(landing)
        if future is None:
            future = _SCANS[landing] = _start_scan(landing, state)
    done, _ = concurrent.futures.wait([future], timeout=wait)
    if not done:
        return None
    with _SCANS_LOCK:
        if _SCANS.get(landing) is future:
            del _SCANS[landing]
    return future.result()


def new_files(landing: Path, known: set[str], wait: float | None = None,
              state: Path | None = None) -> dict[str, LandingFile] | None:
    """New content under the landing root: digest -> first file (by path) holding it; None if the
    scan has not finished within `wait` seconds (None: wait for it)."""
    found = scan_landing(landing, wait, state)
    return None if found is None else {d: f for d, f in found.items() if d not in known}


def affected_assets(graph, sources, is_built=lambda key: True) -> set[dg.AssetKey]:
    """The changed sources' ingestion and everything downstream of it (models, checks' assets,
    dashboards, publication), plus any upstream model not built yet (a fresh warehouse: the marts
    also read the other sources' models)."""
    keys = dg.AssetSelection.assets(*(raw_key(s) for s in sources)).downstream().resolve(graph)
    upstream = dg.AssetSelection.assets(*keys).upstream().resolve(graph) - keys
    return keys | {k for k in upstream if k.path[0] != "raw" and not is_built(k)}


def run_selection(context: dg.SensorEvaluationContext, sources: list[str]) -> set[dg.AssetKey]:
    """`affected_assets`, with "built" read from the instance's materialisations."""
    return affected_assets(context.repository_def.asset_graph, sources,
                           lambda k: context.instance.get_latest_materialization_event(k) is not None)


@dg.sensor(
    name="landing_sensor", job=refresh_all, minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Watches the landing root (OUTCOMES_LANDING) and requests one run per batch of new "
                "export files: ingestion of the sources that changed plus everything downstream. "
                "Cursor and run_key are SHA-256 of file content.",
)
def landing_sensor(context: dg.SensorEvaluationContext, outcomes: OutcomesResource):
    known = decode_cursor(context.cursor)
    # On the main thread (`outcomes watch`, tests) Ctrl-C interrupts the wait: wait for the scan.
    on_main = threading.current_thread() is threading.main_thread()
    new = new_files(outcomes.landing_dir, known, None if on_main else SCAN_WAIT_SECONDS, outcomes.home_dir.state)
    if new is None:
        return dg.SkipReason(f"scanning the landing root took over {SCAN_WAIT_SECONDS:g} s; "
                             "the next tick takes its result")
    if not new:
        return dg.SkipReason("no new export files")
    sources = sorted({f.source for f in new.values()})
    keys = sorted(run_selection(context, sources), key=lambda k: k.to_user_string())
    context.update_cursor(encode_cursor(known | new.keys()))
    return dg.RunRequest(
        run_key=run_key(new), asset_selection=keys,
        tags={"outcomes/new_files": str(len(new)), "outcomes/sources": ",".join(sources)},
    )


sensors = [landing_sensor]
