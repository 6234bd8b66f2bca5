"""Reading a published reference table (the paper's Table 2 or 3) to compare a run with."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.inputs.encodings import read_chinese_text
from pipeline.inputs.names import normalise_name
from pipeline.runtime.files import refuse_non_file

TEXT_COLUMNS = ("unit", "eec_level", "sec_level", "zone", "zone_zh")
"""Columns of a reference table that hold words; every other column must hold numbers."""


def read_reference(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read a reference CSV (UTF-8 or GBK), checking that ``columns`` are present and that
    the numeric ones hold numbers (each bad cell named by row and column); units normalised."""
    refuse_non_file(path)
    text, _encoding = read_chinese_text(path)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(path, f"cannot read reference table: {error}") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; found {list(table.columns)}")
    problems: list[str] = []
    for column in columns:
        if column not in TEXT_COLUMNS:
            table[column] = _numbers(table[column], column, problems)
    if problems:
        raise InputError(path, problems)
    table["unit"] = table["unit"].map(normalise_name)
    return table


def _numbers(cells: pd.Series, column: str, problems: list[str]) -> pd.Series:
    parsed = pd.to_numeric(cells.str.strip(), errors="coerce")
    for index in cells.index[(parsed.isna() | ~parsed.abs().lt(float("inf"))).to_numpy()]:
        problems.append(f"row {int(index) + 2}, column {column!r}: not a number: {cells[index]!r}")
    return parsed


def read_notes(path: Path) -> str:
    """A reference's notes file (Markdown) as text: UTF-8, else GBK; binary data refused."""
    refuse_non_file(path)
    try:
        text, _encoding = read_chinese_text(path)
    except InputError:
        text = "\x00"
    if "\x00" in text:
        raise InputError(
            path, "[study] reference_notes is not a text file (binary data); give a Markdown file"
        )
    return text
