"""Fuzzing the loaders: whatever the text or table, they succeed or raise our own errors."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError, StudyError
from pipeline.inputs.statistics import HEADER_ALIASES, check_coverage, load_statistics, tidy
from pipeline.study import SECTION_KEYS, load_study

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def folder() -> Path:
    """A folder for fuzzed files (one per module; each example overwrites its file)."""
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


# --- study files -------------------------------------------------------------------------

KEYS = sorted({key for keys in SECTION_KEYS.values() for key in keys} | {"bogus"})
SECTIONS = [*sorted(SECTION_KEYS), "bogus"]
scalars = st.one_of(
    st.text(max_size=12),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(["statistics.csv", "missing.tif", "resdc", "mean", "exact", "GBK", "."]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from([*KEYS, "2015", "forest", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)


def toml_value(value: object) -> str:
    """A TOML literal for a scalar, array or inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


documents = st.dictionaries(
    st.sampled_from(SECTIONS),
    st.dictionaries(st.sampled_from(KEYS), values, max_size=5),
    max_size=6,
)


def toml_document(document: dict[str, dict[str, object]]) -> str:
    """A TOML document of ``[section]`` tables."""
    lines: list[str] = []
    for section, table in document.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def _load_study_text(folder: Path, text: str | bytes) -> None:
    (folder / "statistics.csv").write_text("unit,year\n", encoding="utf-8")
    path = folder / "study.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(StudyError):
        load_study(path)


@FUZZ
@given(text=st.text(max_size=300))
def test_study_loader_on_any_text(folder: Path, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates cannot be written as UTF-8
    _load_study_text(folder, text)


@FUZZ
@given(data=st.binary(max_size=200))
def test_study_loader_on_any_bytes(folder: Path, data: bytes) -> None:
    _load_study_text(folder, data)


@FUZZ
@given(document=documents)
def test_study_loader_on_any_document(folder: Path, document: dict[str, dict[str, object]]) -> None:
    _load_study_text(folder, toml_document(document))


# --- statistics ------------------------------------------------------------------------------

COLUMNS = [
    "unit",
    "year",
    "population_10k",
    "gdp_100m_yuan",
    "energy_tce",
    "energy_intensity_tce_per_10k_yuan",
    "note",
    "",
    *list(HEADER_ALIASES)[:6],
]
cells = st.one_of(
    st.text(max_size=8),
    st.integers(min_value=-5, max_value=3000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["2015", "2020", "A", "清镇市", "—", "1,000", "１２", "-0", "1e400", " "]),
)
tables = st.integers(min_value=0, max_value=6).flatmap(
    lambda n_rows: st.lists(st.sampled_from(COLUMNS), min_size=0, max_size=7).flatmap(
        lambda columns: st.tuples(
            st.just(columns),
            st.lists(
                st.lists(cells, min_size=len(columns), max_size=len(columns)),
                min_size=n_rows,
                max_size=n_rows,
            ),
        )
    )
)


def _expect_input_error_or_frame(call: object) -> None:
    try:
        frame = call()  # type: ignore[operator]
    except InputError:
        return
    assert list(frame.columns) == ["unit", "year", "population_10k", "gdp_100m_yuan", "energy_tce"]
    assert (frame[["population_10k", "gdp_100m_yuan", "energy_tce"]] >= 0).all().all()


@FUZZ
@given(data=st.binary(max_size=300))
def test_statistics_on_any_bytes(folder: Path, data: bytes) -> None:
    path = folder / "statistics.csv"
    path.write_bytes(data)
    _expect_input_error_or_frame(lambda: load_statistics(path))


@FUZZ
@given(table=tables, encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_statistics_csv_on_any_table(
    folder: Path, table: tuple[list[str], list[list[str]]], encoding: str
) -> None:
    columns, rows = table
    text = pd.DataFrame(rows, columns=columns).to_csv(index=False) if columns else ""
    path = folder / "statistics.csv"
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:
        return
    _expect_input_error_or_frame(lambda: load_statistics(path))


@FUZZ
@given(table=tables)
def test_tidy_on_any_frame(table: tuple[list[str], list[list[str]]]) -> None:
    columns, rows = table
    frame = pd.DataFrame(rows, columns=columns, dtype=str)
    _expect_input_error_or_frame(lambda: tidy(frame, "fuzz.csv"))


@FEW
@given(
    rows=st.lists(
        st.lists(
            st.one_of(st.none(), st.integers(-5, 3000), st.floats(allow_nan=False), cells),
            max_size=6,
        ),
        max_size=6,
    ),
    header=st.lists(st.sampled_from(COLUMNS), max_size=6),
)
def test_statistics_xlsx_on_any_cells(
    folder: Path, rows: list[list[object]], header: list[str]
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in [header, *rows]:
        sheet.append([v for v in row if not (isinstance(v, str) and not v.isprintable())])
    path = folder / "statistics.xlsx"
    workbook.save(path)
    _expect_input_error_or_frame(lambda: load_statistics(path))


@FUZZ
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["A", "B", "清镇", "清镇市"]), st.sampled_from([2015, 2020])),
        max_size=8,
        unique=True,
    ),
    units=st.lists(st.sampled_from(["A", "B", "清镇", "清镇市", "C"]), max_size=4),
    years=st.lists(st.sampled_from([2015, 2020, 2025]), max_size=3),
)
def test_coverage_on_any_units_and_years(
    rows: list[tuple[str, int]], units: list[str], years: list[int]
) -> None:
    statistics = pd.DataFrame(rows, columns=["unit", "year"])
    try:
        covered = check_coverage(statistics, units, years, source="s.csv", units_source="b.gpkg")
    except InputError:
        return
    present = set(zip(covered["unit"], covered["year"], strict=True))
    assert {(u, y) for u in units for y in years} <= present


# --- area tables and scheme CSVs (the other table inputs) -------------------------------


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.lists(st.lists(cells, min_size=4, max_size=4).map(",".join), max_size=5).map(
            lambda rows: ("unit,year,code,area_ha\n" + "\n".join(rows)).encode()
        ),
        st.lists(st.lists(cells, min_size=2, max_size=2).map(",".join), max_size=5).map(
            lambda rows: ("code,class\n" + "\n".join(rows)).encode()
        ),
    )
)
def test_area_table_and_scheme_on_any_bytes(folder: Path, data: bytes) -> None:
    from pipeline.inputs.landuse import read_area_table, read_scheme

    path = folder / "table.csv"
    path.write_bytes(data)
    for reader in (read_area_table, read_scheme):
        with contextlib.suppress(InputError):
            reader(path)


# --- numbers are read exactly or refused; the command line never fails otherwise ----------


def _grouped(text: str, mark: str) -> str:
    """``text`` (digits with an optional ``.fraction``) with thousands grouped by ``mark``."""
    whole, _, fraction = text.partition(".")
    groups = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    return mark.join([whole, *groups]) + (f".{fraction}" if fraction else "")


def _written(value: float, style: str) -> str:
    """``value`` as a spreadsheet may write it: plain, grouped, or with a decimal comma."""
    plain = f"{value:.6f}".rstrip("0").rstrip(".")
    if style == "grouped":
        return _grouped(plain, ",")
    if style == "comma":
        return plain.replace(".", ",")
    if style == "grouped_comma":
        return _grouped(plain, "\0").replace(".", ",").replace("\0", ".")
    return plain


@FUZZ
@given(
    values=st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), min_size=4, max_size=4),
    style=st.sampled_from(["plain", "grouped", "comma", "grouped_comma"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
    decimal=st.sampled_from([None, ".", ","]),
)
def test_statistics_numbers_are_read_exactly_or_refused(
    folder: Path, values: list[float], style: str, delimiter: str, decimal: str | None
) -> None:
    """Whatever the separators and marks, a number read is the number written: never ×10.

    The writer's decimal mark follows from its style; a declared ``decimal`` contradicting it
    is the user's own statement, and a decimal comma in a comma-separated file is read as a
    thousands comma by convention (documented), so those combinations are not generated.
    """
    writer_mark = "," if style in ("comma", "grouped_comma") else "."
    assume(decimal in (None, writer_mark))
    assume(not (writer_mark == "," and delimiter == "," and decimal is None))
    cells = [_written(v, style) for v in values]
    rows = [["unit", "year", "population_10k", "gdp_100m_yuan", "energy_tce"]]
    rows += [[unit, "2015", cell, "1", "1"] for unit, cell in zip("ABCD", cells, strict=True)]
    quoted = [[f'"{c}"' if delimiter in c else c for c in row] for row in rows]
    path = folder / "numbers.csv"
    path.write_text("\n".join(delimiter.join(row) for row in quoted) + "\n", encoding="utf-8")
    try:
        frame = load_statistics(path, decimal=decimal)
    except InputError as error:
        assert "ambiguous number" in str(error) or "not a number" in str(error), error
        return
    expected = [float(f"{v:.6f}") for v in values]
    assert list(frame.sort_values("unit")["population_10k"]) == pytest.approx(expected, rel=1e-12)


@FEW
@given(document=documents)
def test_validate_command_on_any_document(
    folder: Path, document: dict[str, dict[str, object]]
) -> None:
    """``carbon-zoning validate``: exit 0 or 2 with a message, never an internal error."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from pipeline.cli import main

    (folder / "statistics.csv").write_text("unit,year\n", encoding="utf-8")
    path = folder / "study.toml"
    path.write_text(toml_document(document), encoding="utf-8", errors="surrogatepass")
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        status = main(["validate", str(path)])
    assert status in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue()
    if status == 2:
        assert err.getvalue().startswith("error: ")
