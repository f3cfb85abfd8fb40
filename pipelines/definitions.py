"""The code location of `dagster dev` and the daemon (workspace.yaml, pyproject's [tool.dagster]).

The home and landing are `dg.EnvVar`s, OUTCOMES_HOME and OUTCOMES_LANDING, read when a run or a
tick starts (`make dev` sets both, by default `.outcomes` and `.outcomes/landing`). Only entry
points import this module: the CLI builds its own definitions (pipelines.assemble).
"""
import dagster as dg

from pipelines.assemble import build_definitions
from pipelines.resources import OutcomesResource

HOME_ENV, LANDING_ENV = "OUTCOMES_HOME", "OUTCOMES_LANDING"

defs = build_definitions(OutcomesResource(home=dg.EnvVar(HOME_ENV), landing=dg.EnvVar(LANDING_ENV)))
