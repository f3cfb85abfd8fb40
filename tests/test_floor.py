"""The benchmark's floor (bench/floor.sql via bench/floor.py) computes the pipeline's figures.

On a generated demo landing zone (all of the contract's mess included) the floor must give
exactly the KPIs the generator designed, which are the pipeline's figures; no pipeline run is
needed, so this stays fast.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.demo.generator import KPIS, expected_kpis, write_demo_landing

REPO = Path(__file__).resolve().parents[1]
SCALE = 0.05


def _load_floor():
    spec = importlib.util.spec_from_file_location("bench_floor", REPO / "bench" / "floor.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


floor = _load_floor()


@pytest.fixture(scope="module")
def demo_landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("floor") / "landing"
    write_demo_landing(root, scale=SCALE)
    return root


def test_floor_equals_the_designed_kpis(demo_landing):
    rows = floor.run_floor(demo_landing)
    expected = expected_kpis(SCALE)
    assert rows == sorted(rows)
    got = {(fy, kpi): value for fy, kpi, value in rows}
    assert len(got) == len(rows), "one row per (financial_year, kpi)"
    assert got.keys() == {(fy, kpi) for fy in expected for kpi in KPIS}
    for (fy, kpi), value in sorted(got.items()):
        want = expected[fy][kpi]
        if want is None:
            assert value is None, (fy, kpi)
        elif kpi in ("prescriptions_per_contact", "sessions_per_member"):
            assert value == pytest.approx(want, rel=1e-12, abs=0), (fy, kpi)
        else:
            assert value == float(want), (fy, kpi)


def test_floor_cli_prints_csv(demo_landing):
    out = subprocess.run([sys.executable, str(REPO / "bench" / "floor.py"), str(demo_landing)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "financial_year,kpi,value"
    assert len(out) == 1 + 12 * len(expected_kpis(SCALE))
    expected = expected_kpis(SCALE)["2021/22"]
    assert out[1] == f"2020/21,visits,{expected_kpis(SCALE)['2020/21']['visits']}"
    assert f"2021/22,visits,{expected['visits']}" in out
    assert f"2021/22,sessions_per_member,{expected['sessions_per_member']!r}" in out


def test_floor_on_an_empty_landing(tmp_path):
    for source in ("visits", "zoom", "pathways", "wellbeing_calls"):
        (tmp_path / source).mkdir()
    assert floor.run_floor(tmp_path) == []
