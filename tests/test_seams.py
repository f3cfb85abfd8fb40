"""The seams run one way (docs/architecture.md, "Python layers"): definitions are built from the
settings given, nothing is read from disk when a module is imported, settings are read when
used, and no code writes the process's environment."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import dagster as dg
import pytest

from pipelines.assemble import build_definitions
from pipelines.resources import OutcomesResource
from tests.support import REPO, write_export

VISITS = ("visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
          "V1,WAL,2021-10-04 10:00,M1,member,course,ok\nV2,SOU,2021-10-05 10:00,M2,member,course,ok\n")


def outcomes_of(defs: dg.Definitions) -> OutcomesResource:
    return defs.resources["outcomes"]


def test_definitions_for_two_homes_in_one_process_point_at_each(tmp_path):
    a = build_definitions(OutcomesResource(home=str(tmp_path / "a"), landing=str(tmp_path / "in-a")))
    b = build_definitions(OutcomesResource(home=str(tmp_path / "b"), landing=str(tmp_path / "in-b")))
    assert outcomes_of(a).home_dir.root == tmp_path / "a" and outcomes_of(a).landing_dir == tmp_path / "in-a"
    assert outcomes_of(b).home_dir.root == tmp_path / "b" and outcomes_of(b).landing_dir == tmp_path / "in-b"
    # the same graph either way: only the settings differ
    assert set(a.resolve_asset_graph().get_all_asset_keys()) == set(b.resolve_asset_graph().get_all_asset_keys())


def test_the_code_location_reads_home_and_landing_when_used(tmp_path, monkeypatch):
    """pipelines.definitions (dagster dev, the daemon): OUTCOMES_HOME / OUTCOMES_LANDING are
    dg.EnvVars, resolved when a run or tick starts, not frozen when the module was imported."""
    from pipelines.definitions import defs

    resource = defs.resources["outcomes"]
    for name in ("one", "two"):
        monkeypatch.setenv("OUTCOMES_HOME", str(tmp_path / name))
        monkeypatch.setenv("OUTCOMES_LANDING", str(tmp_path / f"{name}-landing"))
        with dg.build_resources({"outcomes": resource}) as resources:
            assert resources.outcomes.home_dir.root == tmp_path / name
            assert resources.outcomes.landing_dir == tmp_path / f"{name}-landing"


IMPORTS = """
import importlib, json, pkgutil, sys
from pathlib import Path

repo = Path.cwd().resolve()
opened = []

def hook(event, args):
    if event == "open" and args and isinstance(args[0], str):
        p = Path(args[0]).resolve()
        installed = ".venv" in p.parts or any(part.endswith(".egg-info") for part in p.parts)
        if repo in p.parents and not installed and p.suffix not in (".py", ".pyc"):
            opened.append(str(p.relative_to(repo)))

sys.addaudithook(hook)
import pipelines, dashboards
for pkg in (pipelines, dashboards):
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if m.name != "pipelines.definitions":  # the code location: building is its whole point
            importlib.import_module(m.name)
at_import = list(opened)
from pipelines.assemble import build_definitions
from pipelines.resources import OutcomesResource
build_definitions(OutcomesResource(home="/nonexistent/home", landing="/nonexistent/landing"))
print(json.dumps({"at_import": at_import, "at_build": opened[len(at_import):]}))
"""


def test_no_module_reads_files_when_imported():
    """Importing any module (the CLI, the runner, the assets, the checks) opens no file of the
    project; building the definitions reads the dbt manifest and the suites (the control: the
    hook sees file reads)."""
    import json

    proc = subprocess.run([sys.executable, "-c", IMPORTS], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["at_import"] == []
    assert "dbt_project/target/manifest.json" in seen["at_build"]
    assert any(p.startswith("expectations/") and p.endswith(".yml") for p in seen["at_build"])


def test_settings_are_read_when_used(tmp_path, monkeypatch):
    """Changed after import, the lock timeout, DuckDB's memory limit and the plain-CSV switch apply."""
    from pipelines.lib import plain_csv, warehouse
    from pipelines.lib.locking import LockTimeout, warehouse_lock

    monkeypatch.setenv("OUTCOMES_DUCKDB_MEMORY_LIMIT", "123MB")
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    assert limit.replace(" ", "") in ("117.3MiB", "123.0MB", "117.3MB"), limit

    monkeypatch.setenv("OUTCOMES_PLAIN_CSV", "0")
    assert plain_csv.enabled() is False
    monkeypatch.setenv("OUTCOMES_PLAIN_CSV", "1")
    assert plain_csv.enabled() is True

    monkeypatch.setenv("OUTCOMES_LOCK_TIMEOUT", "0.3")
    path = tmp_path / "w.duckdb"
    with warehouse_lock(path, exclusive=True):
        start = time.monotonic()
        with pytest.raises(LockTimeout):
            with warehouse_lock(path, exclusive=True):
                pass
        assert time.monotonic() - start < 5


def test_a_cli_run_leaves_the_environment_as_it_was(tmp_path, capsys):
    """`outcomes run` in process: home and landing reach the resources, the warehouse reaches dbt
    and the parent pid reaches the dbt guard without a single environment variable being set."""
    from pipelines.cli import main

    landing, home = tmp_path / "landing", tmp_path / "home"
    write_export(landing / "visits" / "kiosk_1.csv", VISITS)
    before = dict(os.environ)
    assert main(["run", "--landing", str(landing), "--home", str(home)]) == 0
    assert dict(os.environ) == before
    out = capsys.readouterr().out
    assert "visits           files: 1 loaded" in out and f"dashboards: {home / 'dashboards' / 'index.html'}" in out
    assert (home / "warehouse.duckdb").exists()
    # the run record names the landing it was given (reproduce reads it), not one from the environment
    (record,) = (home / "runs").glob("*.json")
    import json

    assert json.loads(record.read_text())["landing"] == str(landing.resolve())

