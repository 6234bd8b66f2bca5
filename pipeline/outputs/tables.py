"""The run's tables: CSV files and the Excel workbook."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pipeline.outputs.labels import COLUMN_NAMES_ZH


@dataclass(frozen=True)
class MapTables:
    """What the maps are drawn from: the processed tables and the units' polygons."""

    balance: pd.DataFrame
    zoning: pd.DataFrame
    landuse_areas: pd.DataFrame
    units: gpd.GeoDataFrame | None
    reproduction_markdown: str | None = None


# --------------------------------------------------------------------------- footnote


def balance_sheets(
    landuse_areas: pd.DataFrame, balance: pd.DataFrame, zoning: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """The tables of a run, by sheet name (also the CSV stem)."""
    return {"landuse_areas": landuse_areas, "carbon_balance": balance, "zoning": zoning}


def iter_csv_outputs(sheets: Mapping[str, pd.DataFrame]) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(data/processed/<name>.csv, frame)`` for each table."""
    for name, frame in sheets.items():
        yield f"data/processed/{name}.csv", frame


def write_workbook(
    path: Path, sheets: Mapping[str, pd.DataFrame], *, chinese_headers: bool = True
) -> None:
    """Write ``sheets`` to an .xlsx workbook, one sheet per table.

    With ``chinese_headers`` the first row holds Chinese column names and the second the
    column ids of the CSV files (read back with ``pandas.read_excel(..., header=1)``).
    """
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            start_row = 1 if chinese_headers else 0
            frame.to_excel(writer, sheet_name=name, index=False, startrow=start_row)
            sheet = writer.sheets[name]
            if chinese_headers:
                for column_number, column in enumerate(frame.columns, start=1):
                    sheet.cell(row=1, column=column_number, value=COLUMN_NAMES_ZH.get(column, ""))
            sheet.freeze_panes = sheet.cell(row=start_row + 2, column=2)
