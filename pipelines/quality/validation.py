"""Validate a suite's data, paying only for what is new.

Raw tables (scope `new_files`) are append-only: a file's rows never change once loaded. Each
suite keeps, under <home>/quality/state/<suite>.json, the file loads it has validated (hash and
loading run) and every failure it found. A run validates only the rows of files loaded since
(read from DuckDB by file_sha256, in chunks), and the check's result is over all files: a
failure found once stays until the suite changes (its fingerprint) or a validated load leaves
the warehouse (a rebuilt or altered warehouse: then everything is validated again).

Marts (scope `whole_table`) are small and rebuilt by every dbt run: the frame is read whole
and hashed; when suite and content are the same as last time, the stored result stands and
Great Expectations is not even imported.
"""
from __future__ import annotations

import gc
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.lib import isolated, memory
from pipelines.lib.atomic import write_text
from pipelines.lib.home import Home
from pipelines.lib.warehouse import connect
from pipelines.quality.suites import Suite

CHUNK_ROWS = 400_000  # rows held in one validated frame at most


@dataclass
class SuiteRun:
    """What one check run validated and found."""
    suite: str
    scope: str
    data: str                       # "which data", one line for the report
    failures: list[dict] = field(default_factory=list)
    rows_validated: int = 0
    files_validated: int = 0
    own_process: bool = False       # validated in a process of its own (pipelines/lib/isolated.py)
    files_validated_before: int = 0
    cached: bool = False
    ge_import_s: float = 0.0
    validation_s: float = 0.0
    read_s: float = 0.0

    @property
    def errors(self) -> list[dict]:
        return [f for f in self.failures if f["severity"] == "error"]

    @property
    def warnings(self) -> list[dict]:
        return [f for f in self.failures if f["severity"] != "error"]

    def metadata(self) -> dict:
        return {
            "suite": self.suite, "data": self.data, "cached": self.cached,
            "rows_validated": self.rows_validated, "files_validated": self.files_validated,
            "files_validated_before": self.files_validated_before,
            "ge_import_s": round(self.ge_import_s, 3), "validation_s": round(self.validation_s, 3),
            "read_s": round(self.read_s, 3),
            "failed_expectations": [f"{f['severity']}: {f['what']} ({f.get('count') if f.get('count') is not None else '-'})"
                                    for f in self.failures][:30],
        }


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def state_path(home_root: Path, suite: Suite) -> Path:
    return home_root / "quality" / "state" / f"{suite.name}.json"


def load_state(path: Path, fingerprint: str) -> dict:
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        state = {}
    if state.get("fingerprint") != fingerprint:
        state = {"fingerprint": fingerprint}
    return state


def save_state(path: Path, state: dict) -> None:
    write_text(path, json.dumps(state, indent=1, sort_keys=True))


def merge_failures(failures: list[dict], limit: int) -> list[dict]:
    """One entry per (rule, severity): counts summed, samples concatenated up to `limit`."""
    merged: dict[tuple, dict] = {}
    for f in failures:
        key = (f["what"], f["severity"], f.get("expectation"))
        if key not in merged:
            merged[key] = {**f, "samples": list(f.get("samples") or [])}
            continue
        m = merged[key]
        if f.get("count") is not None:
            m["count"] = (m.get("count") or 0) + f["count"]
        m["samples"] = (m["samples"] + list(f.get("samples") or []))[:limit]
        for k in ("found_in_run", "error", "observed"):
            m.setdefault(k, f.get(k))
    return list(merged.values())


def _chunks(files: list[tuple[str, int]], max_rows: int, split: set[str] = frozenset()) -> list[list[str] | str]:
    """Files grouped into frames of at most `max_rows` rows (a larger file alone), except the
    files in `split`, each of which is a chunk of its own, read in line ranges (_frames)."""
    out, cur, n = [], [], 0
    for sha, rows in files:
        if sha in split:
            out.append(sha)
            continue
        if cur and n + rows > max_rows:
            out.append(cur)
            cur, n = [], 0
        cur.append(sha)
        n += rows
    if cur:
        out.append(cur)
    return out


def _frames(con, suite: Suite, chunk: list[str] | str, max_rows: int):
    """The frames of one chunk: its files at once, or one large file's lines `max_rows` at a
    time (a row per line at most: a range holds at most `max_rows` rows)."""
    if isinstance(chunk, list):
        yield _read(con, suite.batch_sql(), {"files": chunk})
        return
    last = con.execute(f"SELECT max(line_number) FROM {suite.table} WHERE file_sha256 = ?", [chunk]).fetchall()[0][0] or 0
    for lo in range(0, last + 1, max_rows):
        yield _read(con, suite.batch_sql(lines=True), {"file": chunk, "lo": lo, "hi": lo + max_rows})


def _validate(frame: pd.DataFrame, suite: Suite, sample_rows: int, run: SuiteRun) -> list[dict]:
    from pipelines.quality import ge

    imported_before = len(ge.IMPORT_SECONDS)
    outcomes, seconds = ge.validate(frame, suite.ge_suite_dict(), row_id_columns=suite.row_id_columns,
                                    withheld=suite.withheld_columns, sample_rows=sample_rows)
    if len(ge.IMPORT_SECONDS) > imported_before:
        run.ge_import_s += ge.IMPORT_SECONDS[-1]
    run.validation_s += seconds
    return [o.as_failure() for o in outcomes if not o.success]


def load_key(sha: str, run_id: str | None, loaded_at) -> str:
    """One load of one file: its hash and the run that loaded it (else when), so that a rebuilt
    warehouse, which loads every file anew, is validated anew."""
    return f"{sha}@{run_id or (loaded_at.isoformat() if hasattr(loaded_at, 'isoformat') else loaded_at)}"


def validate_chunks(con, suite: Suite, chunks: list[list[str] | str], sample_rows: int, run_id: str,
                    run: SuiteRun) -> tuple[list[dict], set[str]]:
    """(the failures found in the chunks' rows, the files they came from); `run`'s rows and
    timings counted."""
    found: list[dict] = []
    files: set[str] = set()
    for chunk in chunks:
        t0 = time.perf_counter()
        for frame in _frames(con, suite, chunk, CHUNK_ROWS):
            run.read_s += time.perf_counter() - t0
            run.rows_validated += len(frame)
            if "file_sha256" in frame.columns:
                files.update(frame["file_sha256"].unique())
            if len(frame):
                found += [{**f, "found_in_run": run_id} for f in _validate(frame, suite, sample_rows, run)]
            # GE's validator keeps each frame in reference cycles: without a collection every chunk
            # stayed in memory (4.3 GB peak at 10x; ~450 MB with it). A small frame is left to the
            # automatic collector (a full collection costs ~0.3 s with GE loaded)
            rows = len(frame)
            del frame
            if rows >= memory.COLLECT_FROM_ROWS:
                gc.collect()
            t0 = time.perf_counter()
    return found, files


def validate_at(warehouse: Path, suite: Suite, chunks: list[list[str] | str], sample_rows: int,
                run_id: str) -> tuple[list[dict], set[str], SuiteRun]:
    """`validate_chunks` on a read-only connection of its own (a process of its own: isolated.py)."""
    run = SuiteRun(suite=suite.name, scope=suite.scope, data="")
    with connect(warehouse, read_only=True) as con:
        found, files = validate_chunks(con, suite, chunks, sample_rows, run_id, run)
    return found, files, run


def run_new_files(con, suite: Suite, home_root: Path, run_id: str, sample_rows: int) -> SuiteRun:
    source = suite.asset[-1]
    path = state_path(home_root, suite)
    state = load_state(path, suite.fingerprint)
    loaded = con.execute(
        "SELECT file_sha256, rows_loaded, run_id, loaded_at FROM ledger.files WHERE source = ? AND status = 'loaded' "
        "ORDER BY loaded_at, file_path", [source]).fetchall()
    keys = {load_key(sha, run, at): (sha, rows) for sha, rows, run, at in loaded}
    validated = set(state.get("validated") or [])
    note = ""
    if validated - keys.keys():
        # Raw tables only grow: a load that has gone means a rebuilt or altered warehouse.
        state, validated = {"fingerprint": suite.fingerprint}, set()
        note = " (loads validated earlier have left the warehouse: everything re-validated)"
    new = [(k, sha, rows) for k, (sha, rows) in keys.items() if k not in validated]
    run = SuiteRun(suite=suite.name, scope=suite.scope, data="", files_validated_before=len(validated))
    # a register export holds the whole register (3.7 M rows at 100x): its lines in ranges
    split = {sha for _, sha, rows in new if rows > CHUNK_ROWS} if suite.splits_by_line else set()
    chunks = _chunks([(sha, rows) for _, sha, rows in new], CHUNK_ROWS, split)
    run.own_process = isolated.wanted(sum(rows for _, _, rows in new), isolated.VALIDATE_FROM_ROWS)
    if run.own_process:  # a large batch: validated in a process of its own, which gives its memory back
        found, files, done = isolated.call(validate_at, Home(home_root).warehouse, suite, chunks, sample_rows,
                                           run_id, isolate=True)
        for name in ("rows_validated", "read_s", "ge_import_s", "validation_s"):
            setattr(run, name, getattr(done, name))
    else:
        found, files = validate_chunks(con, suite, chunks, sample_rows, run_id, run)
    run.files_validated = len(files)
    run.cached = not new
    run.failures = merge_failures((state.get("failures") or []) + found, sample_rows)
    if new:
        state.update(validated=sorted(validated | {k for k, _, _ in new}), failures=run.failures,
                     updated_in_run=run_id)
        save_state(path, state)
    table = suite.table
    if new:
        run.data = (f"{table}: {plural(run.rows_validated, 'row')} from {plural(run.files_validated, 'new file')} "
                    f"validated; {plural(run.files_validated_before, 'earlier file')} already validated{note}")
    else:
        run.data = (f"{table}: no new {source} file; {plural(run.files_validated_before, 'file')} validated in "
                    "earlier runs (stored result, nothing re-validated)")
    return run


def frame_hash(frame: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


def run_whole_table(con, suite: Suite, home_root: Path, run_id: str, sample_rows: int) -> SuiteRun:
    path = state_path(home_root, suite)
    state = load_state(path, suite.fingerprint)
    t0 = time.perf_counter()
    frame = _read(con, suite.batch_sql(), None)
    read_s = time.perf_counter() - t0
    content = frame_hash(frame)
    what = suite.asset[-1]
    if state.get("content_hash") == content and "failures" in state:
        return SuiteRun(suite=suite.name, scope=suite.scope, cached=True, read_s=read_s,
                        failures=state["failures"],
                        data=f"{what}: {plural(len(frame), 'row')}, unchanged since run "
                             f"{state.get('validated_in_run', '?')[:8]} (stored result, nothing re-validated)")
    run = SuiteRun(suite=suite.name, scope=suite.scope, read_s=read_s, rows_validated=len(frame),
                   data=f"{what}: {plural(len(frame), 'row')} validated")
    found = _validate(frame, suite, sample_rows, run) if len(frame) else []
    run.failures = merge_failures([{**f, "found_in_run": run_id} for f in found], sample_rows)
    save_state(path, {"fingerprint": suite.fingerprint, "content_hash": content, "failures": run.failures,
                      "validated_in_run": run_id})
    return run


def _read(con, sql: str, params: dict | None) -> pd.DataFrame:
    from pipelines.quality.ge import frame_from_relation

    return frame_from_relation(con.sql(sql, params=params) if params else con.sql(sql))


def run_suite(con, suite: Suite, home_root: Path, run_id: str, sample_rows: int = 5) -> SuiteRun:
    if suite.scope == "new_files":
        return run_new_files(con, suite, home_root, run_id, sample_rows)
    return run_whole_table(con, suite, home_root, run_id, sample_rows)
