"""report.html: one self-contained file with inputs, tables, every map and the reproduction."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from matplotlib.colors import to_rgb

from pipeline.api import read_units
from pipeline.outputs import classes as classification
from pipeline.outputs import render
from pipeline.outputs import report as report_module
from pipeline.outputs.fonts import cjk_font_path
from pipeline.runtime.files import verified_body
from pipeline.study import Study, load_study
from tests.conftest import TEST_DPI, demo_study_file, expected_stems, write_demo_tables

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM = next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Study:
    study = write_demo_tables(tmp_path_factory.mktemp("report_demo"))
    render.render_maps(study, read_units(study), dpi=TEST_DPI, formats=("png",))
    return study


@pytest.fixture(scope="module")
def report(demo: Study) -> str:
    return (demo.processed_dir / "report.html").read_text(encoding="utf-8")


def test_report_fetches_nothing(report: str) -> None:
    external = re.findall(r"""(?:src|href)\s*=\s*["']?(?!data:|#)[a-z]+:""", report)
    assert external == []
    assert "@import" not in report
    assert not re.search(r"url\((?!data:)", report)
    assert "<link" not in report


def test_report_embeds_every_map(report: str) -> None:
    stems = re.findall(
        r'<img src="data:image/png;base64,[^"]+" alt="[^"]+" data-stem="([^"]+)"', report
    )
    assert set(stems) == expected_stems([2015, 2020])


def test_each_figure_links_its_full_size_file_with_a_bilingual_caption(report: str) -> None:
    figures = re.findall(r"<figure .*?</figure>", report, re.DOTALL)
    assert len(figures) == len(expected_stems([2015, 2020]))
    balance = next(f for f in figures if 'data-stem="balance_2015"' in f)
    assert '<a href="../../maps/balance_2015.png"><img ' in balance
    caption = re.search(r"<figcaption>(.*?)</figcaption>", balance).group(1)
    assert "碳收支 (排放-碳汇)" in caption and "Carbon balance (emission - sink)" in caption
    assert "2015" in caption
    alt = re.search(r' alt="([^"]+)"', balance).group(1)
    assert "Carbon balance" in alt and "5 units" in alt


def test_report_has_one_h1_a_contents_list_and_print_css(report: str) -> None:
    assert report.count("<h1") == 1
    sections = re.findall(r'<section id="([^"]+)">', report)
    assert sections == [
        "inputs", "zoning", "maps", "spatial", "balance", "landuse", "reproduction"
    ]  # fmt: skip
    toc = re.search(r'<nav class="toc">(.*?)</nav>', report, re.DOTALL).group(1)
    assert re.findall(r'href="#([^"]+)"', toc) == sections
    assert "@page { size: A4" in report and "section { break-before: page; }" in report


def test_report_years_are_integers_and_text_is_left_aligned(report: str) -> None:
    body = re.sub(r"base64,[A-Za-z0-9+/=]+", "", report)
    assert not re.search(r"\b(2015|2020)\.0", body)
    assert "<th>index</th>" not in body and "<th></th>" not in body
    # text columns (unit, zone names) carry no "num" class, numbers do
    assert "<td>修文县</td>" in body and '<td class="num">0.767</td>' in body
    assert '<td class="num">修文县</td>' not in body


def test_report_has_inputs_tables_and_reproduction(report: str) -> None:
    for heading in ("Inputs", "Zoning", "Carbon balance", "Land use", "Reproduction"):
        assert f"<h2>{heading}" in report
    assert report.count("<table") >= 5
    assert "碳汇功能区" in report and "statistics.csv" in report
    assert "SYNTHETIC" in report and "合成数据" in report
    # the reproduction markdown's tables arrive as HTML tables, not pipes
    reproduction = report.split("<h2>Reproduction")[1]
    assert "<table>" in reproduction and "|---" not in reproduction


def test_report_embeds_a_font_subset(report: str) -> None:
    match = re.search(r"font/otf;base64,([A-Za-z0-9+/=]+)", report)
    assert match is not None
    assert len(match.group(1)) < 600_000  # a subset, not the 16 MB font


def _chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.chromium
@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install -y chromium")
def test_headless_chromium_shows_tables_and_maps(demo: Study, tmp_path: Path) -> None:
    url = (demo.processed_dir / "report.html").as_uri()
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", url, profile=tmp_path / "p1")
    assert dom.returncode == 0, dom.stderr[-2000:]
    count = len(expected_stems([2015, 2020]))
    assert f'data-images-decoded="{count}/{count}"' in dom.stdout
    assert "<table" in dom.stdout and "碳强度控制区" in dom.stdout

    screenshot = tmp_path / "report.png"
    shot = _chromium("--window-size=1280,1800", f"--screenshot={screenshot}", url,
                     profile=tmp_path / "p2")  # fmt: skip
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr[-2000:]
    pixels = image.imread(screenshot)[..., :3]
    assert _share_near(pixels, "#eef3f8") > 0.001, "no table header cells in the screenshot"
    zone_colours = classification.ZONE_COLOURS.values()
    assert all(_share_near(pixels, colour) > 0.0002 for colour in zone_colours), (
        "the zoning map is not visible in the screenshot"
    )


def _share_near(pixels: np.ndarray, colour: str, tolerance: float = 0.03) -> float:
    """Share of pixels within ``tolerance`` (per channel, 0–1) of ``colour``."""
    distance = np.abs(pixels - np.asarray(to_rgb(colour))).max(axis=-1)
    return float((distance < tolerance).mean())


COUNTING = {"mode": {"2010": "exact", "2015": "centre", "2020": "centre"},
            "grid": {"2010": 1, "2015": 0, "2020": 0}}  # fmt: skip


def test_inputs_table_names_the_counting_mode_per_grid(demo: Study) -> None:
    html = report_module.inputs_html(demo, COUNTING)
    assert re.search(
        r"<td>land-use counting \(mode = auto\)</td>\s*"
        r"<td>2015, 2020: centre \(grid 0\); 2010: exact \(grid 1\)</td>",
        html,
    )
    assert "counting" not in report_module.inputs_html(demo)  # an area table: nothing was counted


def test_maps_command_reads_the_counting_from_run_json(tmp_path: Path) -> None:
    study = load_study(demo_study_file(tmp_path))
    manifest = study.processed_dir / "run.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"zonal": COUNTING}), encoding="utf-8")
    assert render.recorded_counting(study) == COUNTING
    for damaged in ("{", '{"zonal": {"mode": {"2015": "centre"}, "grid": {}}}', "[]"):
        manifest.write_text(damaged, encoding="utf-8")
        assert render.recorded_counting(study) is None
    manifest.unlink()
    assert render.recorded_counting(study) is None


def test_font_subset_is_kept_in_the_user_cache_and_a_damaged_entry_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = "碳平衡分区 Zoning 2020"
    fresh = report_module.subset_font_css(cjk_font_path(), "".join(sorted(set(text))))
    assert report_module.font_face_css(text) == fresh
    folder = tmp_path / "carbon-balance-zoning" / report_module.FONT_CACHE_KIND
    (entry,) = folder.iterdir()
    assert verified_body(entry.read_text(encoding="utf-8")) == fresh
    assert report_module.font_face_css(text[::-1]) == fresh  # the same characters: one entry
    assert len(list(folder.iterdir())) == 1

    damaged = entry.read_text(encoding="utf-8").replace("base64,", "base64,AAAA", 1)
    entry.write_text(damaged, encoding="utf-8")
    assert report_module.font_face_css(text) == fresh
    assert verified_body(entry.read_text(encoding="utf-8")) == fresh  # rewritten whole

    other = report_module.font_face_css(text + "县")
    assert other != fresh and len(list(folder.iterdir())) == 2


def test_font_subset_holds_every_character_and_no_other() -> None:
    from fontTools.ttLib import TTFont

    text = "碳平衡分区 AB 12"
    css = report_module.subset_font_css(cjk_font_path(), "".join(sorted(set(text))))
    data = base64.b64decode(re.search(r"base64,([A-Za-z0-9+/=]+)", css).group(1))
    mapped = set(TTFont(io.BytesIO(data)).getBestCmap())
    assert {ord(c) for c in text} <= mapped
    assert "县" not in {chr(c) for c in mapped}


FONT_PROBE = """\
import sys
from pipeline.outputs.report import font_face_css
css = font_face_css(sys.argv[1])
print(len(css), "fontTools.subset" in sys.modules)
"""


def test_a_cached_font_subset_needs_no_fonttools(tmp_path: Path) -> None:
    """The second report with the same characters reads the subset: fontTools' subsetter
    (about 0.25 s to import) stays out."""
    environment = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    runs = [
        subprocess.run([sys.executable, "-c", FONT_PROBE, "贵阳市 2020"], capture_output=True,
                       text=True, env=environment, timeout=300, check=True).stdout.split()
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0][1] == "True" and runs[1][1] == "False"
    assert runs[0][0] == runs[1][0]
