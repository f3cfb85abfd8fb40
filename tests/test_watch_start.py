"""`outcomes watch` after `outcomes run` starts from what that run processed (pipelines/runner.py:
seed_cursor): the files already done are not requested again, a new file is, alone."""
import pytest

from tests.support import kpis, outcomes, write_export

pytestmark = pytest.mark.slow

VISITS = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"
CALLS = "call_id,service_user_ref,call_started_at,staff_id,direction,outcome,duration_seconds\n"


def test_watch_after_a_whole_run_takes_only_the_new_files(tmp_path):
    landing, home = tmp_path / "landing", tmp_path / "home"
    write_export(landing / "visits" / "kiosk_1.csv", VISITS + "V1,WAL,2021-10-04 10:00,M1,member,course,ok\n")
    write_export(landing / "wellbeing_calls" / "call_log_2021-10-04.csv", CALLS + "C1,U1,2021-10-04T10:00:00Z,S1,outbound,successful,300\n")
    outcomes("run", "--landing", str(landing), "--home", str(home))
    assert kpis(home)[("2021/22", "visits")] == 1

    nothing = outcomes("watch", "--landing", str(landing), "--home", str(home), "--once")
    assert "no new export files" in nothing.stdout and "run " not in nothing.stdout

    write_export(landing / "visits" / "kiosk_2.csv", VISITS + "V2,WAL,2021-10-05 10:00,M2,member,course,ok\n")
    one = outcomes("watch", "--landing", str(landing), "--home", str(home), "--once")
    assert "new files: 1 (visits)" in one.stdout
    ingested = {line.split()[0] for line in one.stdout.splitlines() if line.startswith("  ") and "files:" in line}
    assert ingested == {"visits"}, one.stdout  # not the calls: the sensor's selection, with every model built
    assert kpis(home)[("2021/22", "visits")] == 2
    assert kpis(home)[("2021/22", "wellbeing_calls")] == 1
    assert not (home / "lake").exists()  # DuckDB reads raw.*: no lake unless one is named (lib/lake.py)

