"""Run one suite over one pandas frame with Great Expectations, imported here and only here.

Great Expectations is imported on first use (it costs seconds), runs in an ephemeral context
(nothing written, no data docs, no network: analytics off in the context's own configuration,
not through GX_ANALYTICS_ENABLED) with progress bars off, and validates the frame in memory.
Results come back as plain dicts for the report.
"""
from __future__ import annotations

import importlib.util
import itertools
import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd

from pipelines.lib import memory
from pipelines.quality.suites import DUCKDB_DTYPES

WITHHELD = "(withheld)"
_CONTEXT = None
_NAMES = itertools.count(1)
IMPORT_SECONDS: list[float] = []  # time the (one) import took in this process


@dataclass
class Outcome:
    """One expectation's result, as the report and the Dagster metadata show it."""
    rule: str
    severity: str
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None = None
    observed: str | None = None
    samples: list[dict] = field(default_factory=list)
    error: str | None = None

    def as_failure(self) -> dict:
        d = {"what": self.rule, "severity": self.severity, "expectation": self.expectation,
             "count": self.unexpected_count, "samples": self.samples}
        if self.column:
            d["column"] = self.column
        if self.observed is not None:
            d["observed"] = self.observed
        if self.error:
            d["error"] = self.error
        return d


# Great Expectations imports pyspark when it is installed (the spark extra), for its Spark
# datasource, which validating pandas frames never uses: most of GE's own import time (0.38 of
# 0.44 s, `python -X importtime`, dagster and pandas loaded first). Unless Spark work in this
# process has loaded it already, pyspark is marked absent while GE is imported (GE takes it as
# not installed, the ImportError it expects) and unmarked after, so that later code can import it.
# When pyspark is loaded, these two stay absent: in a process whose __main__ has neither a file
# nor a spec (a pytest-xdist worker, `python -c`), pyspark.sql.connect takes the import for its
# own doctests and calls sys.exit(0) halfway through (pyspark/sql/connect/utils.py:
# check_dependencies); nothing here uses Spark Connect.
SPARK_CONNECT_MODULES = ("pyspark.sql.connect.dataframe", "pyspark.sql.connect.session")
# Three of GE's modules import scipy.stats when GE is imported, for expectations no suite uses
# (distributions, KL divergence): 0.58 s of GE's import in a one-day run (`python -X importtime`).
# Made lazy (importlib.util.LazyLoader, the standard library's lazy import): loaded when first
# used, if ever.
LAZY_MODULE = "scipy.stats"


def lazy_module(name: str) -> None:
    """Put a module in sys.modules that is executed when an attribute of it is first read."""
    if name in sys.modules or (spec := importlib.util.find_spec(name)) is None:
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    parent, _, child = name.rpartition(".")
    if parent:  # as the import system binds a loaded submodule: `from scipy import stats` then finds it
        setattr(sys.modules[parent], child, module)  # as is (importing it again would read it: load it)


def context():
    """The process's ephemeral Great Expectations context (imports GE on first call)."""
    global _CONTEXT
    if _CONTEXT is None:
        t = time.perf_counter()
        for name in SPARK_CONNECT_MODULES:
            sys.modules.setdefault(name, None)
        blocked = sys.modules.setdefault("pyspark", None) is None
        lazy_module(LAZY_MODULE)
        try:
            import great_expectations as gx
            from great_expectations.data_context.types.base import (
                DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig)
        finally:
            if blocked:
                del sys.modules["pyspark"]

        # GX's ephemeral defaults, with analytics off in the configuration (docs/architecture.md)
        config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=True),
                                   analytics_enabled=False)
        ctx = gx.get_context(mode="ephemeral", project_config=config)
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        IMPORT_SECONDS.append(time.perf_counter() - t)
        _CONTEXT = ctx
        memory.freeze()  # GE's modules and registries: out of every later collection's walk
    return _CONTEXT


def frame_from_relation(rel) -> pd.DataFrame:
    """The query's rows as a frame with one pandas dtype per DuckDB type (suites.DUCKDB_DTYPES),
    so that the suites' type expectations state DuckDB types whatever the NULLs. Through Arrow,
    straight into Arrow-backed and nullable columns: no Python object per value (1x's 527,194 raw
    visits in 0.03-0.19 s instead of 0.45-0.94 s through `.df()` and `astype`). One chunk per
    column: GE validated DuckDB's per-batch chunks more slowly."""
    import pyarrow as pa

    arrow_dtypes = {pa.string(): pd.StringDtype("pyarrow"), pa.large_string(): pd.StringDtype("pyarrow"),
                    pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(),
                    pa.bool_(): pd.BooleanDtype()}
    types = dict(zip(rel.columns, map(str, rel.types)))
    df = rel.to_arrow_table().combine_chunks().to_pandas(types_mapper=arrow_dtypes.get, date_as_object=False)
    for name, typ in types.items():
        if typ == "DATE":
            df[name] = pd.to_datetime(df[name]).dt.to_period("D")
        elif typ in DUCKDB_DTYPES and str(df[name].dtype) != DUCKDB_DTYPES[typ][0]:
            df[name] = df[name].astype(DUCKDB_DTYPES[typ][0])
    return df


def plain(v):
    """A JSON-friendly scalar."""
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (pd.Timestamp, datetime)):
        return v.isoformat(sep=" ")
    if isinstance(v, (pd.Period, date)):
        return str(v)
    if hasattr(v, "item"):  # numpy scalars
        return plain(v.item())
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def _samples(result: dict, withheld: set[str], limit: int) -> list[dict]:
    rows = result.get("partial_unexpected_index_list") or []
    out = []
    for r in rows[:limit]:
        if isinstance(r, dict):
            out.append({k: (WITHHELD if k in withheld else plain(v)) for k, v in r.items()})
    if not out and result.get("partial_unexpected_list"):
        for v in result["partial_unexpected_list"][:limit]:
            out.append({"value": plain(v)})
    return out


def _observed(result: dict) -> str | None:
    if "observed_value" not in result:
        return None
    v = plain(result["observed_value"])
    text = ", ".join(map(str, v)) if isinstance(v, list) else str(v)
    return text if len(text) <= 300 else text[:297] + "..."


def validate(frame: pd.DataFrame, suite_dict: dict, *, row_id_columns=(), withheld=(), sample_rows: int = 5,
             ) -> tuple[list[Outcome], float]:
    """Validate `frame` against the suite; returns (one Outcome per expectation, seconds)."""
    ctx = context()
    import great_expectations as gx

    t = time.perf_counter()
    name = f"outcomes_{next(_NAMES)}"
    suite = gx.ExpectationSuite(name=suite_dict["name"], expectations=suite_dict["expectations"],
                                meta=suite_dict.get("meta") or {})
    id_cols = [c for c in row_id_columns if c in frame.columns]
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": max(sample_rows, 1)}
    if id_cols and len(frame):
        result_format["unexpected_index_column_names"] = id_cols
    asset = ctx.data_sources.add_pandas(name).add_dataframe_asset("frame")
    try:
        with warnings.catch_warnings():  # GE's own deprecation notices are not the data's problem
            warnings.simplefilter("ignore")
            batch = asset.add_batch_definition_whole_dataframe("whole").get_batch(batch_parameters={"dataframe": frame})
            validation = batch.validate(suite, result_format=result_format)
    finally:
        ctx.data_sources.delete(name)
    outcomes = []
    withheld = set(withheld)
    for res in validation.results:
        cfg = res.expectation_config
        meta = cfg.meta or {}
        kwargs = cfg.kwargs or {}
        info = res.exception_info or {}
        raised = bool(info.get("raised_exception"))
        result = res.result or {}
        outcomes.append(Outcome(
            rule=meta.get("rule", cfg.type), severity=meta.get("severity", "error"), expectation=cfg.type,
            column=kwargs.get("column") or (", ".join(x for x in (kwargs.get("column_A"), kwargs.get("column_B")) if x) or None),
            success=bool(res.success) and not raised,
            unexpected_count=plain(result.get("unexpected_count")),
            observed=None if res.success else _observed(result),
            samples=[] if res.success else _samples(result, withheld, sample_rows),
            error=(info.get("exception_message") or "expectation raised an error")[:300] if raised else None,
        ))
    return outcomes, time.perf_counter() - t
