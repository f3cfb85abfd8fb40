"""Give memory the run process has freed back to the system.

A first load parses and validates millions of rows in the run process (pandas, Arrow, Python
objects); freed, that memory mostly stays in the process's allocators (glibc's heap, Arrow's
pool), and at 100x the idle run process held ~3.5 GB while dbt's own process built the models
beside it. Called after ingestion and before the dbt build: the process tree's peak is then
the build's, not the build's plus the load's leftovers.

The garbage collection is the costly part (a full collection walks every live object: ~0.3 s
once Dagster and Great Expectations are loaded, 1.7 s of a 19 s one-day run at 1x), so it runs
only after a load large enough to leave cycles worth collecting, and walks only what was made
since the imports (`freeze`); returning the allocators' free pages is cheap and always done.
"""
from __future__ import annotations

import ctypes
import gc
import sys


COLLECT_FROM_ROWS = 100_000  # rows handled since the last release that make a collection worth it
# Allocations between two collections of the youngest generation (Python's default: 700). A
# command's imports (Dagster, dbt, Great Expectations) make a few million objects, all alive:
# at 700 the collector walks them again and again for nothing (dagster, dagster-dbt, dbt and
# pandas imported in 1.8 s, then Great Expectations in 1.8 s; 1.3 s each at 50,000, as with no
# collection at all). Cycles are still collected, a little later.
YOUNG_COLLECTION_EVERY = 50_000


def fewer_collections() -> None:
    """Collect the youngest generation every YOUNG_COLLECTION_EVERY allocations (the `outcomes`
    commands, from their start)."""
    gc.set_threshold(YOUNG_COLLECTION_EVERY)


def release(rows: int) -> None:
    """Give freed memory back; `rows` = the rows the caller just loaded or validated."""
    if rows >= COLLECT_FROM_ROWS:
        gc.collect()
    pyarrow = sys.modules.get("pyarrow")
    if pyarrow is not None:
        pyarrow.default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc: return the heap's free pages
    except (OSError, AttributeError):  # another C library: nothing to trim
        pass


def freeze() -> None:
    """Take every object alive now out of the collector's walks (gc.freeze): called once the
    long-lived things are in (Dagster's definitions, Great Expectations' context), so that a later
    full collection walks only what was made since (~0.25 s -> ~0 s with both loaded). What is
    frozen is never collected: call it where what is alive is code and definitions."""
    gc.freeze()
