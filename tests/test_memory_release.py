"""pipelines/lib/memory.release gives the run process's freed memory back to the system: frames
of a load, dropped, still held by the allocators until it is called."""
import gc
import os

import duckdb

from pipelines.lib.memory import release


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_freed_frames_are_given_back():
    con = duckdb.connect()
    frames = []
    for _ in range(5):  # rows as a load holds them: pandas frames of Arrow and Python strings
        frame = con.execute("SELECT i, 'visit-' || i::VARCHAR AS v, repeat('x', (i % 50)::INTEGER) AS w "
                            "FROM range(800000) t(i)").df()
        frame["v"] = frame["v"].astype("string[pyarrow]")
        frames.append(frame.copy())
        del frame
    del frames
    gc.collect()
    freed = rss_mib()
    release(rows=5 * 800_000)
    assert rss_mib() < freed - 50, (freed, rss_mib())


def test_after_the_freeze_collections_skip_what_was_alive_and_still_free_new_cycles():
    """`freeze` (called once Dagster's definitions and Great Expectations are in) makes a full
    collection walk only what was made since, and a cycle made since (GE's validator holding a
    frame) is still collected."""
    import weakref

    from pipelines.lib import memory

    class Node:
        pass

    kept = [Node() for _ in range(50_000)]  # alive at the freeze, as the imports are
    gc.collect()
    memory.freeze()
    try:
        assert gc.get_freeze_count() >= len(kept)
        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle made after the freeze
        gone = weakref.ref(a)
        del a, b
        assert gone() is not None  # only a collection can free a cycle
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
