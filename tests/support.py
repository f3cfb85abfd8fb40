"""Helpers shared by the tests: write small exports, run the CLI, read the KPIs back."""
from __future__ import annotations

import csv
import io
import os
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


def kpis(home: Path) -> dict[tuple[str, str], float | None]:
    """The KPI table as {(financial_year, kpi): value} from `outcomes kpis --format csv`."""
    out = outcomes("kpis", "--home", str(home), "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    return {(r["financial_year"], r["kpi"]): (float(r["value"]) if r["value"] != "" else None) for r in rows}


def run_and_kpis(landing: Path, home: Path) -> dict[tuple[str, str], float | None]:
    outcomes("run", "--landing", str(landing), "--home", str(home))
    return kpis(home)


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
