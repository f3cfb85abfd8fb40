"""`outcomes-dbt`: dbt that dies with the process that started it.

dbt runs as a child process of the pipeline (dagster-dbt's `DbtCliResource`, `dbt parse` in
`outcomes prepare`, `dbt docs generate` in `outcomes docs`). The warehouse lock
(pipelines/lib/locking.py) is held by that parent, not by dbt: its descriptor is not inherited
(Python opens files close-on-exec). So when only the parent is SIGKILLed (`kill -9 PID`, the OOM
killer), an orphaned `dbt build` would keep DuckDB's own file lock without our lock, and every
new run or `outcomes kpis` would fail on `Could not set lock on file ...` until it ended.

This entry point (a console script, so that it is a file `DbtCliResource(dbt_executable=...)`
can name) asks Linux to SIGKILL it when its parent goes (prctl PR_SET_PDEATHSIG, which survives
execve of a non-setuid program), checks that the parent has not already gone, then replaces
itself with the real `dbt` beside `sys.executable` with the same arguments: same process, same
pid, same exit code and output. On other systems it only execs dbt.

Which thread is "the parent": Linux sends the signal when the *thread* that forked the child
exits, not only when the whole process does. So the guard is sound only if dbt is spawned from a
thread that lives as long as the dbt run. It is, for every caller (read in dagster 1.13 and
dagster-dbt 0.29's sources):
- dagster-dbt: `DbtCliResource.cli()` calls `DbtCliInvocation.run()`, which calls
  `subprocess.Popen` directly in the caller's thread; `cli()` is called in our `dbt_models`
  asset body (pipelines/assets/dbt.py), which consumes `.stream()` to the end in that same
  thread (the stream's thread pool only fetches metadata; it starts no process). The version
  probe `dbt --version` (`_cli_version`, `check_output`) also runs in that thread.
- The asset body runs in the thread that executes the step: the definitions use the
  in-process executor, which runs steps in the thread that executes the run (no thread per
  step). That is the main thread of `dagster api execute_run` (a run launched by `dagster dev`
  or the daemon: `core_execute_run` in the main thread; the cancellation and metrics threads
  start no step). The `outcomes` commands run dbt in their own process instead
  (pipelines/lib/dbt_in_process.py): no dbt process to guard.
- `dbt parse` and `dbt docs generate` run by `subprocess.run`, which waits in the calling thread.
A caller that starts dbt from a short-lived worker thread would see dbt killed when that thread
ends: run dbt there through `dbt` itself, not this guard.

The race: if the parent died between fork and prctl, no signal will ever come. The parent gives
its pid as the guard's first argument, `--parent-pid=N` (`parent_pid_arg()`: `dbt_command()`, and
the dbt asset through `DbtCliResource`'s global flags, which come first on its command line; an
argument, because the parent's own environment is not changed to pass it); the guard compares
it with getppid() after prctl and exits 1 if they differ (without it, with the parent pid it saw
at start). The argument is removed before exec: dbt never sees it.

`--cwd=DIR`, given after it by the dbt asset (the home), is the folder dbt runs in: the profile
names the warehouse relative to it (`warehouse.duckdb`), so that every home's build has the same
vars and profile, and the partial parse `outcomes prepare` wrote (which dagster-dbt copies into
a new target path) is every new home's (a whole parse costs ~2.4 s; docs/performance.md).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

PARENT_PID_FLAG = "--parent-pid="
CWD_FLAG = "--cwd="
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def real_dbt() -> Path:
    """The dbt of this environment: beside the Python that runs us (the venv may not be on PATH)."""
    return Path(sys.executable).with_name("dbt")


def guard_executable() -> Path:
    """This guard as installed beside the Python of the running process (pyproject's scripts)."""
    return Path(sys.executable).with_name("outcomes-dbt")


def die_with_parent(expected_parent: int | None = None) -> None:
    """SIGKILL this process when its parent (thread) goes; SystemExit(1) if it already has."""
    import signal

    expected = expected_parent if expected_parent is not None else os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise SystemExit(f"outcomes-dbt: prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}")
    if os.getppid() != expected:
        raise SystemExit(f"outcomes-dbt: parent process {expected} ended before dbt started; not running dbt")


def parent_pid_arg() -> str:
    """The guard's first argument, given by the process that starts it: its own pid."""
    return f"{PARENT_PID_FLAG}{os.getpid()}"


def split_parent_pid(args: list[str]) -> tuple[int | None, list[str]]:
    """(the parent pid given as the first argument, or None; the arguments meant for dbt)."""
    if args and args[0].startswith(PARENT_PID_FLAG):
        raw = args[0][len(PARENT_PID_FLAG):]
        if not raw.isdigit():
            raise SystemExit(f"outcomes-dbt: {args[0]!r} is not a process id")
        return int(raw), args[1:]
    return None, args


def cwd_arg(folder: Path) -> str:
    """The guard's argument after the parent pid: the folder dbt runs in."""
    return f"{CWD_FLAG}{folder}"


def split_cwd(args: list[str]) -> tuple[str | None, list[str]]:
    """(the folder given as the first of `args`, or None; the rest)."""
    if args and args[0].startswith(CWD_FLAG):
        return args[0][len(CWD_FLAG):], args[1:]
    return None, args


def exec_with_parent_death(argv: list[str], expected_parent: int | None = None) -> None:
    """Replace this process with `argv` (argv[0] a path), killed when our parent goes."""
    die_with_parent(expected_parent)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


def main() -> None:
    expected_parent, args = split_parent_pid(sys.argv[1:])
    cwd, args = split_cwd(args)
    if args == ["--version"]:
        # dagster-dbt asks `dbt --version` before every invocation, and dbt's answer asks PyPI for
        # the latest release (1 s timeouts, several seconds offline): nothing at run time may use
        # the network, so answer from the installed package's metadata.
        from importlib.metadata import version

        print(f"Core:\n  - installed: {version('dbt-core')}")
        return
    if cwd is not None:
        os.chdir(cwd)
    exec_with_parent_death([str(real_dbt()), *args], expected_parent)
