"""Benchmark: the pipeline's cost as the work grows, against a bare-DuckDB floor, in one run.

For each scale it generates (and caches) the demo landing zone, then times as subprocesses:
  fixed   `outcomes run` on an empty landing: the start-up every run pays;
  full    `outcomes run` from an empty home on all history but the last day;
  incr    the last day's exports land; `outcomes run` until KPIs and dashboards are refreshed;
  none    `outcomes run` again with nothing new (pipelines/lib/run_inputs.py: no job is started);
  watch   `outcomes watch` running warm when the next day lands: seconds to its dashboards;
  floor   bench/floor.sql: one DuckDB script computing kpi_annual from the raw files;
and checks that pipeline and floor agree on every KPI. Writes docs/performance.md and
bench/results.csv.

    .venv/bin/python bench/run.py --scales 1 10 100 [--years 5]
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data"
PY = sys.executable
DATED = re.compile(r"(\d{4}-\d{2}-\d{2})")


def tree_rss_mib(root: int, each: dict[int, float] | None = None, cpu: dict[int, float] | None = None) -> float:
    """Resident memory of `root` and all its descendants now (MiB; shared pages counted in each
    process, so an upper bound), from /proc; `each` gets every process's own peak so far, `cpu`
    its CPU seconds so far (user + system: a process nobody waits for, such as Spark's JVM, is
    missing from getrusage's children)."""
    parent, rss, ticks = {}, {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            parent[int(entry.name)], rss[int(entry.name)] = int(fields[1]), int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
            ticks[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, ppid in parent.items() if ppid in frontier and pid not in tree]
        tree.update(children)
        frontier = children
    if each is not None:
        for pid in tree:
            each[pid] = max(each.get(pid, 0.0), rss.get(pid, 0) / 2**20)
    if cpu is not None:
        for pid in tree:
            cpu[pid] = max(cpu.get(pid, 0.0), ticks.get(pid, 0.0))
    return sum(rss.get(pid, 0) for pid in tree) / 2**20


def command_name(pid: int) -> str:
    """A process's command in a few words (python -m pipelines.cli run, dbt build, java ...); empty
    once it has exited."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # gone
        return ""
    words = [Path(a.decode(errors="replace")).name for a in argv if a and not a.startswith(b"--")][:4]
    return " ".join(words)


def timed(cmd: list[str], **kw) -> dict:
    """Wall, CPU (user+sys of the process tree) and peak RSS of one command; the peak RSS of its
    whole process tree (the run, dbt, anything they start) is sampled every 0.2 s."""
    env = {**os.environ, "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    peak, each, names, cpu = [0.0], {}, {}, {}

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_mib(proc.pid, each, cpu))
            for pid in each:  # read again each time: a child is named once it has exec'd; a process
                # that has exited (gone, or a zombie with an empty command line) keeps its last name
                names[pid] = command_name(pid) or names.get(pid, "?")
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}\n{err[-3000:]}")
    largest = max(each, key=each.get, default=None)
    return {"wall_s": wall, "stdout": out, "tree_rss_mib": peak[0], "tree_cpu_s": sum(cpu.values()),
            "largest_process": None if largest is None else f"{names.get(largest, '?')} ({each[largest]:,.0f} MiB)",
            "largest_process_mib": each.get(largest, 0.0)}


def rusage_delta(fn):
    """Run fn(); return its result plus CPU seconds and peak RSS of the children it waited for."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = fn()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of children is the largest single process so far (dbt, or the Dagster run)
    result["peak_rss_mib"] = after.ru_maxrss / 1024
    return result


def landing_for(scale: float, years: int) -> Path:
    root = DATA / f"scale-{scale:g}-years-{years}"
    if not (root / "landing" / ".complete").exists():
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run([PY, "-m", "pipelines.demo", str(root / "landing"), "--scale", str(scale),
                        "--years", str(years)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        (root / "landing" / ".complete").write_text("ok\n")
    return root / "landing"


def split_last_days(landing: Path, dest: Path, days: int = 2) -> tuple[Path, list[list[Path]], list[str]]:
    """History = every file but those dated the last `days` kiosk days (hard links, nothing
    copied); the held-back files of each of those days, oldest first."""
    files = [p for p in landing.rglob("*") if p.is_file() and p.name != ".complete"]
    kiosk_days = sorted({m.group(1) for p in files if p.name.startswith("kiosk_") and (m := DATED.search(p.name))})
    last = kiosk_days[-days:]
    history = dest / "history"
    shutil.rmtree(history, ignore_errors=True)
    held: list[list[Path]] = [[] for _ in last]
    for p in files:
        rel = p.relative_to(landing)
        day = next((i for i, d in enumerate(last) if d in p.name), None)
        if day is not None:
            held[day].append(rel)
            continue
        (history / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(p, history / rel)
    return history, held, last


def land(landing: Path, history: Path, files: list[Path]) -> None:
    """The held-back files arrive: hard links into the history's landing root."""
    for rel in files:
        (history / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(landing / rel, history / rel)


def watch_latency(landing: Path, history: Path, home: Path, files: list[Path]) -> float:
    """Seconds from `files` landing to their dashboards refreshed, in a running `outcomes watch`
    (warm: started, its first scan done, before the files land). Files that land in two of its
    ticks are two runs: timed to the end of the run that took the last of them."""
    proc = subprocess.Popen([PY, "-m", "pipelines.cli", "watch", "--landing", str(history), "--home", str(home),
                             "--interval", "0.5"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "False"})
    log: list[str] = []
    try:
        for line in proc.stdout:
            log.append(line)
            if line.startswith("watching"):
                break
        else:
            raise RuntimeError("outcomes watch stopped before watching:\n" + "".join(log[-50:]))
        start = time.perf_counter()
        land(landing, history, files)
        taken = 0
        for line in proc.stdout:
            log.append(line)
            if m := re.match(r"new files: (\d+)", line):
                taken += int(m.group(1))
            elif line.startswith("dashboards:") and taken >= len(files):
                return time.perf_counter() - start
            elif "run did not complete" in line:
                break
        raise RuntimeError("outcomes watch did not refresh the dashboards:\n" + "".join(log[-50:]))
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def slowest_steps(home: Path, n: int = 6) -> str:
    """The latest run's slowest steps with their seconds (its run record's step_seconds)."""
    import json

    record = max((home / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    steps = json.loads(record.read_text()).get("step_seconds") or {}
    return "; ".join(f"{k} {v:.1f}" for k, v in sorted(steps.items(), key=lambda kv: -kv[1])[:n])


def kpi_rows(csv_text: str) -> dict[tuple[str, str], float | None]:
    return {(r["financial_year"], r["kpi"]): (float(r["value"]) if r["value"] else None)
            for r in csv.DictReader(io.StringIO(csv_text))}


def agree(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    return all((x is None and y is None) or (x is not None and y is not None and abs(x - y) <= 1e-9 * max(1, abs(x)))
               for x, y in ((a[k], b[k]) for k in a))


def bench_scale(scale: float, years: int, engines: tuple[str, ...] = ("duckdb",)) -> dict:
    landing = landing_for(scale, years)
    work = DATA / f"work-{scale:g}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # the last day lands for the incremental run; the day before it, late, in the watch
    history, (watch_files, day_files), (_, day) = split_last_days(landing, work)
    home = work / "home"
    outcomes = [PY, "-m", "pipelines.cli"]

    empty = work / "empty-landing"
    for s in ("visits", "zoom", "pathways", "wellbeing_calls"):
        (empty / s).mkdir(parents=True, exist_ok=True)
    fixed = rusage_delta(lambda: timed([*outcomes, "run", "--landing", str(empty), "--home", str(work / "empty-home")]))
    full = rusage_delta(lambda: timed([*outcomes, "run", "--landing", str(history), "--home", str(home)]))
    land(landing, history, day_files)
    incr = rusage_delta(lambda: timed([*outcomes, "run", "--landing", str(history), "--home", str(home)]))
    incr_steps = slowest_steps(home)
    none = rusage_delta(lambda: timed([*outcomes, "run", "--landing", str(history), "--home", str(home)]))
    assert none["stdout"].startswith("nothing new"), none["stdout"][:500]
    watch = watch_latency(landing, history, home, watch_files)
    floor = rusage_delta(lambda: timed([PY, str(REPO / "bench" / "floor.py"), str(landing)]))
    pipeline_kpis = kpi_rows(timed([*outcomes, "kpis", "--home", str(home), "--format", "csv"])["stdout"])
    spark = {}
    if "spark" in engines:  # the same whole history on Spark (docs/spark.md), from an empty home
        spark_home = work / "spark-home"
        run = rusage_delta(lambda: timed([*outcomes, "run", "--engine", "spark", "--landing", str(history),
                                          "--home", str(spark_home)]))
        spark_kpis = kpi_rows(timed([*outcomes, "kpis", "--home", str(spark_home), "--format", "csv"])["stdout"])
        # peak RSS: the largest process of the whole run so far (the Spark JVM when it is the largest)
        # CPU and memory sampled over the whole process tree: getrusage misses Spark's JVM, which
        # no process waits for (it counted 199 s of a run whose JVM alone used over 20 minutes)
        spark = {"spark_full_wall_s": run["wall_s"], "spark_full_cpu_s": run["tree_cpu_s"],
                 "spark_full_peak_rss_mib": run["largest_process_mib"], "spark_full_tree_rss_mib": run["tree_rss_mib"],
                 "spark_largest_process": run["largest_process"],
                 "spark_agrees_with_duckdb": spark_kpis == kpi_rows(timed(
                     [*outcomes, "kpis", "--home", str(home), "--format", "csv"])["stdout"])}
    files = sum(1 for p in landing.rglob("*") if p.is_file()) - 1
    size_mib = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()) / 2**20
    shutil.rmtree(work, ignore_errors=True)
    return {
        "scale": scale, "years": years, "files": files, "landing_mib": round(size_mib, 1),
        "day": day, "day_files": len(day_files),
        "fixed_wall_s": fixed["wall_s"],
        "full_wall_s": full["wall_s"], "full_cpu_s": full["cpu_s"], "full_peak_rss_mib": full["peak_rss_mib"],
        "full_tree_rss_mib": full["tree_rss_mib"], "full_largest_process": full["largest_process"],
        "incr_tree_rss_mib": incr["tree_rss_mib"],
        "incr_wall_s": incr["wall_s"], "incr_cpu_s": incr["cpu_s"], "nothing_new_wall_s": none["wall_s"],
        "watch_s": watch, "watch_files": len(watch_files), "incr_slowest_steps": incr_steps,
        "floor_wall_s": floor["wall_s"], "floor_cpu_s": floor["cpu_s"],
        "full_over_floor": full["wall_s"] / floor["wall_s"],
        "full_minus_fixed_over_floor": (full["wall_s"] - fixed["wall_s"]) / floor["wall_s"],
        "agree": agree(pipeline_kpis, kpi_rows(floor["stdout"])),
        **spark,
    }


def previous_rows() -> list[dict]:
    path = REPO / "bench" / "results.csv"
    if not path.exists():
        return []
    rows = []
    for r in csv.DictReader(path.open()):
        row = {k: (v == "True" if k in ("agree", "spark_agrees_with_duckdb") else None if v == "" else
                   v if k in ("day", "measured_utc", "incr_slowest_steps", "full_largest_process", "spark_largest_process") else
                   int(v) if k in ("years", "files", "day_files") else float(v) if v else None)
               for k, v in r.items()}
        row.setdefault("measured_utc", "")
        for key in ("nothing_new_wall_s", "full_tree_rss_mib", "watch_s", "watch_files"):
            row.setdefault(key, None)  # rows measured before it was
        rows.append(row)
    return rows


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))) / 2**20
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Python {platform.python_version()}, {platform.system()}"


def write_outputs(rows: list[dict], command: str) -> None:
    with open(REPO / "bench" / "results.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        w.writeheader()
        w.writerows(rows)
    head = ("| scale | files | landing MiB | fixed start-up s | full s | full CPU s | full peak RSS MiB (largest process) | "
            "full peak RSS MiB (process tree) | "
            "incremental s (1 day) | watch s (1 day landed -> dashboards) | nothing new s | floor s | full / floor | (full - start-up) / floor | KPIs agree | measured (UTC) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['scale']:g}x | {r['files']:,} | {r['landing_mib']:,.0f} | {r['fixed_wall_s']:.1f} | "
            f"{r['full_wall_s']:.1f} | {r['full_cpu_s']:.1f} | {r['full_peak_rss_mib']:,.0f} | "
            f"{'-' if r.get('full_tree_rss_mib') is None else format(r['full_tree_rss_mib'], ',.0f')} | "
            f"{r['incr_wall_s']:.1f} ({r['day_files']} files) | "
            f"{'-' if r.get('watch_s') is None else format(r['watch_s'], '.1f') + ' (' + format(r['watch_files'], 'g') + ' files)'} | "
            f"{'-' if r.get('nothing_new_wall_s') is None else format(r['nothing_new_wall_s'], '.1f')} | "
            f"{r['floor_wall_s']:.1f} | "
            f"{r['full_over_floor']:.1f} | {r['full_minus_fixed_over_floor']:.1f} | {'yes' if r['agree'] else 'NO'} | "
            f"{r.get('measured_utc', '')} |")
    steps = [f"- {r['scale']:g}x: {r['incr_slowest_steps']}" for r in rows if r.get("incr_slowest_steps")]
    if steps:
        lines += ["", "The incremental run's slowest steps (seconds, from its run record):", "", *steps]
    largest = [f"- {r['scale']:g}x: {r['full_largest_process']}" for r in rows if r.get("full_largest_process")]
    if largest:
        lines += ["", "The full run's largest process (its peak RSS, sampled every 0.2 s):", "", *largest]
    table = "\n".join(lines)
    doc = REPO / "docs" / "performance.md"
    text = doc.read_text() if doc.exists() else "# Performance\n\n<!-- bench:start -->\n<!-- bench:end -->\n"
    block = (f"<!-- bench:start -->\nMeasured on {machine()}.\n"
             f"Regenerate with `{command}`.\n\n{table}\n<!-- bench:end -->")
    text = re.sub(r"<!-- bench:start -->.*<!-- bench:end -->", lambda _: block, text, flags=re.S)
    doc.write_text(text)
    print(table)
    write_spark_table([r for r in rows if r.get("spark_full_wall_s") is not None], command)


def write_spark_table(rows: list[dict], command: str) -> None:
    """docs/spark.md: the whole run on Spark beside DuckDB's, at each scale measured with --engine spark."""
    if not rows:
        return
    head = ("| scale | files | DuckDB full s | DuckDB CPU s | DuckDB peak RSS MiB (largest process / tree) | Spark full s | "
            "Spark CPU s (process tree, JVM included) | Spark peak RSS MiB (largest process / tree) | KPIs equal | measured (UTC) |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['scale']:g}x | {r['files']:,} | {r['full_wall_s']:.1f} | {r['full_cpu_s']:.1f} | "
                     f"{r['full_peak_rss_mib']:,.0f} / {r.get('full_tree_rss_mib') or 0:,.0f} | {r['spark_full_wall_s']:.1f} | "
                     f"{r['spark_full_cpu_s']:.1f} | {r['spark_full_peak_rss_mib']:,.0f} / {r.get('spark_full_tree_rss_mib') or 0:,.0f} | "
                     f"{'yes' if r['spark_agrees_with_duckdb'] else 'NO'} | {r.get('measured_utc', '')} |")
    doc = REPO / "docs" / "spark.md"
    block = (f"<!-- bench-spark:start -->\nMeasured on {machine()}.\nRegenerate with `{command} --engine spark`.\n\n"
             + "\n".join(lines) + "\n<!-- bench-spark:end -->")
    doc.write_text(re.sub(r"<!-- bench-spark:start -->.*<!-- bench-spark:end -->", lambda _: block,
                          doc.read_text(), flags=re.S))
    print("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", nargs="+", type=float, default=[1, 10, 100])
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--engine", action="append", choices=["duckdb", "spark"], default=None,
                    help="spark: also time the whole run on Spark beside DuckDB's (docs/spark.md)")
    args = ap.parse_args()
    # Scales not measured in this run keep their row from bench/results.csv (each row says when).
    rows = [r for r in previous_rows() if float(r["scale"]) not in args.scales]
    for scale in args.scales:
        print(f"scale {scale:g}x ...", flush=True)
        engines = ("duckdb", *(args.engine or ()))
        rows.append({**bench_scale(scale, args.years, engines), "measured_utc": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}"})
        print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
        rows.sort(key=lambda r: r["scale"])
        scales = " ".join(f"{r['scale']:g}" for r in rows)
        command = f".venv/bin/python bench/run.py --scales {scales} --years {args.years}"
        write_outputs(rows, command)  # after every scale: a long run that stops keeps what it measured
    return 0 if all(r["agree"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
