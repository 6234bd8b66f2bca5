"""Reading a published reference table (the paper's Table 2 or 3) to compare a run with."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.inputs.names import normalise_name


def read_reference(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read a reference CSV, checking that ``columns`` are present; units normalised."""
    try:
        table = pd.read_csv(path, encoding="utf-8-sig")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(path, f"cannot read reference table: {error}") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; found {list(table.columns)}")
    table["unit"] = table["unit"].map(normalise_name)
    return table
