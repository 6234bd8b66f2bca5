"""Spatial autocorrelation: esda's Moran's I and LISA on Queen contiguity, as the model runs them.

Every number is compared with esda called directly on the same weights and seed; a generated
grid with a planted high-high cluster must show it; islands, too few units and untestable
indicators give notes, never numbers.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from pipeline.inputs.contiguity import queen_neighbours
from pipeline.model import spatial

COLUMNS = [column for _, column in spatial.SPATIAL_INDICATORS]


def grid_units(side: int, *, island: bool = False) -> gpd.GeoDataFrame:
    """``side`` × ``side`` square units of 10 km (row-major names r<row>c<col>), plus one unit
    far away without neighbours when ``island``."""
    names, boxes = [], []
    for row in range(side):
        for col in range(side):
            names.append(f"r{row}c{col}")
            boxes.append(shapely.box(col * 1e4, row * 1e4, (col + 1) * 1e4, (row + 1) * 1e4))
    if island:
        names.append("island")
        boxes.append(shapely.box(1e6, 1e6, 1e6 + 1e4, 1e6 + 1e4))
    return gpd.GeoDataFrame({"unit": names}, geometry=boxes, crs="EPSG:32648")


def balance_frame(values: dict[str, float], years: tuple[int, ...] = (2015,)) -> pd.DataFrame:
    """A balance table whose every tested column holds ``values`` (unit -> value); later
    years add 10 % per year step."""
    rows = []
    for k, year in enumerate(years):
        for unit, value in values.items():
            grown = value * (1 + k / 10)
            rows.append({"unit": unit, "year": year, **dict.fromkeys(COLUMNS, grown)})
    return pd.DataFrame(rows)


def planted_values(side: int, seed: int = 3) -> dict[str, float]:
    """Noise in [0, 1) everywhere and 10 + noise in the 3 × 3 block of rows and columns 1-3."""
    rng = np.random.default_rng(seed)
    values = {}
    for row in range(side):
        for col in range(side):
            hot = 1 <= row <= 3 and 1 <= col <= 3
            values[f"r{row}c{col}"] = (10.0 if hot else 0.0) + float(rng.random())
    return values


def test_queen_contiguity_of_a_grid_counts_corners() -> None:
    neighbours = queen_neighbours(grid_units(3))
    assert sorted(neighbours["r1c1"]) == sorted(u for u in neighbours if u != "r1c1")
    assert sorted(neighbours["r0c0"]) == ["r0c1", "r1c0", "r1c1"]  # the corner r1c1 too
    assert len(neighbours["r0c1"]) == 5


def test_moran_and_lisa_equal_esda_called_directly() -> None:
    units = grid_units(5)
    neighbours = queen_neighbours(units)
    rng = np.random.default_rng(7)
    values = dict(zip(units["unit"], rng.normal(size=len(units)).cumsum(), strict=True))
    result = spatial.spatial_autocorrelation(
        balance_frame(values), neighbours, seed=11, permutations=999
    )
    libpysal_weights, esda_moran = spatial.load_pysal()
    weights = libpysal_weights.W(neighbours, id_order=list(neighbours))
    weights.transform = "r"
    y = np.array([values[u] for u in neighbours])
    np.random.seed(11)
    expected = esda_moran.Moran(y, weights, permutations=999)
    local = esda_moran.Moran_Local(y, weights, permutations=999, seed=11)
    row = result.global_moran[result.global_moran["indicator"] == "balance"].iloc[0]
    assert row["moran_i"] == pytest.approx(expected.I, rel=1e-12)
    assert row["expected_i"] == pytest.approx(-1 / 24)
    assert row["p_sim"] == pytest.approx(expected.p_sim)
    assert row["z"] == pytest.approx(expected.z_sim)
    assert (row["permutations"], row["units"], row["islands"]) == (999, 25, 0)
    lisa = result.lisa[result.lisa["indicator"] == "balance"].set_index("unit")
    lisa = lisa.loc[list(neighbours)]
    np.testing.assert_allclose(lisa["local_i"], local.Is, rtol=1e-12)
    np.testing.assert_allclose(lisa["p_sim"], local.p_sim)
    esda_labels = {"High-High": "HH", "Low-Low": "LL", "Low-High": "LH", "High-Low": "HL"}
    direct = [esda_labels.get(str(label), "ns") for label in local.get_cluster_labels(0.05)]
    assert list(lisa["quadrant"]) == direct


def test_hand_computed_moran_of_a_path() -> None:
    # Four units in a row a-b-c-d, values 1, 2, 3, 4; row-standardised weights
    # (a: b 1; b: a ½, c ½; c: b ½, d ½; d: c 1). z = -1.5, -0.5, 0.5, 1.5, Σz² = 5;
    # spatial lags Σⱼ wᵢⱼ zⱼ = -0.5, -0.5, 0.5, 0.5, so Σ zᵢ lagᵢ = 0.75 + 0.25 + 0.25 + 0.75
    # = 2; I = (n / S0) · 2 / 5 = (4 / 4) · 0.4 = 0.4; E[I] = -1 / (n - 1) = -1/3.
    neighbours = {"a": ["b"], "b": ["a", "c"], "c": ["b", "d"], "d": ["c"]}
    values = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    result = spatial.spatial_autocorrelation(
        balance_frame(values), neighbours, seed=0, permutations=99, minimum_units=4
    )
    assert result.global_moran["moran_i"].iloc[0] == pytest.approx(0.4)
    assert result.global_moran["expected_i"].iloc[0] == pytest.approx(-1 / 3)


def test_planted_high_high_cluster_is_found() -> None:
    units = grid_units(6)
    result = spatial.spatial_autocorrelation(
        balance_frame(planted_values(6), years=(2015, 2020)), queen_neighbours(units), seed=0
    )
    assert len(result.global_moran) == 12  # 6 indicators × 2 years
    assert (result.global_moran["moran_i"] > 0.3).all()
    assert (result.global_moran["p_sim"] < 0.01).all()
    centre = result.lisa[result.lisa["unit"] == "r2c2"]
    assert set(centre["quadrant"]) == {"HH"}
    assert set(centre["cluster_zh"]) == {"高-高聚集"}
    assert set(centre["cluster_en"]) == {"High-High cluster"}
    hot = [f"r{r}c{c}" for r in range(1, 4) for c in range(1, 4)]
    found = result.lisa[result.lisa["quadrant"] == "HH"]["unit"]
    assert set(found) <= set(hot)  # no high-high unit outside the planted block
    assert set(result.lisa["quadrant"]) <= set(spatial.CLUSTERS) - {spatial.ISLAND}


def test_seeded_runs_repeat_and_leave_numpy_alone() -> None:
    frame = balance_frame(planted_values(5, seed=9))
    neighbours = queen_neighbours(grid_units(5))
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = spatial.spatial_autocorrelation(frame, neighbours, seed=5)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    second = spatial.spatial_autocorrelation(frame, neighbours, seed=5)
    pd.testing.assert_frame_equal(first.global_moran, second.global_moran)
    pd.testing.assert_frame_equal(first.lisa, second.lisa)
    other = spatial.spatial_autocorrelation(frame, neighbours, seed=6)
    assert not np.array_equal(other.lisa["p_sim"], first.lisa["p_sim"])


def test_islands_are_named_and_left_out() -> None:
    units = grid_units(4, island=True)
    values = planted_values(4) | {"island": 5.0}
    result = spatial.spatial_autocorrelation(
        balance_frame(values), queen_neighbours(units), seed=0, permutations=99
    )
    assert any("1 unit(s) without neighbours" in n and "island" in n for n in result.notes)
    assert set(result.global_moran["units"]) == {16}
    assert set(result.global_moran["islands"]) == {1}
    alone = result.lisa[result.lisa["unit"] == "island"]
    assert set(alone["quadrant"]) == {spatial.ISLAND}
    assert alone["local_i"].isna().all()


def test_too_few_units_are_skipped_with_a_note() -> None:
    units = grid_units(3)  # 9 units with neighbours, below the minimum of 10
    result = spatial.spatial_autocorrelation(
        balance_frame(planted_values(3)), queen_neighbours(units), seed=0
    )
    assert not result.computed
    assert result.lisa.empty
    assert list(result.global_moran.columns) == list(spatial.GLOBAL_COLUMNS)
    assert result.notes == (
        "note: spatial autocorrelation (Moran's I, LISA) skipped: 9 units with neighbours, "
        "fewer than the minimum of 10 (a permutation test on so few units means nothing)",
    )


def test_untestable_indicator_gets_a_note() -> None:
    frame = balance_frame(planted_values(4))
    frame["eec"] = 1.0  # every unit equal
    frame.loc[0, "sec"] = np.inf
    result = spatial.spatial_autocorrelation(
        frame, queen_neighbours(grid_units(4)), seed=0, permutations=99
    )
    assert set(result.global_moran["indicator"]) == {
        "emission_intensity", "sink_intensity", "balance", "compensation_rate"
    }  # fmt: skip
    assert "note: spatial autocorrelation of eec 2015 not computed: every unit equal" in (
        result.notes
    )
    assert any("sec 2015 not computed: values missing or not finite" in n for n in result.notes)


def test_pysal_loaded_alone_leaves_the_packages_importable() -> None:
    import sys

    numba_before = sys.modules.get("numba")
    weights, moran = spatial.load_pysal()
    assert sys.modules.get("numba") is numba_before  # put back as it was
    assert moran.Moran.__module__ == "esda.moran" and weights.W.__module__.startswith("libpysal")
    import esda
    import libpysal

    assert esda.Moran is moran.Moran  # the later full import reuses the loaded modules
    assert libpysal.weights.W is weights.W
