"""Land-use schemes: RESDC codes by first digit, custom CSV schemes, unknown codes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.inputs.landuse import (
    RESDC_CODE_NAMES,
    attach_classes,
    builtin_scheme,
    check_coefficient_codes,
    code_name,
    load_scheme,
    read_area_table,
    read_scheme,
    resdc_scheme,
)
from pipeline.model.constants import LAND_CLASSES


@pytest.mark.parametrize(
    ("code", "land_class"),
    [
        (11, "cropland"), (12, "cropland"), (111, "cropland"), (124, "cropland"),
        (21, "forest"), (24, "forest"), (31, "grassland"), (33, "grassland"),
        (41, "water"), (46, "water"), (51, "built_up"), (53, "built_up"),
        (61, "unused"), (67, "unused"),
    ],
)  # fmt: skip
def test_resdc_codes_map_by_first_digit(code: int, land_class: str) -> None:
    assert resdc_scheme().classes[code] == land_class


def test_unknown_codes_are_listed_with_their_pixels() -> None:
    areas = pd.DataFrame(
        {"unit": ["A"] * 3, "year": [2020] * 3, "code": [11, 99, 7], "pixels": [5, 12, 3]}
    )
    with pytest.raises(
        InputError, match=r"lu\.tif: .*codes not in the 'resdc'.*7 \(3 pixels\), 99 \(12"
    ):
        attach_classes(areas.assign(area_ha=1.0), resdc_scheme(), source="lu.tif")


def test_unknown_codes_can_be_ignored_and_are_returned() -> None:
    areas = pd.DataFrame(
        {"unit": ["A", "A"], "year": [2020] * 2, "code": [11, 99], "area_ha": [1.0, 2.0]}
    )
    known, ignored = attach_classes(areas, resdc_scheme(), source="t", unknown_codes="ignore")
    assert list(known["class"]) == ["cropland"]
    assert list(ignored["code"]) == [99]


def test_custom_scheme_csv(tmp_path: Path) -> None:
    path = tmp_path / "scheme.csv"
    path.write_text("code,class\n1,forest\n2,built_up\n3,other\n", encoding="utf-8")
    assert read_scheme(path).classes == {1: "forest", 2: "built_up", 3: "other"}


def test_custom_scheme_errors_name_row_and_value(tmp_path: Path) -> None:
    path = tmp_path / "scheme.csv"
    path.write_text("code,class\n1,forest\nx,forest\n3,woods\n1,water\n", encoding="utf-8")
    with pytest.raises(InputError) as error:
        read_scheme(path)
    message = str(error.value)
    assert "scheme.csv" in message
    assert "row 3, column 'code': not an integer code: 'x'" in message
    assert "row 4, column 'class': 'woods'" in message
    assert "row 5, column 'code': duplicate code 1" in message


def test_area_table_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "areas.csv"
    path.write_text(
        "unit,year,code,area_ha\nA,2020,11,5\nA,2020,11,6\nB,20x0,21,1\nB,2020,21,-3\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as error:
        read_area_table(path)
    message = str(error.value)
    assert "areas.csv" in message
    assert "column 'year': invalid value '20x0'" in message
    assert "column 'area_ha': invalid value '-3'" in message
    assert "duplicate (unit, year, code) ('A', 2020, 11)" in message


# --- built-in schemes, overrides, per-code coefficients --------------------------------


@pytest.mark.parametrize(
    ("name", "codes", "nodata"),
    [("resdc", 33, None), ("clcd", 9, 0), ("esa_worldcover", 11, 0), ("modis_igbp", 18, 255)],
)
def test_builtin_schemes_have_codes_names_and_nodata(name: str, codes: int, nodata: int) -> None:
    scheme = builtin_scheme(name)
    assert len(scheme.classes) == codes
    assert scheme.nodata == nodata
    assert set(scheme.names_zh) == set(scheme.classes) == set(scheme.names_en)
    assert set(scheme.classes.values()) <= set(LAND_CLASSES)


def test_resdc_scheme_file_agrees_with_the_first_digit_rule() -> None:
    first_digit = dict(enumerate(LAND_CLASSES[:6], start=1))
    assert resdc_scheme().classes == {
        code: first_digit[int(str(code)[0])] for code in RESDC_CODE_NAMES
    }
    assert resdc_scheme().names_zh == RESDC_CODE_NAMES


def test_modis_zero_is_water_and_mosaic_is_cropland() -> None:
    scheme = load_scheme("modis_igbp")
    assert scheme.classes[0] == "water" and scheme.classes[17] == "water"
    assert scheme.classes[14] == "cropland"
    assert code_name(14, scheme) == "农田/自然植被镶嵌"


def test_class_overrides_replace_and_add_codes() -> None:
    scheme = load_scheme("clcd", {9: "water", 99: "other"})
    assert scheme.classes[9] == "water"
    assert scheme.classes[99] == "other"
    assert scheme.classes[1] == "cropland"
    assert builtin_scheme("clcd").classes[9] == "unused"  # the built-in is unchanged


def test_coefficient_code_outside_the_scheme_is_named() -> None:
    expected = r"study\.toml: .*key '88': neither a land class nor a code of the 'modis_igbp'"
    with pytest.raises(InputError, match=expected):
        check_coefficient_codes(load_scheme("modis_igbp"), [8, 88], "study.toml")


def test_codes_of_another_product_suggest_its_scheme() -> None:
    areas = pd.DataFrame(
        {"unit": ["A"] * 3, "year": [2020] * 3, "code": [1, 12, 16], "pixels": [5, 12, 3]}
    )
    with pytest.raises(InputError, match=r"'resdc'.*fits the built-in scheme\(s\) 'modis_igbp'"):
        attach_classes(areas.assign(area_ha=1.0), resdc_scheme(), source="lu.tif")


MODIS_CODES = (0, 1, 8, 12)  # water (MCD12C1), evergreen needleleaf, woody savanna, cropland


def test_modis_study_with_a_per_code_coefficient(tmp_path: Path) -> None:
    """Sink of a MODIS raster with code 8's own coefficient, against hand-computed values."""
    from conftest import TOY_STATISTICS, write_raster, write_vector

    from pipeline.api import run_study

    root = tmp_path / "modis"
    for year in (2015, 2020):  # no nodata declared: the scheme's 255; 0 is water, not nodata
        write_raster(root, {"path": f"lu_{year}.tif", "codes": MODIS_CODES, "nodata": "none"})
    write_vector(root, {"path": "units.gpkg"})
    TOY_STATISTICS.to_csv(root / "statistics.csv", index=False)
    (root / "study.toml").write_text(
        """\
[study]
name = "modis"
[boundaries]
path = "units.gpkg"
[landuse]
scheme = "modis_igbp"
rasters = { 2015 = "lu_2015.tif", 2020 = "lu_2020.tif" }
[statistics]
path = "statistics.csv"
[coefficients]
sink_t_per_ha = { "8" = 2.0 }
""",
        encoding="utf-8",
    )
    results = run_study(root / "study.toml")
    # Each unit (10 × 20 pixels of 1 ha) holds 50 ha of each code (codes cycle along diagonals):
    # 50 × 2.56 (water) + 50 × 3.55 (forest, code 1) + 50 × 2.0 (code 8) + 50 × 1.16 = 463.5 t
    assert results.balance["sink_t"].tolist() == pytest.approx([463.5] * 4)
    areas = results.landuse_areas
    assert set(areas["code"]) == set(MODIS_CODES)
    assert areas.groupby(["unit", "year"])["area_ha"].sum().tolist() == pytest.approx([200.0] * 4)


def test_infinite_or_repeated_bad_values_are_listed_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "areas.csv"
    path.write_text("unit,year,code,area_ha\nA,inf,11,1\nA,inf,11,2\nA,2020,nan,3\n", "utf-8")
    with pytest.raises(InputError, match=r"3 problems") as raised:
        read_area_table(path)
    assert "row 2, column 'year': invalid value 'inf'" in str(raised.value)
    assert "row 4, column 'code': invalid value 'nan'" in str(raised.value)
