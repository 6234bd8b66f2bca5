"""Inputs as users have them: GBK CSVs from Excel, workbooks, Chinese headers and paths,
Shapefiles with GBK attribute tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely
from conftest import TOY_STATISTICS, TOY_STUDY

from pipeline.cli import main
from pipeline.errors import InputError
from pipeline.inputs.boundaries import read_units
from pipeline.inputs.statistics import load_statistics, read_statistics

MakeStudy = Callable[..., Path]
EXPECTED = TOY_STATISTICS.sort_values(["unit", "year"]).reset_index(drop=True)
CHINESE_HEADER = ["区县", "年份", "常住人口(万人)", "地区生产总值(亿元)", "能源消费总量(吨标准煤)"]
NAMES = ["南明区", "云岩区", "清镇市"]


def _toy_text(header: list[str] | None = None) -> str:
    frame = TOY_STATISTICS.copy()
    if header is not None:
        frame.columns = header
    return frame.to_csv(index=False)


@pytest.mark.parametrize(
    ("encoding", "logged"),
    [
        ("utf-8", "encoding UTF-8"),
        ("utf-8-sig", "encoding UTF-8"),
        ("gb18030", "encoding GB18030 (GBK)"),
        ("gbk", "encoding GB18030 (GBK)"),
    ],
)
def test_csv_encodings(tmp_path: Path, encoding: str, logged: str) -> None:
    path = tmp_path / "统计 年鉴.csv"
    path.write_bytes(_toy_text(CHINESE_HEADER).encode(encoding))
    log: list[str] = []
    frame = load_statistics(path, log=log.append)
    pd.testing.assert_frame_equal(frame, EXPECTED)
    assert log == [f"read statistics 统计 年鉴.csv: CSV, {logged}"]


def test_gbk_unit_names_are_decoded(tmp_path: Path) -> None:
    path = tmp_path / "statistics.csv"
    frame = TOY_STATISTICS.replace({"unit": {"A": "南明区", "B": "清镇市"}})
    path.write_bytes(frame.to_csv(index=False).encode("gbk"))
    assert sorted(load_statistics(path)["unit"].unique()) == ["南明区", "清镇市"]


@pytest.mark.parametrize(
    "header",
    [
        ["单位", "年份", "常住人口（万人）", "地区生产总值（亿元）", "能源消费总量（吨标准煤）"],
        ["区县", " 年份 ", "常住人口 (万人)", "地区生产总值(亿元)", "能源消费总量(吨标准煤)"],
        ["Unit", "YEAR", "population_10k", "地区生产总值(亿元)", "energy_tce"],
    ],
)
def test_chinese_and_full_width_headers(tmp_path: Path, header: list[str]) -> None:
    path = tmp_path / "statistics.csv"
    path.write_text(_toy_text(header), encoding="utf-8")
    pd.testing.assert_frame_equal(load_statistics(path), EXPECTED)


def test_energy_intensity_chinese_header(tmp_path: Path) -> None:
    path = tmp_path / "statistics.csv"
    path.write_text(
        "区县,年份,常住人口(万人),地区生产总值(亿元),万元GDP能耗（吨标准煤/万元）\nA,2020,1,2,0.5\n",
        encoding="utf-8",
    )
    assert load_statistics(path).loc[0, "energy_tce"] == pytest.approx(10_000.0)


def test_header_in_other_units_is_converted_and_logged(tmp_path: Path) -> None:
    path = tmp_path / "statistics.csv"
    path.write_text(
        "区县,年份,常住人口(万人),地区生产总值(万元),能源消费总量(万吨标准煤)\nA,2020,1,25000,0.3\n",
        encoding="utf-8",
    )
    log: list[str] = []
    frame = load_statistics(path, log=log.append)
    assert frame.loc[0, "gdp_100m_yuan"] == pytest.approx(2.5)  # 25 000 万元 = 2.5 亿元
    assert frame.loc[0, "energy_tce"] == pytest.approx(3000.0)  # 0.3 万吨 = 3000 t
    assert "gdp_100m_yuan × 0.0001" in log[0]
    assert "energy_tce × 10000" in log[0]


def test_two_columns_for_one_id_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "statistics.csv"
    header = ["unit", "year", "population_10k", "gdp_100m_yuan", "energy_tce", "区县"]
    path.write_text(",".join(header) + "\nA,2020,1,2,3,A\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"two columns give 'unit'.*区县"):
        load_statistics(path)


def test_title_rows_and_blank_rows_are_skipped_and_rows_counted(tmp_path: Path) -> None:
    path = tmp_path / "statistics.csv"
    text = "贵阳市各区县主要指标\n\n" + _toy_text(CHINESE_HEADER) + ",,,,\n"
    path.write_text(text.replace("1000.0", "-1000"), encoding="utf-8")
    with pytest.raises(InputError, match=r"row 4, column 'energy_tce': negative value -1000"):
        load_statistics(path)


def test_semicolon_and_tab_separated(tmp_path: Path) -> None:
    for name, sep in (("s.csv", ";"), ("t.txt", "\t")):
        path = tmp_path / name
        TOY_STATISTICS.to_csv(path, index=False, sep=sep)
        pd.testing.assert_frame_equal(load_statistics(path), EXPECTED)


def _workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def _rows(header: list[str]) -> list[list[object]]:
    return [header, *TOY_STATISTICS.itertuples(index=False, name=None)]


def test_xlsx_first_sheet(tmp_path: Path) -> None:
    rows = [["表 1 贵阳市统计"], *_rows(CHINESE_HEADER)]
    path = _workbook(tmp_path / "年鉴.xlsx", {"2020年": rows, "说明": [["notes"]]})
    log: list[str] = []
    pd.testing.assert_frame_equal(load_statistics(path, log=log.append), EXPECTED)
    assert log == ["read statistics 年鉴.xlsx: Excel, sheet '2020年'"]


def test_xlsx_named_sheet(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "s.xlsx", {"说明": [["notes"]], "数据": _rows(CHINESE_HEADER)})
    pd.testing.assert_frame_equal(load_statistics(path, sheet="数据"), EXPECTED)


def test_xlsx_errors_name_sheet_and_spreadsheet_row(tmp_path: Path) -> None:
    rows = _rows(CHINESE_HEADER)
    rows[3] = ["A", 2020, "—", 150, 900]
    path = _workbook(tmp_path / "s.xlsx", {"数据": rows})
    with pytest.raises(InputError) as caught:
        load_statistics(path)
    assert str(caught.value) == (
        f"{path} (sheet '数据'): row 4, column 'population_10k': not a number: '—'"
    )


def test_xlsx_unknown_sheet_lists_sheets(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "s.xlsx", {"说明": [["x"]], "数据": [["y"]]})
    with pytest.raises(InputError, match=r"sheet '2020' not found; sheets: '说明', '数据'"):
        load_statistics(path, sheet="2020")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("s.xls", b"\xd0\xcf\x11\xe0", r"s\.xls: old Excel \.xls workbooks are not supported"),
        ("s.ods", b"x", r"unknown statistics format '\.ods'; supported: \.csv"),
        ("s.xlsx", b"not a zip", r"s\.xlsx: cannot be read as an Excel workbook"),
    ],
)
def test_unsupported_files(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputError, match=expected):
        read_statistics(path)


def test_sheet_given_for_csv(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(_toy_text(), encoding="utf-8")
    with pytest.raises(InputError, match=r"sheet = '数据' applies to Excel workbooks only"):
        read_statistics(path, sheet="数据")


def test_study_with_chinese_paths_spaces_and_xlsx(
    toy_study: MakeStudy, capsys: pytest.CaptureFixture[str]
) -> None:
    text = TOY_STUDY.replace('"statistics.csv"', '"年鉴 数据/统计 2020.xlsx"\nsheet = "数据"')
    text += "\n[output]\nmaps = false\n"
    study = toy_study(text=text, folder="我的 研究")
    (study.parent / "年鉴 数据").mkdir()
    _workbook(study.parent / "年鉴 数据" / "统计 2020.xlsx", {"数据": _rows(CHINESE_HEADER)})
    assert main(["run", str(study)]) == 0
    out = capsys.readouterr().out
    assert "read statistics 统计 2020.xlsx: Excel, sheet '数据'" in out
    balance = study.parent / "out" / "data" / "processed" / "carbon_balance.csv"
    assert len(pd.read_csv(balance, encoding="utf-8-sig")) == 4


# --- Shapefiles with GBK attribute tables ----------------------------------------------


def _shapefile(tmp_path: Path, cpg: bool) -> Path:
    frame = gpd.GeoDataFrame(
        {"名称": NAMES},
        geometry=[shapely.box(i, 0, i + 1, 1) for i in range(len(NAMES))],
        crs="EPSG:4326",
    )
    path = tmp_path / "区县 边界" / "counties.shp"
    path.parent.mkdir()
    frame.to_file(path, engine="pyogrio", encoding="GBK")
    assert path.with_suffix(".cpg").read_text() == "GBK"
    if not cpg:
        path.with_suffix(".cpg").unlink()
    return path


def test_gbk_shapefile_with_cpg(tmp_path: Path) -> None:
    units = read_units(_shapefile(tmp_path, cpg=True), name_field="名称")
    assert sorted(units["unit"]) == sorted(NAMES)


def test_gbk_shapefile_without_cpg_needs_the_encoding(tmp_path: Path) -> None:
    path = _shapefile(tmp_path, cpg=False)
    units = read_units(path, name_field="名称", encoding="GBK")
    assert sorted(units["unit"]) == sorted(NAMES)


def test_gbk_shapefile_without_cpg_in_a_study(toy_study: MakeStudy, tmp_path: Path) -> None:
    """Without the encoding the run stops and says what to set; with it the names match."""
    from pipeline.api import read_units as study_units
    from pipeline.study import load_study

    path = _shapefile(tmp_path, cpg=False)
    boundaries = f'[boundaries]\npath = "{path.as_posix()}"\nname_field = "名称"\n'
    study = load_study(toy_study(text=TOY_STUDY + boundaries))
    with pytest.raises(InputError) as caught:
        study_units(study)
    message = str(caught.value)
    assert "counties.shp" in message
    assert "would be '名称' in GBK" in message
    assert 'encoding = "GBK"' in message
    study = load_study(toy_study(text=TOY_STUDY + boundaries + 'encoding = "GBK"\n'))
    assert sorted(study_units(study)["unit"]) == sorted(NAMES)


def test_unknown_boundaries_encoding(toy_study: MakeStudy) -> None:
    from pipeline.errors import StudyError
    from pipeline.study import load_study

    text = TOY_STUDY + '[boundaries]\npath = "areas.csv"\nencoding = "GKB"\n'
    with pytest.raises(StudyError, match=r"\[boundaries\.encoding\] unknown encoding 'GKB'"):
        load_study(toy_study(text=text))


def test_xlsx_merged_unit_cells_are_explained(tmp_path: Path) -> None:
    """Yearbooks merge a unit's name over its year rows; only the first row keeps it."""
    rows = _rows(CHINESE_HEADER)
    path = _workbook(tmp_path / "s.xlsx", {"数据": sorted(rows[1:], key=lambda r: r[0])})
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["数据"]
    sheet.insert_rows(1)
    for column, header in enumerate(CHINESE_HEADER, start=1):
        sheet.cell(row=1, column=column, value=header)
    sheet.merge_cells("A2:A3")
    workbook.save(path)
    with pytest.raises(InputError, match=r"row 3, column 'unit': empty unit name \(a merged cell"):
        load_statistics(path)


def test_blank_and_repeated_extra_columns_are_ignored(tmp_path: Path) -> None:
    header = [*CHINESE_HEADER, "", "备注", "备注", ""]
    rows = [header, *[[*row, None, "x", "y", None] for row in TOY_STATISTICS.itertuples(False)]]
    path = _workbook(tmp_path / "s.xlsx", {"数据": rows})
    pd.testing.assert_frame_equal(load_statistics(path), EXPECTED)
    csv = tmp_path / "s.csv"
    csv.write_text(",".join(header) + "\n" + _toy_text().split("\n", 1)[1], encoding="utf-8")
    pd.testing.assert_frame_equal(load_statistics(csv), EXPECTED)


def test_years_written_with_nian(tmp_path: Path) -> None:
    path = tmp_path / "statistics.csv"
    text = _toy_text(CHINESE_HEADER).replace(",2015,", ",2015年,").replace(",2020,", ",２０２０年,")
    path.write_text(text, encoding="utf-8")
    pd.testing.assert_frame_equal(load_statistics(path), EXPECTED)


def test_units_on_a_second_header_row(tmp_path: Path) -> None:
    header = ["区县", "年份", "常住人口", "地区生产总值", "能源消费总量"]
    units = ["", "", "万人", "（亿元）", "吨标准煤"]
    rows = [["表 2"], header, units, *TOY_STATISTICS.itertuples(index=False, name=None)]
    rows[5] = ["A", 2020, "x", 150, 900]
    path = _workbook(tmp_path / "s.xlsx", {"数据": rows})
    with pytest.raises(InputError, match=r"row 6, column 'population_10k': not a number: 'x'"):
        load_statistics(path)
    rows[5] = ["A", 2020, 12, 150, 900]
    path = _workbook(tmp_path / "s.xlsx", {"数据": rows})
    pd.testing.assert_frame_equal(load_statistics(path), EXPECTED)


def test_gbk_area_table(tmp_path: Path) -> None:
    from pipeline.inputs.landuse import read_area_table

    path = tmp_path / "三调 面积.csv"
    path.write_bytes("unit,year,code,area_ha\n南明区,2020,11,12.5\n".encode("gbk"))
    table = read_area_table(path)
    assert table.loc[0, "unit"] == "南明区"
    assert table.loc[0, "area_ha"] == 12.5


def test_gbk_shapefile_names_when_maps_are_redrawn(toy_study: MakeStudy, tmp_path: Path) -> None:
    """``carbon-zoning maps`` reads the units as ``run`` does, with the study's encoding."""
    from pipeline.api import read_units
    from pipeline.study import load_study

    path = _shapefile(tmp_path, cpg=False)
    boundaries = (
        f'[boundaries]\npath = "{path.as_posix()}"\nname_field = "名称"\nencoding = "GBK"\n'
    )
    study = load_study(toy_study(text=TOY_STUDY + boundaries))
    units = read_units(study)  # what api.render_maps hands to the maps
    assert units is not None
    assert sorted(units["unit"]) == sorted(NAMES)
