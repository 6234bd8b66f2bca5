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
