"""Resources: where the home and landing are, and the dbt CLI."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from pipelines.lib import engine, warehouse
from pipelines.lib.dbt_guard import cwd_arg, parent_pid_arg
from pipelines.lib.dbt_project import DBT_PROJECT_DIR, dbt_executable, profiles_dir
from pipelines.lib.home import Home
from pipelines.lib.locking import warehouse_lock


class OutcomesResource(dg.ConfigurableResource):
    """The home folder (state) and landing root (raw exports), given explicitly: by the CLI
    (pipelines.runner), or as `dg.EnvVar`s read when a run or tick starts (pipelines.definitions,
    the code location of `dagster dev` and the daemon). Empty home = `Home.resolve()`
    ($OUTCOMES_HOME, else `.outcomes`); empty landing = `<home>/landing`; empty engine =
    $OUTCOMES_ENGINE, else DuckDB (read when used: pipelines/lib/engine.py, docs/spark.md)."""

    home: str = ""
    landing: str = ""
    engine: str = ""
    # dbt in the run's process (pipelines/lib/dbt_in_process.py): set by the `outcomes` commands
    # (pipelines.runner); else (`dagster dev`, the daemon) a guarded dbt process per build
    dbt_in_process: bool = False

    @property
    def engine_name(self) -> str:
        return engine.engine(self.engine or None)

    @property
    def home_dir(self) -> Home:
        return Home.resolve(self.home or None).ensure()

    @property
    def landing_dir(self) -> Path:
        return Path(self.landing or self.home_dir.default_landing).resolve()

    @contextmanager
    def writer(self):
        path = self.home_dir.warehouse
        with warehouse_lock(path, exclusive=True), warehouse.connect(path) as con:
            yield con

    @contextmanager
    def reader(self):
        path = self.home_dir.warehouse
        with warehouse_lock(path, exclusive=False), warehouse.connect(path, read_only=True) as con:
            yield con


class OutcomesDbtCli(DbtCliResource):
    """dagster-dbt's dbt CLI without its in-process dbt adapter: `cli()` loads the profile and
    project and registers an adapter in this process (~2 s a run, read in dagster-dbt 0.29) only
    for `fetch_row_counts` / `fetch_column_metadata`, which the pipeline does not call. dbt itself
    runs in its own process as before."""

    def _initialize_dbt_core_adapter(self, args):  # noqa: ARG002 (dagster-dbt's signature)
        return None


def dbt_resource() -> DbtCliResource:
    """dbt from this environment (the venv may not be on PATH, e.g. under `dagster dev`), through
    `outcomes-dbt`, which dies with the run's process (pipelines/lib/dbt_guard.py)."""
    return DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(profiles_dir()),
                          dbt_executable=str(dbt_executable()))


def guarded(dbt: DbtCliResource, cwd: Path | None = None) -> DbtCliResource:
    """`dbt` for one call from this process: `outcomes-dbt` is told our pid as its first argument
    (global flags come first on DbtCliResource's command line), so that it can tell whether we
    died before it started, and the folder to run dbt in (pipelines/lib/dbt_guard.py). Made in
    the asset body: the pid is the run's process, not the one that built the definitions."""
    return OutcomesDbtCli(project_dir=dbt.project_dir, profiles_dir=dbt.profiles_dir, profile=dbt.profile,
                          target=dbt.target, dbt_executable=dbt.dbt_executable, state_path=dbt.state_path,
                          global_config_flags=[parent_pid_arg(), *([] if cwd is None else [cwd_arg(cwd)]),
                                               *dbt.global_config_flags])
