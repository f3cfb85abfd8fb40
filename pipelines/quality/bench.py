"""Measure what the Great Expectations suites cost on a warehouse (docs/quality.md).

    .venv/bin/python -m pipelines.quality.bench --warehouse /path/to/warehouse.duckdb

Opens the warehouse read-only, validates every suite twice with a fresh, temporary state
folder (so the warehouse's home is not touched): the first pass validates everything (a first
run), the second finds nothing new (a run where nothing changed). Prints the import time of
Great Expectations and, per suite, rows, read and validation seconds.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warehouse", required=True, type=Path)
    args = ap.parse_args(argv)
    import duckdb

    from pipelines.quality import ge
    from pipelines.quality.suites import load_suites
    from pipelines.quality.validation import run_suite

    t = time.perf_counter()
    ge.context()
    print(f"great_expectations import + ephemeral context: {time.perf_counter() - t:.2f} s")
    with tempfile.TemporaryDirectory() as state, duckdb.connect(str(args.warehouse), read_only=True) as con:
        for label in ("first pass (everything new)", "second pass (nothing new)"):
            print(f"\n{label}")
            print(f"  {'suite':28} {'rows':>9} {'read s':>7} {'validate s':>10} {'total s':>8}")
            total = 0.0
            for suite in load_suites():
                t = time.perf_counter()
                r = run_suite(con, suite, Path(state), "bench", 5)
                dt = time.perf_counter() - t
                total += dt
                print(f"  {suite.name:28} {r.rows_validated:>9,} {r.read_s:>7.2f} {r.validation_s:>10.2f} {dt:>8.2f}"
                      + ("  (stored result)" if r.cached else ""))
            print(f"  {'all suites':28} {'':>9} {'':>7} {'':>10} {total:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
