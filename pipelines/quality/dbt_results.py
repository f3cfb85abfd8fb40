"""dbt's own account of its tests (run_results.json and the manifest) and samples of their failing
rows, for the quality report. No Dagster here: pipelines.quality.results records the dbt step's
check results with what this module reads.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from pipelines.lib.dbt_project import MANIFEST_PATH
from pipelines.lib.home import Home
from pipelines.quality.store import check_record

WITHHELD_COLUMNS = frozenset({"topic", "referred_to", "member_id", "service_user_pseudonym",
                              "email_pseudonym", "name_pseudonym", "host_email_pseudonym", "person_key"})


def read_test_results(target_path: Path | None) -> dict[str, dict]:
    """The dbt invocation's test results by unique_id, with compiled SQL and, from the project's
    parsed manifest (the asset graph's: a build in the run's process writes none), each test's
    name, description and the model it is attached to."""
    if target_path is None:
        return {}
    try:
        data = json.loads((Path(target_path) / "run_results.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    try:
        nodes = json.loads(MANIFEST_PATH.read_text()).get("nodes", {})
    except (FileNotFoundError, ValueError):
        nodes = {}
    out = {}
    for r in data.get("results", []):
        uid = r.get("unique_id", "")
        if not uid.startswith("test."):
            continue
        n = nodes.get(uid, {})
        ref = ((n.get("config") or {}).get("meta") or {}).get("dagster", {}).get("ref", {}).get("name")
        out[uid] = {**r, "node": {"name": n.get("name"), "description": n.get("description"),
                                  "model": ref or (n.get("attached_node") or "").rsplit(".", 1)[-1] or None}}
    return out


def unselected_failures(test_results: dict[str, dict], seen: set, samples_for) -> list[dict]:
    """Records for the tests dbt ran whose Dagster check is not part of this run (indirect
    selection) and that failed, warned or errored: such a failure fails the dbt step, so it is
    reported too. `samples_for(unique_id)` gives a failing test's sample rows."""
    records = []
    for unique_id, res in test_results.items():
        if unique_id in seen or res.get("status") not in ("fail", "error", "warn"):
            continue
        node = res.get("node") or {}
        name = node.get("name") or unique_id.split(".")[-2]
        model = node.get("model") or "dbt"
        warn = res.get("status") == "warn"
        what = node.get("description") or f"dbt test {name} returned failing rows"
        if res.get("status") == "error":
            what = f"dbt test {name} could not run: {(res.get('message') or '').splitlines()[0][:200]}"
        records.append(check_record(
            f"{model}:{name}", passed=False, severity="WARN" if warn else "ERROR", blocking=not warn, kind="dbt",
            description=node.get("description") or "",
            data="dbt data test run by dbt with the selected models; its Dagster check is not part of this run",
            failures=[{"what": what, "severity": "warn" if warn else "error", "count": res.get("failures"),
                       "samples": samples_for(unique_id)}],
            metadata={"unique_id": unique_id, "status": res.get("status")}))
    return records


class FailureSampler:
    """Samples of failing tests' rows from the warehouse, opened on first use and closed by close().

    Used inside the dbt step, after dbt has exited, while that step holds the warehouse lock
    itself: so no lock is taken here."""

    def __init__(self, home: Home, test_results: dict[str, dict], limit: int):
        self.home, self.test_results, self.limit = home, test_results, limit
        self._con = None
        self._tried = False

    def __call__(self, unique_id: str | None) -> list[dict]:
        sql = (self.test_results.get(unique_id) or {}).get("compiled_code")
        if not sql:
            return []
        if not self._tried:
            self._tried = True
            self._con = _open_reader(self.home)
        return sample_failing_rows(self._con, sql, self.limit) if self._con is not None else []

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def _open_reader(home: Home):
    import duckdb

    for _ in range(3):
        try:
            return duckdb.connect(str(home.warehouse), read_only=True)
        except duckdb.Error:
            time.sleep(0.5)
    return None


def sample_failing_rows(con, sql: str, limit: int) -> list[dict]:
    """Up to `limit` failing rows of a dbt test, free text and identities withheld. The first
    rows in order of all their columns (ORDER BY ALL): the same failures give the same sample in
    every run, whatever order DuckDB's threads produce them in. A test whose columns cannot be
    ordered is sampled unordered rather than not at all."""
    from pipelines.quality.ge import plain

    for order in ("ORDER BY ALL ", ""):
        try:
            cur = con.execute(f"SELECT * FROM ({sql}) AS failing {order}LIMIT {int(limit)}")
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
            break
        except Exception:
            continue
    else:
        return []
    return [{c: ("(withheld)" if c in WITHHELD_COLUMNS else plain(v)) for c, v in zip(cols, row)} for row in rows]
