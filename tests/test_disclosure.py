"""Disclosure control at its boundaries: what may be published, and what may not."""

import math

import pandas as pd
import pytest

from dashboards import disclosure as dc


def test_constants_are_the_opensafely_ones():
    assert dc.REDACTION_THRESHOLD == 7
    assert dc.ROUNDING_BASE == 5
    assert dc.SUPPRESSED_TEXT == "<8"
    assert dc.DISCLOSURE_DEFAULT is True


@pytest.mark.parametrize("n, expected", [
    (0, 0), (1, None), (7, None), (8, 10), (12, 10), (13, 15), (15, 15), (17, 15), (18, 20), (11022, 11020),
])
def test_suppress_count_boundaries(n, expected):
    assert dc.suppress_count(n) == expected


@pytest.mark.parametrize("n, expected", [(0, "0"), (1, "<8"), (7, "<8"), (8, "10"), (12, "10"), (13, "15"),
                                         (11022, "11,020")])
def test_display_count_boundaries(n, expected):
    assert dc.display_count(n) == expected


def test_marts_doubles_are_counts():
    assert dc.suppress_count(11022.0) == 11020
    assert dc.display_count(7.0) == "<8"


def test_missing_is_not_suppressed():
    for missing in (None, float("nan"), pd.NA):
        assert dc.suppress_count(missing) is None
        assert dc.display_count(missing) == "n/a"


@pytest.mark.parametrize("bad", [-1, 2.5])
def test_non_counts_are_refused(bad):
    with pytest.raises(ValueError):
        dc.suppress_count(bad)


def test_disclosure_off_gives_true_counts():
    assert dc.suppress_count(7, disclosure=False) == 7
    assert dc.display_count(11022, disclosure=False) == "11,022"
    assert dc.total([7, 12, 13], disclosure=False) == 32


def test_total_is_sum_of_rounded_cells():
    # true total 33 would round to 35; published cells are <8, 10, 15 -> 25
    cells = [1, 7, 12, 13, 0]
    assert dc.total(cells) == 25
    assert dc.total(cells) == sum(c for c in map(dc.suppress_count, cells) if c is not None)


def test_ratio_from_rounded_counts():
    assert dc.safe_ratio(13, 12) == pytest.approx(15 / 10)
    assert dc.safe_ratio(8507, 4820) == pytest.approx(8505 / 4820)
    assert dc.safe_ratio(13, 12, disclosure=False) == pytest.approx(13 / 12)


@pytest.mark.parametrize("num, den", [(7, 100), (100, 7), (1, 1), (100, 0), (0, 0), (None, 100), (100, math.nan)])
def test_ratio_hidden_when_a_count_is_suppressed_or_undefined(num, den):
    assert dc.safe_ratio(num, den) is None


def test_ratio_zero_numerator_is_shown():
    assert dc.safe_ratio(0, 100) == 0.0


def test_apply_to_frame():
    df = pd.DataFrame({"site": list("abcdef"), "value": [0, 1, 7, 8, 12, 13]})
    out = dc.apply_to_frame(df, "value")
    assert str(out["value"].dtype) == "Int64"
    assert out["value"].tolist() == [0, pd.NA, pd.NA, 10, 10, 15]
    assert df["value"].tolist() == [0, 1, 7, 8, 12, 13]  # input untouched
    assert dc.apply_to_frame(df, "value", disclosure=False)["value"].tolist() == [0, 1, 7, 8, 12, 13]


@pytest.mark.parametrize("value, expected", [
    (None, True), ("", True), ("on", True), (" ON ", True), ("true", True), ("1", True), ("yes", True),
    ("off", False), ("OFF", False), ("false", False), ("0", False), ("no", False),
])
def test_switch_from_the_environment(value, expected):
    env = {} if value is None else {dc.ENV_VAR: value}
    assert dc.from_env(env) is expected


@pytest.mark.parametrize("typo", ["of", "disabled", "internal"])
def test_unknown_switch_values_are_refused(typo):
    with pytest.raises(ValueError, match=dc.ENV_VAR):
        dc.from_env({dc.ENV_VAR: typo})


def test_env_var_name():
    assert dc.ENV_VAR == "OUTCOMES_DISCLOSURE_CONTROL"


# --- applied once, to the frames a page is given: no figure or table sees a small count -------

FY, PREV = "2021/22", "2020/21"
ORDER_COLUMNS = {"stage_order", "band_order", "decile_order", "item_order"}  # positions, not counts


def _small_marts() -> dict:
    """Every count of people or events is 1..7 (each must be suppressed)."""
    from pipelines.lib.kpi_registry import load

    counts = [k.name for k in load().values() if not k.is_ratio]
    kpi = pd.DataFrame([{"financial_year": y, "kpi": k, "value": float(1 + (i + j) % 7)}
                        for j, y in enumerate((PREV, FY)) for i, k in enumerate(counts)])
    ratios = pd.DataFrame([{"financial_year": y, "kpi": k.name, "value": 1.5}
                           for y in (PREV, FY) for k in load().values() if k.is_ratio])
    monthly = pd.DataFrame([{"financial_year": FY, "month": f"2021-{m:02d}-01", "site_code": s, "kpi": k,
                             "value": 1 + (m + i) % 7}
                            for m in (4, 5, 6) for i, (s, k) in enumerate([("WAL", "visits"), ("SOU", "visits"),
                                                                           ("ZOOM", "zoom_attendances"),
                                                                           ("PHONE", "wellbeing_calls"),
                                                                           ("SOU", "pathway_contacts")])])
    category = pd.DataFrame({"financial_year": FY, "category": ["debt", "housing", "other"],
                             "social_prescriptions": [7, 3, 1], "accepted_or_completed": [6, 2, 1]})
    funnel = pd.DataFrame({"financial_year": FY, "stage_order": [1, 2, 3, 4],
                           "stage": ["contacts_recorded", "contacts_attended", "prescriptions_made",
                                     "prescriptions_accepted_or_completed"], "value": [7, 6, 5, 2]})
    deciles = [str(d) for d in range(1, 11)] + ["unknown"]
    by_decile = pd.DataFrame({"financial_year": FY, "site_code": "ALL", "imd_decile": deciles,
                              "decile_order": range(1, 12), "members": [1 + i % 7 for i in range(11)]})
    summary = pd.DataFrame([{"financial_year": FY, "site_code": s, "members_reached": 7, "members_known_decile": 6,
                             "members_unknown_decile": 1, "members_decile_1_3": 4, "members_decile_1": 2,
                             "share_decile_1_3": 4 / 6, "share_decile_1": 2 / 6} for s in ("ALL", "WAL")])
    change = pd.DataFrame([
        {"financial_year": FY, "measure": "swemwbs", "item": "swemwbs", "item_order": 1, "higher_is_better": True,
         "paired_members": 6, "mean_baseline": 18.6, "mean_follow_up": 21.0, "mean_change": 2.4,
         "mean_improvement": 2.4, "improved": 3, "worsened": 1, "share_improved": 0.5, "share_worsened": 1 / 6},
        {"financial_year": FY, "measure": "ons4", "item": "anxiety", "item_order": 4, "higher_is_better": False,
         "paired_members": 5, "mean_baseline": 5.5, "mean_follow_up": 4.2, "mean_change": -1.3,
         "mean_improvement": 1.3, "improved": None, "worsened": None, "share_improved": None, "share_worsened": None}])
    dist = pd.DataFrame({"financial_year": FY, "band_order": range(1, 4), "band": ["down", "same", "up"],
                         "paired_members": [1, 2, 3]})
    # (outcome_inputs is only read for whether each input arrived; its counts are never printed)
    inputs = pd.DataFrame([{"register_members": 500, "register_latest_export_date": "2022-03-31",
                            "postcode_lookup_file": "p.csv", "imd_lookup_file": "i.csv", "outcome_responses": 40,
                            "swemwbs_responses": 20, "ons4_responses": 20}])
    return {"kpi_annual": pd.concat([kpi, ratios], ignore_index=True), "monthly": monthly, "category": category,
            "funnel": funnel, "outcomes": {"reach_by_decile": by_decile, "reach_summary": summary,
                                           "wellbeing_change": change, "wellbeing_distribution": dist,
                                           "outcome_inputs": inputs}}


def _small_counts_in(value) -> list:
    """(column, value) of every whole number 1..7 in a frame (or in the frames of a mapping)."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _small_counts_in(v)]
    if not isinstance(value, pd.DataFrame):
        return []
    found = []
    for col in value.columns:
        s = value[col]
        if col in ORDER_COLUMNS or pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            continue
        found += [(col, v) for v in s.dropna() if 1 <= v <= 7 and float(v).is_integer()]
    return found


def _spy_on_figures_and_tables(monkeypatch) -> list:
    """Wrap every figure, data and section function of the pages; record the frames each receives."""
    import inspect

    from dashboards import figures, outcomes, page

    calls = []

    def spy(module, name, fn):
        def wrapped(*args, **kwargs):
            calls.append((name, [x for a in (*args, *kwargs.values()) for x in _small_counts_in(a)]))
            return fn(*args, **kwargs)
        monkeypatch.setattr(module, name, wrapped)

    for module in (figures, outcomes):
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_") and name != "change_sentence":
                spy(module, name, fn)
    for name in ("headline_values", "kpi_csv", "months_covered"):
        spy(page, name, getattr(page, name))
    return calls


def test_with_control_on_no_figure_or_table_receives_an_unsuppressed_small_count(tmp_path, monkeypatch):
    from dashboards.page import render_dashboard

    calls = _spy_on_figures_and_tables(monkeypatch)
    m = _small_marts()
    page = render_dashboard(m["kpi_annual"], m["monthly"], tmp_path, year=FY, category=m["category"],
                            funnel=m["funnel"], outcomes=m["outcomes"]).read_text()
    called = {name for name, _ in calls}
    assert {"kpi_table", "monthly_data", "category_data", "funnel_data", "reach_data", "swemwbs_summary",
            "change_distribution_data", "year_on_year_data", "sites_open_data", "headline_values"} <= called
    assert [(name, found) for name, found in calls if found] == []
    assert 'data-kpi="visits">&lt;8<' in page


def test_the_spy_sees_small_counts_when_control_is_off(tmp_path, monkeypatch):
    """The check above can fail: with control off the same functions do receive the true 1..7."""
    from dashboards.page import render_dashboard

    calls = _spy_on_figures_and_tables(monkeypatch)
    m = _small_marts()
    render_dashboard(m["kpi_annual"], m["monthly"], tmp_path, year=FY, category=m["category"], funnel=m["funnel"],
                     outcomes=m["outcomes"], disclosure=False)
    seen = {name for name, found in calls if found}
    assert {"kpi_table", "monthly_data", "category_data", "funnel_data", "reach_data", "swemwbs_summary"} <= seen


def test_control_frames_sums_to_the_published_grain_before_controlling():
    """Two rows of 4 for one month and site are one cell of 8 (shown 10), not two suppressed ones."""
    monthly = pd.DataFrame({"financial_year": FY, "month": ["2021-04-01", "2021-04-01"], "site_code": "WAL",
                            "kpi": "visits", "value": [4, 4]})
    m = dc.control_frames({"monthly": monthly})["monthly"]
    assert m["value"].tolist() == [10] and m["value_shown"].tolist() == ["10"]
