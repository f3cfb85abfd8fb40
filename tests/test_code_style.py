"""The code stays lint-clean: ruff with the project's rules (pyproject.toml, [tool.ruff])."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support import REPO


def ruff() -> str:
    found = Path(sys.executable).with_name("ruff")
    return str(found) if found.exists() else shutil.which("ruff") or "ruff"


def test_ruff_check_passes():
    proc = subprocess.run([ruff(), "check", "--no-cache", "--output-format", "concise", "pipelines", "dashboards",
                           "tests", "bench"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_finds_what_it_is_asked_to(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    proc = subprocess.run([ruff(), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"), str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "F401" in proc.stdout
