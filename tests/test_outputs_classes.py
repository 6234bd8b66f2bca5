"""Map classes shared by all years: pooled breaks, round contiguous ranges, diverging rules."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.errors import StudyError
from pipeline.outputs import classes as classification
from pipeline.outputs.labels import INDICATORS
from pipeline.study import load_study
from pipeline.study.settings import MAP_INDICATORS, MapSettings, ZoningSettings
from tests.conftest import demo_study_file

BY_STEM = {indicator.stem: indicator for indicator in INDICATORS}


def two_year_balance(balance_2015_t: list[float], balance_2020_t: list[float]) -> pd.DataFrame:
    """A carbon-balance table of len(values) units in 2015 and 2020 (EEC, SEC all 1.2)."""
    units = [f"U{i}" for i in range(len(balance_2015_t))]
    frame = pd.DataFrame(
        {
            "unit": units * 2,
            "year": [2015] * len(units) + [2020] * len(units),
            "balance_t": [*balance_2015_t, *balance_2020_t],
        }
    )
    frame["eec"] = frame["sec"] = 1.2
    return frame


def test_indicator_stems_are_the_settings_keys() -> None:
    assert tuple(indicator.stem for indicator in INDICATORS) == MAP_INDICATORS


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(1234.0, 1890.0, (1500.0, 0)), (0.72, 0.73, (0.725, 3)), (0.0, 1.0, (0.5, 1)),
     (-3.2, -1.1, (-2.0, 0)), (1000.0, 1000.4, (1000.2, 1)), (0.05, 7.0, (5.0, 0))],
)  # fmt: skip
def test_round_between_picks_the_roundest_number(
    low: float, high: float, expected: tuple[float, int]
) -> None:
    assert classification.round_between(low, high) == expected


def test_one_set_of_classes_serves_every_year_so_maps_compare() -> None:
    # Demo-like: 市辖区 falls from 4,332 to 2,704 万t; four other units stay small.
    frame = two_year_balance(
        [43.32e6, 3.0e6, 2.9e6, 1.0e6, 0.9e6], [27.04e6, 3.1e6, 2.8e6, 1.1e6, 0.8e6]
    )
    shared = classification.study_classes(frame, MapSettings(classes=5), ZoningSettings())
    balance = shared["balance_t"]
    before, after = balance.classify(frame["balance_t"].to_numpy()).reshape(2, 5)
    assert before[0] != after[0]  # the fall shows as a change of class
    assert before[0] == balance.count - 1
    assert len(balance.edges) == balance.count + 1
    assert balance.edges[0] <= 80 and balance.edges[-1] >= 4332  # 万t, rounded outward


def test_legends_are_contiguous_ranges_in_map_units() -> None:
    frame = two_year_balance([43.32e6, 3.0e6, 1.0e6], [27.04e6, 3.1e6, 0.8e6])
    balance = classification.study_classes(frame, MapSettings(), ZoningSettings())["balance_t"]
    ranges = [label.split(" – ") for label in balance.labels]
    for (_, upper), (lower, _) in itertools.pairwise(ranges):
        assert upper == lower
    assert float(ranges[-1][1].replace(",", "")) >= 4332.0
    np.testing.assert_allclose(balance.column_edges(), np.array(balance.edges) * 1e4)


def test_balance_on_one_side_of_zero_does_not_diverge() -> None:
    frame = two_year_balance([5e6, 3e6, 1e6], [4e6, 2e6, 0.5e6])
    balance = classification.study_classes(frame, MapSettings(), ZoningSettings())["balance_t"]
    assert balance.centre is None
    reds = [int(c[1:3], 16) > int(c[5:7], 16) for c in balance.colours]
    assert all(reds)


def test_balance_straddling_zero_diverges_at_zero() -> None:
    frame = two_year_balance([5e6, -3e6, 1e6], [4e6, -2e6, 0.5e6])
    balance = classification.study_classes(frame, MapSettings(), ZoningSettings())["balance_t"]
    assert balance.centre == 0.0
    assert 0.0 in balance.breaks
    classes = balance.classify(frame["balance_t"].to_numpy())
    below = np.array(balance.edges)[classes + 1] <= 0.0
    assert (below == (frame["balance_t"].to_numpy() < 0)).all()


def test_eec_and_sec_are_classed_by_the_zoning_breaks() -> None:
    frame = two_year_balance([1.0] * 4, [1.0] * 4)
    frame["eec"] = [0.35, 0.7, 1.3, 2.2, 0.4, 0.8, 1.1, 2.3]
    frame["sec"] = [0.2, 1.5, 2.5, 3.0, 0.3, 1.4, 2.1, 2.9]
    shared = classification.study_classes(frame, MapSettings(), ZoningSettings())
    assert shared["eec"].breaks == (0.5, 1.0) and shared["eec"].source == "zoning"
    assert shared["sec"].breaks == (1.0, 2.0)
    assert shared["eec"].labels == ("0.35 – 0.50", "0.50 – 1.00", "1.00 – 2.30")
    # the same levels as the zoning: value < b1 low, b1 <= value < b2 medium, >= b2 high
    assert list(shared["eec"].classify([0.49, 0.5, 0.99, 1.0])) == [0, 1, 1, 2]


def test_breaks_outside_the_values_leave_no_empty_class() -> None:
    frame = two_year_balance([1.0] * 3, [1.0] * 3)
    frame["sec"] = [1.1, 1.3, 1.5, 1.2, 1.4, 1.9]
    sec = classification.study_classes(frame, MapSettings(), ZoningSettings())["sec"]
    assert sec.breaks == ()
    assert sec.count == 1


def test_user_breaks_are_in_map_units(tmp_path: Path) -> None:
    path = demo_study_file(tmp_path, "[maps.breaks]\nbalance = [1000, 3000]\n")
    study = load_study(path)
    assert study.maps.breaks == {"balance": (1000.0, 3000.0)}
    frame = two_year_balance([43.32e6, 2.0e6, 0.5e6], [27.04e6, 2.5e6, 0.4e6])
    balance = classification.study_classes(frame, study.maps, study.zoning)["balance_t"]
    assert balance.breaks == (1000.0, 3000.0) and balance.source == "breaks"
    assert list(balance.classify([0.5e6, 27.04e6, 43.32e6])) == [0, 1, 2]


@pytest.mark.parametrize(
    ("text", "match"),
    [("balanse = [1, 2]", r"maps\.breaks\.balanse.*unknown indicator.*balance"),
     ("sink = [3, 2]", r"maps\.breaks\.sink.*strictly ascending.*\[3, 2\]"),
     ('eec = ["a"]', r"maps\.breaks\.eec.*list of numbers")],
)  # fmt: skip
def test_bad_breaks_are_reported(tmp_path: Path, text: str, match: str) -> None:
    path = demo_study_file(tmp_path, f"[maps.breaks]\n{text}\n")
    with pytest.raises(StudyError, match=match):
        load_study(path)


@settings(max_examples=80, deadline=None)
@given(
    # values a legend can tell apart (MAX_DECIMALS); subnormal noise around 0 is not data
    st.lists(st.floats(-1e6, 1e6).map(lambda v: round(v, 3)), min_size=2, max_size=40),
    st.integers(2, 9),
    st.sampled_from(["balance", "sink", "eec"]),
)
def test_every_value_falls_in_its_class_and_no_class_is_empty(
    values: list[float], k: int, stem: str
) -> None:
    indicator = BY_STEM[stem]
    classes = classification.indicator_classes(values, indicator, scheme="FisherJenks", k=k)
    y = np.asarray(values)
    index = classes.classify(y / indicator.scale)
    edges = np.asarray(classes.edges)
    assert (np.diff(edges) >= 0).all() and (np.diff(edges[:-1]) > 0).all()  # last may be one value
    assert ((y >= edges[index] - 1e-9) & (y <= edges[index + 1] + 1e-9)).all()
    assert set(index) == set(range(classes.count))
    assert len(classes.labels) == len(classes.colours) == classes.count


@pytest.mark.parametrize(
    "values",
    [
        [3.0, 1.0, 2.0, 5.0, 4.0],  # as many distinct values as classes: k-means in mapclassify
        [-2.5, 0.0, 0.0, 7.25, -2.5, 100.0, 7.25],  # four distinct values, repeated
        [1.0, 1.001, 1.002, 9.0, 9.0],
    ],
)
def test_natural_breaks_of_few_distinct_values_are_mapclassifys(values: list[float]) -> None:
    """At most k distinct values: each its own class, as mapclassify's NaturalBreaks finds."""
    import mapclassify

    y = np.asarray(values)
    ours = classification._classifier(y, "NaturalBreaks", 5)
    assert isinstance(ours, classification.DistinctValueClasses)  # no mapclassify needed
    np.random.seed(classification.CLASSIFICATION_SEED)
    with pytest.warns(UserWarning) if len(set(values)) < 5 else contextlib.nullcontext():
        theirs = mapclassify.NaturalBreaks(y, k=5)
    np.testing.assert_array_equal(ours.bins, theirs.bins)
    np.testing.assert_array_equal(ours.yb, theirs.yb)
    assert list(ours.yb) == [sorted(set(values)).index(v) for v in values]


def test_natural_breaks_of_more_distinct_values_than_classes_use_mapclassify() -> None:
    y = np.array([1.0, 2.0, 3.0, 10.0, 11.0, 30.0])
    fitted = classification._classifier(y, "NaturalBreaks", 3)
    assert not isinstance(fitted, classification.DistinctValueClasses)
    assert list(fitted.bins) == [3.0, 11.0, 30.0]


def test_the_same_classes_are_found_once_and_columns_limit_them() -> None:
    """The GeoPackage's styles (balance only) and the maps (every indicator) share classes."""
    frame = two_year_balance(
        [43.32e6, 3.0e6, 2.9e6, 1.0e6, 0.9e6], [27.04e6, 3.1e6, 2.8e6, 1.1e6, 0.8e6]
    )
    classification._indicator_classes.cache_clear()
    only = classification.study_classes(
        frame, MapSettings(), ZoningSettings(), columns={"balance_t"}
    )
    assert list(only) == ["balance_t"]
    assert classification._indicator_classes.cache_info().misses == 1
    every = classification.study_classes(frame, MapSettings(), ZoningSettings())
    assert list(every) == ["balance_t", "eec", "sec"]
    assert every["balance_t"] is only["balance_t"]
    assert classification._indicator_classes.cache_info().misses == 3
    classification._indicator_classes.cache_clear()
    again = classification.study_classes(frame, MapSettings(), ZoningSettings())
    assert again == every and again["balance_t"] is not only["balance_t"]  # found anew: equal
