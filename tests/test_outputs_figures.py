"""Bar charts that scale: every tick label legible at the saved size for 5, 88 and 183 units;
a national study shows its top and bottom units and says so on the figure.

The tables are SYNTHETIC (seeded areas and emissions per unit and year).
"""

from __future__ import annotations

import itertools

import matplotlib as mpl
import numpy as np
import pandas as pd
import pytest

from pipeline.outputs import figures, placement, render
from pipeline.outputs.fonts import cjk_rc
from tests.conftest import _synthetic_inputs

MIN_TICK_PX = 24  # at 300 dpi: 7 pt is 29 px; below ~24 px a CJK name blurs on screen
YEARS = (2015, 2020)


def _areas(units: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    classes = {11: "cropland", 21: "forest", 31: "grassland", 41: "water", 51: "built_up"}
    rows = [
        {"unit": unit, "year": year, "code": code, "class": name,
         "area_ha": float(rng.uniform(10, 1e5)) * (1 + i % 7)}
        for i, unit in enumerate(units) for year in YEARS for code, name in classes.items()
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _balance(units: list[str]) -> pd.DataFrame:
    rng = np.random.default_rng(6)
    rows = []
    for unit, year in itertools.product(units, YEARS):
        energy, respiration = rng.uniform(1e5, 1e7), rng.uniform(1e4, 3e5)
        rows.append({"unit": unit, "year": year, "emission_energy_t": energy,
                     "emission_respiration_t": respiration,
                     "emission_t": energy + respiration})  # fmt: skip
    return pd.DataFrame(rows)


def _tick_labels(ax) -> list:
    return [t for t in ax.get_yticklabels() if t.get_text()]


@pytest.mark.parametrize("count", [5, 88, 183])
def test_bar_chart_tick_labels_are_legible_and_apart_at_the_saved_size(count: int) -> None:
    units = _synthetic_inputs().county_names(count, seed=2)
    with mpl.rc_context(cjk_rc()):
        for ax in (figures.plot_landuse_bars(_areas(units)),
                   figures.plot_emission_bars(_balance(units))):  # fmt: skip
            ax.figure.set_dpi(render.PNG_DPI)
            renderer = placement.renderer_of(ax.figure)
            labels = _tick_labels(ax)
            assert len(labels) == count * len(YEARS)  # every unit and year shown
            for label in labels:
                assert label.get_fontsize() * render.PNG_DPI / 72 >= MIN_TICK_PX
            boxes = [label.get_window_extent(renderer) for label in labels]
            for a, b in itertools.pairwise(boxes):
                assert not a.overlaps(b), (a, b)
            figure_box = ax.figure.bbox
            assert all(figure_box.x0 <= b.x0 and b.y0 >= figure_box.y0 for b in boxes)


def test_a_national_bar_chart_shows_top_and_bottom_units_and_says_so() -> None:
    units = [f"县{i:04d}" for i in range(1000)]  # SYNTHETIC names
    balance = _balance(units)
    with mpl.rc_context(cjk_rc()):
        ax = figures.plot_emission_bars(balance)
    labels = _tick_labels(ax)
    assert len(labels) <= figures.SHOWN_BAR_ROWS
    shown = {t.get_text().rsplit(" ", 1)[0] for t in labels}
    mean_t = balance.groupby("unit")["emission_t"].mean().sort_values()
    keep = len(shown) // 2
    assert shown == set(mean_t.index[-keep:]) | set(mean_t.index[:keep])
    notes = [t.get_text() for t in ax.texts if "1000" in t.get_text()]
    assert notes and f"{keep}" in notes[0]
    height_in = ax.figure.get_size_inches()[1]
    assert height_in < 40  # a figure that can still be opened and printed


def test_units_whose_short_names_repeat_keep_their_full_names_and_their_own_rows() -> None:
    units = ["乐山市市中区", "内江市市中区", "威宁彝族回族苗族自治县"]
    with mpl.rc_context(cjk_rc()):
        ax = figures.plot_emission_bars(_balance(units))
    texts = [t.get_text() for t in _tick_labels(ax)]
    assert sorted(texts) == sorted(
        [f"{name} {year}" for name in ("乐山市市中区", "内江市市中区", "威宁县") for year in YEARS]
    )
    assert figures.bar_count(ax) == 2 * len(texts)  # energy and respiration, one bar per row
