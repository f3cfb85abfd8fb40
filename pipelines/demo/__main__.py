"""``python -m pipelines.demo OUT_DIR [--seed N] [--scale X] [--years N]``

Writes a synthetic landing zone under OUT_DIR and prints the summary (file counts,
row counts, the mess included and the expected KPIs per financial year) as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines.demo.generator import write_demo_landing


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m pipelines.demo", description=__doc__.splitlines()[2])
    ap.add_argument("out_dir", type=Path, help="landing root to write (its source folders must be empty)")
    ap.add_argument("--seed", type=int, default=2122)
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = the published 2021/22 volumes")
    ap.add_argument("--years", type=int, default=5, help="financial years from 2020/21")
    args = ap.parse_args(argv)
    try:
        summary = write_demo_landing(args.out_dir, seed=args.seed, scale=args.scale, years=args.years)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
