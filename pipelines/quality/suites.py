"""The Great Expectations suites in expectations/*.yml and the batches they validate.

A suite file is a Great Expectations 1.x ExpectationSuite (name, expectations of
{type, kwargs, meta}, meta) written as YAML so that it can carry comments. Two of our own keys:

- each expectation's `meta.severity`: `error` (blocks publication) or `warn` (shown only), and
  `meta.rule`: the sentence the quality report prints when it fails;
- the suite's `meta.outcomes`: which Dagster asset it checks (`asset`, `check`), and what data
  it validates: `table` + `scope: new_files` (raw tables: only rows of files not validated
  before, selected by file_sha256, plus `derived_columns` computed in SQL), or `query` +
  `scope: whole_table` (the small marts, validated whole, skipped when their content is
  unchanged). `withheld_columns` are never quoted in row samples.

Columns are read from DuckDB and given one pandas dtype per DuckDB type (DUCKDB_DTYPES), so
an `expect_column_values_to_be_of_type` in a suite states the DuckDB type: `str` = VARCHAR,
`int32` = INTEGER, `int64` = BIGINT, `float64` = DOUBLE, `bool` = BOOLEAN, `datetime64` =
TIMESTAMP, `Period` = DATE.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import dagster as dg

EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"
VALIDATOR_VERSION = "1"  # bump when the way batches are built or results are read changes

# DuckDB type -> pandas dtype of the validated frame (and the name GE reports for it).
DUCKDB_DTYPES: dict[str, tuple[str, str]] = {
    "VARCHAR": ("string[pyarrow]", "str"),
    "INTEGER": ("Int32", "int32"),
    "BIGINT": ("Int64", "int64"),
    "DOUBLE": ("Float64", "float64"),
    "BOOLEAN": ("boolean", "bool"),
    "TIMESTAMP": ("datetime64[us]", "datetime64"),
    "DATE": ("period[D]", "Period"),
}

# Expectations that judge each row alone (or the frame's column list): the same on any split of the rows.
ROW_EXPECTATIONS = frozenset({
    "expect_column_values_to_not_be_null", "expect_column_values_to_be_null", "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set", "expect_column_values_to_match_regex",
    "expect_column_values_to_not_match_regex", "expect_column_values_to_be_between", "expect_column_values_to_be_of_type",
    "expect_column_pair_values_a_to_be_greater_than_b", "expect_table_columns_to_match_ordered_list"})

SEVERITIES = ("error", "warn")
SCOPES = ("new_files", "whole_table")


class SuiteError(ValueError):
    """A suite file that cannot be used (the check fails naming the file)."""


@dataclass(frozen=True)
class Suite:
    path: Path
    name: str
    check: str
    asset: tuple[str, ...]
    scope: str
    description: str
    table: str | None = None
    query: str | None = None
    derived_columns: dict[str, str] = field(default_factory=dict)
    withheld_columns: tuple[str, ...] = ()
    row_id_columns: tuple[str, ...] = ()
    expectations: tuple[dict, ...] = ()
    meta: dict = field(default_factory=dict)
    text: str = ""

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(list(self.asset))

    @property
    def fingerprint(self) -> str:
        """Changes when the suite file, Great Expectations' version line or our validator
        changes: cached results are only reused under the same fingerprint."""
        h = hashlib.sha256()
        h.update(f"validator {VALIDATOR_VERSION}; great-expectations {ge_version()}\n".encode())
        h.update(self.text.encode())
        return h.hexdigest()

    def ge_suite_dict(self) -> dict:
        """The suite as Great Expectations reads it."""
        return {"name": self.name, "expectations": [dict(e) for e in self.expectations], "meta": dict(self.meta)}

    def batch_sql(self, lines: bool = False) -> str:
        """The SELECT that builds the validated frame; for new_files, rows of the files in the
        list parameter $files, or (`lines`) of one file's lines $lo <= line_number < $hi."""
        if self.scope == "whole_table":
            return self.query
        derived = "".join(f", {sql} AS {name}" for name, sql in self.derived_columns.items())
        where = ("file_sha256 = $file AND line_number >= $lo AND line_number < $hi" if lines
                 else "file_sha256 IN (SELECT unnest($files::VARCHAR[]))")
        return f"SELECT *{derived} FROM {self.table} WHERE {where}"

    @property
    def splits_by_line(self) -> bool:
        """Whether a large file may be validated in line ranges, one frame at a time, with the same
        result: every expectation judges a row alone (or the frame's columns), except uniqueness
        over the file and line, whose duplicates always share a range."""
        def per_row(e: dict) -> bool:
            if e["type"] == "expect_compound_columns_to_be_unique":
                return {"file_sha256", "line_number"} <= set(e["kwargs"].get("column_list") or ())
            return e["type"] in ROW_EXPECTATIONS
        return all(per_row(e) for e in self.expectations)


@lru_cache(maxsize=None)
def ge_version() -> str:
    """Great Expectations' version without importing it (metadata only)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("great-expectations")
    except PackageNotFoundError:
        return "not installed"


def expectations_dir() -> Path:
    return EXPECTATIONS_DIR


def _required(d: dict, key: str, where: str):
    if key not in d or d[key] in (None, "", [], {}):
        raise SuiteError(f"{where}: missing {key}")
    return d[key]


def parse_suite(path: Path) -> Suite:
    import yaml

    text = path.read_text()
    try:
        # libyaml's safe loader where PyYAML has it (10x faster; the same documents)
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise SuiteError(f"{path.name}: not a suite (expected a mapping)")
    where = path.name
    name = _required(doc, "name", where)
    meta = doc.get("meta") or {}
    o = _required(meta, "outcomes", where)
    scope = _required(o, "scope", where)
    if scope not in SCOPES:
        raise SuiteError(f"{where}: scope {scope!r} is not one of {SCOPES}")
    expectations = _required(doc, "expectations", where)
    for i, e in enumerate(expectations):
        w = f"{where} expectation {i + 1} ({e.get('type')})"
        _required(e, "type", w)
        e.setdefault("kwargs", {})
        em = _required(e, "meta", w)
        if em.get("severity") not in SEVERITIES:
            raise SuiteError(f"{w}: meta.severity must be one of {SEVERITIES}")
        _required(em, "rule", w)
    suite = Suite(
        path=path, name=name, check=_required(o, "check", where), asset=tuple(_required(o, "asset", where)),
        scope=scope, description=_required(o, "description", where).strip(),
        table=o.get("table"), query=o.get("query"),
        derived_columns=dict(o.get("derived_columns") or {}),
        withheld_columns=tuple(o.get("withheld_columns") or ()),
        row_id_columns=tuple(o.get("row_id_columns") or ()),
        expectations=tuple(expectations), meta=meta, text=text,
    )
    if scope == "new_files" and not suite.table:
        raise SuiteError(f"{where}: scope new_files needs meta.outcomes.table")
    if scope == "whole_table" and not suite.query:
        raise SuiteError(f"{where}: scope whole_table needs meta.outcomes.query")
    return suite


def suite_paths(directory: Path | None = None) -> list[Path]:
    d = directory or expectations_dir()
    return sorted(p for p in d.glob("*.yml") if not p.name.startswith("."))


@lru_cache(maxsize=None)
def _load_all(directory: str) -> tuple[Suite, ...]:
    suites = tuple(parse_suite(p) for p in suite_paths(Path(directory)))
    seen: dict[str, str] = {}
    for s in suites:
        key = f"{'/'.join(s.asset)}:{s.check}"
        if key in seen:
            raise SuiteError(f"{s.path.name} and {seen[key]} both define check {key}")
        seen[key] = s.path.name
    return suites


def load_suites(directory: Path | None = None) -> tuple[Suite, ...]:
    """Every suite, parsed once per process (the definitions are built from them)."""
    return _load_all(str(directory or expectations_dir()))


def load_suite_fresh(suite: Suite) -> Suite:
    """Re-read a suite's file at check time, so an edited suite applies to the next run of a
    long-lived process (`dagster dev`) and invalidates its cached results."""
    if os.path.exists(suite.path):
        return parse_suite(suite.path)
    raise SuiteError(f"suite file {suite.path} has gone")
