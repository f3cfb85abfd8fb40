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


def lint_imports() -> str:
    found = Path(sys.executable).with_name("lint-imports")
    return str(found) if found.exists() else shutil.which("lint-imports") or "lint-imports"


def test_imports_run_one_way():
    """pyproject.toml's layers contract: nothing imports the CLI or the definitions, lib imports no one."""
    proc = subprocess.run([lint_imports(), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "1 kept, 0 broken" in proc.stdout


def test_a_lib_module_importing_upwards_breaks_the_contract(tmp_path):
    pkg = tmp_path / "toy"
    (pkg / "lib").mkdir(parents=True)
    for f in ("__init__.py", "lib/__init__.py"):
        (pkg / f).write_text("")
    (pkg / "cli.py").write_text("from toy.lib import util\n")
    (pkg / "lib/util.py").write_text("def f():\n    from toy import cli  # upwards\n")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_package = toy\n\n[importlinter:contract:layers]\nname = toy layers\n"
        "type = layers\nlayers =\n    toy.cli\n    toy.lib\n")
    proc = subprocess.run([lint_imports(), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1 and "toy.lib.util -> toy.cli" in proc.stdout, proc.stdout + proc.stderr
