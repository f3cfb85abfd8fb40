"""`outcomes explain KPI`: the KPI in words, the dbt models it passes through, the compiled SQL.

The lineage and SQL come from the dbt manifest of the home's last build (<home>/dbt/target,
compiled SQL exactly as run), else from the project's parsed manifest (SQL not yet compiled).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from pipelines.audit.kpis import components
from pipelines.lib import kpi_registry
from pipelines.lib.dbt_project import MANIFEST_PATH
from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home

PACKAGE = "outcomes"


def load_manifest(home: Home) -> tuple[dict, Path, bool]:
    """(manifest, its path, compiled?)."""
    built = home.dbt_target / "manifest.json"
    for path, compiled in ((built, True), (MANIFEST_PATH, False)):
        if path.exists():
            return json.loads(path.read_text()), path, compiled
    raise UsageError(f"no dbt manifest at {built} or {MANIFEST_PATH}: run `outcomes prepare` first")


def model_id(name: str) -> str:
    return f"model.{PACKAGE}.{name}"


def lineage(manifest: dict, kpi: str) -> list[str]:
    """Sources and models from raw to the KPI's marts and its trace, in dependency order."""
    parents = manifest["parent_map"]
    targets = set()
    for part in components(kpi):
        targets.update(model_id(m) for m in kpi_registry.load()[part].rule_models)
    ancestors: set[str] = set()
    todo = list(targets)
    while todo:
        node = todo.pop()
        if node in ancestors:
            continue
        ancestors.add(node)
        todo.extend(p for p in parents.get(node, []) if p.startswith(("model.", "source.")))
    downstream = [model_id("kpi_annual")]
    if all(kpi_registry.load()[p].monthly for p in components(kpi)) and kpi not in kpi_registry.ratios():
        downstream.append(model_id("mart_monthly_by_site"))
    downstream += [model_id("audit_kpi_units"), model_id("audit_kpi_exclusions")]
    nodes = [n for n in downstream if n in manifest["nodes"]]

    depth: dict[str, int] = {}

    def level(node: str) -> int:
        if node not in depth:
            ps = [p for p in parents.get(node, []) if p in ancestors]
            depth[node] = 1 + max((level(p) for p in ps), default=-1)
        return depth[node]
    ordered = sorted(ancestors, key=lambda n: (level(n), n))
    return ordered + nodes


def describe(manifest: dict, node_id: str) -> tuple[str, str, str]:
    """(name, kind, first sentence of the description)."""
    node = manifest["nodes"].get(node_id) or manifest["sources"].get(node_id, {})
    if node_id.startswith("source."):
        name = f"{node.get('source_name', 'raw')}.{node.get('name', node_id.rsplit('.', 1)[-1])}"
        kind = "source"
    else:
        name = node.get("name", node_id.rsplit(".", 1)[-1])
        kind = node.get("config", {}).get("materialized", "model")
    text = " ".join((node.get("description") or "").split())
    first = re.split(r"(?<!i\.e)(?<!e\.g)\.\s", text)[0].rstrip(".") if text else ""
    if len(first) > 160:
        first = first[:159].rsplit(" ", 1)[0] + " …"
    return name, kind, first


def explain(home: Home, kpi: str, *, sql: bool = True) -> str:
    if kpi not in kpi_registry.load():
        raise UsageError(f"unknown KPI {kpi!r}; KPIs: {', '.join(kpi_registry.names())}")
    manifest, path, compiled = load_manifest(home)
    k = kpi_registry.load()[kpi]
    out = [f"{kpi}", "", "Definition (contract, shared/export-formats.md):", f"  {k.definition}", ""]
    if k.is_ratio:
        num, den = k.numerator, k.denominator
        out += [f"Traces to: {num} (numerator) and {den} (denominator): `outcomes trace {kpi}` lists both.", ""]
    else:
        out += [f"One traced line = one {k.unit}; the number of lines is the KPI.",
                f"Source files: landing/{k.source}/" + (f"{k.file_prefix}*.csv" if k.file_prefix else ""),
                "Published per " + ("year only" if not k.monthly else "year, and per month and site "
                                     "(mart_monthly_by_site)"), ""]
    out.append("dbt lineage, raw to published (name, materialisation, grain):")
    nodes = lineage(manifest, kpi)
    for node_id in nodes:
        name, kind, first = describe(manifest, node_id)
        out.append(f"  {name:<28} {kind:<8} {first}")
    if not sql:
        return "\n".join(out) + "\n"
    out.append("")
    if compiled:
        when = manifest.get("metadata", {}).get("generated_at", "?")
        out.append(f"Compiled SQL as last run against this home (dbt manifest {path}, generated {when}):")
    else:
        out.append(f"SQL as written (no build in this home yet; dbt manifest {path}); Jinja not compiled:")
    for node_id in nodes:
        node = manifest["nodes"].get(node_id)
        if node is None:
            continue
        code = (node.get("compiled_code") if compiled else None) or node.get("raw_code") or ""
        out += ["", f"-- {'=' * 20} {node['name']} ({node.get('original_file_path', '')}) {'=' * 20}", code.strip()]
    return "\n".join(out) + "\n"
