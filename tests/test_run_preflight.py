"""`outcomes run` refuses a home it cannot run on in one line, exit 2, before the Dagster job starts.

(The key's guarantees on a real demo home: tests/test_reliability_personal_data.py.)
"""
from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.lib.warehouse import connect
from tests.support import outcomes


@pytest.fixture
def home_with_data(tmp_path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    with connect(home / "warehouse.duckdb"):  # a warehouse: the home holds data
        pass
    (tmp_path / "landing").mkdir()
    return home


def run(home: Path):
    return outcomes("run", "--landing", str(home.parent / "landing"), "--home", str(home), check=False)


def test_a_home_with_data_but_no_key_is_refused_before_the_job_starts(home_with_data):
    proc = run(home_with_data)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("outcomes: pseudonymisation key "), proc.stderr
    assert f"{home_with_data / 'secret.key'} is missing" in proc.stderr
    assert not (home_with_data / "secret.key").exists()  # never a silent new key
    assert not (home_with_data / "logs" / "last-run.log").exists()  # the job never started
    assert proc.stdout == ""


@pytest.mark.parametrize("text", ["", "abc\n", "00" * 31 + "\n"])
def test_a_damaged_key_is_refused_before_the_job_starts(home_with_data, text):
    (home_with_data / "secret.key").write_text(text)
    proc = run(home_with_data)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "is damaged" in proc.stderr, proc.stderr
    assert (home_with_data / "secret.key").read_text() == text
    assert not (home_with_data / "logs" / "last-run.log").exists()


def test_a_new_home_needs_no_key(tmp_path):
    from pipelines.runner import check_key
    from pipelines.lib.home import Home

    check_key(Home.resolve(tmp_path / "new"))  # the run creates it
    assert not (tmp_path / "new" / "secret.key").exists()
