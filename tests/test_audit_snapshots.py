"""The snapshot store, run manifests and the audit commands' argument handling (fast: no pipeline run)."""
import gzip
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from pipelines.audit import snapshots as s
from pipelines.audit.kpis import file_in_scope
from pipelines.audit.manifest import (FILES_DIGEST, RecordChainError, build_run_manifest, dumps, files_in_scope,
                                      key_check, record_run)
from pipelines.audit.trace import parse_month
from pipelines.lib import kpi_registry
from pipelines.lib.errors import UsageError
from pipelines.lib.home import Home
from tests.support import outcomes


def rows(year="2021/22", visits=551, members=116, **more):
    values = {"visits": visits, "visiting_members": members, "pathway_contacts": 241,
              "social_prescriptions": 425, "prescriptions_per_contact": 425 / 241, **more}
    return [(year, k, v) for k, v in values.items()]


def run_manifest(run_id="run-1"):
    return {"run_id": run_id, "files_in_scope": [{"path": "visits/a.csv", "sha256": "ab" * 32, "status": "loaded"}],
            "kpis": []}


def tree(path):
    """{relative file: (sha256, mode)} of everything under a snapshot folder."""
    return {str(p.relative_to(path)): (hashlib.sha256(p.read_bytes()).hexdigest(), stat.S_IMODE(p.stat().st_mode))
            for p in sorted(path.rglob("*")) if p.is_file()}


def test_catalogue_covers_every_kpi():
    kpis = kpi_registry.load().values()
    assert all(k.own_role for k in kpis if not k.is_ratio) and not any(k.own_role for k in kpis if k.is_ratio)
    assert file_in_scope("pathway_contacts", "pathways", "pathways/2021/contacts_1.csv")
    assert not file_in_scope("pathway_contacts", "pathways", "pathways/2021/prescriptions_1.csv")
    assert file_in_scope("social_prescriptions", "pathways", "pathways/odd_name.csv")  # quarantined: concerns both
    assert not file_in_scope("visits", "zoom", "zoom/x.csv")


def test_publication_versions_only_when_numbers_change(tmp_path):
    home = Home(tmp_path)
    assert s.record_publication(home, rows(), run_manifest()) == {"2021/22": "2021-22/v1"}
    assert s.record_publication(home, rows(), run_manifest("run-2")) == {"2021/22": "2021-22/v1"}  # same numbers
    assert s.record_publication(home, rows(visits=552), run_manifest("run-3")) == {"2021/22": "2021-22/v2"}
    v1, v2 = s.versions(home, "2021/22")
    assert (v1.kind, v2.kind) == ("provisional", "provisional")
    assert v2.manifest["previous"] == "2021-22/v1"
    assert v2.manifest["changes"] == [{"kpi": "visits", "previous": "551", "current": "552", "change": "+1"}]
    assert (v2.path / "diff.csv").read_text() == "kpi,previous,current,change\nvisits,551,552,+1\n"
    assert v1.values()["prescriptions_per_contact"] == repr(425 / 241)
    assert v2.run_manifest()["run_id"] == "run-3" and v2.run_manifest()["files_in_scope"][0]["path"] == "visits/a.csv"
    assert v2.manifest["run"]["files_in_scope_count"] == 1 and "files_in_scope" not in v2.manifest["run"]
    assert [x.id for x in s.list_snapshots(home)] == ["2021-22/v1", "2021-22/v2"]
    assert not list((tmp_path / "snapshots" / "2021-22").glob(".tmp-*"))


def test_freeze_then_correction_never_overwrites(tmp_path):
    home = Home(tmp_path)
    s.record_publication(home, rows(), run_manifest())
    manifest = {**run_manifest("close"), "kpis": [{"financial_year": y, "kpi": k, "value": v} for y, k, v in rows()]}
    final = s.freeze_year(home, "2021/22", manifest, note="year-end sign-off")
    assert final == "2021-22/v2" and s.is_closed(home, "2021/22")
    assert s.freeze_year(home, "2021-22", manifest) == final  # closing again with the same numbers: no version
    before = {v.id: tree(v.path) for v in s.versions(home, "2021/22")}
    assert all(mode == 0o444 for t in before.values() for _, mode in t.values())

    # A late file changes the closed year's numbers: a correction, the final version unchanged.
    got = s.record_publication(home, rows(visits=553, members=117), run_manifest("late"))
    assert got == {"2021/22": "2021-22/v3"}
    v1, v2, v3 = s.versions(home, "2021/22")
    assert (v1.kind, v2.kind, v3.kind) == ("provisional", "final", "correction")
    assert v2.manifest["note"] == "year-end sign-off" and v2.manifest["changes"] == []
    assert {c["kpi"]: c["change"] for c in v3.manifest["changes"]} == {"visits": "+2", "visiting_members": "+1"}
    assert {v.id: tree(v.path) for v in (v1, v2)} == before
    assert all(v.intact() for v in (v1, v2, v3))
    assert s.resolve(home, "2021/22").id == "2021-22/v3"
    assert s.resolve(home, "2021/22@v2").id == s.resolve(home, "2021-22/v2").id == "2021-22/v2"
    for bad in ("2021-22/v9", "2022/23", "last year"):
        with pytest.raises(UsageError):
            s.resolve(home, bad)


def test_a_version_is_never_overwritten_and_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    home = Home(tmp_path)
    s.record_publication(home, rows(), run_manifest())
    v1 = s.versions(home, "2021/22")[0]
    (v1.path.parent / "v2").mkdir()  # someone else's v2 (e.g. a concurrent writer outside the lock)
    (v1.path.parent / "v2" / "manifest.json").write_text("{}")
    with pytest.raises(s.SnapshotError):
        s._write_version(home, "2021/22", {"visits": "1"}, "provisional", None, v1)

    def failing_rename(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(s.os, "rename", failing_rename)
    (v1.path.parent / "v2" / "manifest.json").unlink()
    (v1.path.parent / "v2").rmdir()
    with pytest.raises(OSError):
        s.record_publication(home, rows(visits=1), run_manifest())
    assert [p.name for p in v1.path.parent.iterdir()] == ["v1"]


def test_tampering_is_detected(tmp_path):
    home = Home(tmp_path)
    s.record_publication(home, rows(), run_manifest())
    kpis = s.versions(home, "2021/22")[0].path / "kpis.csv"
    os.chmod(kpis, 0o644)
    kpis.write_text(kpis.read_text().replace(",551", ",560"))
    assert not s.versions(home, "2021/22")[0].intact()
    proc = outcomes("snapshots", "--home", str(tmp_path), check=False)
    assert proc.returncode == 1 and " NO " in proc.stdout


def test_freeze_keeps_the_published_numbers_and_their_run(tmp_path):
    home = Home(tmp_path)
    s.record_publication(home, rows(), run_manifest("run-1"))
    # The warehouse has moved on but was not published: the year closes on what was published.
    final = s.freeze_year(home, "2021/22", {**run_manifest("close"), "kpis": [
        {"financial_year": y, "kpi": k, "value": v} for y, k, v in rows(visits=600)]})
    v2 = s.resolve(home, final)
    assert v2.kind == "final" and v2.values()["visits"] == "551"
    assert v2.run_manifest()["run_id"] == "run-1" and v2.manifest["closed_by"]["run_id"] == "close"

    # The publishing step's file is recorded first when it holds newer numbers.
    other = Home(tmp_path / "other")
    s.record_publication(other, rows(), run_manifest("run-1"))
    published = other.root / "published" / "kpi_annual.csv"
    published.parent.mkdir(parents=True)
    published.write_text("financial_year,kpi,value\n" + "".join(
        f"{y},{k},{s.format_value(k, v)}\n" for y, k, v in rows(visits=560)))
    final = s.freeze_year(other, "2021/22")  # no manifest: one is built and written to runs/
    kinds = [(v.id, v.kind, v.values()["visits"]) for v in s.versions(other, "2021/22")]
    assert kinds == [("2021-22/v1", "provisional", "551"), ("2021-22/v2", "provisional", "560"),
                     ("2021-22/v3", "final", "560")] and final == "2021-22/v3"
    (closing,) = (other.root / "runs").glob("close-2021-22-*.json")
    assert s.resolve(other, final).manifest["closed_by"]["manifest_path"] == str(closing)


def test_freeze_needs_kpis_and_a_year(tmp_path):
    home = Home(tmp_path)
    with pytest.raises(UsageError):
        s.freeze_year(home, "2021/22", {"kpis": [{"financial_year": "2020/21", "kpi": "visits", "value": 1}]})
    with pytest.raises(UsageError):
        s.year_label("2021/23")


def test_run_manifest_without_a_warehouse(tmp_path):
    home = Home(tmp_path)
    summary = {"success": False, "run_id": "abc", "ingested": {}, "failed_checks": [], "failed_steps": ["x"]}
    m = build_run_manifest(home, summary, landing=tmp_path)
    assert m["run_id"] == "abc" and m["files_in_scope"] == [] and m["kpis"] == [] and m["pseudonym_key_check"] is None
    assert m["code_version"]["git_commit"] or m["code_version"]["package_version"]
    assert json.loads(dumps(m)) == json.loads(json.dumps(m, default=str))
    path = record_run(home, summary)
    assert path == tmp_path / "runs" / "abc.json" and stat.S_IMODE(path.stat().st_mode) == 0o444
    assert json.loads(path.read_text())["checks"]["failed_steps"] == ["x"]
    assert not (tmp_path / "snapshots").exists()  # a failed run publishes nothing
    assert record_run(home, summary) != path  # never rewritten


def test_key_check_reveals_nothing_but_equality(tmp_path):
    a, b = Home(tmp_path / "a"), Home(tmp_path / "b")
    for h, key in ((a, "11" * 32), (b, "22" * 32)):
        h.root.mkdir()
        h.secret.write_text(key + "\n")
    assert key_check(a) != key_check(b) and len(key_check(a)) == 16
    assert "11" * 8 not in key_check(a)


def test_usage_errors(tmp_path):
    for args in (("trace", "visits"), ("explain", "not_a_kpi"), ("reproduce", "2021-22/v1"),
                 ("trace", "visits", "--month", "2021-13")):
        proc = outcomes(*args, "--home", str(tmp_path), check=False)
        assert proc.returncode == 2 and proc.stderr.startswith("outcomes: "), (args, proc.stderr)
    with pytest.raises(UsageError):
        parse_month("Nov 2021")
    assert "no snapshots yet" in outcomes("snapshots", "--home", str(tmp_path)).stdout


def test_explain_works_before_any_run(tmp_path):
    out = outcomes("explain", "visits", "--home", str(tmp_path)).stdout
    assert "never void in any delivery" in out and "int_visits" in out and "stg_visits" in out
    assert "raw.visits" in out and "kpi_annual" in out and "select" in out.lower()
    ratio = outcomes("explain", "prescriptions_per_contact", "--home", str(tmp_path), "--no-sql").stdout
    assert "social_prescriptions (numerator)" in ratio and "int_social_prescriptions" in ratio
    assert "select" not in ratio.lower()


def test_run_records_chain_the_files_added_and_rebuild_the_whole_list(tmp_path, monkeypatch):
    """A record lists the ledger rows of the runs new or grown since the record before it and names
    that record; the whole list is rebuilt from the chain and checked against the record's digest,
    which is the lineage asset's (FILES_DIGEST, in DuckDB). A changed record of the chain, a ledger
    that is not a superset of the last record's, and FULL_EVERY records each end a chain."""
    from pipelines.lib.warehouse import connect

    home = Home(tmp_path / "home")

    def land(*files):  # (path, run_id): ledger rows as ingestion writes them
        with connect(home.warehouse) as con:
            for path, run in files:
                con.execute("INSERT INTO ledger.files VALUES ('visits', ?, sha256(?), 'loaded', NULL, 3, 3, 0, NULL, "
                            "TIMESTAMP '2026-12-07 12:00:00', ?)", [path, path, run])

    def record(run_id):
        path = record_run(home, {"success": False, "run_id": run_id})
        return json.loads(path.read_text())

    def ledger():
        with connect(home.warehouse, read_only=True) as con:
            return (con.execute("SELECT file_path, file_sha256 FROM ledger.files ORDER BY 1, 2").fetchall(),
                    con.execute(FILES_DIGEST).fetchone()[0])

    land(("visits/a.csv", "r1"), ("visits/b.csv", "r1"))
    first = record("one")
    assert len(first["files_in_scope"]) == 2 and "previous_record" not in first
    land(("visits/c.csv", "r2"))
    second = record("two")
    assert [f["path"] for f in second["files_added"]] == ["visits/c.csv"] and "files_in_scope" not in second
    assert second["previous_record"]["path"] == first["manifest_path"] and second["files_digest"] == ledger()[1]
    land(("visits/0.csv", "r2"))  # a run that grew since: its rows listed again (a union rebuilds the set)
    third = record("three")
    assert sorted(f["path"] for f in third["files_added"]) == ["visits/0.csv", "visits/c.csv"]
    assert [(f["path"], f["sha256"]) for f in files_in_scope(third)] == ledger()[0] and third["files_in_scope_count"] == 4

    (v1,) = s.record_publication(home, rows(), third).values()  # the store keeps both records of its chain
    assert {p.name for p in (home.root / "snapshots" / s.RECORDS).iterdir()} == {
        f"{r['previous_record']['sha256']}.json.gz" for r in (second, third)}
    assert [(f["path"], f["sha256"]) for f in s.resolve(home, v1).files_in_scope()] == ledger()[0]
    shutil.copytree(home.root, tmp_path / "copy")  # a copied home's records chain to its own copies
    copied = json.loads(record_run(Home(tmp_path / "copy"), {"success": False, "run_id": "copied"}).read_text())
    assert copied["previous_record"]["path"] == str(tmp_path / "copy" / "runs" / "three.json")

    changed = Path(first["manifest_path"])  # an auditor's copy of a record edited: the chain says so
    changed.chmod(0o644)
    changed.write_text(changed.read_text().replace("visits/b.csv", "visits/B.csv"))
    with pytest.raises(RecordChainError, match="has changed"):
        files_in_scope(third)
    wrong = dict(third, files_digest="0" * 64)
    with pytest.raises(RecordChainError, match="not the ones it describes"):
        files_in_scope(wrong, load=lambda p: second if p == third["previous_record"] else first)

    with connect(home.warehouse) as con:  # a warehouse made again from fewer files: the whole list
        con.execute("DELETE FROM ledger.files WHERE file_path = 'visits/a.csv'")
    assert len(record("four")["files_in_scope"]) == 3
    monkeypatch.setattr("pipelines.audit.manifest.FULL_EVERY", 2)
    assert "files_added" in record("five") and "files_in_scope" in record("six")  # chains of FULL_EVERY - 1


def test_a_snapshot_keeps_its_chain_of_run_records(tmp_path):
    """A version's run record is chained: the store keeps a copy of every record of its chain (by
    SHA-256, once), so that it still names its files when <home>/runs is gone; a chain already
    broken in runs/ gives the version the whole list instead."""
    from pipelines.lib.warehouse import connect

    home = Home(tmp_path / "home")
    with connect(home.warehouse) as con:
        con.execute("INSERT INTO ledger.files VALUES ('visits', 'visits/a.csv', sha256('a'), 'loaded', NULL, 1, 1, 0, "
                    "NULL, TIMESTAMP '2026-12-07 12:00:00', 'r1')")
    first = json.loads(record_run(home, {"success": False, "run_id": "one"}).read_text())
    with connect(home.warehouse) as con:
        con.execute("INSERT INTO ledger.files VALUES ('visits', 'visits/b.csv', sha256('b'), 'loaded', NULL, 1, 1, 0, "
                    "NULL, TIMESTAMP '2026-12-07 12:05:00', 'r2')")
    second = json.loads(record_run(home, {"success": False, "run_id": "two"}).read_text())
    assert "previous_record" in second
    (v1,) = s.record_publication(home, rows(), second).values()
    stored = list((tmp_path / "home" / "snapshots" / s.RECORDS).iterdir())
    assert [p.name for p in stored] == [f"{second['previous_record']['sha256']}.json.gz"]
    third = json.loads(record_run(home, {"success": False, "run_id": "three"}).read_text())
    Path(second["manifest_path"]).unlink()  # the chain broken in runs/: the version lists every file itself
    (v2,) = s.record_publication(home, rows(visits=600), third).values()
    kept = s.resolve(home, v2).run_manifest()
    assert [f["path"] for f in kept["files_in_scope"]] == ["visits/a.csv", "visits/b.csv"] and "previous_record" not in kept
    for p in (tmp_path / "home" / "runs").iterdir():
        p.unlink()
    assert [f["path"] for f in s.resolve(home, v1).files_in_scope()] == ["visits/a.csv", "visits/b.csv"]
    stored[0].chmod(0o644)
    stored[0].write_bytes(gzip.compress(b"{}"))
    with pytest.raises(RecordChainError, match="has changed"):
        s.resolve(home, v1).files_in_scope()
    assert first["files_in_scope"][0]["path"] == "visits/a.csv"
