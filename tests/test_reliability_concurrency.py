"""Concurrent users of one home: they queue or fail clearly, never corrupt.

- Fast: the warehouse lock (<home>/warehouse.lock): a second writer waits, and gives up with a
  one-line reason naming the lock when its time is up; readers share. Two processes creating
  the pseudonymisation key of a new home at the same moment end up with the same key.
- Slow: the Dagster job as `dagster dev` / the daemon would run it (`dagster job execute`,
  the home's Dagster instance) and `outcomes run` start on the same home at the same time.
  Both finish; the ledger holds every file once; the KPIs are the landing zone's designed KPIs.
  (tests/test_orchestration.py already runs two `outcomes run` at once.)
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.locking import LockTimeout, warehouse_lock
from tests.support import REPO, kpis

ENV = {**os.environ, "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}

HOLD = """
    import sys, time
    from pathlib import Path
    from pipelines.lib.locking import warehouse_lock
    with warehouse_lock(Path(sys.argv[1]), exclusive=sys.argv[2] == "x"):
        print("holding", flush=True)
        time.sleep(float(sys.argv[3]))
"""


def hold(warehouse: Path, exclusive: bool, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLD), str(warehouse), "x" if exclusive else "s",
                             str(seconds)], cwd=REPO, env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_second_writer_waits_for_the_first_then_goes_on(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold(warehouse, True, 2.0)
    start = time.monotonic()
    with warehouse_lock(warehouse, exclusive=True, timeout=60):
        waited = time.monotonic() - start
    holder.wait()
    assert waited > 1.0  # it queued behind the holder instead of failing or barging in


def test_a_writer_that_cannot_get_the_lock_fails_with_a_clear_reason(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold(warehouse, True, 5.0)
    try:
        with pytest.raises(LockTimeout) as err:
            with warehouse_lock(warehouse, exclusive=True, timeout=0.5):
                pass
        assert "is busy" in str(err.value) and str(tmp_path / "warehouse.lock") in str(err.value)
        with pytest.raises(LockTimeout):  # a reader waits for a writer too
            with warehouse_lock(warehouse, exclusive=False, timeout=0.5):
                pass
    finally:
        holder.kill()
        holder.wait()


def test_readers_share_the_lock(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold(warehouse, False, 3.0)
    try:
        start = time.monotonic()
        with warehouse_lock(warehouse, exclusive=False, timeout=2):
            assert time.monotonic() - start < 1.5
    finally:
        holder.kill()
        holder.wait()


RACE = """
    import sys, time
    from pathlib import Path
    from pipelines.lib.pseudonym import load_or_create_secret
    root, go = Path(sys.argv[1]), Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.001)
    for i in range(int(sys.argv[3])):
        print(i, load_or_create_secret(root / str(i) / "secret.key", create=True).hex(), flush=True)
"""


def test_two_runs_creating_the_key_of_a_new_home_at_once_agree(tmp_path):
    go, n = tmp_path / "go", 300
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(RACE), str(tmp_path / "homes"), str(go), str(n)],
                              cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    time.sleep(2.0)  # both imported and waiting
    go.touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    keys = [dict(line.split() for line in out.splitlines()) for out, _ in outs]
    assert len(keys[0]) == len(keys[1]) == n
    assert keys[0] == keys[1]  # whoever won a home's race, both use its one key
    for i in range(n):
        assert (tmp_path / "homes" / str(i) / "secret.key").read_text().strip() == keys[0][str(i)]


@pytest.mark.slow
def test_dagster_job_and_cli_run_at_once_on_one_home(tmp_path):
    from pipelines.runner import DAGSTER_YAML
    from pipelines.demo.generator import write_demo_landing

    landing, home = tmp_path / "landing", tmp_path / "home"
    summary = write_demo_landing(landing, seed=23, scale=0.01, years=3)
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text(DAGSTER_YAML)
    env = {**ENV, "DAGSTER_HOME": str(home / "dagster"), "OUTCOMES_HOME": str(home),
           "OUTCOMES_LANDING": str(landing), "DAGSTER_DISABLE_TELEMETRY": "1"}
    dagster = [str(Path(sys.executable).with_name("dagster")), "job", "execute", "-m", "pipelines.definitions",
               "-j", "refresh_all"]
    cli = [sys.executable, "-m", "pipelines.cli", "run", "--landing", str(landing), "--home", str(home)]
    procs = {name: subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, cmd in (("dagster", dagster), ("cli", cli))}
    outs = {name: p.communicate(timeout=1500) for name, p in procs.items()}
    assert {name: p.returncode for name, p in procs.items()} == {"dagster": 0, "cli": 0}, \
        {name: (o[0][-2000:], o[1][-3000:]) for name, o in outs.items()}

    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        files = con.execute("SELECT file_path, count(*) FROM ledger.files GROUP BY 1 HAVING count(*) > 1").fetchall()
        assert not files  # every file recorded once, by whichever run got to it first
        runs = dict(con.execute("SELECT run_id, count(*) FROM ledger.files GROUP BY 1").fetchall())
        n_files = sum(runs.values())
    written = sum(v["written"] - v["ignored"] for k, v in summary["files"].items() if k != "total")
    assert n_files == written
    got = kpis(home)
    want = {(y, k): (None if v is None else float(v)) for y, ks in summary["expected"].items() for k, v in ks.items()}
    assert got.keys() == want.keys()
    assert all(got[key] == pytest.approx(want[key], rel=1e-12) if want[key] is not None else got[key] is None
               for key in want)
    assert (home / "dashboards" / "index.html").read_text().rstrip().endswith("</html>")
