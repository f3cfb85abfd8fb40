"""`outcomes trace`: the units a published KPI counted, each with every raw row behind it.

Counted units come from the dbt model audit_kpi_units (one row per counted unit, selected with
the intermediate models' own flags), so the number of units is the KPI (the dbt test
audit_every_published_kpi_equals_its_traced_units holds that on every run, and `trace` checks
it again against kpi_annual / mart_monthly_by_site before printing).

Excluded units (`--excluded`) are audit_kpi_exclusions (rule-level: void, staff, superseded,
withdrawn, orphan, ...) plus what depends on the year asked or lives in the ledger:
- outside_year: a unit of another financial year delivered in a file that fed this year;
- rejected_row: a row of such a file refused by a row rule (ledger.rejected_rows);
- duplicate_delivery: a file byte-identical to one already loaded (ledger.files);
- quarantined: a file refused whole (ledger.files).
A file-level exclusion is listed under the years its file fed, or under every year when the file
fed no year at all (e.g. a quarantined file).
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import date

from pipelines.audit.kpis import components, file_in_scope
from pipelines.lib import kpi_registry
from pipelines.lib.contracts import SITE_CODES
from pipelines.lib.csv_safe import csv_safe
from pipelines.lib import financial_year
from pipelines.lib.errors import UsageError

SITES = tuple(sorted(SITE_CODES)) + ("UNKNOWN", "ZOOM", "PHONE")
MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Evidence:
    role: str
    record_key: str
    file_path: str
    line_number: int | None
    file_sha256: str
    is_winning: bool | None

    def cite(self) -> str:
        """`path:line:sha256`; split from the right (a path may hold ':'). No line for a whole file."""
        return f"{self.file_path}:{'' if self.line_number is None else self.line_number}:{self.file_sha256}"


@dataclass
class Unit:
    kpi: str
    financial_year: str | None
    unit_kind: str
    unit_key: str | None
    month: date | None = None
    site_code: str | None = None
    decided_by: dict = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    rule: str | None = None      # excluded units only
    detail: str | None = None    # excluded units only


@dataclass
class Trace:
    """One KPI (or one component of a ratio) for one year, site and month."""
    kpi: str
    financial_year: str
    site: str | None
    month: date | None
    published: float | None       # the KPI as published (kpi_annual or mart_monthly_by_site)
    units: list[Unit]
    excluded: bool = False
    scope_note: str | None = None      # e.g. "IMD decile 1" (outcome figures)
    published_from: str | None = None  # the mart read back, when not kpi_annual / mart_monthly_by_site

    @property
    def matches(self) -> bool:
        return self.excluded or (self.published or 0) == len(self.units)


# --- arguments ----------------------------------------------------------------------------------

def parse_month(text: str | None) -> date | None:
    if text is None:
        return None
    m = MONTH.fullmatch(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise UsageError(f"--month {text!r} is not YYYY-MM (e.g. 2021-11)")
    return date(int(m.group(1)), int(m.group(2)), 1)


def check_arguments(con, kpi: str, year: str | None, site: str | None, month: date | None) -> tuple[list[str], str | None]:
    """Validate; return the years to trace and the normalised site."""
    if kpi not in kpi_registry.load():
        raise UsageError(f"unknown KPI {kpi!r}; KPIs: {', '.join(kpi_registry.names())}")
    years = [y for (y,) in con.execute("SELECT DISTINCT financial_year FROM main.kpi_annual ORDER BY 1").fetchall()]
    if month is not None:
        month_year = financial_year.of(month)
        if year is not None and year != month_year:
            raise UsageError(f"--month {month:%Y-%m} is in {month_year}, not {year}")
        year = month_year
    if year is not None and year not in years:
        raise UsageError(f"no KPIs for {year}; years with data: {', '.join(years) or 'none'}")
    if site is not None:
        site = site.strip().upper()
        if site not in SITES:
            raise UsageError(f"unknown site {site!r}; sites: {', '.join(SITES)}")
    if site is not None or month is not None:
        not_monthly = [k for k in [kpi, *components(kpi)] if not kpi_registry.load()[k].monthly]
        if kpi in kpi_registry.ratios() or not_monthly:
            raise UsageError(f"{kpi} is published per year only (not by site or month): drop --site/--month")
    return ([year] if year else years), site


def _own_role(kpi: str) -> str | None:
    k = kpi_registry.load().get(kpi)
    return k.own_role if k else None


# --- reading ------------------------------------------------------------------------------------

def _evidence(items) -> list[Evidence]:
    return [Evidence(e["role"], e["record_key"], e["file_path"], e["line_number"], e["file_sha256"], e["is_winning"])
            for e in items or []]


def _filters(site: str | None, month: date | None) -> tuple[str, dict]:
    sql, params = "", {}
    if site is not None:
        sql += " AND site_code = $site"
        params["site"] = site
    if month is not None:
        sql += " AND month = $month"
        params["month"] = month
    return sql, params


def published_value(con, kpi: str, year: str, site: str | None, month: date | None) -> float | None:
    if site is None and month is None:
        row = con.execute("SELECT value FROM main.kpi_annual WHERE financial_year = $y AND kpi = $k",
                          {"y": year, "k": kpi}).fetchone()
        return row[0] if row else None
    where, params = _filters(site, month)
    (value,) = con.execute(
        f"SELECT coalesce(sum(value), 0) FROM main.mart_monthly_by_site WHERE financial_year = $y AND kpi = $k{where}",
        {"y": year, "k": kpi, **params}).fetchone()
    return float(value)


def counted_units(con, kpi: str, year: str, site: str | None = None, month: date | None = None) -> list[Unit]:
    where, params = _filters(site, month)
    rows = con.execute(
        "SELECT kpi, financial_year, unit_kind, unit_key, month, site_code, decided_by, evidence "
        f"FROM main.audit_kpi_units WHERE kpi = $k AND financial_year = $y{where} ORDER BY unit_key",
        {"k": kpi, "y": year, **params}).fetchall()
    return [Unit(k, y, kind, key, m, s, json.loads(d), _evidence(ev)) for k, y, kind, key, m, s, d, ev in rows]


def trace(con, kpi: str, year: str | None = None, site: str | None = None, month: date | None = None,
          *, excluded: bool = False, decile: str | None = None) -> list[Trace]:
    """The traces behind a KPI: one per year and component (a ratio has two)."""
    from pipelines.audit import outcome_trace

    if kpi in outcome_trace.FIGURES:  # members_reached, swemwbs_paired_members (pipelines/audit/outcome_trace.py)
        return outcome_trace.trace(con, kpi, year, decile, site=site, month=month, excluded=excluded)
    if decile is not None:
        raise UsageError("--decile applies to members_reached only")
    years, site = check_arguments(con, kpi, year, site, month)
    out = []
    for y in years:
        for part in components(kpi):
            units = excluded_units(con, part, y, site, month) if excluded else counted_units(con, part, y, site, month)
            out.append(Trace(part, y, site, month, published_value(con, part, y, site, month), units, excluded))
    return out


# --- exclusions ---------------------------------------------------------------------------------

def _touched_files(con, kpi: str) -> dict[str | None, set[str]]:
    """Files (by SHA-256) whose own-kind rows fed each year's counted or excluded units of the KPI."""
    rows = con.execute(
        """
        WITH all_units AS (
            SELECT financial_year, evidence FROM main.audit_kpi_units WHERE kpi = $k
            UNION ALL
            SELECT financial_year, evidence FROM main.audit_kpi_exclusions WHERE kpi = $k
        ), cited AS (
            SELECT financial_year, unnest(evidence) AS e FROM all_units
        )
        SELECT DISTINCT financial_year, e.file_sha256 FROM cited WHERE e.role = $role
        """, {"k": kpi, "role": kpi_registry.load()[kpi].own_role}).fetchall()
    touched: dict[str | None, set[str]] = {}
    for y, sha in rows:
        touched.setdefault(y, set()).add(sha)
    return touched


def _placed(shas: set[str], year: str, touched: dict[str | None, set[str]], dated: set[str]) -> bool:
    """An exclusion without a year of its own belongs to the years its files fed, or to every year
    when its files fed no year at all (`dated`: the files that fed some year)."""
    return bool(shas & touched.get(year, set())) or not (shas & dated)


def _key_date(decided_by: dict) -> str | None:
    for name in ("visit_date", "contact_date", "call_started_at_local", "start_time"):
        if decided_by.get(name):
            return f"{name} {decided_by[name]}"
    return None


def excluded_units(con, kpi: str, year: str, site: str | None = None, month: date | None = None) -> list[Unit]:
    where, params = _filters(site, month)
    own = kpi_registry.load()[kpi].own_role
    touched = _touched_files(con, kpi)
    dated = set().union(*(shas for y, shas in touched.items() if y is not None))
    out: list[Unit] = []

    def own_files(evidence: list[Evidence]) -> set[str]:
        return {e.file_sha256 for e in evidence if e.role == own}

    # 1. Rule-level exclusions of the year; those without a year (orphans) where their files belong.
    rows = con.execute(
        "SELECT financial_year, unit_kind, unit_key, month, site_code, rule, detail, evidence "
        f"FROM main.audit_kpi_exclusions WHERE kpi = $k AND (financial_year = $y OR financial_year IS NULL){where} "
        "ORDER BY rule, unit_key", {"k": kpi, "y": year, **params}).fetchall()
    for y, kind, key, m, s, rule, detail, ev in rows:
        evidence = _evidence(ev)
        if y is None and not _placed(own_files(evidence), year, touched, dated):
            continue
        out.append(Unit(kpi, y, kind, key, m, s, {}, evidence, rule, detail))

    if site is not None or month is not None:
        return out  # file-level and other-year exclusions have no site or month

    # 2. Units of other years delivered in files that fed this year (not for person KPIs: a person
    #    counted in several years is one person per year).
    year_files = touched.get(year, set())
    if not kpi_registry.load()[kpi].person and year_files:
        others = con.execute(
            """
            WITH other_years AS (
                SELECT financial_year, unit_kind, unit_key, decided_by, NULL AS rule, evidence
                FROM main.audit_kpi_units WHERE kpi = $k AND financial_year <> $y
                UNION ALL
                SELECT financial_year, unit_kind, unit_key, NULL, rule, evidence
                FROM main.audit_kpi_exclusions WHERE kpi = $k AND financial_year <> $y
            )
            SELECT * FROM other_years
            WHERE list_has_any(
                list_transform(list_filter(evidence, lambda e: e.role = $role), lambda e: e.file_sha256), $files)
            ORDER BY unit_key
            """, {"k": kpi, "y": year, "role": own, "files": sorted(year_files)}).fetchall()
        for y, kind, key, decided, rule, ev in others:
            when = _key_date(json.loads(decided)) if decided else None
            detail = f"belongs to {y}" + (f" ({when})" if when else "") + \
                (f"; excluded there too: {rule}" if rule else "; counted there")
            out.append(Unit(kpi, y, kind, key, None, None, {}, _evidence(ev), "outside_year", detail))

    # 3. The ledger: rejected rows, duplicate deliveries, quarantined files.
    for source, path, sha, line, reason in con.execute(
            "SELECT source, file_path, file_sha256, line_number, reason FROM ledger.rejected_rows "
            "ORDER BY file_path, line_number").fetchall():
        if file_in_scope(kpi, source, path) and _placed({sha}, year, touched, dated):
            out.append(Unit(kpi, None, "row", None, None, None, {}, [Evidence("row", "", path, line, sha, None)],
                            "rejected_row", reason))
    for source, path, sha, status, reason, duplicate_of in con.execute(
            "SELECT source, file_path, file_sha256, status, reason, duplicate_of FROM ledger.files "
            "WHERE status IN ('duplicate', 'quarantined') ORDER BY file_path").fetchall():
        if file_in_scope(kpi, source, path) and _placed({sha}, year, touched, dated):
            rule = "duplicate_delivery" if status == "duplicate" else "quarantined"
            detail = f"byte-identical to {duplicate_of}, which was loaded" if status == "duplicate" else reason
            out.append(Unit(kpi, None, "file", None, None, None, {}, [Evidence("file", "", path, None, sha, None)],
                            rule, detail))
    return out


# --- rendering ----------------------------------------------------------------------------------

def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(_cell(v) for v in value)
    return str(value)


def _evidence_columns(unit: Unit) -> dict[str, str]:
    """`evidence` holds the unit's own rows; supporting rows go to `<role>_evidence`."""
    own = _own_role(unit.kpi)
    cols: dict[str, list[str]] = {"evidence": []}
    for e in unit.evidence:
        name = "evidence" if e.role in (own, "row", "file") else f"{e.role}_evidence"
        cols.setdefault(name, []).append(e.cite())
    return {k: ";".join(v) for k, v in cols.items()}


def rows_for_csv(traces: list[Trace]) -> tuple[list[str], list[dict]]:
    """One row per unit. Columns: identity, the deciding fields, evidence count and evidence."""
    head = ["financial_year", "kpi", "unit_kind", "unit_key"]
    if any(t.excluded for t in traces):
        head = ["financial_year", "kpi", "rule", "unit_kind", "unit_key", "unit_year", "detail"]
    rows, extra, ev_cols = [], [], ["evidence_rows", "evidence"]
    monthly = any(t.kpi in kpi_registry.load() and kpi_registry.load()[t.kpi].monthly for t in traces) and not any(t.excluded for t in traces)
    if monthly:
        head += ["month", "site_code"]
    for t in traces:
        for u in t.units:
            row = {"financial_year": t.financial_year, "kpi": t.kpi, "unit_kind": u.unit_kind,
                   "unit_key": _cell(u.unit_key)}
            if t.excluded:
                row.update(rule=u.rule, unit_year=_cell(u.financial_year), detail=_cell(u.detail))
            if monthly:
                row.update(month=_cell(u.month and f"{u.month:%Y-%m}"), site_code=_cell(u.site_code))
            for k, v in u.decided_by.items():
                if k not in extra:
                    extra.append(k)
                row[k] = _cell(v)
            row["evidence_rows"] = str(len(u.evidence))
            for k, v in _evidence_columns(u).items():
                if k not in ev_cols:
                    ev_cols.append(k)
                row[k] = v
            rows.append(row)
    return head + extra + ev_cols, rows


def render_csv(traces: list[Trace]) -> str:
    """The trace as CSV for an auditor's spreadsheet: every value goes through csv_safe. Ingestion
    refuses formula-looking ids, but a reason, a file name or a decided-by value is not an id."""
    columns, rows = rows_for_csv(traces)
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, restval="", lineterminator="\n")
    w.writeheader()
    w.writerows({k: csv_safe(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def _scope(t: Trace) -> str:
    parts = [t.kpi, t.financial_year]
    if t.site:
        parts.append(f"site {t.site}")
    if t.month:
        parts.append(f"month {t.month:%Y-%m}")
    if t.scope_note:
        parts.append(t.scope_note)
    return " ".join(parts)


def _published(t: Trace) -> str:
    source = t.published_from or ("kpi_annual" if t.site is None and t.month is None else "mart_monthly_by_site")
    value = "no value" if t.published is None else f"{int(t.published):,}"
    return f"{value} ({source})"


def ratio_header(kpi: str, traces: list[Trace]) -> list[str]:
    lines = []
    num, den = kpi_registry.ratios()[kpi]
    for y in dict.fromkeys(t.financial_year for t in traces):
        n = next(t for t in traces if t.financial_year == y and t.kpi == num)
        d = next(t for t in traces if t.financial_year == y and t.kpi == den)
        value = len(n.units) / len(d.units) if d.units else None
        lines.append(f"# {kpi} {y} = {num} / {den} = {len(n.units):,} / {len(d.units):,} = "
                     f"{'n/a' if value is None else repr(value)}; both traced below")
    return lines


def render_table(kpi: str, traces: list[Trace]) -> str:
    """Unit lines start in column 1 (one per unit: as many as the KPI); evidence lines are indented;
    comment lines start with '#'."""
    lines = ratio_header(kpi, traces) if kpi in kpi_registry.ratios() else []
    for t in traces:
        if t.excluded:
            lines.append(f"# {_scope(t)}: {len(t.units):,} excluded (considered, not counted), one per line, "
                         "evidence indented")
        else:
            lines.append(f"# {_scope(t)}: published {_published(t)}; traced {len(t.units):,} units, one per line, "
                         "evidence indented (winning version first)")
        for u in t.units:
            head = f"{u.unit_kind} {u.unit_key}" if u.unit_key else u.unit_kind
            if t.excluded:
                year = f" [{u.financial_year}]" if u.financial_year and u.financial_year != t.financial_year else ""
                head = f"{u.rule}: {head}{year}  {u.detail or ''}"
            if u.month is not None and not t.excluded:
                head += f"  month={u.month:%Y-%m} site_code={u.site_code}"
            fields = "  ".join(f"{k}={_cell(v)}" for k, v in u.decided_by.items())
            lines.append(f"{head}  {fields}".rstrip())
            for e in u.evidence:
                tag = {True: " winning", False: ""}.get(e.is_winning, "")
                where = e.file_path if e.line_number is None else f"{e.file_path}:{e.line_number}"
                label = "" if e.role == _own_role(u.kpi) or e.role in ("row", "file") else f"{e.role} "
                lines.append(f"    {label}{where}  sha256={e.file_sha256}{tag}")
    return "\n".join(lines) + "\n"


def render_json(kpi: str, traces: list[Trace]) -> str:
    def unit(u: Unit) -> dict:
        d = {"unit_kind": u.unit_kind, "unit_key": u.unit_key, "financial_year": u.financial_year}
        if u.rule:
            d.update(rule=u.rule, detail=u.detail)
        if u.month is not None:
            d.update(month=f"{u.month:%Y-%m}", site_code=u.site_code)
        d["decided_by"] = u.decided_by
        d["evidence"] = [{"role": e.role, "file_path": e.file_path, "line_number": e.line_number,
                          "file_sha256": e.file_sha256, "is_winning": e.is_winning, "record_key": e.record_key}
                         for e in u.evidence]
        return d
    doc = {"kpi": kpi, "traces": [{
        "kpi": t.kpi, "financial_year": t.financial_year, "site": t.site,
        "month": t.month and f"{t.month:%Y-%m}", "excluded": t.excluded,
        "published": t.published, "units_count": len(t.units), "units": [unit(u) for u in t.units]}
        for t in traces]}
    return json.dumps(doc, indent=1, default=str) + "\n"
