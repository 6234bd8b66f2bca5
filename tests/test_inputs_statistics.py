"""Statistics: parsing, checks and coverage; every message names file, row, column and value."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.inputs.statistics import check_coverage, load_statistics, tidy

HEADER = "unit,year,population_10k,gdp_100m_yuan,energy_tce\n"


def _csv(tmp_path: Path, text: str, name: str = "statistics.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_and_tidies(tmp_path: Path) -> None:
    path = _csv(tmp_path, HEADER + ' 南明区 ,2020,1,"1,000.5",30\n云岩区,2015,2,20,40\n')
    frame = load_statistics(path)
    assert list(frame.columns) == ["unit", "year", "population_10k", "gdp_100m_yuan", "energy_tce"]
    assert list(frame["unit"]) == ["云岩区", "南明区"]
    assert frame.loc[1, "gdp_100m_yuan"] == 1000.5
    assert frame["year"].dtype.kind == "i"


def test_energy_intensity_is_converted_to_total(tmp_path: Path) -> None:
    text = "unit,year,population_10k,gdp_100m_yuan,energy_intensity_tce_per_10k_yuan\n"
    text += "A,2020,1,2,0.5\n"
    frame = load_statistics(_csv(tmp_path, text))
    # 0.5 tce/万元 × 2 亿元 × 10⁴ 万元/亿元 = 10 000 tce
    assert frame.loc[0, "energy_tce"] == pytest.approx(10_000.0)


def test_energy_total_and_intensity_give_the_same_model_input(tmp_path: Path) -> None:
    total = load_statistics(_csv(tmp_path, HEADER + "A,2020,1,250,12500\n", "a.csv"))
    text = "unit,year,population_10k,gdp_100m_yuan,energy_intensity_tce_per_10k_yuan\n"
    intensity = load_statistics(_csv(tmp_path, text + "A,2020,1,250,0.005\n", "b.csv"))
    pd.testing.assert_frame_equal(total, intensity)


def test_both_energy_columns_is_an_error(tmp_path: Path) -> None:
    text = HEADER.strip() + ",energy_intensity_tce_per_10k_yuan\nA,2020,1,2,3,4\n"
    with pytest.raises(InputError, match=r"give either 'energy_tce' or .* not both"):
        load_statistics(_csv(tmp_path, text))


def test_missing_columns_listed_with_the_columns_found(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        load_statistics(_csv(tmp_path, "unit,year,pop\nA,2020,1\n"))
    message = str(caught.value)
    assert "statistics.csv" in message
    assert "missing column 'population_10k'" in message
    assert "needs an energy column" in message
    assert "columns found: ['unit', 'year', 'pop']" in message


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("A,2020,abc,2,3", r"row 2, column 'population_10k': not a number: 'abc'"),
        ("A,2020,1,-2,3", r"row 2, column 'gdp_100m_yuan': negative value -2"),
        ("A,2020,1,2,", r"row 2, column 'energy_tce': not a number: ''"),
        ("A,二〇二〇,1,2,3", r"row 2, column 'year': not a year: '二〇二〇'"),
        ("A,2020.5,1,2,3", r"row 2, column 'year': not a year: '2020.5'"),
        (" ,2020,1,2,3", r"row 2, column 'unit': empty unit name"),
    ],
)
def test_bad_values_name_row_column_and_value(tmp_path: Path, row: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected) as caught:
        load_statistics(_csv(tmp_path, HEADER + row + "\n"))
    assert str(caught.value).startswith(str(tmp_path / "statistics.csv"))


def test_duplicates_name_both_rows(tmp_path: Path) -> None:
    text = HEADER + "A,2020,1,2,3\nB,2020,1,2,3\nＡ,2020,1,2,3\n"  # full-width Ａ is A
    with pytest.raises(InputError, match=r"duplicate \(unit, year\) \('A', 2020\) in row 2, row 4"):
        load_statistics(_csv(tmp_path, text))


def test_every_bad_value_is_listed_at_once(tmp_path: Path) -> None:
    text = HEADER + "A,2020,x,2,3\nB,2020,1,-1,3\nC,20x0,1,2,3\n"
    with pytest.raises(InputError) as caught:
        load_statistics(_csv(tmp_path, text))
    assert len(caught.value.problems) == 3


def _tidy(rows: dict[str, list]) -> pd.DataFrame:
    raw = pd.DataFrame({k: [str(v) for v in values] for k, values in rows.items()})
    return tidy(raw, "stats.csv")


STATS = {
    "unit": ["清镇市", "修文县", "清镇市", "修文县"],
    "year": [2015, 2015, 2020, 2020],
    "population_10k": [1, 2, 3, 4],
    "gdp_100m_yuan": [1, 2, 3, 4],
    "energy_tce": [1, 2, 3, 4],
}


def test_coverage_ok_drops_other_years() -> None:
    rows = check_coverage(
        _tidy(STATS), ["清镇市", "修文县"], [2020], source="stats.csv", units_source="b.gpkg"
    )
    assert sorted(rows["year"].unique()) == [2020]


def test_missing_unit_year() -> None:
    with pytest.raises(InputError, match=r"missing row for unit '修文县', year 2010"):
        check_coverage(
            _tidy(STATS), ["清镇市", "修文县"], [2010, 2015], source="s.csv", units_source="b"
        )


def test_near_miss_is_suggested_and_never_joined() -> None:
    with pytest.raises(InputError) as caught:
        check_coverage(
            _tidy(STATS),
            ["清镇", "修文县"],
            [2015],
            source="stats.csv",
            units_source="the boundaries guiyang.gpkg",
        )
    message = str(caught.value)
    assert message.startswith("stats.csv: 2 problems")
    assert (
        "unit '清镇' (did you mean '清镇市'?) of the boundaries guiyang.gpkg has no rows" in message
    )
    assert "unit '清镇市' (did you mean '清镇'?) is not in the boundaries guiyang.gpkg" in message


def test_units_only_in_statistics_are_errors() -> None:
    with pytest.raises(InputError, match=r"unit '修文县' is not in the area table areas\.csv"):
        check_coverage(
            _tidy(STATS),
            ["清镇市"],
            [2015],
            source="stats.csv",
            units_source="the area table areas.csv",
        )


def test_units_only_in_boundaries_are_errors() -> None:
    with pytest.raises(InputError, match=r"unit '息烽县' of b\.gpkg has no rows"):
        check_coverage(
            _tidy(STATS),
            ["清镇市", "修文县", "息烽县"],
            [2015],
            source="stats.csv",
            units_source="b.gpkg",
        )


def test_a_million_unknown_units_give_a_short_message_quickly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The message lists the first problems and counts the rest; near-miss suggestions are
    looked for only for the listed ones (never a search of every name against every other)."""
    import difflib
    import time

    searches = []
    close_matches = difflib.get_close_matches

    def counted(*args: object, **kwargs: object) -> list[str]:
        searches.append(args[0])
        return close_matches(*args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counted)
    n_units = 200_000
    names = [f"乌{i}" for i in range(n_units - 1)] + ["县0市"]
    frame = pd.DataFrame({"unit": names, "year": 2015})
    study_units = [f"县{i}" for i in range(2_900)] + ["乌17"]
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        check_coverage(frame, study_units, [2015], source="s.csv", units_source="b.gpkg")
    elapsed_s = time.perf_counter() - started
    message = str(caught.value)
    assert message.startswith(f"s.csv: {2_900 + n_units - 1} problems")  # 乌17 matched
    assert message.count("\n") == 51  # the count line, 50 problems, "and K more"
    assert message.endswith(
        f"and {2_900 + n_units - 1 - 50} more (the first 50 are listed; set "
        "CARBON_ZONING_MAX_PROBLEMS_SHOWN to list more)"
    )
    assert "unit '县0' (did you mean '县0市'?) of b.gpkg has no rows" in message
    assert "unit '县1' of b.gpkg has no rows" in message
    assert len(searches) == 50
    assert elapsed_s < 30  # about 1 s on an idle core; linear in the table's size


def test_near_misses_are_found_in_a_large_table_by_first_character() -> None:
    from pipeline.inputs.names import LARGE_POOL, NameMatcher

    pool = [f"乌{i}" for i in range(LARGE_POOL + 1)] + ["清镇市"]
    assert NameMatcher(pool).describe("清镇") == "'清镇' (did you mean '清镇市'?)"
    assert NameMatcher(pool).describe("息烽") == "'息烽'"


def _workbook(path: Path, rows: int = 4) -> Path:
    frame = pd.DataFrame(STATS).iloc[[i % 4 for i in range(rows)]]
    frame.to_excel(path, index=False, engine="openpyxl")
    return path


def test_a_workbook_above_the_size_cap_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zipfile

    path = _workbook(tmp_path / "s.xlsx")
    with zipfile.ZipFile(path) as archive:
        expanded = sum(member.file_size for member in archive.infolist())
    monkeypatch.setenv("CARBON_ZONING_MAX_STATISTICS_BYTES", str(expanded - 1))
    with pytest.raises(InputError) as caught:
        load_statistics(path)
    assert str(caught.value) == (
        f"{path}: workbook expands to {expanded} bytes of XML ({path.stat().st_size} bytes on "
        f"disk), above the limit of {expanded - 1} bytes for a statistics table (a damaged "
        "file, a zip bomb or a whole database export?); save the statistics sheet alone as "
        ".xlsx or CSV, or set the environment variable CARBON_ZONING_MAX_STATISTICS_BYTES to "
        "raise this limit"
    )
    monkeypatch.setenv("CARBON_ZONING_MAX_STATISTICS_BYTES", str(expanded))
    assert len(load_statistics(path)) == 4


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_a_table_above_the_row_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    path = tmp_path / f"s{suffix}"
    if suffix == ".xlsx":
        _workbook(path, rows=8)
    else:
        pd.DataFrame(STATS).iloc[[i % 4 for i in range(8)]].to_csv(path, index=False)
    monkeypatch.setenv("CARBON_ZONING_MAX_STATISTICS_ROWS", "7")
    with pytest.raises(InputError, match=r"more than 7 rows, above the limit") as caught:
        load_statistics(path)
    assert "CARBON_ZONING_MAX_STATISTICS_ROWS" in str(caught.value)
    monkeypatch.setenv("CARBON_ZONING_MAX_STATISTICS_ROWS", "8")
    with pytest.raises(InputError, match="duplicate"):  # read whole: 8 rows are allowed
        load_statistics(path)


def test_a_csv_above_the_size_cap_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.csv"
    pd.DataFrame(STATS).to_csv(path, index=False)
    monkeypatch.setenv("CARBON_ZONING_MAX_STATISTICS_BYTES", "10")
    with pytest.raises(InputError, match=rf"CSV of {path.stat().st_size} bytes, above the limit"):
        load_statistics(path)


def test_a_workbook_whose_zip_lies_about_its_size_is_an_input_error(tmp_path: Path) -> None:
    """The zip directory declares less than the member holds: the read stops at the declared
    size and fails its CRC, which is a damaged workbook, never an internal error."""
    import zipfile

    path = _workbook(tmp_path / "s.xlsx")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("xl/worksheets/sheet1.xml")
    declared = member.file_size.to_bytes(4, "little")
    smaller = (member.file_size // 2).to_bytes(4, "little")
    assert data.count(declared) == 2  # the local header and the central directory
    path.write_bytes(bytes(data).replace(declared, smaller))
    with pytest.raises(InputError, match="cannot be read as an Excel workbook"):
        load_statistics(path)
