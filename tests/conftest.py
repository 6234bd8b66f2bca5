"""Shared factory fixtures: small studies, tables and files written to ``tmp_path``.

Several modules' fixtures live here; each block says which tests use it.
"""

from __future__ import annotations

import shutil
import tomllib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline.api import run_study, write_outputs
from pipeline.outputs import labels
from pipeline.study import Study, load_study

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


# --- the bad-input corpus (bad inputs, outputs safety tests) ------------------------------

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "case.toml").is_file())

CRS = "EPSG:32648"
ORIGIN = (500_000.0, 3_001_000.0)  # top-left corner, metres
PIXEL_M = 100.0
SIZE = 20  # pixels per side: units A (left half) and B (right half)
CODES = (11, 21, 31, 41, 51)
NODATA = 255

TEMPLATES = {
    "rasters": """\
[study]
name = "corpus"
output_dir = "out"

[boundaries]
path = "units.gpkg"

[landuse]
rasters = { 2015 = "lu_2015.tif", 2020 = "lu_2020.tif" }

[statistics]
path = "statistics.csv"

[output]
maps = false
""",
    "areas": """\
[study]
name = "corpus"
output_dir = "out"

[landuse]
areas = "areas.csv"

[statistics]
path = "statistics.csv"

[output]
maps = false
""",
}
DEFAULT_RASTERS = [{"path": "lu_2015.tif"}, {"path": "lu_2020.tif"}]
DEFAULT_VECTORS = [{"path": "units.gpkg"}]
SENTINELS = {
    "data/processed/carbon_balance.csv": "sentinel: an earlier run's balance\n",
    "data/processed/zoning.csv": "sentinel: an earlier run's zoning\n",
    "data/processed/run.json": '{"sentinel": true}\n',
}


def _box(x0: float, x1: float, y0: float = 0.0, y1: float = SIZE) -> str:
    """WKT of a rectangle given in pixel columns/rows of the default grid."""
    west, east = ORIGIN[0] + x0 * PIXEL_M, ORIGIN[0] + x1 * PIXEL_M
    north, south = ORIGIN[1] - y0 * PIXEL_M, ORIGIN[1] - y1 * PIXEL_M
    return (
        f"POLYGON(({west} {south}, {east} {south}, {east} {north}, {west} {north}, {west} {south}))"
    )


DEFAULT_FEATURES = [
    {"name": "A", "box": [0, SIZE / 2]},
    {"name": "B", "box": [SIZE / 2, SIZE]},
]


def write_raster(root: Path, spec: dict[str, Any]) -> None:
    """A tiny land-use GeoTIFF.

    Keys: ``path``; ``crs`` (``""``: none); ``size``, ``pixel`` (m), ``origin`` ([x, y]);
    ``dtype``; ``nodata`` (``"none"``: undeclared); ``codes`` (cycled over the pixels);
    ``fill`` (one code everywhere); ``nodata_columns`` ([start, stop]); ``fraction`` (added
    to every code); ``bands``.
    """
    import rasterio
    from rasterio.transform import from_origin

    size, pixel = spec.get("size", SIZE), spec.get("pixel", PIXEL_M)
    origin = spec.get("origin", ORIGIN)
    rows, columns = np.indices((size, size))
    codes = np.asarray(spec.get("codes", CODES))
    data = codes[(rows + columns) % len(codes)].astype(float)
    if "fill" in spec:
        data[:] = spec["fill"]
    nodata = spec.get("nodata", NODATA)
    if "nodata_columns" in spec:
        start, stop = spec["nodata_columns"]
        data[:, int(start / (pixel / PIXEL_M)) : int(stop / (pixel / PIXEL_M))] = nodata
    data += spec.get("fraction", 0.0)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": spec.get("bands", 1),
        "dtype": spec.get("dtype", "uint8"),
        "transform": from_origin(origin[0], origin[1], pixel, pixel),
        "crs": spec.get("crs", CRS) or None,
        "nodata": None if nodata == "none" else nodata,
    }
    (root / spec["path"]).parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rasterio's NotGeoreferencedWarning for crs = ""
        with rasterio.open(root / spec["path"], "w", **profile) as dataset:
            for band in range(1, profile["count"] + 1):
                dataset.write(data.astype(profile["dtype"]), band)


def write_vector(root: Path, spec: dict[str, Any]) -> None:
    """A tiny vector file of units.

    Keys: ``path`` (driver from the extension); ``layer``; ``crs`` (``""``: none);
    ``features``: ``[{name = "A", box = [col0, col1]} | {name = "A", wkt = "..."}]``;
    ``field`` (name of the name field); ``encoding`` and ``cpg`` (Shapefiles).
    """
    import geopandas as gpd
    import shapely

    features = spec.get("features", DEFAULT_FEATURES)
    geometries = [shapely.from_wkt(f["wkt"] if "wkt" in f else _box(*f["box"])) for f in features]
    frame = gpd.GeoDataFrame(
        {spec.get("field", "name"): [f["name"] for f in features]},
        geometry=geometries,
        crs=spec.get("crs", CRS) or None,
    )
    path = root / spec["path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs: dict[str, Any] = {"engine": "pyogrio"}
    if path.suffix == ".gpkg":
        kwargs["layer"] = spec.get("layer", "units")
    if "encoding" in spec:
        kwargs["encoding"] = spec["encoding"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame.to_file(path, **kwargs)
    if spec.get("cpg", True) is False:
        path.with_suffix(".cpg").unlink(missing_ok=True)


_WORKBOOKS: dict[tuple[str, int], bytes] = {}


def write_workbook(root: Path, spec: dict[str, Any]) -> None:
    """The toy statistics as an .xlsx workbook, optionally padded into a zip bomb.

    Keys: ``path``; ``padding_mb``: a member of that many MiB of spaces added to the zip
    (deflated to about 1 KB per MiB), which the zip directory declares at its full size.
    Built once per process and copied (a 330 MiB bomb takes a second to deflate).
    """
    import io
    import zipfile

    key = (spec["path"], int(spec.get("padding_mb", 0)))
    if key not in _WORKBOOKS:
        buffer = io.BytesIO()
        TOY_STATISTICS.to_excel(buffer, index=False, engine="openpyxl")
        if key[1]:
            with (
                zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive,
                archive.open("xl/padding.xml", "w", force_zip64=True) as member,
            ):
                for _ in range(key[1]):
                    member.write(b" " * 2**20)
        _WORKBOOKS[key] = buffer.getvalue()
    (root / spec["path"]).parent.mkdir(parents=True, exist_ok=True)
    (root / spec["path"]).write_bytes(_WORKBOOKS[key])


def build_case(name: str, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Copy a case to ``tmp_path``, generate its inputs and sentinels; return the study."""
    root = tmp_path / name
    shutil.copytree(CORPUS / name, root)
    spec = tomllib.loads((root / "case.toml").read_text(encoding="utf-8"))
    study = root / "study.toml"
    if not study.exists():
        text = TEMPLATES[spec.get("template", "rasters")]
        for old, new in spec.get("replace", []):
            assert old in text, f"{name}: {old!r} not in the template"
            text = text.replace(old, new)
        study.write_text(text + spec.get("append", ""), encoding="utf-8")
    if not (root / "statistics.csv").exists() and spec.get("statistics", True):
        TOY_STATISTICS.to_csv(root / "statistics.csv", index=False)
    for workbook in spec.get("xlsx", []):
        write_workbook(root, workbook)
    if spec.get("template", "rasters") == "rasters" or "raster" in spec:
        for raster in spec.get("raster", DEFAULT_RASTERS):
            write_raster(root, raster)
        for vector in spec.get("vector", DEFAULT_VECTORS):
            write_vector(root, vector)
    for relative, text in SENTINELS.items():
        (root / "out" / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / "out" / relative).write_text(text, encoding="utf-8")
    _plant_special_files(root, spec)
    return study, spec


def _plant_special_files(root: Path, spec: dict[str, Any]) -> None:
    """The case's ``folders`` (made), ``symlinks`` ([link, target] pairs) and ``fifos``
    (named pipes), each replacing whatever file the case generated at that path."""
    import os

    for relative in spec.get("folders", []):
        (root / relative).mkdir(parents=True, exist_ok=True)
    for relative, target in spec.get("symlinks", []):
        (root / relative).unlink(missing_ok=True)
        (root / relative).symlink_to(target)
    for relative in spec.get("fifos", []):
        (root / relative).unlink(missing_ok=True)
        os.mkfifo(root / relative)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, hidden and temporary ones included."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


# --- the demo study's tables (maps, report, geopackage tests) -----------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEST_DPI = 30  # legibility is checked by eye at 300 dpi; tests only need every glyph drawn


def demo_study_file(root: Path, maps_section: str = "") -> Path:
    """The bundled Guiyang study from its area table, writing into ``root``."""
    raw = REPO / "data" / "raw"
    text = f"""\
[study]
name = "贵阳市碳平衡分区"
output_dir = "{root.as_posix()}"
reference = "{(raw / "reference" / "paper_table2.csv").as_posix()}"
reference_zoning = "{(raw / "reference" / "paper_table3.csv").as_posix()}"

[boundaries]
path = "{(raw / "guiyang_counties.gpkg").as_posix()}"
layer = "counties"
unit_field = "unit"

[landuse]
areas = "{(raw / "demo_landuse_targets.csv").as_posix()}"

[statistics]
path = "{(raw / "statistics.csv").as_posix()}"

{maps_section}
"""
    path = root / "study.toml"
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_demo_tables(root: Path, maps_section: str = "") -> Study:
    """Run the demo study's tables, GeoPackage and reproduction report into ``root``."""
    study = load_study(demo_study_file(root, maps_section))
    write_outputs(run_study(study))
    return study


def expected_stems(years: list[int]) -> set[str]:
    """Every figure the demo draws."""
    per_year = {f"{i.stem}_{year}" for i in labels.INDICATORS for year in years}
    return per_year | {"zoning", "eec_sec_scatter", "landuse_composition", "emission_sink_bars"}


# --- a grid study with a planted cluster (spatial statistics: api, outputs tests) -------

GRID_STUDY = """\
[study]
name = "网格 {side}×{side} (SYNTHETIC)"
output_dir = "out"

[boundaries]
path = "units.gpkg"

[landuse]
areas = "areas.csv"

[statistics]
path = "statistics.csv"

[output]
maps = false
{analysis}
"""


def grid_study(root: Path, side: int = 6, analysis: str = "") -> Path:
    """A SYNTHETIC ``side`` × ``side`` grid of square units, 1,000 ha each (half forest, half
    cropland), with a planted block of high energy use (rows and columns 1-3): a high-high
    cluster of emission intensity."""
    import geopandas as gpd
    import shapely

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(4)
    names, boxes, stats, areas = [], [], [], []
    for row in range(side):
        for col in range(side):
            name = f"r{row}c{col}"
            names.append(name)
            boxes.append(shapely.box(col * 3162.3, row * 3162.3, (col + 1) * 3162.3,
                                     (row + 1) * 3162.3))  # fmt: skip
            hot = 1 <= row <= 3 and 1 <= col <= 3
            for year in (2015, 2020):
                energy = (5e6 if hot else 2e5) * (1 + rng.random() / 5)
                stats.append({"unit": name, "year": year, "energy_tce": energy,
                              "population_10k": 10 + rng.random(),
                              "gdp_100m_yuan": 50 + 10 * rng.random()})  # fmt: skip
                areas += [{"unit": name, "year": year, "code": 11, "area_ha": 500.0},
                          {"unit": name, "year": year, "code": 21, "area_ha": 500.0}]  # fmt: skip
    frame = gpd.GeoDataFrame({"name": names}, geometry=boxes, crs="EPSG:32648")
    frame.to_file(root / "units.gpkg", engine="pyogrio")
    pd.DataFrame(stats).to_csv(root / "statistics.csv", index=False)
    pd.DataFrame(areas).to_csv(root / "areas.csv", index=False)
    study = root / "study.toml"
    study.write_text(GRID_STUDY.format(side=side, analysis=analysis), encoding="utf-8")
    return study


# --- a run paused at a stage, in a child process (outputs safety tests) -------------------

PAUSED_RUN_DRIVER = """\
import sys, time
from pipeline import api, cli
stage, argv = sys.argv[1], sys.argv[2:]

def pause():
    print(f"paused at {stage}", flush=True)
    time.sleep(60)

if stage == "zonal":
    tabulate = api.tabulate_areas
    def paused(*args, **kwargs):
        pause()
        return tabulate(*args, **kwargs)
    api.tabulate_areas = paused
else:
    from pipeline.outputs import manifest, write
    run_manifest = manifest.run_manifest
    def paused(*args, **kwargs):
        pause()
        return run_manifest(*args, **kwargs)
    write.run_manifest = paused
sys.exit(cli.main(argv))
"""
"""A ``python -c`` program: the CLI with ``argv``, pausing 60 s at ``stage`` (``zonal`` before
tabulating, ``write`` after staging every output but the manifest). The pause is patched in
here, by the test, not through a hook in the pipeline."""


def paused_run_command(stage: str, *argv: str) -> list[str]:
    """The command line of a run that pauses at ``stage`` (see :data:`PAUSED_RUN_DRIVER`)."""
    import sys

    return [sys.executable, "-c", PAUSED_RUN_DRIVER, stage, *argv]


# --- a slow tabulation and a commit killed at a chosen rename (outputs safety tests) ------

SLOW_TABULATION_DRIVER = """\
import sys, time
import dask
from pipeline import cli
from pipeline.zonal import schedulers
dask.config.set({"multiprocessing.context": "fork"})  # worker processes keep the patch below
delay_s, argv = float(sys.argv[1]), sys.argv[2:]
schedulers.STRIP_TARGET_PIXELS = 1  # one row per strip
started = []

def slowed(count):
    def slow(*args, **kwargs):
        if not started:
            started.append(True)
            print("counting", flush=True)
        time.sleep(delay_s)
        return count(*args, **kwargs)
    return slow

schedulers.count_rows = slowed(schedulers.count_rows)  # a strip of a Dask task
schedulers.count_strip = slowed(schedulers.count_strip)  # a strip of the thread pool
sys.argv[1:] = argv
cli.entry()
"""
"""A ``python -c`` program: the CLI with ``argv``, each strip (one raster row) taking ``delay_s``
longer to count; prints ``counting`` when the first strip starts (in Dask's worker processes
too: they are forked). Patched here, by the test."""

KILLED_COMMIT_DRIVER = """\
import os, signal, sys
from pipeline import cli
from pipeline.outputs import staging
kill_at, argv = int(sys.argv[1]), sys.argv[2:]

class KillingOs:
    calls = 0
    def __getattr__(self, name):
        return getattr(os, name)
    def replace(self, source, destination):
        KillingOs.calls += 1
        if KillingOs.calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return os.replace(source, destination)

staging.os = KillingOs()
sys.exit(cli.main(argv))
"""
"""A ``python -c`` program: the CLI with ``argv``, killed (SIGKILL) at the ``kill_at``-th rename
of the output commit. The fault is injected here, by the test, not through a pipeline hook."""


def driver_command(driver: str, *argv: str) -> list[str]:
    """The command line running one of the drivers above."""
    import sys

    return [sys.executable, "-c", driver, *argv]
