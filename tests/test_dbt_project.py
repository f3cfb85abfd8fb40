"""dbt: the CLI arguments we build, and the dbt unit tests (one per contract rule).

The unit tests run here, not in the Dagster-run `dbt build`: they need only empty tables.
"""
import json
import subprocess

import pytest

from pipelines.lib import dbt_project as d
from pipelines.lib.warehouse import connect


def test_build_args_carry_staff_domains_as_json_vars():
    args = d.build_args(["MerseyCare.nhs.uk ", "example.org"])
    assert args[:5] == ["build", "--log-level-file", "info", "--exclude", "resource_type:unit_test tag:audit_trail"]
    assert args[5] == "--vars"
    assert json.loads(args[6]) == {"staff_domains": ["merseycare.nhs.uk", "example.org"]}


def test_unit_tests_are_selected_by_resource_type():
    assert d.unit_test_args() == ["test", "--select", "resource_type:unit_test"]
    assert d.UNIT_TESTS == "resource_type:unit_test"


def test_base_args_point_at_the_project_and_target(tmp_path):
    assert d.base_args(tmp_path) == ["--project-dir", str(d.DBT_PROJECT_DIR), "--profiles-dir",
                                     str(d.DBT_PROJECT_DIR), "--target-path", str(tmp_path)]


def test_fingerprint_changes_with_the_project(tmp_path, monkeypatch):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.sql").write_text("select 1")
    monkeypatch.setattr(d, "DBT_PROJECT_DIR", tmp_path)
    before = d.project_fingerprint()
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text("{}")  # build output does not count
    assert d.project_fingerprint() == before
    (tmp_path / "models" / "a.sql").write_text("select 2")
    assert d.project_fingerprint() != before


@pytest.mark.slow
def test_dbt_unit_tests_pass(tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    with connect(warehouse):  # creates the empty raw and ledger tables
        pass
    dbt = str(d.dbt_executable())  # as the pipeline runs it: through outcomes-dbt
    env = d.dbt_env(warehouse)
    for args in (["seed", "--quiet"], ["run", "--quiet"], d.unit_test_args()):  # the seeds are the models' inputs too
        proc = subprocess.run([dbt, *args, *d.base_args(tmp_path / "target")], env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    results = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    unit = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= 20 and all(r["status"] == "pass" for r in unit)


def test_dbt_threads_are_the_profiles_unless_set_or_a_full_build_past_the_memory_ceiling(monkeypatch):
    monkeypatch.delenv(d.DBT_THREADS_ENV, raising=False)
    assert "--threads" not in d.home_build_args("t")
    # 10x (7.4 M raw rows) builds whole with the profile's threads; 100x (73 M) one model at a
    # time, and an incremental 100x build with the profile's
    assert "--threads" not in d.home_build_args("t", full_refresh=True, raw_rows=7_400_000)
    assert d.home_build_args("t", full_refresh=True, raw_rows=73_000_000)[-2:] == ["--threads", "1"]
    assert "--threads" not in d.home_build_args("t", full_refresh=False, raw_rows=73_000_000)
    monkeypatch.setenv(d.DBT_THREADS_ENV, "2")
    assert d.home_build_args("t", full_refresh=True, raw_rows=73_000_000)[-2:] == ["--threads", "2"]


def test_dbt_memory_limit_grows_with_the_raw_rows_in_powers_of_two_up_to_1_gb(monkeypatch):
    monkeypatch.delenv(d.DBT_MEMORY_ENV, raising=False)
    # 1x, 10x (7.4 M raw rows), just past 512 MB, 100x (73 M), a billion
    for rows, limit in ((733_000, "512MB"), (7_400_000, "512MB"), (9_800_000, "1024MB"), (73_000_000, "1024MB"),
                        (10**9, "1024MB")):
        assert d.dbt_memory_limit(rows) == limit, rows
    for full in (True, False):  # a full build and a day's alike (the var, and so the partial parse, too)
        assert '"dbt_memory_limit": "1024MB"' in " ".join(d.home_build_args("t", full_refresh=full, raw_rows=73_000_000))
    monkeypatch.setenv(d.DBT_MEMORY_ENV, "3GB")
    assert d.dbt_memory_limit(10**9) == "3GB"


@pytest.mark.slow
def test_has_valid_lineage_finds_a_repeated_record_and_missing_lineage_and_nothing_else(tmp_path):
    """The generic test in two passes (macros/tests/generic_tests.sql: the candidate keys by hash,
    then those counted exactly), on hand-written rows: 1,000 distinct lines of one file pass; a
    (file, line) delivered twice, a row without a path and a row without a file digest fail."""
    warehouse = tmp_path / "wh.duckdb"
    with connect(warehouse):
        pass
    rows = ("select 'a' as file_path, 's1' as file_sha256, i::integer as line_number from range(1, 1001) r(i) "
            "union all select * from (values ('b', 's1', 7), (null, 's2', 1), ('c', null, 3)) "
            "t(file_path, file_sha256, line_number)")
    inline = f'select * from ({{{{ test_has_valid_lineage("({rows})") }}}}) order by all'
    proc = subprocess.run([str(d.dbt_executable()), "show", "--quiet", "--output", "json", "--limit", "100",
                           "--inline", inline, *d.base_args(tmp_path / "target")], env=d.dbt_env(warehouse),
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    failing = [tuple(r.values()) for r in json.loads(proc.stdout)["show"]]
    assert failing == [("s1", 7, 2, 2), ("s2", 1, 1, 0), (None, 3, 1, 1)]
