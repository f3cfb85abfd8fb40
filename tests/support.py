"""Helpers shared by the tests: write small exports, run the CLI, read the KPIs back."""
from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_export(path: Path, text: str, *, bom: bool = False, crlf: bool = False) -> Path:
    """Write an export exactly as given (dedented by the caller), optionally with BOM / CRLF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if crlf:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    data = text.encode("utf-8")
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def outcomes(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `outcomes` console script in a subprocess, as a user would."""
    env = {**os.environ, "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False"}
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=REPO, env=env, capture_output=True, text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"outcomes {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


SELECTED_RUN = """
import json
import sys
import dagster as dg
from pathlib import Path
from pipelines.runner import finish_run, run_pipeline
from pipelines.lib.home import Home
from pipelines.lib.dbt_project import prepare_manifest
prepare_manifest()
from pipelines.definitions import defs
selection = getattr(dg.AssetSelection.assets(dg.AssetKey(json.loads(sys.argv[3]))), sys.argv[4])()
keys = sorted(selection.resolve(defs.resolve_asset_graph()), key=str)
home = Home.resolve(sys.argv[1])
sys.exit(finish_run(run_pipeline(home, Path(sys.argv[2]), asset_selection=keys), home))
"""


def selected_run(home: Path, landing: Path, key: list[str], direction: str) -> subprocess.CompletedProcess:
    """A run of a part of the asset graph, in process as `outcomes run` runs the whole: the asset
    `key` and everything `direction` ("upstream", "downstream") of it, as the landing sensor (a raw
    source downstream) or Dagster's "materialize selected" runs a part."""
    return subprocess.run([sys.executable, "-c", SELECTED_RUN, str(home), str(landing), json.dumps(key), direction],
                          cwd=REPO, env={**os.environ, "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False"},
                          capture_output=True, text=True)


def kpis(home: Path) -> dict[tuple[str, str], float | None]:
    """The KPI table as {(financial_year, kpi): value} from `outcomes kpis --format csv`."""
    out = outcomes("kpis", "--home", str(home), "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    return {(r["financial_year"], r["kpi"]): (float(r["value"]) if r["value"] != "" else None) for r in rows}


def run_and_kpis(landing: Path, home: Path) -> dict[tuple[str, str], float | None]:
    outcomes("run", "--landing", str(landing), "--home", str(home))
    return kpis(home)


def demo_run(tmp_path_factory, scale: float = 0.05) -> tuple[Path, Path, str]:
    """(landing, home, what the run printed): the demo landing zone at `scale` and a copy of the
    home of one `outcomes run` on it.

    The run is made once per test session and shared by the test files that start from it
    (pytest-xdist's workers share the session's base folder; a lock lets one worker make it
    while another waits); each caller gets its own copy of the home, which it may change. The
    landing zone is the shared one: read it, never write to it."""
    from pipelines.demo.generator import write_demo_landing

    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    shared = root / f"demo-run-{scale:g}"
    with open(root / f"{shared.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "done").exists():
            shutil.rmtree(shared, ignore_errors=True)
            write_demo_landing(shared / "landing", scale=scale)
            run = outcomes("run", "--landing", str(shared / "landing"), "--home", str(shared / "home"))
            (shared / "stdout.txt").write_text(run.stdout)
            (shared / "done").touch()
    home = tmp_path_factory.mktemp("demo-home") / "home"
    shutil.copytree(shared / "home", home)
    return shared / "landing", home, (shared / "stdout.txt").read_text()


def process_alive(pid: int) -> bool:
    """The process exists and is not a zombie (Linux /proc)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def process_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
