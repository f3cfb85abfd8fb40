"""Personal data and the pseudonymisation key, on a demo run (scale 0.05).

The raw identifiers are read back from the demo exports, the only place they exist: every
e-mail in the Zoom reports (participants and hosts), every display name and parenthesised
original name, every service_user_ref of the call logs. Then ONE pipeline run is searched:

- every table and view of every schema of the warehouse (raw, ledger and the dbt models);
- every file under the home but secret.key and the warehouse itself: dashboards (the inlined
  plotly.js once, by tokens), percent-decoded CSV downloads, run records, snapshots, dbt
  target and logs, the quality report, the published KPIs, the Dagster folder;
- the run's stdout and stderr.

The key: owner-only (0600), its hex in no file, log, output or table; a home that holds data
but lost its key refuses to run (exit 2, the reason in one line on stderr, before the Dagster
job starts) and creates no new key.
"""
from __future__ import annotations

import contextlib
import csv
import gzip
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest

from pipelines.demo.generator import write_demo_landing
from tests.support import REPO, kpis

pytestmark = pytest.mark.slow

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
WORD = re.compile(r"[a-z0-9]+")
POSTCODE = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}")
POSTCODE_IN_TEXT = re.compile(r"(?<![A-Z0-9])[A-Z]{1,2}[0-9][A-Z0-9]? *[0-9][A-Z]{2}(?![A-Z0-9])")
ENV = {**os.environ, "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False"}
TEXT_RUN = re.compile(rb"[^\x00-\x1f\x7f]{4,}")  # no control byte, 4 or more bytes: the shortest name ("jo b")


def personal_identifiers(landing: Path) -> dict[str, set[str]]:
    """E-mails, names (display and original, normalised) and service_user_refs of the raw exports."""
    emails, names, refs = set(), set(), set()
    for f in (landing / "zoom").rglob("*.csv"):
        text = f.read_bytes().decode("utf-8-sig", "replace")
        emails |= {e.lower() for e in EMAIL.findall(text)}
        participants = False
        for row in csv.reader(text.splitlines()):
            if not row or not any(c.strip() for c in row):
                participants = False
            elif row[0].startswith("Name (Original Name)"):
                participants = True
            elif participants:
                m = re.fullmatch(r"\s*(.*?)\s*(?:\((.*)\))?\s*", row[0])
                names |= {" ".join(WORD.findall(n.lower())) for n in m.groups() if n and n.strip()}
    for f in (landing / "wellbeing_calls").rglob("*.csv"):
        with f.open(encoding="utf-8-sig", newline="", errors="replace") as fh:
            for r in csv.DictReader(fh):
                if (r.get("service_user_ref") or "").strip():
                    refs.add(r["service_user_ref"].strip().lower())
    postcodes = set()  # the register's full postcodes, compact and upper case (the lookup's are public)
    for f in (landing / "members").rglob("*.csv"):
        with f.open(encoding="utf-8-sig", newline="", errors="replace") as fh:
            for r in csv.DictReader(fh):
                compact = "".join((r.get("postcode") or "").split()).upper()
                if POSTCODE.fullmatch(compact):
                    postcodes.add(compact)
    return {"emails": emails, "names": {n for n in names if " " in n}, "service_user_refs": refs,
            "postcodes": postcodes}


class Scanner:
    """Finds identifiers in text: e-mails and refs as tokens, names as whole-word phrases."""

    def __init__(self, ids: dict[str, set[str]]):
        self.emails, self.refs = ids["emails"], ids["service_user_refs"]
        self.postcodes = ids.get("postcodes", set())
        self.locals = {e.split("@")[0] for e in self.emails if len(e.split("@")[0]) >= 6}
        self.names: dict[str, set[tuple[str, ...]]] = {}
        for n in ids["names"]:
            words = tuple(n.split())
            self.names.setdefault(words[0], set()).add(words)

    def find(self, text: str) -> set[str]:
        low = text.lower()
        found = {f"email {e}" for e in set(EMAIL.findall(low)) & self.emails}
        tokens = set(re.findall(r"[\w.%+'-]+", low))
        found |= {f"email local part {t}" for t in tokens & self.locals}
        found |= {f"service_user_ref {t}" for t in set(re.findall(r"\w+", low)) & self.refs}
        found |= {f"postcode {p}" for p in {m.replace(" ", "") for m in POSTCODE_IN_TEXT.findall(text.upper())}
                  & self.postcodes}
        words = WORD.findall(low)
        for i, w in enumerate(words):
            for name in self.names.get(w, ()):
                if tuple(words[i:i + len(name)]) == name:
                    found.add(f"name {' '.join(name)}")
        return found


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("personal-data")
    landing, home = root / "landing", root / "home"
    write_demo_landing(landing, scale=0.05)
    # a named lake: written on DuckDB too (pipelines/lib/lake.py: wanted), so its files are searched
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--landing", str(landing), "--home", str(home)],
                          cwd=REPO, env={**ENV, "OUTCOMES_LAKE": str(home / "lake")}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    ids = personal_identifiers(landing)
    return dict(landing=landing, home=home, proc=proc, ids=ids, scanner=Scanner(ids))


def warehouse_text(home: Path) -> dict[str, str]:
    """Every table and view of every schema, as text."""
    out = {}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        relations = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
                                "UNION ALL SELECT schema_name, view_name FROM duckdb_views() "
                                "WHERE database_name = current_database() AND NOT internal").fetchall()
        for schema, rel in relations:
            rows = con.execute(f'SELECT * FROM "{schema}"."{rel}"').fetchall()
            out[f"{schema}.{rel}"] = "\n".join("\t".join("" if v is None else str(v) for v in r) for r in rows)
    return out


def home_files(home: Path) -> list[Path]:
    """Every file but the key and the warehouse; the lake's Parquet files are decoded and searched
    by test_no_personal_data_in_the_lake (their compressed bytes only give false alarms)."""
    skip = {"secret.key", "warehouse.duckdb", "warehouse.duckdb.wal", "warehouse.lock"}
    return sorted(p for p in home.rglob("*") if p.is_file() and p.name not in skip and p.suffix != ".parquet")


def sqlite_text(path: Path) -> str:
    """Every value of every table of a SQLite file, as text (a blob by its runs of text)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = [r for t in tables for r in con.execute(f'SELECT * FROM "{t}"')]
    return "\n".join("\t".join(b" ".join(TEXT_RUN.findall(v)).decode("utf-8", "replace") if isinstance(v, bytes)
                               else "" if v is None else str(v) for v in r) for r in rows)


def file_text(path: Path) -> str:
    from plotly.offline import get_plotlyjs

    data = path.read_bytes()
    if path.suffix == ".gz":  # e.g. a snapshot's run manifest: search what it holds, not its compressed bytes
        data = gzip.decompress(data)
    if data.startswith(b"SQLite format 3\0"):  # a SQLite cache: its values, as the warehouse's (its pages'
        # integers are random bytes: CI twice read a run of them as a display name, "jo m", "jo n")
        text = sqlite_text(path)
    else:  # other binary (msgpack): its runs of text, as `strings` shows them; the bytes of a number
        # between two letters are not a word boundary
        text = (b"\n".join(TEXT_RUN.findall(data)) if b"\0" in data else data).decode("utf-8", "replace")
    text = text.replace(get_plotlyjs(), " ")  # the library: the same in every page, checked once below
    return text + "\n" + unquote(text)  # CSV downloads are percent-encoded data: links


def test_the_scan_knows_what_to_look_for_and_finds_it(demo, tmp_path):
    ids = demo["ids"]
    assert len(ids["emails"]) > 200 and len(ids["names"]) > 200 and len(ids["service_user_refs"]) > 200
    assert any(e.endswith("@merseycare.nhs.uk") for e in ids["emails"])  # hosts and staff are people too
    assert "joanne bloggs" in ids["names"] and "jo b" in ids["names"]  # renamed: display and original name
    assert len(ids["postcodes"]) > 200  # the membership register's
    email, name, ref = sorted(ids["emails"])[0], sorted(ids["names"])[0], sorted(ids["service_user_refs"])[0]
    pc = sorted(ids["postcodes"])[0]
    planted = f"x\t{name.title()}\t{email.upper().replace('@', '%40')}\t{ref.upper()}\t{pc[:-3].lower()} {pc[-3:].lower()}."
    found = demo["scanner"].find(planted + "\n" + unquote(planted))
    assert {f"email {email}", f"name {name}", f"service_user_ref {ref}", f"postcode {pc}"} <= found
    # in a binary file (a SQLite cache under the home): text is found, a number's bytes are no boundary
    two_words = next(n for n in sorted(ids["names"]) if len(n.split()) == 2)
    db = tmp_path / "cache.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        con.execute("INSERT INTO t VALUES (?, ?)", (2**40 + 7, f"landing/zoom/{two_words.title()}.csv"))
    assert f"name {two_words}" in demo["scanner"].find(file_text(db))
    spelled = tmp_path / "integers.sqlite"  # an integer whose stored bytes spell " jo b ": a number, not a name
    with sqlite3.connect(spelled) as con:
        con.execute("CREATE TABLE t (a INTEGER)")
        con.execute("INSERT INTO t VALUES (?)", (int.from_bytes(b"\x01 jo b \x01", "big"),))
    assert "name jo b" in demo["scanner"].find(b"\n".join(TEXT_RUN.findall(spelled.read_bytes())).decode())
    assert "name jo b" not in demo["scanner"].find(file_text(spelled))
    noise = tmp_path / "noise.bin"
    noise.write_bytes(b"\0" + b"\x05".join(w.encode() for w in two_words.split()) + b"\0")
    assert f"name {two_words}" in demo["scanner"].find(noise.read_bytes().decode())  # the bytes, read as text
    assert f"name {two_words}" not in demo["scanner"].find(file_text(noise))


def test_no_personal_data_in_any_table_or_view_of_the_warehouse(demo):
    tables = warehouse_text(demo["home"])
    schemas = {name.split(".")[0] for name in tables}
    assert {"raw", "ledger", "main"} <= schemas, schemas
    assert len(tables) >= 20
    leaks = {name: sorted(hits) for name, text in tables.items() if (hits := demo["scanner"].find(text))}
    assert not leaks, leaks


def test_no_personal_data_in_any_file_under_the_home(demo):
    files = home_files(demo["home"])
    names = {p.relative_to(demo["home"]).parts[0] for p in files}
    assert {"dashboards", "logs", "dbt", "runs"} <= names, names
    leaks = {}
    for p in files:
        if hits := demo["scanner"].find(file_text(p)):
            leaks[str(p.relative_to(demo["home"]))] = sorted(hits)[:5]
    assert not leaks, leaks


def test_no_personal_data_in_the_lake(demo):
    """The Parquet raw layer (pipelines/lib/lake.py, docs/spark.md) holds raw.*'s rows and the
    ledger, decoded and searched like the warehouse (its compressed bytes would hide nothing)."""
    lake = demo["home"] / "lake"
    files = sorted(lake.rglob("*.parquet"))
    tables = {p.relative_to(lake).parts[1] for p in files if p.relative_to(lake).parts[0] == "raw"}
    assert {"visits", "zoom_participants", "zoom_meetings", "wellbeing_calls", "members"} <= tables, tables
    assert (lake / "ledger" / "files.parquet") in files
    leaks = {}
    with duckdb.connect() as con:
        for p in files:
            rows = con.execute(f"SELECT * FROM read_parquet('{p}')").fetchall()
            text = "\n".join("\t".join("" if v is None else str(v) for v in r) for r in rows)
            if hits := demo["scanner"].find(text):
                leaks[str(p.relative_to(lake))] = sorted(hits)[:5]
    assert not leaks, leaks


def test_the_inlined_plotly_library_holds_no_identifier(demo):
    from plotly.offline import get_plotlyjs

    low = get_plotlyjs().lower()
    assert not set(EMAIL.findall(low)) & demo["ids"]["emails"]
    assert not set(re.findall(r"\w+", low)) & demo["ids"]["service_user_refs"]


def test_no_personal_data_in_the_run_output(demo):
    out = demo["proc"].stdout + "\n" + demo["proc"].stderr
    assert "2021/22" in out
    assert not demo["scanner"].find(out)


def test_the_key_is_owner_only_and_never_written_anywhere_else(demo):
    key_file = demo["home"] / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert not [p for p in home_files(demo["home"]) if key in file_text(p).lower()]
    assert key not in (demo["proc"].stdout + demo["proc"].stderr).lower()
    assert not [name for name, text in warehouse_text(demo["home"]).items() if key in text.lower()]
    assert not [p for p in demo["home"].rglob(".secret*")]  # no stray temporary copy of the key


def test_a_home_with_data_but_no_key_refuses_to_run(demo, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(demo["home"], home, ignore=shutil.ignore_patterns("dbt", "dagster"))
    (home / "secret.key").unlink()
    pages = {p.name: p.read_bytes() for p in (home / "dashboards").glob("*.html")}
    log = (home / "logs" / "last-run.log").read_bytes()
    before = kpis(home)
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--landing", str(demo["landing"]),
                           "--home", str(home)], cwd=REPO, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 2  # bad input, said in one line before the Dagster job starts
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("outcomes: pseudonymisation key ")
    assert "is missing" in proc.stderr
    assert (home / "logs" / "last-run.log").read_bytes() == log  # the job never started
    assert not (home / "secret.key").exists()  # never a silent new key
    assert {p.name: p.read_bytes() for p in (home / "dashboards").glob("*.html")} == pages  # nothing re-published
    assert kpis(home) == before


def test_a_damaged_key_stops_ingestion_before_anything_is_written(demo, tmp_path):
    from pipelines.lib.home import Home
    from pipelines.lib.pseudonym import SecretInvalid
    from pipelines.lib.source_load import load_source

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy2(demo["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    (home / "secret.key").write_text("")  # what a crash used to leave behind
    with pytest.raises(SecretInvalid, match="damaged"):  # the raw assets' load, in or out of the run's process
        load_source(Home(home), demo["landing"], "visits", "duckdb", "run-1")
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ledger.files WHERE run_id = 'run-1'").fetchone() == (0,)
