"""Checks across inputs, run before the model: enough units, land in every unit, and which
raster holds unknown codes. Each raises one :class:`InputError` naming the file and the units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError


def check_several_units(names: Iterable[str], source: str | Path, hint: str = "") -> None:
    """Raise unless the study has at least two reporting units.

    EEC and SEC compare each unit's share of the study's GDP or sink with its share of the
    study's emission: with one unit both are 1 by definition, and its zone would be an
    artefact of the breaks rather than a finding.
    """
    names = sorted(set(names))
    if len(names) >= 2:
        return
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
        path, listed = next(iter(problems.items()))
        raise InputError(
            path,
            f"no land-use pixels inside unit(s) {'; '.join(listed)}: every pixel there is "
            "nodata or outside the raster; check the raster's extent and nodata value",
        )


def unknown_code_sources(
    areas: pd.DataFrame, known_codes: Iterable[int], rasters: Mapping[int, Path]
) -> str:
    """The raster file(s) holding codes outside the scheme, for the error message."""
    known = set(known_codes)
    years = sorted(set(areas.loc[~areas["code"].isin(known), "year"]))
    paths = [str(rasters[year]) for year in years if year in rasters]
    return ", ".join(paths) or ", ".join(str(p) for p in rasters.values())
