"""Shared factory fixtures: small studies, tables and files written to ``tmp_path``.

Several modules' fixtures live here; each block says which tests use it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]

# --- toy studies (study, statistics, balance, cli tests) --------------------------------

TOY_STATISTICS = pd.DataFrame(
    {
        "unit": ["A", "B", "A", "B"],
        "year": [2015, 2015, 2020, 2020],
        "population_10k": [10.0, 20.0, 12.0, 18.0],
        "gdp_100m_yuan": [100.0, 300.0, 150.0, 350.0],
        "energy_tce": [1000.0, 3000.0, 900.0, 2000.0],
    }
)
TOY_AREAS = pd.DataFrame(
    {
        "unit": ["A", "A", "A", "B", "B"] * 2,
        "year": [2015] * 5 + [2020] * 5,
        "code": [11, 21, 51, 41, 31] * 2,
        "area_ha": [100.0, 50.0, 50.0, 10.0, 1000.0, 90.0, 50.0, 60.0, 10.0, 1000.0],
    }
)
TOY_STUDY = """\
[study]
name = "toy"
output_dir = "out"

[landuse]
areas = "areas.csv"

[statistics]
path = "statistics.csv"
"""


@pytest.fixture
def toy_study(tmp_path: Path) -> Callable[..., Path]:
    """Factory: write a two-unit study (A, B; 2015, 2020) and return the study file.

    Keyword arguments replace the study text (``text=``), the statistics frame
    (``statistics=``) or the area frame (``areas=``); frames may also be raw CSV text.
    """

    def make(
        text: str = TOY_STUDY,
        statistics: pd.DataFrame | str | None = None,
        areas: pd.DataFrame | str | None = None,
        folder: str = "study",
    ) -> Path:
        root = tmp_path / folder
        root.mkdir(parents=True, exist_ok=True)
        for name, content, default in (
            ("statistics.csv", statistics, TOY_STATISTICS),
            ("areas.csv", areas, TOY_AREAS),
        ):
            content = default if content is None else content
            if isinstance(content, str):
                (root / name).write_text(content, encoding="utf-8")
            else:
                content.to_csv(root / name, index=False)
        study = root / "study.toml"
        study.write_text(text, encoding="utf-8")
        return study

    return make


# --- vector files (boundaries, demo tests) -----------------------------------------------


@pytest.fixture
def vector_file(tmp_path: Path) -> Callable[..., Path]:
    """Factory: write features to a vector file in ``tmp_path`` and return its path.

    ``features`` is a list of dicts with a ``geometry`` (shapely) and attribute fields;
    ``crs`` may be ``None`` (no CRS written); the driver follows the file extension.
    """
    import warnings

    import geopandas as gpd

    def make(
        features: list[dict],
        name: str = "units.gpkg",
        layer: str = "units",
        crs: str | None = "EPSG:32648",
    ) -> Path:
        path = tmp_path / name
        frame = gpd.GeoDataFrame(features, geometry="geometry", crs=crs)
        kwargs = {"layer": layer} if path.suffix == ".gpkg" else {}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="'crs' was not provided")
            frame.to_file(path, engine="pyogrio", **kwargs)
        return path

    return make


# --- land-use rasters and irregular units (zonal, rasters, benchmark tests) --------------


def _synthetic_inputs():
    """The seeded generators shared with ``benchmarks/zonal.py``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "synthetic_inputs", REPO / "benchmarks" / "synthetic_inputs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def landuse_raster(tmp_path: Path) -> Callable[..., Path]:
    """Factory: write a seeded uint8 land-use raster and return its path.

    ``landuse_raster(pixels=200, name="lu.tif", **kwargs)``; keyword arguments go to
    ``synthetic_inputs.write_landuse`` (``transform``, ``crs``, ``seed``, ``nodata``,
    ``nodata_corner``, ``driver``).
    """
    synthetic = _synthetic_inputs()

    def make(pixels: int = 200, name: str = "landuse.tif", **kwargs: object) -> Path:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        return synthetic.write_landuse(tmp_path / name, pixels, **kwargs)

    return make


@pytest.fixture
def irregular_units() -> Callable[..., object]:
    """Factory: ``irregular_units(n_units, pixels, transform=None, seed=0)`` → GeoDataFrame
    of wiggly non-overlapping polygons covering most of a ``pixels``-square grid."""
    synthetic = _synthetic_inputs()

    def make(n_units: int = 8, pixels: int = 200, transform: object = None, seed: int = 0):
        transform = transform or synthetic.grid_transform(pixels)
        return synthetic.irregular_units(n_units, transform, pixels, seed=seed)

    return make
