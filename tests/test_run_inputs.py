"""A run with nothing new is skipped: what decides "nothing new" (pipelines.lib.run_inputs).

The end-to-end half (a second `outcomes run` starts no job and writes nothing; `--full-refresh`
runs anyway) is tests/test_end_to_end.py::test_second_run_adds_nothing.
"""
from __future__ import annotations

import os
import shutil

from pipelines.lib import run_inputs
from pipelines.lib.home import Home
from pipelines.lib.landing import LandingFile, Listing, discover, stat_key
from tests.support import REPO, write_export

HEADER = "visit_id,site_code,signed_in_at,member_id,visitor_type,purpose,status\n"


def test_the_landing_digest_follows_paths_and_content_only(tmp_path):
    landing = tmp_path / "landing"
    write_export(landing / "visits/a.csv", HEADER + "V1,WAL,2021-10-04 10:00,M1,member,course,ok\n")
    first = run_inputs.landing_fingerprint(landing)
    assert first[1] == 1
    write_export(landing / "visits/b.csv.part", HEADER)  # still being written: not a file yet
    write_export(landing / "notes/readme.txt", "not a source folder")
    assert run_inputs.landing_fingerprint(landing) == first
    (landing / "visits/a.csv").rename(landing / "visits/a2.csv")  # a path is lineage: a new delivery
    renamed = run_inputs.landing_fingerprint(landing)
    assert renamed[0] != first[0]
    write_export(landing / "visits/a2.csv", HEADER + "V1,WAL,2021-10-04 10:00,M1,member,course,void\n")
    assert run_inputs.landing_fingerprint(landing)[0] not in (first[0], renamed[0])


def test_the_code_digest_changes_with_a_model(tmp_path):
    repo = tmp_path / "repo"
    for name in ("pipelines/lib", "dbt_project/models/marts"):
        shutil.copytree(REPO / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    before = run_inputs.code_fingerprint(repo)
    assert run_inputs.code_fingerprint(repo) == before
    model = repo / "dbt_project/models/marts/kpi_annual.sql"
    model.write_text(model.read_text() + "\n-- a comment is a change too\n")
    assert run_inputs.code_fingerprint(repo) != before


def test_settings_that_change_results_change_the_digest():
    base = {"OUTCOMES_HOME": "/a", "PATH": "/bin"}
    digest = run_inputs.settings_fingerprint(base)
    assert run_inputs.settings_fingerprint({**base, "OUTCOMES_HOME": "/b", "OUTCOMES_LOCK_TIMEOUT": "9", "OUTCOMES_DBT_THREADS": "1",
                                            "HOME": "/root"}) == digest
    assert run_inputs.settings_fingerprint({**base, "OUTCOMES_KPI_MOVEMENT_PCT": "10"}) != digest
    assert run_inputs.settings_fingerprint({**base, "OUTCOMES_DISCLOSURE_CONTROL": "0"}) != digest


def test_unchanged_only_with_the_same_inputs_and_the_outputs_in_place(tmp_path):
    home = Home(tmp_path / "home")
    inputs = {"landing": "/l", "landing_files": 2, "landing_digest": "d", "code": "c", "settings": "s"}
    assert run_inputs.unchanged_since(home, inputs) is None  # never ran
    run_inputs.save(home, inputs, "run-1")
    assert run_inputs.unchanged_since(home, inputs) is None  # no warehouse, no dashboards
    home.warehouse.parent.mkdir(parents=True, exist_ok=True)
    home.warehouse.write_bytes(b"")
    (home.dashboards).mkdir()
    (home.dashboards / "index.html").write_text("<html>")
    assert run_inputs.unchanged_since(home, inputs)["run_id"] == "run-1"
    for key in inputs:
        assert run_inputs.unchanged_since(home, {**inputs, key: "other"}) is None, key
    run_inputs.forget(home)
    assert run_inputs.unchanged_since(home, inputs) is None


def test_nothing_new_is_judged_by_stat_keys_first_and_by_contents_when_a_file_was_touched(tmp_path):
    """The stat-key digest changes with any write or new file (so no content is ever taken as
    unchanged on stats alone when it changed), and a file touched with the same content is still
    nothing new once the contents are compared."""
    landing, home = tmp_path / "landing", Home(tmp_path / "home")
    write_export(landing / "visits/a.csv", HEADER + "V1,WAL,2021-10-04 10:00,M1,member,course,ok\n")
    home.warehouse.parent.mkdir(parents=True, exist_ok=True)
    home.warehouse.write_bytes(b"")
    home.dashboards.mkdir()
    (home.dashboards / "index.html").write_text("<html>")
    listed = run_inputs.listing(landing)
    stats = run_inputs.stats_fingerprint(listed)
    inputs = run_inputs.fingerprint(landing, run_inputs.landing_files(landing, listed=listed), stats=stats)
    run_inputs.save(home, inputs, "run-1")
    assert run_inputs.stats_fingerprint(run_inputs.listing(landing)) == stats  # listed again: the same
    computed = run_inputs.computed_from(landing)
    assert run_inputs.unchanged_by_stats(home, computed, listed, stats)["run_id"] == "run-1"

    data = (landing / "visits/a.csv").read_bytes()
    (landing / "visits/a.csv").write_bytes(data)  # the same bytes written again: a new ctime
    touched = run_inputs.listing(landing)
    assert run_inputs.stats_fingerprint(touched) != stats
    assert run_inputs.unchanged_by_stats(home, computed, touched, run_inputs.stats_fingerprint(touched)) is None
    again = run_inputs.fingerprint(landing, run_inputs.landing_files(landing, listed=touched),
                                   stats=run_inputs.stats_fingerprint(touched))
    assert run_inputs.unchanged_since(home, again, ignore=("landing_stats",))["run_id"] == "run-1"
    assert run_inputs.unchanged_since(home, again) is None

    write_export(landing / "visits/a.csv", HEADER + "V1,WAL,2021-10-04 10:00,M1,member,course,void\n")
    changed = run_inputs.listing(landing)
    content = run_inputs.fingerprint(landing, run_inputs.landing_files(landing, listed=changed))
    assert run_inputs.unchanged_since(home, content, ignore=("landing_stats",)) is None
    write_export(landing / "visits/b.csv", HEADER)
    assert len(run_inputs.listing(landing)) == 2


def test_the_listing_is_by_source_then_path_with_each_files_stat_and_a_link_out_unread(tmp_path):
    """Entries are plain tuples sorted by path (a run with nothing new makes no LandingFile); the
    files made from them are discovery's, in the order of (source, path)."""
    landing = tmp_path / "landing"
    for rel in ("zoom/2021-22/b.csv", "zoom/2021-22/a.csv", "visits/x/z.csv", "visits/x-y.csv", "visits/x.csv",
                "pathways/contacts_1.csv", "visits/.hidden.csv", "visits/y.csv.part"):
        write_export(landing / rel, HEADER)
    outside = tmp_path / "elsewhere.csv"
    outside.write_text(HEADER)
    os.symlink(outside, landing / "visits/link.csv")
    listed = Listing(landing)
    paths = ["pathways/contacts_1.csv", "visits/link.csv", "visits/x-y.csv", "visits/x.csv", "visits/x/z.csv",
             "zoom/2021-22/a.csv", "zoom/2021-22/b.csv"]
    assert [rel for rel, *_ in listed.entries] == paths and len(listed) == 7
    files = listed.files()
    assert [f for f, _ in files] == discover(landing)
    assert [(f.source, f.rel) for f, _ in files] == sorted((f.source, f.rel) for f, _ in files)
    by_path = {f.rel: (f, key) for f, key in files}
    link, key = by_path["visits/link.csv"]
    assert key is None and link.outside_target == str(outside)
    f, key = by_path["zoom/2021-22/a.csv"]
    assert f == LandingFile("zoom", str(landing / "zoom/2021-22/a.csv"), "zoom/2021-22/a.csv")
    assert key == stat_key(landing / "zoom/2021-22/a.csv")
