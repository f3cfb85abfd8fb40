"""`outcomes explain KPI`: the KPI in words, the dbt models it passes through, the compiled SQL.

The lineage comes from the project's parsed manifest; each model's SQL as last compiled in the
home (<home>/dbt/target/compiled: exactly as run, each model by the last build that ran it), else
as written (Jinja not compiled: no build has run it in this home).
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


def load_manifest() -> dict:
    if not MANIFEST_PATH.exists():
        raise UsageError(f"no dbt manifest at {MANIFEST_PATH}: run `outcomes prepare` first")
    return json.loads(MANIFEST_PATH.read_text())


def compiled_sql(home: Home, node: dict) -> Path:
    """Where dbt wrote the node's SQL as it last compiled it in the home (its target's compiled folder)."""
    return home.dbt_target / "compiled" / node["package_name"] / node["original_file_path"]


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
    manifest = load_manifest()
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
    out.append(f"SQL of each model as last compiled in this home ({home.dbt_target / 'compiled'}), "
               "else as written (Jinja not compiled: no build in this home has run it):")
    for node_id in nodes:
        node = manifest["nodes"].get(node_id)
        if node is None:
            continue
        built = compiled_sql(home, node)
        code, how = (built.read_text(), "compiled") if built.exists() else (node.get("raw_code") or "", "as written")
        out += ["", f"-- {'=' * 20} {node['name']} ({node.get('original_file_path', '')}, {how}) {'=' * 20}",
                code.strip()]
    return "\n".join(out) + "\n"
