"""Yearbook statistics -> a tidy frame (``unit, year, population_10k, gdp_100m_yuan, energy_tce``).

Energy use is given either as a total (``energy_tce``) or as an intensity per GDP
(``energy_intensity_tce_per_10k_yuan``, 万元GDP能耗). Every check collects all problems and
raises one :class:`InputError` naming the file, the column and the value.

The table is what users have: a CSV in UTF-8 (with or without BOM) or GB18030/GBK (what Excel
writes on Chinese Windows), or an Excel workbook (.xlsx, first sheet or a named one), with
English column ids or the Chinese headers of :data:`HEADER_ALIASES` (see ``docs/inputs.md``).
Title rows above the header are skipped.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import InputError, limit, limit_hint, problems_shown
from pipeline.inputs.encodings import ENCODING_NAMES, read_chinese_text
from pipeline.inputs.names import normalise_name, unmatched_problems
from pipeline.runtime.files import refuse_non_file

REQUIRED_COLUMNS = ("unit", "year", "population_10k", "gdp_100m_yuan")
ENERGY_TOTAL = "energy_tce"
ENERGY_INTENSITY = "energy_intensity_tce_per_10k_yuan"
NUMERIC_COLUMNS = ("population_10k", "gdp_100m_yuan", ENERGY_TOTAL, ENERGY_INTENSITY)
TIDY_COLUMNS = ["unit", "year", "population_10k", "gdp_100m_yuan", "energy_tce"]
COLUMN_IDS = frozenset((*REQUIRED_COLUMNS, *NUMERIC_COLUMNS))
# 1 亿元 (10^8 yuan) = 10^4 万元 (10^4 yuan): tce/万元 × 亿元 × 10^4 = tce
TEN_K_YUAN_PER_100M_YUAN = 1e4

CSV_SUFFIXES = (".csv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
HEADER_SEARCH_ROWS = 10
"""The header is the first of this many rows naming both the unit and the year column."""
DECIMAL_MARKS = (".", ",")
"""``[statistics] decimal``: the table's decimal mark, when declared (see :func:`tidy`)."""
MAX_VALUE = 1e15
"""Larger statistics are refused: no county or country comes near (China's energy use is about
5·10⁹ tce), and products of such values would overflow to infinity in the model."""
MAX_STATISTICS_BYTES = 100 * 2**20
"""Cap on a statistics table's size: a CSV's bytes, an .xlsx workbook's uncompressed size (the
sum of its zip members as the zip directory declares them, checked before openpyxl opens it).
A national table (2,900 counties × 20 years) is a few MB; a 0.9 MB workbook expanding to
330 MB of XML is a zip bomb or a database dump. ``CARBON_ZONING_MAX_STATISTICS_BYTES`` raises
it."""
MAX_STATISTICS_ROWS = 1_000_000
"""Cap on the rows of a statistics table (CSV or sheet), counted while the rows are read, so
a sheet declaring millions of rows stops at the cap. ``CARBON_ZONING_MAX_STATISTICS_ROWS``
raises it."""
# Thousands groups of three: 1,234,567.5 (decimal point) or 1.234.567,5 (decimal comma)
_GROUPED_BY_COMMA = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
_GROUPED_BY_POINT = re.compile(r"[+-]?\d{1,3}(\.\d{3})+(,\d*)?")

# Accepted column headers -> (column id, factor to the id's unit). Headers are matched after
# NFKC (full-width brackets become ASCII), without whitespace and case-insensitively.
HEADER_ALIASES: dict[str, tuple[str, float]] = {
    "单位": ("unit", 1.0),
    "区县": ("unit", 1.0),
    "县区": ("unit", 1.0),
    "地区": ("unit", 1.0),
    "行政区": ("unit", 1.0),
    "县(市、区)": ("unit", 1.0),
    "年份": ("year", 1.0),
    "年度": ("year", 1.0),
    "年": ("year", 1.0),
    "常住人口(万人)": ("population_10k", 1.0),
    "年末常住人口(万人)": ("population_10k", 1.0),
    "常住人口(人)": ("population_10k", 1e-4),  # people × 10^-4 = 10^4 people
    "地区生产总值(亿元)": ("gdp_100m_yuan", 1.0),
    "gdp(亿元)": ("gdp_100m_yuan", 1.0),
    "地区生产总值(万元)": ("gdp_100m_yuan", 1e-4),  # 10^4 yuan × 10^-4 = 10^8 yuan
    "能源消费总量(吨标准煤)": (ENERGY_TOTAL, 1.0),
    "综合能源消费量(吨标准煤)": (ENERGY_TOTAL, 1.0),
    "能源消费总量(万吨标准煤)": (ENERGY_TOTAL, 1e4),  # 10^4 tce × 10^4 = tce
    "万元gdp能耗(吨标准煤/万元)": (ENERGY_INTENSITY, 1.0),
    "单位gdp能耗(吨标准煤/万元)": (ENERGY_INTENSITY, 1.0),
    "万元地区生产总值能耗(吨标准煤/万元)": (ENERGY_INTENSITY, 1.0),
}


@dataclass(frozen=True)
class RawTable:
    """A statistics table as text cells, before any check.

    ``frame`` is indexed so that ``index + 2`` is the row number a spreadsheet shows;
    ``read_as`` says how it was read (format, encoding or sheet) for the run log;
    ``source`` names the file (and sheet) in messages.
    """

    frame: pd.DataFrame
    read_as: str
    source: str
    scales: dict[str, float] = field(default_factory=dict)
    delimiter: str = ","


def header_key(header: object) -> str:
    """The matching form of a column header: NFKC, no whitespace, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(header))).lower()


def read_statistics(path: Path, *, sheet: str | None = None) -> RawTable:
    """Read a statistics CSV or Excel workbook as text cells (checks follow in :func:`tidy`).

    CSV files are decoded as UTF-8 (BOM optional), else GB18030 (a superset of GBK/GB2312);
    Excel workbooks are read from ``sheet`` or the first sheet.
    """
    path = Path(path)
    refuse_non_file(path)
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InputError(
            path, "old Excel .xls workbooks are not supported; save it as .xlsx or CSV"
        )
    if suffix not in CSV_SUFFIXES + EXCEL_SUFFIXES:
        supported = ", ".join(CSV_SUFFIXES + EXCEL_SUFFIXES)
        raise InputError(path, f"unknown statistics format {suffix!r}; supported: {supported}")
    if suffix in EXCEL_SUFFIXES:
        rows, read_as, source = _excel_rows(path, sheet)
        delimiter = ","
    elif sheet is not None:
        raise InputError(path, f"[statistics] sheet = {sheet!r} applies to Excel workbooks only")
    else:
        rows, read_as, source, delimiter = _csv_rows(path)
    frame, scales = _frame_from_rows(rows)
    return RawTable(frame, read_as, source, scales, delimiter)


def _csv_rows(path: Path) -> tuple[list[list[str]], str, str, str]:
    _check_csv_size(path)
    text, encoding = read_chinese_text(path)
    first_line = text.split("\n", 1)[0]
    delimiter = _delimiter(first_line)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = _capped_rows(reader, str(path))
    except csv.Error as error:
        raise InputError(path, f"cannot parse CSV: {error}") from None
    return rows, f"CSV, encoding {ENCODING_NAMES[encoding]}", str(path), delimiter


def _delimiter(header_line: str) -> str:
    """The delimiter of a CSV from its first line: tab or ``;`` (what Excel writes in
    locales with a decimal comma) when the line holds more of them than commas, else comma."""
    counts = {d: header_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 0 else ","


def _excel_rows(path: Path, sheet: str | None) -> tuple[list[list[str]], str, str]:
    import openpyxl

    _check_workbook_size(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises zip, XML and key errors
        raise InputError(path, f"cannot be read as an Excel workbook ({error})") from None
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            listed = ", ".join(repr(name) for name in workbook.sheetnames)
            raise InputError(path, f"[statistics] sheet {sheet!r} not found; sheets: {listed}")
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        worksheet.reset_dimensions()  # some writers store a wrong used range (e.g. "A1")
        title = worksheet.title
        rows = _capped_rows(
            ([_cell_text(v) for v in row] for row in worksheet.iter_rows(values_only=True)),
            f"{path} (sheet {title!r})",
        )
    except InputError:
        raise
    except Exception as error:  # a damaged sheet: zip (CRC), XML or openpyxl errors
        raise InputError(path, f"cannot be read as an Excel workbook ({error})") from None
    finally:
        workbook.close()
    return rows, f"Excel, sheet {title!r}", f"{path} (sheet {title!r})"


def _check_workbook_size(path: Path) -> None:
    """Refuse a workbook whose zip members expand beyond the cap, before anything expands."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise InputError(path, f"cannot be read as an Excel workbook ({error})") from None
    cap = limit("CARBON_ZONING_MAX_STATISTICS_BYTES", MAX_STATISTICS_BYTES)
    if expanded > cap:
        raise InputError(
            path,
            f"workbook expands to {expanded} bytes of XML ({path.stat().st_size} bytes on "
            f"disk), above the limit of {cap} bytes for a statistics table (a damaged file, "
            "a zip bomb or a whole database export?); save the statistics sheet alone as .xlsx "
            f"or CSV, or {limit_hint('CARBON_ZONING_MAX_STATISTICS_BYTES')}",
        )


def _check_csv_size(path: Path) -> None:
    """Refuse a CSV above the size cap before reading it."""
    size = path.stat().st_size
    cap = limit("CARBON_ZONING_MAX_STATISTICS_BYTES", MAX_STATISTICS_BYTES)
    if size > cap:
        raise InputError(
            path,
            f"CSV of {size} bytes, above the limit of {cap} bytes for a statistics table; "
            f"remove the rows that are not statistics, or "
            f"{limit_hint('CARBON_ZONING_MAX_STATISTICS_BYTES')}",
        )


def _capped_rows(rows: Iterable[list[str]], source: str) -> list[list[str]]:
    """The rows, refused once there are more than the cap (reading stops there)."""
    cap = limit("CARBON_ZONING_MAX_STATISTICS_ROWS", MAX_STATISTICS_ROWS)
    kept: list[list[str]] = []
    for row in rows:
        if len(kept) > cap:  # the header and the cap's data rows are kept
            raise InputError(
                source,
                f"more than {cap} rows, above the limit for a statistics table (one row per "
                "unit and year: China's 2,900 counties over 300 years fit); remove the rows "
                f"that are not statistics, or {limit_hint('CARBON_ZONING_MAX_STATISTICS_ROWS')}",
            )
        kept.append(row)
    return kept


def _cell_text(value: object) -> str:
    """A cell as text: empty for None, whole floats without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _frame_from_rows(rows: list[list[str]]) -> tuple[pd.DataFrame, dict[str, float]]:
    """The header row found, columns renamed to ids, blank rows dropped, index = row - 2."""
    header_at = _find_header(rows)
    header = list(rows[header_at]) if rows else []
    header, header_at = _merge_unit_row(header, rows, header_at)
    body = rows[header_at + 1 :] if rows else []
    width = max([len(header), *(len(row) for row in body)], default=0)
    header += [f"column {i + 1}" for i in range(len(header), width)]
    columns, scales = _rename_headers(header)
    padded = [list(row) + [""] * (width - len(row)) for row in body]
    frame = pd.DataFrame(padded, columns=columns, dtype=str)
    frame.index = pd.RangeIndex(header_at, header_at + len(frame))
    blank = frame.apply(lambda column: column.str.strip() == "").all(axis=1)
    return frame[~blank], scales


def _merge_unit_row(
    header: list[str], rows: list[list[str]], header_at: int
) -> tuple[list[str], int]:
    """Yearbooks often put units on a second header row (``常住人口`` over ``万人``): when
    joining them as ``常住人口(万人)`` names more known columns, use the joined header."""
    if header_at + 1 >= len(rows):
        return header, header_at
    below = [str(cell).strip().strip("()（） ") for cell in rows[header_at + 1]]
    below = (below + [""] * len(header))[: len(header)]
    merged = [
        f"{h}({u})" if u and str(h).strip() else h for h, u in zip(header, below, strict=True)
    ]

    def known(cells: list[str]) -> int:
        return sum(_column_id(cell)[0] in COLUMN_IDS for cell in cells)

    return (merged, header_at + 1) if known(merged) > known(header) else (header, header_at)


def _find_header(rows: list[list[str]]) -> int:
    for number, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        ids = {_column_id(cell)[0] for cell in row}
        if {"unit", "year"} <= ids:
            return number
    return 0


def _column_id(header: object) -> tuple[str, float]:
    key = header_key(header)
    if key in HEADER_ALIASES:
        return HEADER_ALIASES[key]
    if key in COLUMN_IDS:
        return key, 1.0
    return normalise_name(header), 1.0


def _rename_headers(header: list[str]) -> tuple[list[str], dict[str, float]]:
    """Column ids for the header cells; blank or repeated unknown headers get unique names,
    a repeated id is marked ``(again: ...)`` so that :func:`tidy` reports it."""
    columns: list[str] = []
    scales: dict[str, float] = {}
    for position, cell in enumerate(header, start=1):
        column, scale = _column_id(cell)
        if not column:
            column = f"column {position}"
        if column in columns and column in COLUMN_IDS:
            column = f"{column} (again: {normalise_name(cell)})"
        elif column in columns:
            column = f"{column} {position}"
        columns.append(column)
        if scale != 1.0:
            scales[column] = scale
    return columns, scales


def tidy(
    raw: pd.DataFrame,
    source: str | Path,
    scales: dict[str, float] | None = None,
    *,
    decimal: str | None = None,
    delimiter: str = ",",
) -> pd.DataFrame:
    """Check and convert a raw statistics table to the tidy frame.

    ``raw`` holds text cells, indexed so that ``index + 2`` is the spreadsheet row. Units are
    normalised (NFKC, whitespace), years and values parsed and multiplied by ``scales`` (per
    column, for headers in other units such as 万吨标准煤), energy converted to
    ``energy_tce``. Extra columns (e.g. provenance) are dropped.

    Numbers are read exactly or refused: a comma is accepted only as a thousands separator in
    groups of three (``1,234.5``) in a comma-separated file (``delimiter``); in a ``;`` or tab
    file it is refused, and so is ``1.234`` unless ``decimal = "."`` is declared; with
    ``decimal = ","`` the roles swap (``1.234,5``). Anything else is an error naming the row,
    column and value.
    """
    raw = raw.rename(columns=lambda column: normalise_name(column))
    _check_columns(raw, source)
    problems: list[str] = []
    frame = pd.DataFrame({"unit": raw["unit"].map(normalise_name)}, index=raw.index)
    frame["year"] = _parse_years(raw["year"], problems)
    reading = _NumberReading(decimal, delimiter)
    for column in NUMERIC_COLUMNS:
        if column in raw.columns:
            # value in the header's unit × factor = value in the column id's unit
            frame[column] = _parse_non_negative(raw, column, problems, reading) * (
                scales or {}
            ).get(column, 1.0)
    _check_blank_units(frame, problems)
    _check_duplicates(frame, problems)
    if problems:
        raise InputError(source, problems)
    if ENERGY_INTENSITY in frame.columns:
        # (tce / 10^4 yuan) × (10^8 yuan) × (10^4 [10^4 yuan] / [10^8 yuan]) = tce
        frame[ENERGY_TOTAL] = (
            frame[ENERGY_INTENSITY] * frame["gdp_100m_yuan"] * TEN_K_YUAN_PER_100M_YUAN
        )
    frame["year"] = frame["year"].astype(int)
    return frame[TIDY_COLUMNS].sort_values(["unit", "year"]).reset_index(drop=True)


def _check_columns(raw: pd.DataFrame, source: str | Path) -> None:
    problems = [f"missing column {c!r}" for c in REQUIRED_COLUMNS if c not in raw.columns]
    energy = [c for c in (ENERGY_TOTAL, ENERGY_INTENSITY) if c in raw.columns]
    if not energy:
        problems.append(f"needs an energy column: {ENERGY_TOTAL!r} or {ENERGY_INTENSITY!r}")
    elif len(energy) == 2:
        problems.append(f"give either {ENERGY_TOTAL!r} or {ENERGY_INTENSITY!r}, not both")
    problems += [
        f"two columns give {column.split(' (again: ')[0]!r}: keep one ({column})"
        for column in raw.columns
        if " (again: " in column
    ]
    repeated = sorted({c for c in raw.columns[raw.columns.duplicated()] if c in COLUMN_IDS})
    problems += [f"two columns give {column!r}: keep one" for column in repeated]
    if problems:
        problems.append(f"columns found: {list(raw.columns)} (accepted headers: docs/inputs.md)")
        raise InputError(source, problems)


def _row(index: object) -> str:
    return f"row {int(index) + 2}"  # +1 for the header line, +1 for 1-based counting


def _cells(column: pd.Series) -> pd.Series:
    """Text cells in matching form: NFKC (full-width digits), trimmed."""
    return column.map(lambda v: unicodedata.normalize("NFKC", str(v)).strip())


@dataclass(frozen=True)
class _NumberReading:
    """How number cells are written: the declared decimal mark (``None``: not declared) and
    the file's delimiter. A comma groups thousands only in a comma-separated file (where such
    a cell had to be quoted); in a ``;`` or tab file, what locales with a decimal comma write,
    a comma is refused, and so is an undeclared ``1.234`` (a thousands point there)."""

    decimal: str | None = None
    delimiter: str = ","

    def plain(self, text: str) -> str | None:
        """``text`` with a decimal point and no grouping, or ``None`` when ambiguous."""
        if self.decimal == ",":
            if "." in text:
                if not _GROUPED_BY_POINT.fullmatch(text):
                    return None
                text = text.replace(".", "")
            return text.replace(",", ".")
        if "," in text:
            grouped = self.delimiter == "," and _GROUPED_BY_COMMA.fullmatch(text)
            return text.replace(",", "") if grouped else None
        if self.decimal is None and self.delimiter != "," and _GROUPED_BY_POINT.fullmatch(text):
            return None
        return text

    def explain(self) -> str:
        """Why a cell was refused and what to do, for the message."""
        if self.decimal == ",":
            return (
                "with [statistics] decimal = ',' a point may only group thousands in threes "
                "(1.234,5)"
            )
        return (
            "a decimal comma, a thousands point, or thousands not grouped in threes; write "
            "313.0 or 1,234.5, or declare the table's decimal mark: [statistics] "
            "decimal = ',' (313,0 and 1.234,5) or decimal = '.'"
        )


def _parse_years(years: pd.Series, problems: list[str]) -> pd.Series:
    """Four-digit years; a trailing 年 (``2015年``, as yearbooks write it) is accepted."""
    parsed = pd.to_numeric(_cells(years).str.removesuffix("年"), errors="coerce")
    bad = parsed.isna() | (parsed % 1 != 0) | (parsed < 1000) | (parsed > 9999)
    for index in years.index[bad.to_numpy()]:
        problems.append(f"{_row(index)}, column 'year': not a year: {years[index]!r}")
    return parsed


def _parse_non_negative(
    raw: pd.DataFrame, column: str, problems: list[str], reading: _NumberReading
) -> pd.Series:
    texts = _cells(raw[column]).map(reading.plain)
    ambiguous = texts.isna()
    for index in raw.index[ambiguous.to_numpy()]:
        value = raw[column][index]
        problems.append(
            f"{_row(index)}, column {column!r}: ambiguous number {value!r} ({reading.explain()})"
        )
    parsed = pd.to_numeric(texts.fillna("0"), errors="coerce").astype(float)
    for index in raw.index[(parsed.isna() | np.isinf(parsed)).to_numpy()]:
        problems.append(f"{_row(index)}, column {column!r}: not a number: {raw[column][index]!r}")
    for index in raw.index[(parsed < 0).to_numpy()]:
        value = raw[column][index]
        problems.append(f"{_row(index)}, column {column!r}: negative value {value}")
    for index in raw.index[(parsed > MAX_VALUE).to_numpy()]:
        value = raw[column][index]
        problems.append(
            f"{_row(index)}, column {column!r}: value {value} is above {MAX_VALUE:.0e}, the "
            "largest a statistic may be (check the column's unit)"
        )
    return parsed.where(~ambiguous)


def _check_blank_units(frame: pd.DataFrame, problems: list[str]) -> None:
    for index in frame.index[(frame["unit"] == "").to_numpy()]:
        problems.append(
            f"{_row(index)}, column 'unit': empty unit name (a merged cell? unmerge it and "
            "repeat the name in every row; notes below the table count as rows too)"
        )


def _check_duplicates(frame: pd.DataFrame, problems: list[str]) -> None:
    duplicated = frame.duplicated(["unit", "year"], keep=False) & frame["year"].notna()
    for (unit, year), group in frame[duplicated].groupby(["unit", "year"], sort=True):
        rows = ", ".join(_row(i) for i in group.index)
        problems.append(f"duplicate (unit, year) ({unit!r}, {int(year)}) in {rows}")


def check_coverage(
    statistics: pd.DataFrame,
    units: Iterable[str],
    years: Iterable[int],
    *,
    source: str | Path,
    units_source: str,
) -> pd.DataFrame:
    """Check that every (unit, year) of the study is present; return the study's rows.

    Units in the statistics but not in ``units`` (or the reverse) are errors naming them,
    with near-miss suggestions (``'清镇' (did you mean '清镇市'?)``); names are never
    silently joined. Rows of other years are dropped.
    """
    study_units, study_years = sorted(set(units)), sorted(set(years))
    unit_column, year_column = statistics["unit"].tolist(), statistics["year"].tolist()
    table_units = sorted(set(unit_column))
    study_set, table_set = set(study_units), set(table_units)
    missing = [unit for unit in study_units if unit not in table_set]
    unknown = [unit for unit in table_units if unit not in study_set]
    suggest = problems_shown()
    problems = unmatched_problems(
        missing, table_units, f"unit {{name}} of {units_source} has no rows", suggest
    )
    problems += unmatched_problems(
        unknown,
        study_units,
        f"unit {{name}} is not in {units_source}",
        max(0, suggest - len(problems)),
    )
    present = set(zip(unit_column, year_column, strict=True))
    problems += [
        f"missing row for unit {unit!r}, year {year}"
        for unit in study_units
        if unit in table_set
        for year in study_years
        if (unit, year) not in present
    ]
    if problems:
        raise InputError(source, problems)
    rows = statistics[statistics["year"].isin(study_years)]
    return rows.reset_index(drop=True)


def load_statistics(
    path: Path,
    *,
    sheet: str | None = None,
    log: Callable[[str], None] | None = None,
    decimal: str | None = None,
) -> pd.DataFrame:
    """Read and tidy a statistics file (see :func:`read_statistics` and :func:`tidy`).

    ``log`` receives one line saying how the file was read (format, encoding or sheet, and
    any unit conversion of a column); ``decimal`` is the decimal mark of its numbers.
    """
    raw = read_statistics(path, sheet=sheet)
    if log is not None:
        converted = "".join(f"; {c} × {s:g}" for c, s in raw.scales.items())
        log(f"read statistics {Path(path).name}: {raw.read_as}{converted}")
    return tidy(raw.frame, raw.source, raw.scales, decimal=decimal, delimiter=raw.delimiter)
