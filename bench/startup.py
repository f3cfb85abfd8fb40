"""Benchmark: what one small run costs before any data work, against a baseline, in one run.

Times `outcomes run` as subprocesses on one hand-sized landing zone (tests/test_ingestion_holes.py's,
20 files), each from an empty home:
  source     Python finds no bytecode (PYTHONPYCACHEPREFIX at an empty folder) and compiles
             every module of Dagster, dbt and Great Expectations from source: what every process
             paid where PYTHONDONTWRITEBYTECODE is set and the venv was installed without bytecode;
  bytecode   the venv as `make setup` installs it (uv --compile-bytecode);
  nothing    the same landing again with nothing new (pipelines/lib/run_inputs.py);
and prints wall and CPU seconds and the ratios to `source`.

    .venv/bin/python bench/startup.py [--repeat 2]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    from tests.test_ingestion_holes import build_landing

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    env = {**os.environ, "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False", "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory(prefix="outcomes-startup-") as tmp:
        root = Path(tmp)
        build_landing(root / "landing", root / "outside")
        run = [sys.executable, "-m", "pipelines.cli", "run", "--landing", str(root / "landing")]
        results: dict[str, list[tuple[float, float]]] = {"source": [], "bytecode": [], "nothing": []}
        for i in range(args.repeat):
            for name, extra in (("source", {"PYTHONPYCACHEPREFIX": str(root / f"no-pyc-{i}")}), ("bytecode", {})):
                home = root / f"home-{name}-{i}"
                results[name].append(timed([*run, "--home", str(home)], {**env, **extra}))
                if name == "bytecode":
                    results["nothing"].append(timed([*run, "--home", str(home)], env))
                shutil.rmtree(home)
    best = {k: min(v) for k, v in results.items()}
    base_wall, base_cpu = best["source"]
    print(f"best of {args.repeat}, on {os.cpu_count()} cores")
    print(f"{'run':<10} {'wall s':>8} {'CPU s':>8} {'wall / source':>14}")
    for name, (wall, cpu) in best.items():
        print(f"{name:<10} {wall:8.1f} {cpu:8.1f} {wall / base_wall:14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
