"""Large work in a process of its own, so that its memory goes back to the system when it ends.

A first load at 100x parses and validates tens of millions of rows in the run's process. Freed,
that memory mostly stays in the process (glibc's and DuckDB's allocators keep pages, Python's
arenas fragment): the run process held ~0.6 GB more when dbt started than a process that only
builds, and the process tree peaked at 2.56 GB. Loading a source or validating a suite whose new
data is past the thresholds below runs the same function in a fresh process (`spawn`: no copy of
the run's threads or DuckDB state), which returns its result and exits; the run process keeps
only that result. Small work (a day's files, a 1x first load) stays in the run's process: a
process of its own costs ~1-3 s to start (its imports).

The caller keeps the warehouse lock (pipelines/lib/locking.py) for the child, which opens the
warehouse itself after the caller has closed its own connection (DuckDB: one writer process).
The child dies with its caller (pipelines/lib/dbt_guard.py's `die_with_parent`), so that a killed
run leaves no process writing the warehouse without the lock.

`OUTCOMES_ISOLATE`: `auto` (the thresholds), `always` (every load, every validation of new raw
rows: the tests of this path), `never` (all in the run's process: a machine with memory to spare).
It changes where the work runs, not what it computes (pipelines/lib/run_inputs.NOT_SETTINGS).
"""
from __future__ import annotations

import multiprocessing
import os
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

ISOLATE_ENV = "OUTCOMES_ISOLATE"
MODES = ("auto", "always", "never")
# New landing bytes of one source from which its load runs in its own process: the largest source
# of the 1x demo (visits, ~30 MB) stays in the run's process; 10x and 100x first loads do not.
LOAD_FROM_BYTES = 64 * 2**20
# New rows of one suite from which its validation runs in its own process (1x visits: ~0.5 M).
VALIDATE_FROM_ROWS = 2_000_000

T = TypeVar("T")


class IsolatedFailure(RuntimeError):
    """The work failed in its own process: the child's error and traceback, as text."""


def mode() -> str:
    value = (os.environ.get(ISOLATE_ENV) or "auto").strip().lower()
    if value not in MODES:
        raise ValueError(f"{ISOLATE_ENV}={value!r}: expected one of {', '.join(MODES)}")
    return value


def threshold(auto: int) -> int | None:
    """The size (bytes or rows) from which work runs in its own process: `auto` under the default
    mode, 0 under `always`, None (never) under `never`."""
    return {"auto": auto, "always": 0, "never": None}[mode()]


def wanted(size: int, auto: int) -> bool:
    """Whether work of `size` (bytes or rows; `auto`: its threshold) runs in its own process."""
    limit = threshold(auto)
    return limit is not None and size >= limit


def call(fn: Callable[..., T], *args: Any, isolate: bool) -> T:
    """fn(*args), in a fresh process when `isolate` (fn and args picklable: a module-level
    function and plain values); its exception is raised here, its traceback in the message."""
    if not isolate:
        return fn(*args)
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, os.getpid(), fn, args), name=f"outcomes {fn.__name__}",
                        daemon=True)
    child.start()  # from this thread, which waits for it: the thread its parent-death signal watches
    send.close()
    try:
        ok, value = receive.recv()
    except EOFError:  # it died without a word: killed (the OOM killer, a signal), or it could not start
        child.join()
        why = (f"killed by signal {-child.exitcode}, for example by the system for want of memory"
               if child.exitcode is not None and child.exitcode < 0 else "it could not start: see its error above")
        raise IsolatedFailure(f"{fn.__name__} ended in its own process without a result (exit code "
                              f"{child.exitcode}: {why})") from None
    finally:
        receive.close()
    child.join()
    if ok:
        return value
    raise IsolatedFailure(value)


def _child(send, parent: int, fn: Callable, args: tuple) -> None:
    from pipelines.lib.dbt_guard import die_with_parent

    die_with_parent(parent)
    try:
        result = (True, fn(*args))
    except BaseException as exc:  # noqa: BLE001 (every failure goes back to the caller)
        result = (False, f"{fn.__name__} failed in its own process: {type(exc).__name__}: {exc}\n"
                         f"{''.join(traceback.format_exception(exc))}")
    send.send(result)
    send.close()
