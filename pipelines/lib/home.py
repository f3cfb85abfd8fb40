"""The home folder: everything a run writes lives under it (see docs/architecture.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path(".outcomes")


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> "Home":
        return cls(Path(home or os.environ.get("OUTCOMES_HOME") or DEFAULT_HOME).expanduser().resolve())

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def secret(self) -> Path:
        return self.root / "secret.key"

    @property
    def is_new(self) -> bool:
        """No warehouse yet: holds no data, so a run may create the pseudonymisation key."""
        return not self.warehouse.exists()

    @property
    def dagster(self) -> Path:
        return self.root / "dagster"

    @property
    def dashboards(self) -> Path:
        return self.root / "dashboards"

    @property
    def dbt_target(self) -> Path:
        return self.root / "dbt" / "target"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state(self) -> Path:
        """What runs remember between them (the last run's inputs, landing files' digests)."""
        return self.root / "state"

    @property
    def default_landing(self) -> Path:
        return self.root / "landing"

    def ensure(self) -> "Home":
        for d in (self.root, self.dagster, self.dashboards, self.dbt_target):
            d.mkdir(parents=True, exist_ok=True)
        return self
