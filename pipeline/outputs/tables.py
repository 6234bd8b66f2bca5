"""The run's tables: CSV files and the Excel workbook.

The CSV files hold the tables as computed (their columns are a public contract). The workbook
is for reading in Excel, WPS or LibreOffice: the results first (``zoning`` opens), then
``carbon_balance`` and ``landuse_areas``, each with zone names beside zone ids, one header row
(Chinese names with units, or the column ids), widths fitted to the content, a number format
per column, a bold filtered header frozen with the unit column, and a landscape page one page
wide; then a ``说明`` sheet naming each column (Chinese, id, unit, meaning), the sources and
what is synthetic.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from pipeline.model.constants import ZONE_NAMES_EN, ZONE_NAMES_ZH
from pipeline.model.spatial import SpatialResult
from pipeline.outputs.labels import COLUMN_INFO, COLUMN_NAMES_ZH, TEXT, display_columns
from pipeline.outputs.provenance import Provenance

if TYPE_CHECKING:  # openpyxl is imported only when a workbook is written
    from openpyxl.worksheet.worksheet import Worksheet

# The workbook's sheets in order: the results first (the sheet it opens on), inputs last.
WORKBOOK_SHEETS = ("zoning", "carbon_balance", "landuse_areas")
NOTES_SHEET = "说明"
HEADER_FILL_RGB = "DDE7F0"  # the header cells' solid fill
MAX_WIDTH = 60  # characters; longer text wraps in the cell rather than widening the sheet
FILTER_BUTTON = 3  # characters the autofilter's drop-down button covers in a header cell


@dataclass(frozen=True)
class MapTables:
    """What the maps are drawn from: the processed tables and the units' polygons."""

    balance: pd.DataFrame
    zoning: pd.DataFrame
    landuse_areas: pd.DataFrame
    units: gpd.GeoDataFrame | None
    reproduction_markdown: str | None = None
    counting: Mapping[str, Any] | None = None  # run.json's "zonal": mode and grid per year
    uncertainty: pd.DataFrame | None = None  # zone_uncertainty ([uncertainty] only)
    transitions: Any = None  # api.Transitions: land-use change between the years, if counted
    outlines: gpd.GeoDataFrame | None = None  # province outlines of a national study
    spatial: SpatialResult | None = None  # Moran's I and LISA; None: [analysis] spatial = false


def counting_text(counting: Mapping[str, Any]) -> str:
    """``2015, 2020: centre (grid 0); 2010: exact (grid 1)`` from run.json's ``zonal`` entry.

    ``centre`` counts the pixels whose centre is in a unit, ``exact`` weights every pixel by
    the share of it the unit covers.
    """
    years_of: dict[tuple[str, Any], list[str]] = {}
    for year, mode in counting["mode"].items():
        years_of.setdefault((mode, counting["grid"][year]), []).append(str(year))
    parts = sorted(years_of.items(), key=lambda item: item[0][1])
    return "; ".join(f"{', '.join(years)}: {mode} (grid {grid})" for (mode, grid), years in parts)


def balance_sheets(
    landuse_areas: pd.DataFrame,
    balance: pd.DataFrame,
    zoning: pd.DataFrame,
    uncertainty: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The tables of a run, by sheet name (also the CSV stem); ``zone_uncertainty`` only
    with ``[uncertainty]``."""
    sheets = {"landuse_areas": landuse_areas, "carbon_balance": balance, "zoning": zoning}
    if uncertainty is not None:
        sheets["zone_uncertainty"] = uncertainty
    return sheets


def spatial_sheets(result: SpatialResult | None) -> dict[str, pd.DataFrame]:
    """``spatial_autocorrelation`` and ``lisa_clusters`` when they were computed, else none."""
    if result is None or not result.computed:
        return {}
    return {"spatial_autocorrelation": result.global_moran, "lisa_clusters": result.lisa}


def iter_csv_outputs(sheets: Mapping[str, pd.DataFrame]) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(data/processed/<name>.csv, frame)`` for each table."""
    for name, frame in sheets.items():
        yield f"data/processed/{name}.csv", frame


def with_zone_names(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``zone_zh`` and ``zone_en`` (the zone's names) right after ``zone``."""
    out = frame.drop(columns=["zone_zh", "zone_en"], errors="ignore")
    at = list(out.columns).index("zone") + 1
    out.insert(at, "zone_en", out["zone"].map(ZONE_NAMES_EN))
    out.insert(at, "zone_zh", out["zone"].map(ZONE_NAMES_ZH))
    return out


# --------------------------------------------------------------------------- workbook


def header_text(column: str, language: str) -> str:
    """The header cell of ``column``: its Chinese name with unit (``"zh"``) or its id."""
    return COLUMN_NAMES_ZH.get(column, column) if language == "zh" else column


def number_format(column: str, series: pd.Series) -> str:
    """Excel number format: thousands separators and the column's decimals; ids plain."""
    info = COLUMN_INFO.get(column)
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return "@" if series.dtype == object else "General"
    if info is None:
        return "General" if pd.api.types.is_float_dtype(series) else "0"
    if info.decimals is None:  # years, codes: no separator ("2,015" would be wrong)
        return "0"
    return "#,##0" + ("." + "0" * info.decimals if info.decimals else "")


def shown_text(column: str, series: pd.Series) -> pd.Series:
    """The values as the number format shows them (for fitting the column width)."""
    info = COLUMN_INFO.get(column)
    if pd.api.types.is_float_dtype(series) and info is not None and info.decimals is not None:
        return series.map(lambda v: "" if pd.isna(v) else f"{v:,.{info.decimals}f}")
    return series.map(lambda v: "" if pd.isna(v) else str(v))


def column_width(header: str, shown: pd.Series) -> float:
    """Width (in Excel's character units) that shows the header and every value uncut.

    CJK characters count as two; the header also leaves room for the filter button.
    """
    widest = max((display_columns(text) for text in shown), default=0)
    return float(min(MAX_WIDTH, max(widest + 2, display_columns(header) + FILTER_BUTTON)))


def write_sheet(sheet: Worksheet, frame: pd.DataFrame, language: str) -> None:
    """One table: header row, values with number formats, widths, filter, panes, page."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet.append([header_text(str(column), language) for column in frame.columns])
    for row in frame.itertuples(index=False):
        sheet.append([None if pd.isna(value) else _plain(value) for value in row])
    for number, column in enumerate(frame.columns, start=1):
        series = frame[column]
        letter = get_column_letter(number)
        width = column_width(header_text(str(column), language), shown_text(str(column), series))
        sheet.column_dimensions[letter].width = width
        style = number_format(str(column), series)
        for (cell,) in sheet.iter_rows(min_row=2, min_col=number, max_col=number):
            cell.number_format = style
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL_RGB)
        cell.alignment = Alignment(vertical="center")
    sheet.auto_filter.ref = sheet.dimensions
    sheet.freeze_panes = "B2"  # the header row and the unit column stay in view
    _page_setup(sheet)


def _plain(value: object) -> object:
    """numpy scalars as Python numbers (openpyxl writes those)."""
    return value.item() if hasattr(value, "item") else value


def _page_setup(sheet: Worksheet) -> None:
    """A4 landscape, one page wide (as many pages tall as needed), header on every page."""
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"


def notes_rows(sheets: Mapping[str, pd.DataFrame]) -> list[tuple[str, str, str, str, str]]:
    """The 说明 sheet's column table: (sheet, Chinese name, id, unit, meaning) per column."""
    rows = []
    for name, frame in sheets.items():
        for column in map(str, frame.columns):
            info = COLUMN_INFO.get(column)
            unit, meaning = (info.unit, info.meaning) if info is not None else ("", "")
            rows.append((name, COLUMN_NAMES_ZH.get(column, column), column, unit, meaning))
    return rows


def write_notes_sheet(
    sheet: Worksheet, sheets: Mapping[str, pd.DataFrame], notes: Sequence[str]
) -> None:
    """说明: every column of every sheet (Chinese name, id, unit, meaning), then the notes."""
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    header = ("工作表 sheet", "列名 header", "列 id", "单位 unit", "含义 meaning")
    rows = notes_rows(sheets)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    sheet.append(())
    for note in notes:
        sheet.append((note,))
    for number, title in enumerate(header, start=1):
        cells = [title, *(row[number - 1] for row in rows)]
        width = max(display_columns(text) for text in cells) + 2
        sheet.column_dimensions[get_column_letter(number)].width = min(MAX_WIDTH + 20, width)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL_RGB)
    sheet.freeze_panes = "A2"
    _page_setup(sheet)


def workbook_notes(study_name: str, provenance: Provenance, generator: str) -> list[str]:
    """The lines closing the 说明 sheet: study, sources, units, what is synthetic, generator."""
    zh, en = TEXT["zh"], TEXT["en"]
    sources = [f"{zh['landuse_source']} {provenance.landuse}",
               f"{zh['statistics']} {provenance.statistics}"]  # fmt: skip
    if provenance.boundaries:
        sources.insert(0, f"{zh['boundaries']} {provenance.boundaries}")
    lines = [
        f"研究 / study: {study_name}",
        f"{zh['sources']} / {en['sources']}: " + "；".join(sources),
        "单位 / units: 排放、碳汇、碳收支 t CO₂/a (emission, sink, balance, t CO₂ per year)；"
        "面积 hm² (= ha)；强度 t CO₂/hm²",
    ]
    if provenance.synthetic:
        inputs = ", ".join(provenance.synthetic_inputs)
        lines += [f"{zh['synthetic']} ({inputs})", f"{en['synthetic']} ({inputs})"]
    else:
        lines.append("合成数据 / synthetic inputs: 无 / none flagged")
    lines.append(f"生成 / generated by: {generator}")
    return lines


def workbook_sheets(sheets: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables as the workbook shows them: results first, zone names beside zone ids."""
    ordered = [name for name in WORKBOOK_SHEETS if name in sheets]
    ordered += [name for name in sheets if name not in WORKBOOK_SHEETS]
    return {
        name: with_zone_names(sheets[name]) if "zone" in sheets[name].columns else sheets[name]
        for name in ordered
    }


def write_workbook(
    path: Path,
    sheets: Mapping[str, pd.DataFrame],
    *,
    header_language: str = "zh",
    notes: Sequence[str] = (),
) -> None:
    """Write ``sheets`` to an .xlsx workbook that opens on ``zoning``, plus a 说明 sheet.

    Each table has one header row: Chinese names with units (``header_language="zh"``) or
    the CSV column ids (``"en"``); ``notes`` (sources, what is synthetic) end the 说明 sheet.
    """
    from openpyxl import Workbook  # about 0.15 s to import: only when a workbook is written

    shown = workbook_sheets(sheets)
    book = Workbook()
    book.remove(book.active)
    for name, frame in shown.items():
        write_sheet(book.create_sheet(name), frame, header_language)
    write_notes_sheet(book.create_sheet(NOTES_SHEET), shown, notes)
    book.active = 0
    for sheet in book.worksheets:
        sheet.sheet_view.tabSelected = sheet.title == WORKBOOK_SHEETS[0]
    book.save(path)
