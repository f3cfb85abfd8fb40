"""dbt in the run's process (pipelines/lib/dbt_in_process.py), as `outcomes watch` runs it: the
same build as dbt's own process, its manifest parsed once, and the warehouse free when it ends."""
import json
import os
import subprocess
import sys

import pytest

from pipelines.lib.dbt_in_process import parse_args
from tests.support import REPO, kpis, outcomes, write_export

pytestmark = pytest.mark.slow

VISITS = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"


def test_parse_takes_the_project_profile_and_target_of_the_build_not_its_selection():
    build = ["build", "--target", "duckdb", "--exclude", "tag:x", "--vars", "{}", "--full-refresh", "--select",
             "a b", "--indirect-selection", "empty", "--project-dir", "p", "--target-path", "t", "--threads", "1"]
    assert parse_args(build) == ["parse", "--target", "duckdb", "--vars", "{}", "--project-dir", "p", "--target-path", "t"]


# A fresh interpreter (the patch is for the process): dbt's two loggers at info, given two debug
# events and two others, dbt's own way and then with write_only_lines_logged.
LOG_LINES = """
import io, json
from dbt_common.events.base_types import EventLevel, msg_from_base_event
from dbt_common.events.logger import LineFormat, LoggerConfig, _JsonLogger, _TextLogger
from dbt_common.events.types import Note
from pipelines.lib.dbt_in_process import write_only_lines_logged
events = [msg_from_base_event(Note(msg=f"event {n}"), level=level)
          for n, level in enumerate([EventLevel.DEBUG, EventLevel.INFO, EventLevel.DEBUG, EventLevel.WARN])]
def lines(kind, name):
    stream, made = io.StringIO(), []
    logger = kind(LoggerConfig(name=name, level=EventLevel.INFO, output_stream=stream,
                               line_format=LineFormat.Json if kind is _JsonLogger else LineFormat.PlainText))
    create_line = logger.create_line
    logger.create_line = lambda msg: made.append(1) or create_line(msg)
    for msg in events:
        logger.write_line(msg)
    return [line.split("event ", 1)[1][0] for line in stream.getvalue().splitlines()], len(made)
out = {"before": [lines(k, "b" + k.__name__) for k in (_JsonLogger, _TextLogger)]}
write_only_lines_logged()
out["after"] = [lines(k, "a" + k.__name__) for k in (_JsonLogger, _TextLogger)]
print(json.dumps(out))
"""


def test_an_event_below_a_loggers_level_is_not_formatted_and_the_lines_logged_are_unchanged():
    proc = subprocess.run([sys.executable, "-c", LOG_LINES], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["before"] == [[["1", "3"], 4]] * 2  # dbt's own: every event formatted, two lines written
    assert out["after"] == [[["1", "3"], 2]] * 2  # the same lines (JSON and text), only they formatted


# A fresh interpreter: scipy.stats made lazy as Great Expectations' import leaves it, then a flag
# declared as an adapter declares its own (no source), with dbt's naming or the run's.
FLAG_SOURCE = """
import sys
from pipelines.quality.ge import lazy_module
from pipelines.lib import dbt_in_process
lazy_module("scipy.stats")
if sys.argv[1] == "frames":
    dbt_in_process.name_flag_sources_from_frames()
from dbt_common.behavior_flags import BehaviorFlagRendered
flag = BehaviorFlagRendered({"name": "a_flag", "default": False, "description": "d"}, {})
print(flag._behavior_change_event.flag_source, type(sys.modules["scipy.stats"]).__name__)
"""


def test_behaviour_flags_are_named_as_dbt_names_them_without_loading_lazy_modules(tmp_path):
    (script := tmp_path / "declare_flag.py").write_text(FLAG_SOURCE)  # a file: inspect finds its module

    def run(how: str) -> list[str]:
        proc = subprocess.run([sys.executable, str(script), how], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout.split()

    assert run("dbt") == ["__main__", "module"]  # dbt's inspect.stack() executed the lazy module
    assert run("frames") == ["__main__", "_LazyModule"]  # the same name; still lazy


# Run in a process of its own: dbt in process sets dbt's global flags and adapters for good.
BUILD_TWICE = """
import json, sys, time
from pathlib import Path
from pipelines.lib import dbt_in_process, warehouse
from pipelines.lib.dbt_project import WAREHOUSE_IN_HOME, base_args, build_args, project_fingerprint
home = Path(sys.argv[1])
# a build keeps its result events only: here also those a parse fires, to see whether one parsed
dbt_in_process.KEPT_EVENTS |= {"StateCheckVarsHash", "PartialParsingEnabled", "UnableToPartialParse"}
args = [*build_args(warehouse=WAREHOUSE_IN_HOME), *base_args(home / "dbt" / "target")]
assert dbt_in_process.parse(args, project_fingerprint(), home) is None  # as `watch` does before its first file
out = []
for _ in range(2):
    build = dbt_in_process.build(args, project_fingerprint(), home)
    # DuckDB refuses a second configuration for a file still open in this process
    with warehouse.connect(home / "warehouse.duckdb") as con:
        visits = con.execute("SELECT count(*) FROM main.int_visits").fetchone()[0]
    out.append({"success": build.success, "tests": sum(e["info"]["name"] == "LogTestResult" for e in build.events),
                "events": sorted({e["info"]["name"] for e in build.events}), "visits": visits})
print(json.dumps(out))
"""


def test_a_build_in_process_equals_the_cli_build_and_frees_the_warehouse(tmp_path):
    landing, home = tmp_path / "landing", tmp_path / "home"
    write_export(landing / "visits" / "kiosk_1.csv", VISITS + "V1,WAL,2021-10-04 10:00,M1,member,course,ok\n"
                 "V2,WAL,2021-10-05 10:00,M2,member,course,void\n")
    outcomes("run", "--landing", str(landing), "--home", str(home))
    before = kpis(home)
    proc = subprocess.run([sys.executable, "-c", BUILD_TWICE, str(home)], capture_output=True, text=True,
                          env={**os.environ, "DO_NOT_TRACK": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    builds = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [b["success"] for b in builds] == [True, True]
    assert builds[0]["tests"] > 50 and builds[0]["tests"] == builds[1]["tests"]
    assert [b["visits"] for b in builds] == [2, 2]
    # the project was parsed once, before the first build: neither build parsed it
    parsing = {"StateCheckVarsHash", "PartialParsingEnabled", "UnableToPartialParse"}
    assert all(not parsing & set(b["events"]) for b in builds), builds
    assert kpis(home) == before


# `outcomes watch` as a loop of three ticks in one process, a file landing before each: three
# builds with the manifest parsed before the first (and dbt's `graph` with it, where a build keeps
# what it looks up once: macros/incremental.sql, invocation_cache).
WATCH_THREE_FILES = """
import os, sys
from pathlib import Path
from pipelines import runner
from pipelines.lib.home import Home
landing, home = Path(sys.argv[1]), Home.resolve(Path(sys.argv[2])).ensure()
for n, day in ((1, "2021-10-04"), (2, "2019-10-04"), (3, "2020-10-05")):
    (landing / "visits").mkdir(parents=True, exist_ok=True)
    (landing / "visits" / f"kiosk_{n}.csv").write_text(sys.argv[3] + f"V{n},WAL,{day} 10:00,M{n},member,course,ok\\n")
    assert runner.watch(home, landing, 0, True) == 0
print(os.getpid())
"""


def test_watch_builds_in_its_own_process_and_each_build_with_its_own_years(tmp_path):
    """The watch's dbt events come from the watch process itself (no dbt process), and a build on
    the kept manifest rebuilds the years of its own files, not those of the build before it."""
    landing, home = tmp_path / "landing", tmp_path / "home"
    proc = subprocess.run([sys.executable, "-c", WATCH_THREE_FILES, str(landing), str(home), VISITS],
                          capture_output=True, text=True, env={**os.environ, "DO_NOT_TRACK": "1"}, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("new files: 1 (visits)") == 3
    pids = {json.loads(line)["info"]["pid"] for line in (home / "dbt" / "target" / "dbt.log").read_text().splitlines()
            if line.startswith("{")}
    assert pids == {int(proc.stdout.split()[-1])}
    got = kpis(home)
    assert [got.get((year, "visits")) for year in ("2019/20", "2020/21", "2021/22")] == [1, 1, 1]


def test_a_home_last_built_by_a_checkout_elsewhere_builds_with_this_one(tmp_path):
    """dbt keeps every node's absolute path in its partial parse and does not check that the
    project is still there: a home whose partial parse a checkout since moved (or cloned again
    elsewhere) had written loaded its seeds from the old folder, and its build failed."""
    import msgpack

    from pipelines.lib.dbt_project import PARSED_FROM

    landing, home = tmp_path / "landing", tmp_path / "home"
    write_export(landing / "visits" / "kiosk_1.csv", VISITS + "V1,WAL,2021-10-04 10:00,M1,member,course,ok\n")
    outcomes("run", "--landing", str(landing), "--home", str(home))
    before = kpis(home)
    target, elsewhere = home / "dbt" / "target", "/nowhere/outcomes"

    def moved(value):
        if isinstance(value, str):
            return value.replace(str(REPO), elsewhere)
        if isinstance(value, dict):
            return {moved(k): moved(v) for k, v in value.items()}
        return [moved(v) for v in value] if isinstance(value, list) else value

    parsed = msgpack.unpackb((target / "partial_parse.msgpack").read_bytes(), raw=False, strict_map_key=False)
    assert str(REPO) in json.dumps(parsed["nodes"], default=str)
    (target / "partial_parse.msgpack").write_bytes(msgpack.packb(moved(parsed)))
    (target / PARSED_FROM).write_text(f"{elsewhere}/dbt_project")
    outcomes("run", "--full-refresh", "--landing", str(landing), "--home", str(home))  # the seeds are loaded again
    assert kpis(home) == before
    assert (target / PARSED_FROM).read_text() == str(REPO / "dbt_project")


def test_a_build_out_of_memory_says_which_setting_lets_the_next_run_complete(tmp_path, monkeypatch):
    landing, home = tmp_path / "landing", tmp_path / "home"
    write_export(landing / "visits" / "kiosk_1.csv", VISITS + "V1,WAL,2021-10-04 10:00,M1,member,course,ok\n")
    monkeypatch.setenv("OUTCOMES_DBT_MEMORY_LIMIT", "2MB")  # DuckDB in dbt: out of memory at once
    proc = outcomes("run", "--landing", str(landing), "--home", str(home), check=False)
    assert proc.returncode == 1
    assert "DuckDB ran out of memory in dbt: set OUTCOMES_DBT_MEMORY_LIMIT above" in proc.stdout + proc.stderr
