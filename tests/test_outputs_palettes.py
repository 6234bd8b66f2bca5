"""The indicators' colour ramps kept as data: the same colours as matplotlib's ramps."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.colors import to_hex

from pipeline.outputs import palettes
from pipeline.outputs.labels import INDICATORS


def test_every_indicator_ramp_is_kept_as_data() -> None:
    assert {indicator.cmap for indicator in INDICATORS} <= set(palettes.RAMPS)


@pytest.mark.parametrize("cmap", sorted(palettes.RAMPS))
def test_kept_ramps_are_matplotlibs_lookup_tables(cmap: str) -> None:
    assert palettes.RAMPS[cmap] == palettes.ramp_from_matplotlib(cmap)
    assert len(palettes.RAMPS[cmap]) == 6 * colormaps[cmap].N == 6 * palettes.LUT_SIZE


@pytest.mark.parametrize("cmap", sorted(palettes.RAMPS))
def test_colour_at_picks_what_matplotlib_picks(cmap: str) -> None:
    """Every position the classes use, each table entry's edges, both ends of the ramp."""
    edges = np.arange(palettes.LUT_SIZE + 1) / palettes.LUT_SIZE
    positions = [*np.linspace(0.0, 1.0, 2001), *edges, *np.nextafter(edges[1:], 0.0)]
    positions += [0.5, 0.05, 0.95, 0.62, 0.38, *np.linspace(0.2, 0.9, 7)]
    palette = colormaps[cmap]
    for position in positions:
        assert palettes.colour_at(cmap, float(position)) == to_hex(palette(float(position)))


def test_hand_read_colours() -> None:
    """OrRd's first colour is ColorBrewer's #fff7ec; RdBu_r at 1.0 is RdBu's first, #67001f."""
    assert palettes.colour_at("OrRd", 0.0) == "#fff7ec"
    assert palettes.colour_at("RdBu_r", 1.0) == "#67001f"


def test_other_ramps_come_from_matplotlib() -> None:
    assert "viridis" not in palettes.RAMPS
    assert palettes.colour_at("viridis", 0.3) == to_hex(colormaps["viridis"](0.3))


@pytest.mark.parametrize("position", [-0.1, 1.5, float("nan")])
def test_positions_outside_the_ramp_are_refused(position: float) -> None:
    with pytest.raises(ValueError, match="outside"):
        palettes.colour_at("OrRd", position)
