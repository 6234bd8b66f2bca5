"""Issue 11: the outputs opened in the programs readers use — QGIS, LibreOffice Calc, Chromium.

A demo run of the CLI (``carbon-zoning run``, the bundled Guiyang study from its area table)
writes the outputs once; then, each as a subprocess,

- ``tests/programs/qgis_inspect.py`` under the SYSTEM ``/usr/bin/python3`` with Debian's
  ``python3-qgis`` opens every layer of ``carbon_balance.gpkg``, loads its default style and
  renders each spatial layer to PNG;
- ``tests/programs/calc_check.py`` converts ``carbon_balance.xlsx`` with headless LibreOffice
  to PDF (first page to PNG with ``pdftoppm``) and back to .xlsx;
- ``tests/programs/report_shot.py`` screenshots ``report.html`` in headless Chromium at
  1400 px and measures its layout.

A test skips, with the reason, when its program is absent (``.ci/run`` installs them when it
can). Issue 11's acceptance checks are among them: no GDAL warning in QGIS, shared and
contiguous graduated classes, aliases, the label font, the workbook opening on ``zoning`` and
one page wide, and the report's maps at least 1,000 px wide at 1,400 px.
The PNGs and JSON stay in the test's temporary folder for a person to look at.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from conftest import demo_study_file
from matplotlib import image

from pipeline.outputs.labels import INDICATORS

REPO = Path(__file__).resolve().parents[1]
PROGRAMS = REPO / "tests" / "programs"
SYSTEM_PYTHON = Path("/usr/bin/python3")
YEARS = (2015, 2020)
SPATIAL = ("units", *(f"balance_{year}" for year in YEARS))
ATTRIBUTE_TABLES = ("carbon_balance", "landuse_areas", "statistics", "coefficients")
ZONES = ("intensity_control", "budget_balance", "sink_function", "low_carbon_optimisation")
CJK_FAMILY = "Noto Sans CJK SC"
REPORT_WIDTH = 1400
GDAL_STDERR = re.compile(r"^(Warning|ERROR) \d+:", re.MULTILINE)


def _run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


# --------------------------------------------------------------------------- the outputs


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``carbon-zoning run`` of the bundled study (from its area table) into a temporary folder."""
    root = tmp_path_factory.mktemp("real_programs")
    study = demo_study_file(root)  # the bundled study from its area table
    script = Path(sys.executable).with_name("carbon-zoning")
    cli = [str(script)] if script.is_file() else [sys.executable, "-m", "pipeline"]
    done = _run([*cli, "run", str(study)], cwd=root, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return root / "data" / "processed"


# --------------------------------------------------------------------------- QGIS


def _qgis_environment(home: Path) -> dict[str, str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    environment.update(
        QGIS_PREFIX_PATH="/usr",
        QT_QPA_PLATFORM="offscreen",
        XDG_RUNTIME_DIR=str(runtime),
        HOME=str(home),
    )
    return environment


def _bundled_font() -> Path | None:
    """The Noto Sans CJK SC file the maps use (shipped by the ``mplfonts`` package)."""
    try:
        path = Path(str(resources.files("mplfonts") / "fonts" / "NotoSansCJKsc-Regular.otf"))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


@pytest.fixture(scope="module")
def qgis(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What PyQGIS saw in ``carbon_balance.gpkg`` (``qgis_inspect.py``'s JSON)."""
    home = tmp_path_factory.mktemp("qgis")
    environment = _qgis_environment(home)
    if not SYSTEM_PYTHON.is_file():
        pytest.skip(f"needs PyQGIS: no {SYSTEM_PYTHON}")
    probe = _run([str(SYSTEM_PYTHON), "-c", "import qgis.core"], env=environment, timeout=60)
    if probe.returncode != 0:
        pytest.skip("needs PyQGIS in the system Python: apt-get install -y qgis python3-qgis")
    outputs = request.getfixturevalue("outputs")  # only once the program is known to be here
    command = [
        str(SYSTEM_PYTHON),
        str(PROGRAMS / "qgis_inspect.py"),
        str(outputs / "carbon_balance.gpkg"),
        str(home / "png"),
    ]
    if (font := _bundled_font()) is not None:
        command += ["--font", str(font)]
    done = _run(command, env=environment, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    report["stderr"] = done.stderr
    (home / "qgis.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
    return report


def _messages(layer: dict) -> list[dict]:
    return [
        m
        for key in ("open_messages", "style_messages", "render_messages")
        for m in layer.get(key, [])
    ]


def _pixels(path: str) -> np.ndarray:
    return image.imread(path)[..., :3]


def test_qgis_opens_every_layer(qgis: dict) -> None:
    layers = qgis["layers"]
    assert set(layers) >= {*SPATIAL, *ATTRIBUTE_TABLES}
    assert all(layer["valid"] for layer in layers.values()), [
        n for n, v in layers.items() if not v["valid"]
    ]
    for name in SPATIAL:
        assert layers[name]["spatial"] and layers[name]["feature_count"] == 5, name
        assert layers[name]["crs"] == "EPSG:4326"
    for name in ATTRIBUTE_TABLES:
        assert not layers[name]["spatial"] and layers[name]["feature_count"] > 0, name
        assert layers[name]["style_loaded"], (name, layers[name]["style_message"])
    assert layers["carbon_balance"]["feature_count"] == 5 * len(YEARS)


def test_qgis_loads_the_default_style_of_each_spatial_layer(qgis: dict) -> None:
    layers = qgis["layers"]
    for name in SPATIAL:
        assert layers[name]["style_loaded"], (name, layers[name]["style_message"])
        assert [s["name"] for s in layers[name]["database_styles"]] == [name]
        assert layers[name]["labels"] and layers[name]["label_field"] == "unit"
    units = layers["units"]
    assert units["renderer"] == "categorizedSymbol" and units["attribute"] == "zone"
    assert [c["value"] for c in units["categories"]] == list(ZONES)
    for year in YEARS:
        balance = layers[f"balance_{year}"]
        assert balance["renderer"] == "graduatedSymbol" and balance["attribute"] == "balance_t"
        ranges = balance["ranges"]
        assert len(ranges) >= 2 and all(r["lower"] <= r["upper"] for r in ranges)
        assert [r["lower"] for r in ranges] == sorted(r["lower"] for r in ranges)


def test_qgis_renders_each_spatial_layer(qgis: dict) -> None:
    for name in SPATIAL:
        layer = qgis["layers"][name]
        assert layer["render_errors"] == [] and layer["png"], name
        pixels = _pixels(layer["png"])
        white = (pixels > 0.98).all(axis=-1).mean()
        assert 0.05 < white < 0.95, f"{name}: {white:.0%} of the render is white"
        rgb = (pixels[::4, ::4] * 255).astype(np.uint32)
        colours = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2])
        assert len(colours) > 5, f"{name}: the render has {len(colours)} colours"


def test_qgis_opens_without_a_gdal_warning(qgis: dict) -> None:
    said = [m["text"] for m in qgis["dataset_messages"]]
    said += [m["text"] for layer in qgis["layers"].values() for m in _messages(layer)]
    said += GDAL_STDERR.findall(qgis["stderr"])
    assert said == []


def test_qgis_balance_years_render_differently(qgis: dict) -> None:
    first, second = (_pixels(qgis["layers"][f"balance_{year}"]["png"]) for year in YEARS)
    assert first.shape == second.shape
    assert (np.abs(first - second).max(axis=-1) > 0.05).mean() > 0.01


def test_qgis_graduated_ranges_are_contiguous_and_shared_across_years(qgis: dict) -> None:
    per_year = [qgis["layers"][f"balance_{year}"]["ranges"] for year in YEARS]
    for ranges in per_year:
        assert all(r["lower"] < r["upper"] for r in ranges)
        assert all(a["upper"] == b["lower"] for a, b in itertools.pairwise(ranges))
    bounds = [[(r["lower"], r["upper"], r["label"]) for r in ranges] for ranges in per_year]
    assert all(b == bounds[0] for b in bounds)


def test_qgis_field_aliases_are_present(qgis: dict) -> None:
    for name in SPATIAL:
        aliases = qgis["layers"][name]["aliases"]
        assert {"unit", "zone"} <= set(aliases), (name, aliases)
    assert {"balance_t", "emission_t", "sink_t"} <= set(qgis["layers"]["balance_2015"]["aliases"])
    assert qgis["layers"]["carbon_balance"]["aliases"]["zone_zh"] == "碳平衡分区"


def test_qgis_shows_numbers_with_the_stored_precision(qgis: dict) -> None:
    for name in ("balance_2015", "carbon_balance"):
        shown = qgis["layers"][name]["first_feature_display"]
        decimals = {field: len(shown[field].partition(".")[2]) for field in shown}
        assert decimals["area_ha"] == 1 and decimals["balance_t"] == 0, (name, shown)
        assert decimals["eec"] == 3 and decimals["energy_tce"] == 0, (name, shown)


def test_qgis_labels_use_the_bundled_font(qgis: dict) -> None:
    if _bundled_font() is None:
        pytest.skip("the mplfonts package (Noto Sans CJK SC) is not installed")
    assert any(CJK_FAMILY in families for families in qgis["fonts"].values())
    for name in SPATIAL:
        layer = qgis["layers"][name]
        font = (layer["font_requested"], layer["font_found"], layer["font_family"])
        assert font == (CJK_FAMILY, True, CJK_FAMILY), name


# --------------------------------------------------------------------------- LibreOffice


@pytest.fixture(scope="module")
def calc(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What headless LibreOffice made of ``carbon_balance.xlsx`` (``calc_check.py``'s JSON)."""
    if shutil.which("soffice") is None and shutil.which("libreoffice") is None:
        pytest.skip("needs LibreOffice: apt-get install -y libreoffice-calc")
    outputs = request.getfixturevalue("outputs")
    out = tmp_path_factory.mktemp("calc")
    command = [
        sys.executable,
        str(PROGRAMS / "calc_check.py"),
        str(outputs / "carbon_balance.xlsx"),
        str(out),
    ]
    done = _run(command, timeout=300, env={**os.environ, "HOME": str(out)})
    report = json.loads(done.stdout)
    (out / "calc.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
    return report


def test_libreoffice_converts_the_workbook_without_repair(calc: dict) -> None:
    for conversion in ("pdf", "xlsx"):
        result = calc[conversion]
        assert result["ok"], (conversion, result)
    assert list(calc["original"]["sheets"]) == ["zoning", "carbon_balance", "landuse_areas", "说明"]
    assert calc["same_sheets"] and all(calc["same_cells"].values()), calc["same_cells"]
    assert calc["ok"]
    assert calc["pdf_pages"] is None or calc["pdf_pages"] >= 1


def test_libreoffice_first_page_renders(calc: dict) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("needs pdftoppm: apt-get install -y poppler-utils")
    pixels = _pixels(calc["page1_png"])
    assert (pixels < 0.5).all(axis=-1).mean() > 0.001, "the first page has no text"


def test_workbook_opens_on_zoning(calc: dict) -> None:
    assert calc["opens_on"] == "zoning"


def test_libreoffice_keeps_the_layout(calc: dict) -> None:
    for name in ("zoning", "carbon_balance", "landuse_areas"):
        sheet = calc["round_trip"]["sheets"][name]
        assert sheet["orientation"] == "landscape", name
        assert sheet["column_widths"], name
    if shutil.which("pdftotext") is None:
        pytest.skip("needs pdftotext: apt-get install -y poppler-utils")
    # fitted to the page width: carbon_balance's first and last columns on one page (was 3)
    pdf = calc["pdf"]["output"]
    pages = [
        _run(["pdftotext", "-f", str(n), "-l", str(n), "-layout", pdf, "-"]).stdout
        for n in range(1, (calc["pdf_pages"] or 1) + 1)
    ]
    balance = [page for page in pages if "碳收支(t)" in page]
    assert balance and all("碳平衡分区(英文)" in page for page in balance)


# --------------------------------------------------------------------------- Chromium


@pytest.fixture(scope="module")
def report_layout(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``report.html`` in headless Chromium at 1400 px (``report_shot.py``'s JSON)."""
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    if not any(shutil.which(name) for name in names):
        pytest.skip("needs Chromium: apt-get install -y chromium")
    outputs = request.getfixturevalue("outputs")
    out = tmp_path_factory.mktemp("report")
    command = [
        sys.executable,
        str(PROGRAMS / "report_shot.py"),
        str(outputs / "report.html"),
        str(out),
        "--width",
        str(REPORT_WIDTH),
        "--height",
        "4000",
    ]
    done = _run(command, timeout=300, env={**os.environ, "HOME": str(out)})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


def _maps(layout: dict) -> list[dict]:
    """The map images (zoning and the per-year indicator maps), not the charts."""
    stems = [i.get("stem") or "" for i in layout["images"]]
    return [
        i
        for i, stem in zip(layout["images"], stems, strict=True)
        if stem == "zoning" or re.search(r"_\d{4}$", stem)
    ]


@pytest.mark.chromium
def test_chromium_screenshots_the_report(report_layout: dict) -> None:
    assert report_layout["screenshot"] and Path(report_layout["screenshot"]).is_file()
    count = len(report_layout["images"])
    assert report_layout["images_decoded"] == f"{count}/{count}"
    assert len(_maps(report_layout)) == 1 + len(INDICATORS) * len(YEARS)
    assert report_layout["page"]["width"] == REPORT_WIDTH, "the page scrolls sideways"
    assert [t["index"] for t in report_layout["tables"] if t["overflow"]] == []
    pixels = _pixels(report_layout["screenshot"])
    assert pixels.shape[1] == REPORT_WIDTH and pixels.std() > 0.05


@pytest.mark.chromium
def test_report_maps_are_at_least_1000_px_wide_at_1400(report_layout: dict) -> None:
    narrow = {i["stem"]: i["width"] for i in _maps(report_layout) if i["width"] < 1000}
    assert narrow == {}
    # one per row: no two images share a row
    tops = [i["top"] for i in report_layout["images"]]
    assert len(set(tops)) == len(tops)


@pytest.mark.chromium
def test_report_maps_are_embedded_at_least_as_wide_as_drawn(report_layout: dict) -> None:
    blurred = {
        i["stem"]: (i["natural_width"], i["width"])
        for i in _maps(report_layout)
        if i["natural_width"] < max(i["width"], 1000)
    }
    assert blurred == {}


@pytest.mark.chromium
def test_report_figures_open_their_full_size_file_and_say_what_they_show(
    report_layout: dict, outputs: Path
) -> None:
    for figure in report_layout["images"]:
        assert figure["link"] == f"../../maps/{figure['stem']}.png", figure
        assert (outputs / figure["link"]).resolve().is_file(), figure["link"]
        assert figure["alt"] != figure["stem"] and len(figure["alt"]) > 30, figure["alt"]
