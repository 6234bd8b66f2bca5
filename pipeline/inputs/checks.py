"""Checks across inputs, run before the model: enough units, statistics for every unit and
year, the same units in boundaries and area table, land in every unit, and which raster holds
unknown codes. Each raises one :class:`InputError` listing every problem it found.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pipeline.errors import InputError, PipelineWarning, problems_shown
from pipeline.inputs import rasters as raster_files
from pipeline.inputs import statistics
from pipeline.inputs.boundaries import SHAPEFILE_SIDECARS
from pipeline.inputs.names import unmatched_problems
from pipeline.runtime.files import sha256
from pipeline.study.settings import Study


def check_several_units(names: Iterable[str], source: str | Path, hint: str = "") -> None:
    """Raise unless the study has at least two reporting units.

    EEC and SEC compare each unit's share of the study's GDP or sink with its share of the
    study's emission: with one unit both are 1 by definition, and its zone would be an
    artefact of the breaks rather than a finding.
    """
    names = sorted(set(names))
    if len(names) >= 2:
        return
    if not names:
        raise InputError(source, "no features: the layer or table holds no reporting units")
    which = f" ({names[0]!r})" if names else ""
    raise InputError(
        source,
        f"only one reporting unit{which}: EEC and SEC compare each unit with the study's "
        "total, so with a single unit both are 1 by definition and the zoning says nothing; "
        f"give the units to compare (e.g. the counties of a city){hint}",
    )


def check_land_in_every_unit(
    areas: pd.DataFrame, names: Iterable[str], rasters: Mapping[int, Path]
) -> None:
    """Raise when a unit has no land-use pixels in a year's raster (nodata or outside).

    ``areas`` has columns ``unit, year, area_ha``; ``rasters`` maps each year to its file.
    """
    present = areas.loc[areas["area_ha"] > 0, ["unit", "year"]].drop_duplicates()
    found = set(zip(present["unit"], present["year"], strict=True))
    problems: dict[Path, list[str]] = {}
    for year, path in rasters.items():
        empty = [name for name in sorted(set(names)) if (name, year) not in found]
        if empty:
            problems.setdefault(path, []).append(", ".join(map(repr, empty)))
    if problems:
        raise InputError.combined(
            InputError(
                path,
                f"no land-use pixels inside unit(s) {'; '.join(listed)}: every pixel there is "
                "nodata or outside the raster; check the raster's extent and nodata value",
            )
            for path, listed in problems.items()
        )


def unknown_code_sources(
    areas: pd.DataFrame, known_codes: Iterable[int], rasters: Mapping[int, Path]
) -> str:
    """The raster file(s) holding codes outside the scheme, for the error message."""
    known = set(known_codes)
    years = sorted(set(areas.loc[~areas["code"].isin(known), "year"]))
    paths = [str(rasters[year]) for year in years if year in rasters]
    return ", ".join(paths) or ", ".join(str(p) for p in rasters.values())


def shared_raster_files(rasters: Mapping[int, Path]) -> list[str]:
    """One line per pair of years whose rasters are one file (same path) or equal (checksum).

    Checksums are computed only for files of equal size (and are remembered for the cache
    key and the manifest).
    """
    years = sorted(rasters)
    lines = []
    for index, first in enumerate(years):
        for second in years[index + 1 :]:
            a, b = Path(rasters[first]), Path(rasters[second])
            if a.resolve() == b.resolve():
                lines.append(
                    f"years {first} and {second} use the same raster file {a}: their land use "
                    "is identical"
                )
            elif _same_content(a, b):
                lines.append(
                    f"the rasters of {first} ({a}) and {second} ({b}) are identical "
                    f"(SHA-256 {sha256(a)[:12]}): their land use is identical"
                )
    return lines


def _same_content(a: Path, b: Path) -> bool:
    if a.is_file() != b.is_file() or not a.exists() or not b.exists():
        return False
    if a.is_file() and a.stat().st_size != b.stat().st_size:
        return False
    return sha256(a) == sha256(b)


def input_files(study: Study) -> dict[str, Path]:
    """Every input file of the study by role (for checksums and the manifest)."""
    files = {"statistics": study.statistics_path}
    if study.boundaries is not None:
        files["boundaries"] = study.boundaries.path
        if study.boundaries.path.suffix.lower() == ".shp":
            for suffix in SHAPEFILE_SIDECARS[1:]:
                if study.boundaries.path.with_suffix(suffix).is_file():
                    files[f"boundaries{suffix}"] = study.boundaries.path.with_suffix(suffix)
    if study.landuse.areas is not None:
        files["landuse_areas"] = study.landuse.areas
    files |= {f"landuse_{year}": path for year, path in study.landuse.rasters.items()}
    if isinstance(study.landuse.scheme, Path):
        files["landuse_scheme"] = study.landuse.scheme
    for role in ("reference", "reference_zoning", "reference_notes"):
        path = getattr(study, role)
        if path is not None:
            files[role] = path
    return files


def study_units(
    study: Study, units: gpd.GeoDataFrame | None, areas: pd.DataFrame
) -> tuple[list[str], str]:
    """The study's unit names and a description of where they come from."""
    if units is not None:
        return sorted(units["unit"]), f"the boundaries {study.boundaries.path.name}"  # type: ignore[union-attr]
    return sorted(areas["unit"].unique()), f"the area table {study.landuse.areas.name}"  # type: ignore[union-attr]


def check_area_table_units(
    study: Study, units: gpd.GeoDataFrame | None, areas: pd.DataFrame
) -> None:
    """With both boundaries and an area table, both must name the same units."""
    if units is None or study.landuse.areas is None:
        return
    boundary_units, table_units = set(units["unit"]), set(areas["unit"])
    suggest = problems_shown()
    problems = unmatched_problems(
        sorted(table_units - boundary_units),
        boundary_units,
        "unit {name} is not in the boundaries",
        suggest,
    )
    problems += unmatched_problems(
        sorted(boundary_units - table_units),
        table_units,
        "unit {name} of the boundaries has no rows",
        max(0, suggest - len(problems)),
    )
    if problems:
        raise InputError(study.landuse.areas, problems)


def check_units_before_tabulation(
    study: Study, stats: pd.DataFrame, units: gpd.GeoDataFrame | None
) -> None:
    """With boundaries: at least two units, and (for rasters) statistics for each unit and
    year, checked before the long tabulation."""
    if units is None:
        return
    settings = study.boundaries
    assert settings is not None
    hint = (
        f"; [boundaries] unit_field = {settings.unit_field!r} puts every feature in one unit"
        if settings.unit_field
        else ""
    )
    check_several_units(units["unit"], settings.path, hint)
    if study.landuse.rasters:
        statistics.check_coverage(
            stats,
            units["unit"],
            study.years,
            source=study.statistics_path,
            units_source=f"the boundaries {settings.path.name}",
        )


def warn_nodata_is_a_code(
    study: Study, classes: Mapping[int, str], fallback_nodata: int | None
) -> None:
    """Warn when a raster's nodata (declared in the file, else ``fallback_nodata``: the
    study's or the scheme's) is a code of the scheme: every pixel of that land class would be
    dropped as nodata."""
    for path in study.landuse.rasters.values():
        declared = raster_files.read_info(path).nodata
        where = "declared in the file"
        if declared is None and fallback_nodata is not None:
            declared, where = fallback_nodata, "the study's or the scheme's nodata"
        if declared is None or not float(declared).is_integer():
            continue
        code = int(declared)
        if code in classes:
            warnings.warn(
                f"{path}: nodata = {code} ({where}) is also land-use code {code} "
                f"({classes[code]}) of the scheme; every pixel of that code is dropped as no "
                "data. If it is land, give the raster another nodata value",
                PipelineWarning,
                stacklevel=2,
            )
