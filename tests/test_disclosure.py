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
