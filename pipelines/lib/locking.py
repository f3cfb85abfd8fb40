"""One writer at a time: an advisory file lock beside the warehouse.

DuckDB lets one process write a database file, and a reader process cannot open it while a
writer has it. Every writer (ingestion, dbt) takes the lock exclusively and every reader
(checks, dashboards, the CLI) shares it, so a CLI run, a `dagster dev` run and an
`outcomes watch` loop on the same home queue behind each other instead of failing halfway.
"""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

DEFAULT_TIMEOUT_S = 1800.0
TIMEOUT_ENV = "OUTCOMES_LOCK_TIMEOUT"


def lock_timeout() -> float:
    """Seconds a waiter waits for the warehouse, read when a lock is taken (not frozen at import)."""
    return float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)


class LockTimeout(RuntimeError):
    pass


@contextmanager
def warehouse_lock(warehouse: Path, *, exclusive: bool, timeout: float | None = None) -> Iterator[None]:
    timeout = lock_timeout() if timeout is None else timeout
    lock_path = warehouse.with_suffix(".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(
                        f"warehouse {warehouse} is busy (another run holds {lock_path}) after {timeout:.0f}s") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # closing releases the lock
