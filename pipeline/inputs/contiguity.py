"""The units' Queen contiguity (who borders whom), read off their polygons with libpysal.

The geometry lives here, at the edge; :mod:`pipeline.model.spatial` receives the plain
``unit -> neighbours`` mapping.
"""

from __future__ import annotations

import warnings

import geopandas as gpd

from pipeline.model.spatial import load_pysal


def queen_neighbours(units: gpd.GeoDataFrame) -> dict[str, list[str]]:
    """Each unit's Queen neighbours (units sharing a border or a corner), in ``units``' order.

    A unit without neighbours (an island, or a unit whose border no other unit's vertices
    meet) maps to an empty list. ``units`` has one row per unit (``unit, geometry``).
    """
    weights_module = load_pysal()[0]
    frame = units[["unit", "geometry"]].reset_index(drop=True)
    names = [str(unit) for unit in frame["unit"]]
    with warnings.catch_warnings():  # islands and disconnected parts: reported by the caller
        warnings.simplefilter("ignore")
        queen = weights_module.Queen.from_dataframe(frame, use_index=True, silence_warnings=True)
    return {names[i]: [names[j] for j in sorted(queen.neighbors.get(i, []))]
            for i in range(len(names))}  # fmt: skip
