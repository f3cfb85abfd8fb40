"""`outcomes-dbt` (pipelines/lib/dbt_guard.py): the program it runs dies with its parent.

`sleep 60` stands in for dbt. The pipeline-level proof is
tests/test_reliability_crash.py::test_no_dbt_outlives_a_killed_run.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipelines.lib import dbt_guard
from pipelines.lib.dbt_project import dbt_command, dbt_executable
from tests.support import REPO, process_alive, process_cmdline

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")

GUARDED = ("import sys; from pipelines.lib.dbt_guard import exec_with_parent_death, split_parent_pid; "
           "exec_with_parent_death(['/bin/sleep', '60'], split_parent_pid(sys.argv[1:])[0])")

# A parent that starts the child (guarded or not, from its main thread or a thread that ends),
# prints the child's pid and then waits to be killed.
PARENT = """
    import os, subprocess, sys, threading, time
    guarded, in_thread = sys.argv[1] == "guarded", sys.argv[2] == "thread"
    cmd = [sys.executable, "-c", sys.argv[3], f"--parent-pid={os.getpid()}"] if guarded else ["/bin/sleep", "60"]
    kids = []

    def start():
        kids.append(subprocess.Popen(cmd))
        deadline = time.monotonic() + 30  # until the guard has set up and exec'd the program
        while time.monotonic() < deadline and not open(f"/proc/{kids[0].pid}/cmdline", "rb").read().startswith(b"/bin/sleep"):
            time.sleep(0.02)
    if in_thread:
        t = threading.Thread(target=start)
        t.start()
        t.join()
    else:
        start()
    print(kids[0].pid, flush=True)
    time.sleep(120)
"""


def start_parent(guarded: bool, in_thread: bool = False) -> tuple[subprocess.Popen, int]:
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(PARENT), "guarded" if guarded else "plain",
                               "thread" if in_thread else "main", GUARDED],
                              cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 30
    while process_alive(child) and not process_cmdline(child).startswith("/bin/sleep") and time.monotonic() < deadline:
        time.sleep(0.02)  # until the guard has exec'd the program (in the thread case it is dead by now)
    return parent, child


def kill_parent_and_wait(parent: subprocess.Popen, child: int, timeout: float = 5) -> bool:
    """SIGKILL the parent only; whether the child is gone within `timeout`."""
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + timeout
    while process_alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not process_alive(child)


def _cleanup(child: int) -> None:
    try:
        os.kill(child, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_the_guarded_program_dies_with_its_parent():
    parent, child = start_parent(guarded=True)
    try:
        assert "sleep" in process_cmdline(child)  # the guard replaced itself: same pid
        assert kill_parent_and_wait(parent, child)
    finally:
        _cleanup(child)


def test_without_the_guard_the_program_outlives_its_parent():
    """The control: the check above can tell an orphan from a dead child."""
    parent, child = start_parent(guarded=False)
    try:
        assert not kill_parent_and_wait(parent, child, timeout=1)
    finally:
        _cleanup(child)


def test_the_signal_comes_when_the_forking_thread_ends():
    """Why dbt must be started from a thread that waits for it (the guard's docstring): a child
    forked by a thread that then ends is killed although its parent process lives on (here the
    thread ends once the program runs)."""
    parent, child = start_parent(guarded=True, in_thread=True)
    try:
        deadline = time.monotonic() + 5
        while process_alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not process_alive(child) and parent.poll() is None
    finally:
        _cleanup(child)
        parent.kill()
        parent.wait()


def test_a_parent_gone_before_the_guard_started_means_no_program(tmp_path):
    """The race: the parent died between fork and prctl. The expected parent is not ours."""
    marker = tmp_path / "ran"
    code = (f"import sys; from pipelines.lib.dbt_guard import exec_with_parent_death, split_parent_pid; "
            f"exec_with_parent_death(['/usr/bin/touch', {str(marker)!r}], split_parent_pid(sys.argv[1:])[0])")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code, "--parent-pid=1"], cwd=REPO, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 1 and "ended before dbt started" in proc.stderr
    assert not marker.exists()
    # the right parent: it runs
    proc = subprocess.run([sys.executable, "-c", code, f"--parent-pid={os.getpid()}"], cwd=REPO, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert marker.exists()


def test_the_parent_pid_is_not_passed_on_to_the_program(tmp_path):
    """The guard takes its own first argument away: dbt gets exactly the rest."""
    echo = tmp_path / "dbt"
    echo.write_text("#!/bin/sh\necho \"$@\"\n")
    echo.chmod(0o755)
    code = (f"import sys; from pathlib import Path; from pipelines.lib import dbt_guard; "
            f"dbt_guard.real_dbt = lambda: Path({str(echo)!r}); dbt_guard.main()")
    out = subprocess.run([sys.executable, "-c", code, f"--parent-pid={os.getpid()}", "build", "--vars", "{}"],
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                         check=True).stdout
    assert out == "build --vars {}\n"


def test_the_guard_runs_dbt_in_the_folder_it_is_given(tmp_path):
    """`--cwd=DIR` after the parent pid: dbt runs in DIR (the home, where the profile's relative
    warehouse path points) and does not see the argument."""
    echo = tmp_path / "dbt"
    echo.write_text("#!/bin/sh\necho \"$PWD $@\"\n")
    echo.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    code = (f"import sys; from pathlib import Path; from pipelines.lib import dbt_guard; "
            f"dbt_guard.real_dbt = lambda: Path({str(echo)!r}); dbt_guard.main()")
    out = subprocess.run([sys.executable, "-c", code, f"--parent-pid={os.getpid()}", dbt_guard.cwd_arg(home),
                          "build", "--vars", "{}"], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, check=True).stdout
    assert out == f"{home} build --vars {{}}\n"


def test_every_dbt_we_start_goes_through_the_guard():
    from pipelines.resources import dbt_resource, guarded

    guard = Path(sys.executable).with_name("outcomes-dbt")
    assert guard.exists(), "the outcomes-dbt entry point is missing: run `make setup`"
    assert dbt_executable() == guard and dbt_resource().dbt_executable == str(guard)
    assert dbt_guard.real_dbt() == Path(sys.executable).with_name("dbt")
    assert dbt_command("parse")[:2] == [str(guard), f"--parent-pid={os.getpid()}"]
    # the dbt asset's resource: the pid is the guard's first argument (global flags come first)
    per_call = guarded(dbt_resource(), cwd=Path("/some/home"))
    assert per_call.dbt_executable == str(guard)
    assert per_call.global_config_flags[:2] == [f"--parent-pid={os.getpid()}", "--cwd=/some/home"]


def test_version_probe_answers_offline(monkeypatch, capsys):
    """dagster-dbt runs `dbt --version` before each invocation; dbt's own answer asks PyPI."""
    import socket
    from importlib.metadata import version

    from pipelines.lib import dbt_guard

    def no_network(*a, **k):
        raise AssertionError("the version probe opened a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(dbt_guard.sys, "argv", ["outcomes-dbt", "--version"])
    monkeypatch.setattr(dbt_guard, "exec_with_parent_death", no_network)
    dbt_guard.main()
    assert f"installed: {version('dbt-core')}" in capsys.readouterr().out
