"""Versions of this package and of the packages that shaped the outputs (looked up once)."""

from __future__ import annotations

import platform
from functools import cache
from importlib import metadata

DISTRIBUTION = "carbon-balance-zoning"
MANIFEST_PACKAGES = (
    DISTRIBUTION,
    "numpy",
    "pandas",
    "geopandas",
    "shapely",
    "pyogrio",
    "rasterio",
    "pyproj",
    "matplotlib",
    "mapclassify",
    "openpyxl",
    "numba",
)


@cache
def version_of(name: str) -> str:
    """The installed version of distribution ``name`` (``"not installed"`` when absent)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def pipeline_version() -> str:
    """This package's installed version."""
    return version_of(DISTRIBUTION)


def package_versions(names: tuple[str, ...] = MANIFEST_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shaped the outputs."""
    return {"python": platform.python_version()} | {name: version_of(name) for name in names}
