"""pipelines/lib/isolated.py: large work in a process of its own, and the pipeline's figures the
same whether loads and validations run there or in the run's process."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from pipelines.lib import isolated
from pipelines.lib.contracts import SOURCES
from tests.support import REPO, demo_run, kpis, outcomes, process_alive


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _pid_and(value):
    return os.getpid(), value


def _fail(message):
    raise KeyError(message)


def _killed():
    os.kill(os.getpid(), signal.SIGKILL)


def _allocate(mib: int) -> int:
    block = bytearray(mib * 2**20)
    block[::4096] = b"x" * len(block[::4096])  # touched: resident, not only reserved
    return len(block) // 2**20


def _report_and_sleep(pid_file: str) -> None:
    with open(pid_file + ".part", "w") as fh:
        fh.write(str(os.getpid()))
    os.rename(pid_file + ".part", pid_file)
    time.sleep(60)


def test_in_process_or_in_its_own_the_result_is_the_same():
    assert isolated.call(_pid_and, [1, "a"], isolate=False) == (os.getpid(), [1, "a"])
    pid, value = isolated.call(_pid_and, [1, "a"], isolate=True)
    assert value == [1, "a"] and pid != os.getpid()


def test_a_failure_in_its_own_process_is_raised_here_with_the_childs_traceback():
    with pytest.raises(isolated.IsolatedFailure) as failure:
        isolated.call(_fail, "no such visit", isolate=True)
    message = str(failure.value)
    assert "_fail failed in its own process: KeyError: 'no such visit'" in message
    assert "Traceback" in message and "test_isolated.py" in message


def test_a_child_killed_without_a_result_is_a_failure_naming_the_signal():
    with pytest.raises(isolated.IsolatedFailure, match=r"without a result \(exit code -9"):
        isolated.call(_killed, isolate=True)


def test_the_memory_of_the_work_is_not_kept_by_the_caller():
    before = rss_mib()
    assert isolated.call(_allocate, 400, isolate=True) == 400
    assert rss_mib() < before + 50, (before, rss_mib())


def test_the_child_dies_with_its_caller(tmp_path):
    """A run killed while a load runs in its own process leaves no process writing the warehouse."""
    pid_file = tmp_path / "child.pid"
    script = ("from pipelines.lib import isolated; from tests.test_isolated import _report_and_sleep; "
              f"isolated.call(_report_and_sleep, {str(pid_file)!r}, isolate=True)")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    try:
        assert process_alive(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while process_alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_alive(child)
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize(("mode", "size", "expected"), [
    ("auto", isolated.LOAD_FROM_BYTES - 1, False), ("auto", isolated.LOAD_FROM_BYTES, True),
    ("always", 0, True), ("never", 10**12, False), ("", isolated.LOAD_FROM_BYTES, True),
])
def test_the_threshold_and_the_setting(monkeypatch, mode, size, expected):
    monkeypatch.setenv(isolated.ISOLATE_ENV, mode)
    assert isolated.wanted(size, isolated.LOAD_FROM_BYTES) is expected


def test_an_unknown_setting_is_refused(monkeypatch):
    monkeypatch.setenv(isolated.ISOLATE_ENV, "sometimes")
    with pytest.raises(ValueError, match="OUTCOMES_ISOLATE='sometimes'"):
        isolated.wanted(1, 1)


def warehouse_facts(home) -> dict:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables "
                                            "WHERE table_schema IN ('raw', 'ledger')").fetchall()]
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        ledger = con.execute("SELECT source, status, count(*), sum(rows_loaded), sum(rows_rejected) FROM ledger.files "
                             "GROUP BY ALL ORDER BY ALL").fetchall()
        members = con.execute("SELECT postcode_status, lsoa11cd, count(*) FROM raw.members GROUP BY ALL "
                              "ORDER BY ALL").fetchall()
    return {"counts": counts, "ledger": ledger, "members": members}


@pytest.mark.slow
def test_loads_and_validations_in_their_own_processes_give_the_same_figures(tmp_path_factory, monkeypatch):
    """The demo run (loads and validations in the run's process at this size) against a run of the
    same landing with every load and every validation in a process of its own."""
    landing, home, _ = demo_run(tmp_path_factory)
    own = tmp_path_factory.mktemp("own") / "home"
    monkeypatch.setenv(isolated.ISOLATE_ENV, "always")
    outcomes("run", "--landing", str(landing), "--home", str(own))
    assert kpis(own) == kpis(home)
    assert warehouse_facts(own) == warehouse_facts(home)
    found = {}
    for h, expected in ((home, False), (own, True)):
        record = json.loads(max((h / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime).read_text())
        assert {s: m["loaded_in_own_process"] for s, m in record["ingested_this_run"].items()} == \
            {s: expected for s in SOURCES}
        checks = json.loads((h / "quality" / "last_run.json").read_text())["checks"]
        validated = [c for c in checks if c["kind"] == "great_expectations" and c["asset"].startswith("raw/")
                     and c["details"].get("rows_validated")]  # the marts' suites are small: always here
        assert validated and {c["details"]["own_process"] for c in validated} == {expected}
        found[expected] = {c["check"]: (c["passed"], c["data"], [(f["what"], f["count"]) for f in c["failures"]])
                           for c in checks if not c["check"].endswith(":source_freshness")}  # names the load's time
    assert found[True] == found[False]
