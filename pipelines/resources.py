"""Resources: where the home and landing are, and the dbt CLI."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from pipelines.lib import warehouse
from pipelines.lib.dbt_project import DBT_PROJECT_DIR, dbt_executable, profiles_dir
from pipelines.lib.home import Home
from pipelines.lib.locking import warehouse_lock
from pipelines.lib.pseudonym import Pseudonymiser, load_or_create_secret


class OutcomesResource(dg.ConfigurableResource):
    """The home folder (state) and landing root (raw exports). Empty = from the environment
    (OUTCOMES_HOME, OUTCOMES_LANDING), else `.outcomes` and `<home>/landing`."""

    home: str = ""
    landing: str = ""

    @property
    def home_dir(self) -> Home:
        return Home.resolve(self.home or None).ensure()

    @property
    def landing_dir(self) -> Path:
        import os
        return Path(self.landing or os.environ.get("OUTCOMES_LANDING") or self.home_dir.default_landing).resolve()

    def pseudonymiser(self) -> Pseudonymiser:
        home = self.home_dir
        return Pseudonymiser(load_or_create_secret(home.secret, create=home.is_new))

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


def dbt_resource() -> DbtCliResource:
    """dbt from this environment (the venv may not be on PATH, e.g. under `dagster dev`), through
    `outcomes-dbt`, which dies with the run's process (pipelines/lib/dbt_guard.py)."""
    return DbtCliResource(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(profiles_dir()),
                          dbt_executable=str(dbt_executable()))
