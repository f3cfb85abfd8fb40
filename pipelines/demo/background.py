"""The demo landing zone written by another process, while `outcomes demo` prepares its run.

Writing the demo (~3.5 s at 1x) and the run's start-up (importing Dagster, dbt and Great
Expectations, parsing the dbt project: ~4 s) each keep one core busy: side by side on two cores,
`make run` waits for the longer of the two instead of their sum. The writer is `python -m
pipelines.demo`: the same function, the same files, its summary read from its output.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipelines.lib.errors import UsageError


def start(landing: Path, seed: int, scale: float, years: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.demo", str(landing), "--seed", str(seed),
                             "--scale", repr(float(scale)), "--years", str(years)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(writer: subprocess.Popen) -> dict:
    """The writer's summary once it has written every file; its error as a usage error."""
    out, err = writer.communicate()
    if writer.returncode != 0:
        raise UsageError(err.strip().removeprefix("error: ") or f"the demo writer exited with {writer.returncode}")
    return json.loads(out)


def stop(writer: subprocess.Popen) -> None:
    """Kill a writer still running (the command failed or was interrupted before it finished)."""
    if writer.poll() is None:
        writer.kill()
        writer.wait()
