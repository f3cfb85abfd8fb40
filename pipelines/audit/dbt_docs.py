"""`outcomes docs`: the dbt documentation (models, columns, grain, tests, lineage graph) as one
static HTML file beside the dashboards: <home>/dashboards/dbt-docs/index.html (opens offline).

`dbt docs generate --static` reads the warehouse's catalog. It runs with a profile that attaches
the warehouse READ-ONLY (never a second writer), after a run, under the shared warehouse lock when
there is one, and writes its target to <home>/dbt/docs-target so that the run's own
run_results.json is left alone. It takes about 10 s, so it is a command of its own rather than a
step of every run.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipelines.lib.dbt_project import DBT_PROJECT_DIR, dbt_command, dbt_env, dbt_vars
from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home

PROFILE = """\
outcomes:
  target: docs
  outputs:
    docs:
      type: duckdb
      path: ":memory:"
      database: {alias}
      attach:
        - path: "{{{{ env_var('OUTCOMES_WAREHOUSE') }}}}"
          alias: {alias}
          read_only: true
      threads: 1
"""


def docs_dir(home: Home) -> Path:
    return home.dashboards / "dbt-docs"


def generate_docs(home: Home) -> Path:
    if not home.warehouse.exists():
        raise UsageError(f"no warehouse at {home.warehouse}: run `outcomes run --landing DIR` first")
    from pipelines.lib.locking import warehouse_lock

    target = home.root / "dbt" / "docs-target"
    with tempfile.TemporaryDirectory(prefix="outcomes-docs-profile-") as profiles:
        # dbt names the database after the warehouse file's stem: attach it under that name.
        Path(profiles, "profiles.yml").write_text(PROFILE.format(alias=home.warehouse.stem))
        # through the guard: dbt dies with us, as it reads the warehouse under our shared lock
        cmd = dbt_command("docs", "generate", "--static", "--quiet", "--project-dir", str(DBT_PROJECT_DIR),
                          "--profiles-dir", profiles, "--target-path", str(target), "--vars", dbt_vars())
        with warehouse_lock(home.warehouse, exclusive=False):
            proc = subprocess.run(cmd, env=dbt_env(home.warehouse), capture_output=True, text=True,
                                  cwd=str(DBT_PROJECT_DIR))
    if proc.returncode != 0:
        raise RuntimeError(f"dbt docs generate failed: {(proc.stdout + proc.stderr).strip()[-2000:]}")
    out = docs_dir(home)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".index.html.tmp"
    shutil.copyfile(target / "static_index.html", tmp)
    os.replace(tmp, out / "index.html")
    return out / "index.html"
