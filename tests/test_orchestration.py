"""Event-driven runs: the watch loop end to end, order/batching invariance, idempotence, concurrency."""
import hashlib
import json
import random
import shutil
import subprocess
import sys

import duckdb
import pytest

from pipelines.demo.generator import write_demo_landing
from tests.support import REPO, kpis, outcomes, write_export

pytestmark = pytest.mark.slow

VISITS_HEADER = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"


def visits(ids, day="2021-10-04"):
    return VISITS_HEADER + "".join(f"V{i},WAL,{day} 10:00,M{i},member,course,ok\n" for i in ids)


def file_hash(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_files_dropped_into_the_landing_are_processed_by_the_watch_loop(tmp_path):
    landing, home = tmp_path / "landing", tmp_path / "home"
    write_export(landing / "visits" / "kiosk_1.csv", visits(range(1, 11)))
    first = outcomes("watch", "--landing", str(landing), "--home", str(home), "--once")
    assert "new files: 1 (visits)" in first.stdout
    assert kpis(home)[("2021/22", "visits")] == 10
    page = home / "dashboards" / "2021-22.html"
    before = file_hash(page)

    # a new export overlapping the first (V6..V10 again) plus five new visits
    write_export(landing / "visits" / "kiosk_2.csv", visits(range(6, 16)))
    write_export(landing / "visits" / "kiosk_3.csv.part", visits(range(100, 200)))  # still being written
    second = outcomes("watch", "--landing", str(landing), "--home", str(home), "--once")
    assert "new files: 1 (visits)" in second.stdout
    assert kpis(home)[("2021/22", "visits")] == 15
    assert file_hash(page) != before
    # the sensor's run (the visits and everything downstream of them) built incrementally and
    # finished the graph: the next build may be incremental too (pipelines/lib/dbt_increments.py)
    assert "full_refresh" not in json.loads((home / "dbt" / "target" / "run_results.json").read_text())["args"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ledger.dbt_build_unfinished").fetchone() == (0,)
    after = file_hash(page)

    # nothing new: no run, nothing rewritten
    third = outcomes("watch", "--landing", str(landing), "--home", str(home), "--once")
    assert "no new export files" in third.stdout and "run " not in third.stdout
    assert file_hash(page) == after

    # a byte-identical copy under a new name is not new either
    shutil.copy(landing / "visits" / "kiosk_2.csv", landing / "visits" / "kiosk_2 (copy).csv")
    fourth = outcomes("watch", "--landing", str(landing), "--home", str(home), "--once")
    assert "no new export files" in fourth.stdout


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    write_demo_landing(root / "landing", seed=7, scale=0.01, years=3)
    files = sorted(p.relative_to(root / "landing") for p in (root / "landing").rglob("*") if p.is_file())
    return root / "landing", files


def deliver(src, dst, files):
    for rel in files:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dst / rel)


def run_all_at_once(src, files, home):
    landing = home.parent / (home.name + "-landing")
    deliver(src, landing, files)
    outcomes("run", "--landing", str(landing), "--home", str(home))
    return landing


@pytest.fixture(scope="module")
def reference(generated, tmp_path_factory):
    """Every generated file in one run: the KPIs the tests below must reproduce."""
    src, files = generated
    home = tmp_path_factory.mktemp("reference") / "once"
    landing = run_all_at_once(src, files, home)
    return home, landing, kpis(home)


def test_any_order_and_batching_gives_the_same_kpis_and_twice_equals_once(generated, reference, tmp_path):
    # a shuffled delivery in two runs, with redeliveries: tests/test_reliability_properties.py
    src, files = generated
    reference_home, landing, reference_kpis = reference
    assert reference_kpis[("2021/22", "visits")] == round(11022 * 0.01)

    outcomes("run", "--landing", str(landing), "--home", str(reference_home))  # everything again
    assert kpis(reference_home) == reference_kpis

    seed, batches = 1, 3
    order = files[:]
    random.Random(seed).shuffle(order)
    home, landing = tmp_path / f"order-{seed}", tmp_path / f"order-{seed}-landing"
    cuts = sorted(random.Random(seed).sample(range(1, len(order)), batches - 1))
    for batch in (order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)])):
        deliver(src, landing, batch)
        outcomes("run", "--landing", str(landing), "--home", str(home))
    assert kpis(home) == reference_kpis, f"order seed {seed} in {batches} runs"


def test_two_runs_at_once_on_one_home_are_serialised(generated, reference, tmp_path):
    src, files = generated
    home, landing = tmp_path / "home", tmp_path / "landing"
    deliver(src, landing, files)
    cmd = [sys.executable, "-m", "pipelines.cli", "run", "--landing", str(landing), "--home", str(home)]
    procs = [subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert kpis(home) == reference[2]


def test_close_year_job_freezes_the_published_kpis(tmp_path):
    from pipelines.audit.snapshots import versions
    from pipelines.definitions import defs
    from pipelines.lib.home import Home
    from pipelines.resources import OutcomesResource

    landing, home = tmp_path / "landing", tmp_path / "home"
    write_export(landing / "visits" / "kiosk_1.csv", visits(range(1, 11)))
    outcomes("run", "--landing", str(landing), "--home", str(home))
    job = defs.resolve_job_def("close_year")
    result = job.execute_in_process(
        run_config={"ops": {"freeze_financial_year": {"config": {"year": "2021/22"}}}},
        resources={"outcomes": OutcomesResource(home=str(home), landing=str(landing))})
    assert result.success
    (final,) = versions(Home.resolve(home), "2021/22")[-1:]
    assert final.kind == "final" and final.values()["visits"] == "10"
