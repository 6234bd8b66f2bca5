"""Land-use schemes: RESDC codes by first digit, custom CSV schemes, unknown codes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.inputs.landuse import attach_classes, read_area_table, read_scheme, resdc_scheme


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
