"""Every asset check the project defines, as specs: the dbt tests' and the Python checks'.

The publication gate looks up the latest result of every blocking check outside its run, so it
needs the checks of the whole project, not only those of the run's job (a subset run's job
holds only its own). They are listed here from the modules that define them, below the
Dagster definitions that assemble them.
"""
from __future__ import annotations

import dagster as dg


def check_specs() -> dict[dg.AssetCheckKey, dg.AssetCheckSpec]:
    """The spec of every check but the publication gate's own, by key."""
    from pipelines.assets.dbt import build_dbt_models
    from pipelines.checks.ge_checks import build_ge_checks
    from pipelines.checks.raw_checks import raw_checks
    from pipelines.checks.warning_checks import warning_checks

    checks = (*raw_checks, *build_ge_checks(), *warning_checks)
    specs = [*build_dbt_models().check_specs, *(s for c in checks for s in c.check_specs)]
    return {s.key: s for s in specs}
