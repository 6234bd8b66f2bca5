"""The bad-input corpus: one small study per folder of ``tests/bad_inputs/``, one defect each.

Each case folder holds a ``case.toml`` and, where the case needs them, text inputs
(``study.toml``, ``statistics.csv``, ``areas.csv``, ...). Rasters and vector files are
generated here from the case's spec, so no binaries are committed:

```toml
expect = "error"                    # or "ok"
message = ["lu_2015.tif", "no CRS"]  # substrings the message on stderr must contain
template = "rasters"                # study.toml from a template when the folder has none
append = "..."                      # text appended to the template
raster = [{ path = "lu_2015.tif", crs = "" }]   # see write_raster for the keys
vector = [{ path = "units.gpkg" }]               # see write_vector for the keys
```

Every case runs ``carbon-zoning run`` into an ``out/data/processed/`` pre-seeded with sentinel
outputs. An error case must exit non-zero without a traceback, with a message naming the file
and the culprit, and leave the sentinels byte-identical and no temporary files behind.
"""

from __future__ import annotations

import shutil
import tomllib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import TOY_STATISTICS

from pipeline.cli import main

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
    if spec.get("template", "rasters") == "rasters" or "raster" in spec:
        for raster in spec.get("raster", DEFAULT_RASTERS):
            write_raster(root, raster)
        for vector in spec.get("vector", DEFAULT_VECTORS):
            write_vector(root, vector)
    for relative, text in SENTINELS.items():
        (root / "out" / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / "out" / relative).write_text(text, encoding="utf-8")
    return study, spec


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, hidden and temporary ones included."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_corpus_is_large_enough() -> None:
    assert len([c for c in CASES if not c.startswith("ok_")]) >= 30


@pytest.mark.parametrize("case", CASES)
def test_case(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    study, spec = build_case(case, tmp_path)
    processed = study.parent / "out" / "data" / "processed"
    before = snapshot(processed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = main(["run", str(study), "--force"])
    out, err = capsys.readouterr()
    warned = " ".join(str(w.message) for w in caught)
    assert "Traceback" not in err + out
    if spec["expect"] == "ok":
        assert status == 0, err
        assert snapshot(processed) != before
        balance = pd.read_csv(processed / "carbon_balance.csv", encoding="utf-8-sig")
        assert sorted(zip(balance["unit"], balance["year"], strict=True)) == [
            ("A", 2015), ("A", 2020), ("B", 2015), ("B", 2020)
        ]  # fmt: skip
        for fragment in spec.get("warning", []):
            assert fragment in warned, warned
        return
    assert status != 0
    assert err.startswith("error: ")
    for fragment in spec["message"]:
        assert fragment in err, f"{fragment!r} not in the message:\n{err}"
    assert snapshot(processed) == before


@pytest.mark.parametrize("case", [c for c in CASES if not c.startswith("ok_")])
def test_validate_reports_the_case(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``carbon-zoning validate`` finds the same problem and writes nothing."""
    study, spec = build_case(case, tmp_path)
    before = snapshot(study.parent / "out")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["validate", str(study)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for fragment in spec["message"]:
        assert fragment in err, f"{fragment!r} not in the message:\n{err}"
    assert snapshot(study.parent / "out") == before
