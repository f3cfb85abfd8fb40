"""The audit commands: trace, explain, snapshots, reproduce, docs (registered by pipelines.cli)."""
from __future__ import annotations

import sys

from pipelines.lib import kpi_registry
from pipelines.lib.home import Home

FORMATS = ("table", "csv", "json")


def cmd_trace(args) -> int:
    from pipelines.audit import trace as t
    from pipelines.audit.db import read_warehouse

    home = Home.resolve(args.home)
    month = t.parse_month(args.month)
    with read_warehouse(home) as con:
        traces = t.trace(con, args.kpi, args.year, args.site, month, excluded=args.excluded, decile=args.decile)
    render = {"table": lambda: t.render_table(args.kpi, traces), "csv": lambda: t.render_csv(traces),
              "json": lambda: t.render_json(args.kpi, traces)}[args.format]
    sys.stdout.write(render())
    wrong = [tr for tr in traces if not tr.matches]
    for tr in wrong:
        print(f"outcomes: {tr.kpi} {tr.financial_year}: {len(tr.units)} units traced but {tr.published} published: "
              "the audit models are out of date or broken; run `outcomes run` again", file=sys.stderr)
    return 1 if wrong else 0


def cmd_explain(args) -> int:
    from pipelines.audit.explain import explain

    sys.stdout.write(explain(Home.resolve(args.home), args.kpi, sql=not args.no_sql))
    return 0


def cmd_snapshots(args) -> int:
    import json

    from pipelines.audit import snapshots as s

    home = Home.resolve(args.home)
    if args.freeze:
        sid = s.freeze_year(home, args.freeze, note=args.note)
        print(f"{s.year_label(args.freeze)} closed: snapshot {sid}")
    found = s.list_snapshots(home)
    if args.year:
        found = [x for x in found if x.financial_year == s.year_label(args.year)]
    if args.format == "json":
        print(json.dumps([{"id": x.id, "financial_year": x.financial_year, "version": x.version, "kind": x.kind,
                           "created_at": x.manifest["created_at"], "previous": x.manifest["previous"],
                           "run_id": (x.manifest.get("run") or {}).get("run_id"), "intact": x.intact(),
                           "changes": x.manifest["changes"], "path": str(x.path)} for x in found], indent=1))
    else:
        sys.stdout.write(s.render_list(found))
    return 0 if all(x.intact() for x in found) else 1


def cmd_reproduce(args) -> int:
    from pipelines.audit.reproduce import render, reproduce

    result = reproduce(Home.resolve(args.home), args.snapshot, run_pipeline=args.run_pipeline, landing=args.landing,
                       scratch=args.scratch)
    sys.stdout.write(render(result))
    return 0 if result.matches else 1


def cmd_docs(args) -> int:
    from pipelines.audit.dbt_docs import generate_docs

    print(f"dbt docs: {generate_docs(Home.resolve(args.home))}")
    return 0


def register(subparsers) -> None:
    def add(name, func, help_):
        p = subparsers.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        p.add_argument("--home", help="state folder (default $OUTCOMES_HOME or ./.outcomes)")
        return p

    p = add("trace", cmd_trace,
            "List the units a published KPI counted (one per unit: as many as the KPI), each with the fields "
            "that decided it and every raw row behind it (file:line:sha256, winning version first).")
    p.add_argument("kpi", metavar="KPI", help=f"one of: {', '.join(kpi_registry.names())} (a ratio traces to both its counts); "
                   "or an outcome figure: members_reached, swemwbs_paired_members")
    p.add_argument("--year", help="financial year, e.g. 2021/22 (default: every year)")
    p.add_argument("--site", help="site as in the monthly figures: WAL, SOU, BOO, PCL, PSL, UNKNOWN, ZOOM, PHONE")
    p.add_argument("--month", help="month, YYYY-MM (implies its financial year)")
    p.add_argument("--decile", help="members_reached only: IMD decile 1..10 or unknown")
    p.add_argument("--excluded", action="store_true",
                   help="instead, the units considered and left out, each with the rule that excluded it")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table: one unit per line, evidence indented; csv: exactly one row per unit; json")

    p = add("explain", cmd_explain, "Explain a KPI: its definition, the dbt models it passes through, the compiled SQL.")
    p.add_argument("kpi", metavar="KPI", help=f"one of: {', '.join(kpi_registry.names())}")
    p.add_argument("--no-sql", action="store_true", help="leave out the compiled SQL")

    p = add("snapshots", cmd_snapshots,
            "List the published KPI snapshots (immutable, versioned per financial year); --freeze closes a year.")
    p.add_argument("--year", help="only this financial year")
    p.add_argument("--freeze", metavar="YEAR", help="close YEAR: its current KPIs become its final snapshot")
    p.add_argument("--note", help="with --freeze: a note stored in the snapshot's manifest")
    p.add_argument("--format", choices=("table", "json"), default="table")

    p = add("reproduce", cmd_reproduce,
            "Rebuild a snapshot from the raw files named in its manifest in a scratch home and compare the KPIs.")
    p.add_argument("snapshot", metavar="SNAPSHOT", help="snapshot id, e.g. 2021-22/v2, or a year for its latest")
    p.add_argument("--landing", help="landing root holding the files (default: the one recorded in the manifest)")
    p.add_argument("--scratch", help="empty folder for the scratch home and landing (default: a new temp folder)")

    add("docs", cmd_docs, "Generate the dbt docs (static HTML) into <home>/dashboards/dbt-docs/index.html.")
