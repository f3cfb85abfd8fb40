"""The Great Expectations suites (expectations/*.yml) say what the contract says.

No pipeline run and no Great Expectations import: the suite files are parsed and compared
with the code's single statements of the contract (pipelines/lib/contracts.py, the raw DDL in
pipelines/lib/warehouse.py), so a contract change that forgets a suite fails here.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.lib import contracts as c
from pipelines.lib import kpi_registry
from pipelines.lib.warehouse import RAW_TABLES, columns
from pipelines.quality.suites import DUCKDB_DTYPES, SEVERITIES, load_suites, parse_suite, suite_paths

SUITES = {s.name: s for s in load_suites()}
RAW = {name: s for name, s in SUITES.items() if s.scope == "new_files"}
LINEAGE_TYPES = {"file_path": "VARCHAR", "line_number": "INTEGER", "file_sha256": "VARCHAR", "loaded_at": "TIMESTAMP"}

CODE_SETS = {  # (table, column) -> the contract's code set
    ("visits", "site_code"): c.SITE_CODES,
    ("visits", "visitor_type"): c.VISITOR_TYPES,
    ("visits", "purpose"): c.PURPOSES,
    ("visits", "status"): c.VISIT_STATUSES,
    ("pathway_contacts", "mode"): c.CONTACT_MODES,
    ("pathway_contacts", "outcome"): c.CONTACT_OUTCOMES,
    ("pathway_prescriptions", "category"): c.PRESCRIPTION_CATEGORIES,
    ("pathway_prescriptions", "status"): c.PRESCRIPTION_STATUSES,
    ("wellbeing_calls", "direction"): c.CALL_DIRECTIONS,
    ("wellbeing_calls", "outcome"): c.CALL_OUTCOMES,
    ("zoom_meetings", "participant_form"): {"per_join", "unique_users"},
    ("members", "referral_source"): c.REFERRAL_SOURCES,
    ("outcome_measures", "measure"): c.MEASURES,
    ("outcome_measures", "timepoint"): c.TIMEPOINTS,
}


def expectations(suite, type_: str, column: str | None = None) -> list[dict]:
    return [e for e in suite.expectations if e["type"] == type_
            and (column is None or e["kwargs"].get("column") == column)]


def test_one_suite_per_raw_table_and_per_kpi_mart():
    assert set(RAW) == {f"raw_{t}" for t in RAW_TABLES}
    assert {n for n, s in SUITES.items() if s.scope == "whole_table"} == {"kpi_annual", "mart_monthly_by_site"}
    assert len(suite_paths()) == len(SUITES)


def test_every_suite_names_its_asset_check_and_every_expectation_its_severity_and_rule():
    checks = set()
    for s in SUITES.values():
        assert s.check.startswith("ge_"), s.name
        checks.add(("/".join(s.asset), s.check))
        assert s.description
        for e in s.expectations:
            assert e["meta"]["severity"] in SEVERITIES and e["meta"]["rule"], (s.name, e)
    assert len(checks) == len(SUITES)


def test_suites_are_checks_on_existing_assets():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys}
    for s in SUITES.values():
        assert f"{'/'.join(s.asset)}:{s.check}" in keys
        spec = graph.get_check_spec(next(k for k in graph.asset_check_keys
                                         if k.name == s.check and k.asset_key == s.asset_key))
        assert spec.blocking, s.name


@pytest.mark.parametrize("table", sorted(RAW_TABLES))
def test_raw_suite_columns_and_types_are_the_warehouse_ddl(table):
    s = RAW[f"raw_{table}"]
    assert s.table == f"raw.{table}"
    [cols] = expectations(s, "expect_table_columns_to_match_ordered_list")
    assert cols["kwargs"]["column_list"] == columns(table) + list(s.derived_columns)
    ddl = {**dict(col.split()[:2] for col in RAW_TABLES[table].split(", ")), **LINEAGE_TYPES}
    typed = {e["kwargs"]["column"]: e for e in expectations(s, "expect_column_values_to_be_of_type")}
    assert set(typed) == set(columns(table)), "every column has a type expectation"
    for col, e in typed.items():
        assert e["meta"]["duckdb_type"] == ddl[col], col
        assert e["kwargs"]["type_"] == DUCKDB_DTYPES[ddl[col]][1], col
        assert e["meta"]["severity"] == "error"


@pytest.mark.parametrize("table,column", sorted(CODE_SETS))
def test_raw_suite_code_sets_are_the_contract(table, column):
    [e] = [e for e in expectations(RAW[f"raw_{table}"], "expect_column_values_to_be_in_set", column)
           if e["meta"]["severity"] == "error"]
    assert set(e["kwargs"]["value_set"]) == set(CODE_SETS[(table, column)])
    assert e["meta"]["severity"] == "error"


@pytest.mark.parametrize("table", sorted(RAW_TABLES))
def test_raw_suite_requires_ids_lineage_and_dates_not_after_loading(table):
    s = RAW[f"raw_{table}"]
    not_null = {e["kwargs"]["column"] for e in expectations(s, "expect_column_values_to_not_be_null")}
    ids = {"visits": {"visit_id"}, "zoom_meetings": {"meeting_id", "start_time"},
           "zoom_participants": {"meeting_id", "start_time"}, "pathway_contacts": {"contact_id", "contact_date"},
           "pathway_prescriptions": {"prescription_id", "contact_id", "created_date"},
           "wellbeing_calls": {"call_id", "call_started_at_utc"},
           "members": {"member_id", "export_date", "registered_on", "postcode_status"},
           "postcode_lsoa": {"postcode_key", "lsoa11cd"}, "imd_deciles": {"lsoa11cd", "imd_decile"},
           "outcome_measures": {"response_id", "member_id", "measure", "timepoint", "completed_on"}}[table]
    assert ids | {"file_path", "line_number", "file_sha256", "loaded_at"} <= not_null
    future = [e for e in expectations(s, "expect_column_pair_values_a_to_be_greater_than_b")
              if e["kwargs"]["column_A"] in ("loaded_at", "check_loaded_at_london", "check_loaded_on_london")]
    dated = {col for col, typ in (col.split()[:2] for col in RAW_TABLES[table].split(", "))
             if typ in ("TIMESTAMP", "DATE")}
    assert {e["kwargs"]["column_B"] for e in future} == dated, "every date is compared with the load time"
    assert all(e["meta"]["severity"] == "error" for e in future)
    for col in [x for x in columns(table) if "duration" in x]:
        [between] = expectations(s, "expect_column_values_to_be_between", col)
        assert between["kwargs"]["min_value"] == 0
    assert [e["kwargs"]["column_list"] for e in expectations(s, "expect_compound_columns_to_be_unique")] \
        == [["file_sha256", "line_number"]]


def test_every_pseudonym_column_must_look_like_a_pseudonym():
    for table, cols in RAW_TABLES.items():
        for col in [x.split()[0] for x in cols.split(", ") if "pseudonym" in x or x.startswith("postcode_key ")]:
            [e] = expectations(RAW[f"raw_{table}"], "expect_column_values_to_match_regex", col)
            assert e["kwargs"]["regex"] == "^[0-9a-f]{16}$" and e["meta"]["severity"] == "error"


def test_kpi_annual_suite_reads_the_registry_and_flags_each_implausible_row():
    """The suite names no KPI: bounds come from the registry. Planted rows, flags worked out by hand."""
    import duckdb

    s = SUITES["kpi_annual"]
    assert not any(k in s.text for k in kpi_registry.names())
    con = duckdb.connect()
    con.execute("CREATE TABLE kpi_registry AS SELECT * FROM read_csv(?, header=true, all_varchar=true)",
                [str(kpi_registry.registry_path())])
    con.execute("ALTER TABLE kpi_registry ALTER plausible_min TYPE DOUBLE; ALTER TABLE kpi_registry ALTER plausible_max TYPE DOUBLE")
    con.execute("CREATE TABLE kpi_annual (financial_year VARCHAR, kpi VARCHAR, value DOUBLE)")
    con.execute("""INSERT INTO kpi_annual VALUES
        ('2021/22', 'visits', 10), ('2021/22', 'visiting_members', 11),  -- members above visits
        ('2021/22', 'prescriptions_per_contact', 11), ('2021/22', 'pathway_contacts', 2.5),
        ('2021/22', 'sessions_per_member', NULL), ('2021/22', 'not_a_kpi', 1),
        ('2023/24', 'visits', 3)""")  # 2022/23 missing
    rows = {(r[0], r[1]): r[3:] for r in con.execute(s.query).fetchall()}
    #        is_registry_kpi, count_whole_and_non_negative, within_plausible_bounds, not_above_its_bound, follows
    assert rows[("2021/22", "visits")] == (True, True, True, True, True)
    assert rows[("2021/22", "visiting_members")] == (True, True, True, False, True)
    assert rows[("2021/22", "prescriptions_per_contact")] == (True, True, False, True, True)
    assert rows[("2021/22", "pathway_contacts")] == (True, False, True, True, True)
    assert rows[("2021/22", "sessions_per_member")] == (True, True, True, True, True)  # NULL ratio: 0 denominator
    assert rows[("2021/22", "not_a_kpi")][0] is False
    assert rows[("2023/24", "visits")][-1] is False


def test_a_suite_without_severity_is_refused(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(RAW["raw_visits"].text.replace("severity: error, ", "", 1))
    with pytest.raises(ValueError, match="severity"):
        parse_suite(bad)


def test_suite_fingerprint_changes_with_the_file(tmp_path):
    s = RAW["raw_visits"]
    other = tmp_path / "raw_visits.yml"
    other.write_text(s.text + "# a comment\n")
    assert parse_suite(other).fingerprint != s.fingerprint
    other.write_text(s.text)
    assert parse_suite(other).fingerprint == s.fingerprint


def test_no_raw_table_has_a_postcode_or_year_of_birth_column():
    """Personal data of the register never passes ingestion: the LSOA and a status only."""
    for table in RAW_TABLES:
        assert not {"postcode", "year_of_birth", "pcds"} & set(columns(table)), table
    [e] = expectations(RAW["raw_members"], "expect_column_values_to_match_regex", "lsoa11cd")
    assert e["kwargs"]["regex"] == "^[A-Z][0-9]{8}$" and e["meta"]["severity"] == "error"


def test_great_expectations_imports_where_main_has_no_file():
    """With the spark extra installed, GE imports pyspark.sql.connect, which calls sys.exit(0) in a
    process whose __main__ has no file (pytest-xdist workers, `python -c`): every GE check of an
    in-process run then failed. pipelines.quality.ge imports GE so that it does not."""
    proc = fresh_python("from pipelines.quality import ge; ge.context(); print('imported')")
    assert proc.returncode == 0 and proc.stdout.strip() == "imported", proc.stderr[-2000:]


def fresh_python(code: str, *args: str) -> subprocess.CompletedProcess:
    """`code` run by a new interpreter in the repository (`python -c`: its __main__ has no file,
    as in a pytest-xdist worker): what a process imports, seen from its start."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])


GE_AND_PYSPARK = """
import sys
spark = sys.argv[1] == "spark-first"
if spark:
    import pyspark
from pipelines.quality import ge
ge.context()
loaded = "pyspark" in sys.modules
import pyspark  # importable after GE, whichever came first
print(loaded, pyspark.__name__)
"""


GE_AND_SCIPY = """
import sys
from pipelines.quality import ge
ge.context()
lazy = type(sys.modules["scipy.stats"]).__name__
from scipy import stats
print(lazy, stats.norm.cdf(0.0), type(sys.modules["scipy.stats"]).__name__)
"""


def test_great_expectations_leaves_scipy_stats_unloaded_until_used():
    """scipy.stats, which GE imports for expectations no suite uses, is loaded when first used."""
    proc = fresh_python(GE_AND_SCIPY)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["_LazyModule", "0.5", "module"]


@pytest.mark.parametrize("order", ["ge-first", "spark-first"])
def test_great_expectations_is_imported_without_pyspark_which_stays_importable(order):
    """GE's import skips pyspark (the spark extra's, which pandas validation never uses: most of
    GE's import time) unless Spark work loaded it first; either way pyspark imports after."""
    if importlib.util.find_spec("pyspark") is None:
        pytest.skip("the spark extra is not installed (make setup-spark)")
    proc = fresh_python(GE_AND_PYSPARK, order)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == [str(order == "spark-first"), "pyspark"]


MODELS = Path(__file__).parents[1] / "dbt_project" / "models"


def column_tests(paths) -> list[tuple[str, str, str, dict]]:
    """(model, column, test name, test config) of every column test declared in these YAML files."""
    out = []
    for path in paths:
        for m in yaml.safe_load(path.read_text()).get("models", []):
            for col in m.get("columns", []):
                for test in (col.get("data_tests") or []) + (col.get("tests") or []):
                    name = test if isinstance(test, str) else next(iter(test))
                    out.append((m["name"], col["name"], name, {} if isinstance(test, str) else test[name] or {}))
    return out


def test_staging_restates_no_rule_of_the_raw_suites():
    """A staging model is its raw table renamed and cast, row for row: a not_null or accepted_values
    on it would state a raw suite's rule a second time (ids present and the contract's code sets:
    the tests above, severity error, the gate before dbt on every new file's rows), and cost a dbt
    node in every build. What staging keeps: lineage, keys across models, unique per file."""
    tests = [t[:3] for t in column_tests(sorted((MODELS / "staging").glob("*.yml")))]
    assert ("stg_zoom_meetings", "file_sha256", "unique") in tests  # the YAML is read: a kept test is seen
    assert [t for t in tests if t[2] in ("not_null", "accepted_values")] == []


def test_no_model_restates_a_contract_code_set():
    """The contract's code sets are stated once, in the raw suites (checked against
    pipelines/lib/contracts.py above): a model column that passes such a code through carries no
    accepted_values of the same set. A set the model derives (a mart's sites with ZOOM and PHONE,
    the live prescription statuses) is the model's own rule and stays."""
    tests = column_tests(sorted(MODELS.rglob("*.yml")))
    values = {(m, col): frozenset(map(str, (cfg.get("arguments") or cfg).get("values", [])))
              for m, col, name, cfg in tests if name == "accepted_values"}
    assert "ZOOM" in values[("mart_monthly_by_site", "site_code")]  # the YAML is read: a derived set is seen
    contract = {frozenset(v) for v in CODE_SETS.values()}
    assert sorted(key for key, v in values.items() if v in contract) == []
