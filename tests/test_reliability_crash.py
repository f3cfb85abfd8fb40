"""Crash safety: SIGKILL at any point never corrupts or half-publishes anything.

Library level (fast, many faults): a process is SIGKILLed at random moments while it
- ingests a landing zone in many small transactions: after every kill the warehouse opens,
  the ledger agrees with raw.* row for row, and finishing the ingestion gives exactly the
  state of an uninterrupted one;
- replaces a 5 MB dashboard page again and again: the page is always the old or the new one,
  whole, and only hidden temporary files are ever left;
- creates pseudonymisation keys: a key is absent or whole (0600), never empty or partial.

Pipeline level (slow): `outcomes run` is SIGKILLed mid-ingestion, mid-dbt and mid-dashboard
write on one home, then run to the end; its KPIs and dashboards equal those of an
uninterrupted run on a copy of the landing zone (dashboards with the "newest file loaded"
time masked: it is the load time). After every kill the warehouse opens and no visible
output file is partial.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.demo.generator import write_demo_landing
from pipelines.lib.warehouse import RAW_TABLES
from tests.support import REPO, kpis, outcomes, process_alive, process_cmdline

ENV = {**os.environ, "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}
RAW = tuple(RAW_TABLES)  # every raw table, the outcome inputs' included


def child(code: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=REPO, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for_line(proc: subprocess.Popen, expected: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if expected in line:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"child ended before {expected!r}: {proc.stderr.read()[-2000:]}")
    raise AssertionError(f"no {expected!r} within {timeout}s")


# --- ingestion: many small transactions, killed at random --------------------------------------

INGEST = """
    import sys
    from pathlib import Path
    import pipelines.lib.ingest as ingest
    from pipelines.lib.pseudonym import Pseudonymiser
    from pipelines.lib.warehouse import connect
    ingest.BATCH_ROWS = 150  # many transactions: a kill lands between or inside them
    landing, db = Path(sys.argv[1]), Path(sys.argv[2])
    print("started", flush=True)
    with connect(db) as con:
        for source in ("visits", "zoom", "pathways", "wellbeing_calls"):
            ingest.ingest_source(con, landing, source, Pseudonymiser(b"k" * 32))
    print("done", flush=True)
"""


def raw_state(db: Path) -> tuple:
    """raw.* and the ledger as content (no load times, no run ids)."""
    with duckdb.connect(str(db), read_only=True) as con:
        out = []
        for t in RAW:
            cols = [r[0] for r in con.execute(f"DESCRIBE raw.{t}").fetchall() if r[0] != "loaded_at"]
            out.append(sorted(map(repr, con.execute(f"SELECT {', '.join(cols)} FROM raw.{t}").fetchall())))
        out.append(sorted(con.execute("SELECT file_path, file_sha256, status, coalesce(reason, ''), rows_read, "
                                      "rows_loaded, rows_rejected, coalesce(duplicate_of, '') FROM ledger.files").fetchall()))
        out.append(sorted(con.execute("SELECT file_path, line_number, reason FROM ledger.rejected_rows").fetchall()))
    return tuple(out)


def assert_ledger_agrees_with_raw(db: Path) -> None:
    """Every file in the ledger has exactly its rows in raw.* and ledger.rejected_rows; no row without a file."""
    with duckdb.connect(str(db)) as con:  # read-write: what the next run does
        union = " UNION ALL ".join(f"SELECT file_path, file_sha256 FROM raw.{t}" for t in RAW)
        bad = con.execute(f"""
            WITH raw_rows AS (SELECT file_path, file_sha256, count(*) AS n FROM ({union}) GROUP BY ALL),
                 rejected AS (SELECT file_path, file_sha256, count(*) AS n FROM ledger.rejected_rows GROUP BY ALL)
            SELECT f.file_path, f.rows_loaded, coalesce(r.n, 0), f.rows_rejected, coalesce(j.n, 0)
              FROM ledger.files f
              LEFT JOIN raw_rows r USING (file_path, file_sha256)
              LEFT JOIN rejected j USING (file_path, file_sha256)
             WHERE f.rows_loaded <> coalesce(r.n, 0) OR f.rows_rejected <> coalesce(j.n, 0)""").fetchall()
        assert not bad, bad[:5]
        orphans = con.execute(f"""SELECT count(*) FROM ({union}) r ANTI JOIN ledger.files f USING (file_path, file_sha256)""").fetchone()[0]
        assert orphans == 0


@pytest.fixture(scope="module")
def small_landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("crash") / "landing"
    write_demo_landing(landing, seed=5, scale=0.01, years=2)
    return landing


@pytest.mark.slow  # ~1 min: every attempt is a new Python process
def test_ingestion_killed_at_random_moments_recovers_exactly(small_landing, tmp_path):
    reference, db = tmp_path / "reference.duckdb", tmp_path / "killed.duckdb"
    done = child(INGEST, str(small_landing), str(reference))
    wait_for_line(done, "started")
    started = time.monotonic()
    assert done.wait(timeout=600) == 0, done.stderr.read()
    # kills fall inside the time a whole ingestion takes here (it got faster: fixed windows missed it)
    span = max(0.2, 0.9 * (time.monotonic() - started))
    rnd, kills, attempts = random.Random(8), 0, 0
    while kills < 6 and attempts < 40:
        attempts += 1
        proc = child(INGEST, str(small_landing), str(db))
        wait_for_line(proc, "started")
        try:
            proc.wait(timeout=rnd.uniform(0.05, span))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            if db.exists():
                assert_ledger_agrees_with_raw(db)  # opens read-write: never left unusable
            continue
        assert proc.returncode == 0, proc.stderr.read()  # finished first: the next attempt starts afresh
        for f in tmp_path.glob("killed.duckdb*"):
            f.unlink()
    assert kills >= 6, f"only {kills} kills landed"
    finish = child(INGEST, str(small_landing), str(db))  # the re-run after the last kill
    assert finish.wait(timeout=600) == 0, finish.stderr.read()
    assert_ledger_agrees_with_raw(db)
    assert raw_state(db) == raw_state(reference)


# --- atomic replacement of a dashboard page ----------------------------------------------------

REWRITE = """
    import sys
    from pathlib import Path
    from dashboards.page import _write_atomic
    path = Path(sys.argv[1])
    pages = [("A" * 5_000_000) + "</html>\\n", ("B" * 5_000_000) + "</html>\\n"]
    print("started", flush=True)
    for i in range(10**6):
        _write_atomic(path, pages[i % 2])
"""


def test_a_page_killed_mid_write_is_the_old_or_the_new_one(tmp_path):
    page = tmp_path / "dashboards" / "2021-22.html"
    page.parent.mkdir()
    rnd, kills, seen = random.Random(3), 0, set()
    for _ in range(8):
        proc = child(REWRITE, str(page))
        wait_for_line(proc, "started")
        time.sleep(rnd.uniform(0.0, 0.8))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += proc.returncode == -signal.SIGKILL
        if page.exists():
            data = page.read_bytes()
            assert data in ((b"A" * 5_000_000) + b"</html>\n", (b"B" * 5_000_000) + b"</html>\n"), len(data)
            seen.add(data[:1])
        for left in page.parent.iterdir():
            assert left == page or left.name.startswith("."), left  # only hidden temporary files remain
    assert kills == 8  # every kill hit a running writer
    assert seen  # at least one page was complete before a kill (the rest: absent, never partial)
    # what the kills left is removed by the next render once it is stale (not while it may be live)
    from dashboards.page import remove_stale_temp_files

    left = sorted(p for p in page.parent.iterdir() if p != page)
    assert left and all(p.name.endswith(".tmp") for p in left)
    assert remove_stale_temp_files(page.parent) == []  # just written: could be another run's
    for p in left:
        os.utime(p, (time.time() - 3600,) * 2)
    assert sorted(remove_stale_temp_files(page.parent)) == left
    assert [p for p in page.parent.iterdir() if p != page] == []


# --- key creation --------------------------------------------------------------------------------

CREATE_KEYS = """
    import sys
    from pathlib import Path
    from pipelines.lib.pseudonym import load_or_create_secret
    root = Path(sys.argv[1])
    print("started", flush=True)
    for i in range(10**6):
        load_or_create_secret(root / str(i) / "secret.key", create=True)
"""


def test_a_key_killed_mid_creation_is_absent_or_whole(tmp_path):
    from pipelines.lib.pseudonym import SecretMissing, load_or_create_secret

    rnd, kills, homes = random.Random(4), 0, 0
    for k in range(10):
        root = tmp_path / f"run{k}"
        proc = child(CREATE_KEYS, str(root))
        wait_for_line(proc, "started")
        time.sleep(rnd.uniform(0.05, 0.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        for home in root.iterdir():
            homes += 1
            key = home / "secret.key"
            if key.exists():
                assert re.fullmatch(r"[0-9a-f]{64}\n", key.read_text()), home
                assert stat.S_IMODE(key.stat().st_mode) == 0o600
                assert len(load_or_create_secret(key, create=False)) == 32
            else:
                with pytest.raises(SecretMissing):
                    load_or_create_secret(key, create=False)
    assert kills == 10 and homes > 100


def test_a_damaged_key_is_an_error_not_a_new_key(tmp_path):
    from pipelines.lib.pseudonym import SecretInvalid, load_or_create_secret

    for text in ("", "\n", "abc", "00" * 31, "zz" * 32):
        (tmp_path / "secret.key").write_text(text)
        with pytest.raises(SecretInvalid, match="damaged"):
            load_or_create_secret(tmp_path / "secret.key", create=True)
        assert (tmp_path / "secret.key").read_text() == text  # never overwritten


# --- the pipeline, killed mid-ingestion, mid-dbt and mid-dashboard write ------------------------

MASK = re.compile(rb"Newest file loaded: [^<]*")  # the load time: differs between any two homes


def visible_outputs_are_whole(home: Path) -> list[str]:
    """Problems with any visible output file: a partial page, JSON or CSV."""
    problems = []
    for sub in ("dashboards", "runs", "snapshots", "published"):
        for p in (home / sub).rglob("*") if (home / sub).exists() else []:
            if not p.is_file() or any(part.startswith(".") for part in p.relative_to(home).parts):
                continue
            data = p.read_bytes()
            if p.suffix == ".html" and not data.rstrip().endswith(b"</html>"):
                problems.append(f"partial page {p}")
            elif p.suffix == ".json":
                try:
                    json.loads(data)
                except ValueError:
                    problems.append(f"partial JSON {p}")
            elif p.suffix == ".csv" and not data.endswith(b"\n"):
                problems.append(f"partial CSV {p}")
    return problems


def dbt_started(home: Path) -> bool:
    log = home / "logs" / "last-run.log"
    return log.exists() and "Running with dbt" in log.read_text(errors="replace")


def tables_built(home: Path) -> int:
    log = home / "logs" / "last-run.log"
    return log.read_text(errors="replace").count("OK created sql table model") if log.exists() else 0


def dashboard_writing(home: Path, before: dict) -> bool:
    d = home / "dashboards"
    if not d.exists():
        return False
    for p in d.iterdir():
        if p.name.endswith(".tmp") or (p.suffix == ".html" and p.stat().st_mtime_ns != before.get(p.name)):
            return True
    return False


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = subprocess.run(["ps", "--ppid", str(p), "-o", "pid="], capture_output=True, text=True).stdout.split()
        out += [int(k) for k in kids]
        todo += [int(k) for k in kids]
    return out


def kill_run_when(landing: Path, home: Path, when, *, group: bool, timeout: float = 900) -> dict:
    """Start `outcomes run`, SIGKILL it the moment `when(home)` holds; what was running then."""
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--landing", str(landing), "--home", str(home)],
                            cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    start = time.monotonic()
    while proc.poll() is None and time.monotonic() - start < timeout:
        if when(home):
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before the kill point"
    kids = descendants(proc.pid)
    dbt_running = [k for k in kids if "dbt" in process_cmdline(k)]
    if group:
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.send_signal(signal.SIGKILL)  # the run's process only, as `kill -9 PID` or the OOM killer does
    proc.wait()
    time.sleep(0.5)
    alive = [k for k in kids if process_alive(k)]
    orphans = [k for k in alive if "dbt" in process_cmdline(k)]
    for k in alive:  # whatever the killed run left behind (its own children only)
        try:
            os.kill(k, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while any(process_alive(k) for k in alive) and time.monotonic() < deadline:
        time.sleep(0.05)  # gone, and their file locks with them
    return {"after_s": round(time.monotonic() - start, 1), "dbt_running": dbt_running, "dbt_orphans": orphans}


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash-pipeline")
    landing, copy = root / "landing", root / "landing-copy"
    write_demo_landing(landing, seed=11, scale=0.01, years=3)
    shutil.copytree(landing, copy)
    home, reference = root / "home", root / "reference"
    kills, checks = [], []

    def after_kill(name):
        warehouse = home / "warehouse.duckdb"
        if warehouse.exists():
            assert_ledger_agrees_with_raw(warehouse)
        checks.append((name, visible_outputs_are_whole(home)))

    # a source's rows are checkpointed into the file (an empty warehouse is 274,432 bytes), dbt not begun
    kills.append(("mid-ingestion", kill_run_when(
        landing, home, lambda h: _size(h / "warehouse.duckdb") > 300_000 and not dbt_started(h), group=False)))
    after_kill("mid-ingestion")
    kills.append(("mid-dbt", kill_run_when(landing, home, lambda h: tables_built(h) >= 2, group=False)))
    after_kill("mid-dbt")
    before = {p.name: p.stat().st_mtime_ns for p in (home / "dashboards").glob("*.html")} \
        if (home / "dashboards").exists() else {}
    kills.append(("mid-dashboard-write", kill_run_when(landing, home, lambda h: dashboard_writing(h, before), group=True)))
    after_kill("mid-dashboard-write")

    final = outcomes("run", "--landing", str(landing), "--home", str(home), check=False)
    reference.mkdir()  # the same key: pseudonyms are then comparable row for row
    shutil.copy2(home / "secret.key", reference / "secret.key")
    uninterrupted = outcomes("run", "--landing", str(copy), "--home", str(reference), check=False)
    return dict(home=home, reference=reference, kills=kills, checks=checks, final=final,
                uninterrupted=uninterrupted)


@pytest.mark.slow
def test_the_run_after_the_kills_completes(crashed):
    assert crashed["final"].returncode == 0, crashed["final"].stderr[-3000:]
    assert crashed["uninterrupted"].returncode == 0, crashed["uninterrupted"].stderr[-3000:]
    assert [name for name, _ in crashed["kills"]] == ["mid-ingestion", "mid-dbt", "mid-dashboard-write"]


@pytest.mark.slow
def test_no_partial_output_and_a_usable_warehouse_after_every_kill(crashed):
    assert all(not problems for _, problems in crashed["checks"]), crashed["checks"]
    assert not visible_outputs_are_whole(crashed["home"])


@pytest.mark.slow
def test_kpis_equal_an_uninterrupted_run(crashed):
    assert kpis(crashed["home"]) == kpis(crashed["reference"])
    a = outcomes("kpis", "--home", str(crashed["home"]), "--format", "csv").stdout
    b = outcomes("kpis", "--home", str(crashed["reference"]), "--format", "csv").stdout
    assert a == b


@pytest.mark.slow
def test_dashboards_equal_an_uninterrupted_run(crashed):
    pages = sorted(p.name for p in (crashed["reference"] / "dashboards").glob("*.html") if p.name != "quality.html")
    assert "index.html" in pages and len(pages) >= 3
    assert sorted(p.name for p in (crashed["home"] / "dashboards").glob("*.html") if p.name != "quality.html") == pages
    for name in pages:
        a = MASK.sub(b"", (crashed["home"] / "dashboards" / name).read_bytes())
        b = MASK.sub(b"", (crashed["reference"] / "dashboards" / name).read_bytes())
        assert a == b, name


@pytest.mark.slow
def test_raw_and_ledger_equal_an_uninterrupted_run(crashed):
    assert raw_state(crashed["home"] / "warehouse.duckdb") == raw_state(crashed["reference"] / "warehouse.duckdb")


@pytest.mark.slow
def test_no_dbt_outlives_a_killed_run(crashed):
    """`outcomes run` builds with dbt in its own process (pipelines/lib/dbt_in_process.py): killed
    mid-build (two tables built, the run not finished), no dbt process exists to outlive it and
    hold DuckDB's file lock without the warehouse lock. (dbt's own process, under `dagster dev`
    and the daemon, dies with its parent: tests/test_dbt_guard.py.)"""
    mid_dbt = dict(crashed["kills"])["mid-dbt"]
    assert not mid_dbt["dbt_running"] and not mid_dbt["dbt_orphans"]
