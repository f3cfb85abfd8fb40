"""pipelines/lib/isolated.py: large work in a process of its own, and the same rows loaded and the
same findings whether loads and validations run there or in the run's process."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.lib import isolated
from pipelines.demo.generator import write_demo_landing
from pipelines.lib.contracts import SOURCES
from tests.support import REPO, process_alive


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
    with pytest.raises(isolated.IsolatedFailure, match=r"without a result \(exit code -9: killed by signal 9"):
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


def raw_rows(home: Path) -> dict[str, list]:
    """Every raw and ledger table, row for row, without when and by which run a row was loaded."""
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        columns = con.execute("SELECT table_schema || '.' || table_name, list(column_name ORDER BY ordinal_position) "
                              "FROM information_schema.columns WHERE table_schema IN ('raw', 'ledger') "
                              "GROUP BY 1 ORDER BY 1").fetchall()
        return {t: con.execute(f"SELECT {', '.join(c for c in cols if c not in ('loaded_at', 'run_id'))} "
                               f"FROM {t} ORDER BY ALL").fetchall() for t, cols in columns}


def test_loads_and_validations_in_their_own_processes_give_the_same_rows_and_findings(tmp_path, monkeypatch):
    """Every source of a demo landing loaded into two homes with one key, in the run's process and
    each in a process of its own; then a suite on the new rows of each (a register's rows checked)."""
    from pipelines.lib.home import Home
    from pipelines.lib.pseudonym import load_or_create_secret
    from pipelines.lib.source_load import load_source
    from pipelines.quality.suites import load_suites
    from pipelines.quality.validation import run_suite

    landing = tmp_path / "landing"
    write_demo_landing(landing, scale=0.02)
    homes = {mode: Home(tmp_path / mode) for mode in ("never", "always")}
    for home in homes.values():
        home.root.mkdir()
    load_or_create_secret(homes["never"].secret, create=True)
    shutil.copy2(homes["never"].secret, homes["always"].secret)  # one key: the same pseudonyms
    loaded, findings = {}, {}
    suite = next(s for s in load_suites() if s.name == "raw_members")
    for mode, home in homes.items():
        monkeypatch.setenv(isolated.ISOLATE_ENV, mode)
        loaded[mode] = {s: load_source(home, landing, s, "duckdb", "run-1") for s in SOURCES}
        with duckdb.connect(str(home.warehouse), read_only=True) as con:
            findings[mode] = run_suite(con, suite, home.root, "run-1")
    assert {s: x.own_process for s, x in loaded["never"].items()} == dict.fromkeys(SOURCES, False)
    assert {s: x.own_process for s, x in loaded["always"].items()} == dict.fromkeys(SOURCES, True)
    assert {s: x.summary for s, x in loaded["always"].items()} == {s: x.summary for s, x in loaded["never"].items()}
    assert loaded["always"]["members"].resolved == loaded["never"]["members"].resolved
    assert loaded["never"]["members"].resolved.rows_resolved > 0
    rows = raw_rows(homes["never"].root)
    assert len(rows["raw.visits"]) > 100 and len(rows["ledger.files"]) > 100
    assert raw_rows(homes["always"].root) == rows
    assert (findings["never"].own_process, findings["always"].own_process) == (False, True)
    assert findings["never"].rows_validated > 0
    assert [(f["what"], f["count"]) for f in findings["always"].failures] == \
        [(f["what"], f["count"]) for f in findings["never"].failures]
    assert findings["always"].rows_validated == findings["never"].rows_validated
    assert findings["always"].files_validated == findings["never"].files_validated


@pytest.mark.parametrize(("env", "staging", "after"), [(None, "244.1MiB", "488.2MiB"), ("123MB", "117.3MiB", "117.3MiB")])
def test_a_load_stages_within_the_staging_limit_and_resolves_within_the_default(tmp_path, monkeypatch, env, staging, after):
    """The register's postcode resolution ran out of memory at 256 MB in the 100x benchmark: it gets
    the pipeline's limit back; a limit set in the environment applies to both."""
    from pipelines.lib import source_load, warehouse
    from pipelines.lib.home import Home
    from pipelines.lib.pseudonym import load_or_create_secret

    if env:
        monkeypatch.setenv(warehouse.MEMORY_LIMIT_ENV, env)
    else:
        monkeypatch.delenv(warehouse.MEMORY_LIMIT_ENV, raising=False)
    limits, real = {}, {"ingest": source_load.ingest_source, "resolve": source_load.resolve_members}

    def recording(step):
        def call(con, *args, **kwargs):
            limits[step] = con.execute("SELECT current_setting('memory_limit')").fetchone()[0].replace(" ", "")
            return real[step](con, *args, **kwargs)
        return call

    monkeypatch.setattr(source_load, "ingest_source", recording("ingest"))
    monkeypatch.setattr(source_load, "resolve_members", recording("resolve"))
    monkeypatch.setenv(isolated.ISOLATE_ENV, "never")
    home = Home(tmp_path / "home")
    home.root.mkdir()
    load_or_create_secret(home.secret, create=True)
    write_demo_landing(tmp_path / "landing", scale=0.01, years=1)
    source_load.load_source(home, tmp_path / "landing", "members", "duckdb", "run-1")
    assert limits == {"ingest": staging, "resolve": after}
