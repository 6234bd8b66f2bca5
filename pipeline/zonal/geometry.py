"""Units on a raster's grid: reprojection, coverage, pixel edges and boxes, the counting mode."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from pipeline.errors import InputError, PipelineWarning
from pipeline.inputs.rasters import RasterInfo, row_areas_m2
from pipeline.zonal.jobs import AUTO_EXACT_BOUNDARY_SHARE, GridJob, Layer

_FULL_COVER_SHARE = 1.0 - 1e-6


def to_crs_of_grid(
    units: gpd.GeoDataFrame,
    crs: Any,
    *,
    raster_path: str | Path = "raster",
) -> gpd.GeoDataFrame:
    """Reproject the units to the raster's CRS (the raster itself is never resampled).

    Parameters
    ----------
    units
        Reporting units with a CRS.
    crs
        The raster's CRS (rasterio or pyproj CRS, WKT, ``EPSG:...``); ``None`` is an error.
    raster_path
        The raster, for the message.
    """
    if crs is None or not str(crs):
        raise InputError(raster_path, "raster has no CRS; assign one (gdal_edit.py -a_srs ...)")
    target = CRS.from_wkt(crs.to_wkt()) if hasattr(crs, "to_wkt") else CRS.from_user_input(crs)
    return units.to_crs(target)


def check_raster_coverage(
    units: gpd.GeoDataFrame,
    raster_bounds: tuple[float, float, float, float],
    raster_path: str | Path,
) -> dict[str, float]:
    """Share of each unit (in %) inside the raster extent; units in the raster's CRS.

    Raises
    ------
    InputError
        Naming the units that lie completely outside the raster.

    Warns
    -----
    PipelineWarning
        For units partly outside, with the covered share in %.
    """
    geometries = units.geometry.to_numpy()
    _, share = clip_to_extent(geometries, raster_bounds)
    return _report_coverage(units["unit"].tolist(), share, raster_bounds, raster_path)


def clip_to_extent(
    geometries: np.ndarray, bounds: tuple[float, float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """The parts of ``geometries`` inside ``bounds`` and the covered share of each (0..1).

    Units whose bounding box lies inside the extent are kept as they are (share 1): only
    the units crossing the extent's edge are intersected with it.
    """
    b = shapely.bounds(geometries)
    with np.errstate(invalid="ignore"):  # empty geometries have NaN bounds
        inside = (
            (b[:, 0] >= bounds[0])
            & (b[:, 1] >= bounds[1])
            & (b[:, 2] <= bounds[2])
            & (b[:, 3] <= bounds[3])
        )
    clipped = geometries.copy()
    share = np.ones(len(geometries))
    crossing = np.flatnonzero(~inside)
    if len(crossing):
        parts = shapely.intersection(geometries[crossing], shapely.box(*bounds))
        area = shapely.area(geometries[crossing])
        covered = shapely.area(parts)
        share[crossing] = np.divide(covered, area, out=np.zeros_like(area), where=area > 0)
        clipped[crossing] = parts
    return clipped, share


def _report_coverage(
    names: list[str],
    share: np.ndarray,
    raster_bounds: tuple[float, float, float, float],
    raster_path: str | Path,
) -> dict[str, float]:
    """Raise for units wholly outside the raster, warn for those partly outside."""
    outside = [name for name, s in zip(names, share, strict=True) if s <= 0.0]
    if outside:
        raise InputError(
            raster_path,
            f"units completely outside the raster extent {tuple(raster_bounds)}: "
            + ", ".join(map(repr, outside)),
        )
    partial = [
        f"{n!r} {100 * s:.1f} %" for n, s in zip(names, share, strict=True) if s < _FULL_COVER_SHARE
    ]
    if partial:
        warnings.warn(
            f"{raster_path}: units only partly inside the raster (covered share): "
            + ", ".join(partial),
            PipelineWarning,
            stacklevel=3,
        )
    return {name: 100.0 * float(s) for name, s in zip(names, share, strict=True)}


def prepare_job(
    units: gpd.GeoDataFrame, infos: Mapping[int, RasterInfo], nodata: int | None, mode: str
) -> GridJob:
    """Reproject and clip the units to one grid and decide the mode."""
    grid = next(iter(infos.values()))
    projected = to_crs_of_grid(units, grid.crs, raster_path=grid.path)
    bounds = _grid_bounds(grid)
    geometries = _valid(projected.geometry.to_numpy())
    geometries, share = clip_to_extent(geometries, bounds)
    paths = ", ".join(str(i.path) for i in infos.values())
    _report_coverage(units["unit"].astype(str).tolist(), share, bounds, paths)
    geometries = shapely.orient_polygons(geometries)  # shells counter-clockwise, holes clockwise
    chosen = _choose_mode(geometries, grid) if mode == "auto" else mode
    return GridJob(
        layers=tuple(_layer(year, info, nodata) for year, info in infos.items()),
        width=grid.width,
        height=grid.height,
        transform=grid.transform,
        mode=chosen,
        geometries=geometries,
        pixel_boxes=_pixel_boxes(geometries, grid),
        edges=pixel_edges(geometries, grid),
        row_area_m2=row_areas_m2(grid),
        track_area=bool(grid.crs.is_geographic),
        block_height=grid.block_height,
        block_width=grid.block_width,
    )


def _valid(geometries: np.ndarray) -> np.ndarray:
    """``make_valid`` applied to the invalid geometries only (reprojection can fold a ring)."""
    invalid = np.flatnonzero(~shapely.is_valid(geometries))
    if len(invalid) == 0:
        return geometries
    repaired = geometries.copy()
    repaired[invalid] = shapely.make_valid(geometries[invalid])
    return repaired


def _layer(year: int, info: RasterInfo, nodata: int | None) -> Layer:
    declared = info.nodata
    return Layer(
        year=year,
        path=info.path,
        source=info.gdal_path,
        nodata=declared if declared is not None else nodata,
        is_float=info.is_float,
    )


def _grid_bounds(info: RasterInfo) -> tuple[float, float, float, float]:
    t = info.transform
    xs = (t.c, t.c + t.a * info.width)
    ys = (t.f, t.f + t.e * info.height)
    return (min(xs), min(ys), max(xs), max(ys))


def _pixel_boxes(geometries: np.ndarray, info: RasterInfo) -> np.ndarray:
    """Pixel bounding box of each unit: col_min, row_min, col_max, row_max (exclusive)."""
    t = info.transform
    b = shapely.bounds(geometries)
    cols = (b[:, [0, 2]] - t.c) / t.a
    rows = (b[:, [1, 3]] - t.f) / t.e
    boxes = np.column_stack(
        [
            np.floor(cols.min(axis=1)),
            np.floor(rows.min(axis=1)),
            np.ceil(cols.max(axis=1)),
            np.ceil(rows.max(axis=1)),
        ]
    )
    boxes = np.nan_to_num(boxes, nan=0.0)  # empty geometries
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, info.width)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, info.height)
    return boxes.astype(np.int64)


def pixel_edges(geometries: np.ndarray, info: RasterInfo) -> tuple[np.ndarray, ...]:
    """Polygon edges of each unit in pixel coordinates (col, row), as rows of x0, y0, x1, y1.

    All units at once: one array of ring coordinates, split per unit at the end.
    """
    parts, unit_of_part = shapely.get_parts(geometries, return_index=True)
    rings, part_of_ring = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    t = info.transform
    # GDAL's inverse geotransform, term for term, so pixel centres lying on an edge fall on
    # the same side as in GDAL's rasterize of the whole grid
    cols = (-t.c / t.a + coords[:, 0] * (1.0 / t.a)).clip(0, info.width)
    rows = (-t.f / t.e + coords[:, 1] * (1.0 / t.e)).clip(0, info.height)
    same_ring = ring_of[:-1] == ring_of[1:]
    edges = np.column_stack(
        [cols[:-1][same_ring], rows[:-1][same_ring], cols[1:][same_ring], rows[1:][same_ring]]
    )
    unit_of_edge = unit_of_part[part_of_ring[ring_of[:-1][same_ring]]]
    stops = np.searchsorted(unit_of_edge, np.arange(1, len(geometries)))
    return tuple(np.split(edges, stops))


def _choose_mode(geometries: np.ndarray, info: RasterInfo) -> str:
    """``exact`` when some unit's boundary pixels exceed the auto share of its pixels."""
    pixel_size = min(abs(info.transform.a), abs(info.transform.e))
    pixel_area = abs(info.transform.a * info.transform.e)
    unit_pixels = shapely.area(geometries) / pixel_area
    # a boundary of length L pixels crosses about 1.27 L cells (mean |cos| + |sin|)
    boundary_pixels = 1.27 * shapely.length(geometries) / pixel_size
    keep = unit_pixels > 0
    if not keep.any():
        return "centre"
    share = boundary_pixels[keep] / unit_pixels[keep]
    return "exact" if share.max() > AUTO_EXACT_BOUNDARY_SHARE else "centre"
