"""Audit trail: trace a published KPI to the raw rows behind it, explain its rules, record every
run, keep immutable versioned snapshots of what was published, and reproduce a snapshot.

Modules (docs/audit.md):
- kpis:       what each KPI counts, its unit, its source files and the dbt models it passes through
- trace:      `outcomes trace`: the counted (or excluded) units of a KPI with their evidence
- explain:    `outcomes explain`: definition, model lineage and compiled SQL
- manifest:   run manifests under <home>/runs/<run_id>.json
- snapshots:  versioned, immutable KPI snapshots under <home>/snapshots/<year>/v<N>/
- reproduce:  `outcomes reproduce`: rebuild a snapshot from the files named in its manifest
- dbt_docs:   `outcomes docs`: the static dbt docs beside the dashboards
- cli:        the commands (registered through pipelines.cli.COMMAND_MODULES)
"""
