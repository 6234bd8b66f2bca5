"""The bundled Guiyang study against the paper's Tables 2 and 3."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.api import Results, Timer, compute, load_inputs
from pipeline.demo.synthetic import write_demo_rasters
from pipeline.inputs.reference import read_reference
from pipeline.model import reproduction
from pipeline.study import load_study
from tests.conftest import REPO

REFERENCE = REPO / "data" / "raw" / "reference"


def area_table_study(tmp_path: Path) -> Path:
    """The bundled study, run from the area table (the land-survey route)."""
    text = (REPO / "study.toml").read_text(encoding="utf-8")
    text = text.replace('"data/raw/', f'"{REPO.as_posix()}/data/raw/')
    lines = [line for line in text.splitlines() if not line.startswith("rasters")]
    if not any(line.startswith("areas") for line in lines):
        index = lines.index('scheme = "resdc"') + 1
        lines.insert(index, f'areas = "{REPO.as_posix()}/data/raw/demo_landuse_targets.csv"')
    path = tmp_path / "study.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def raster_study(tmp_path: Path) -> Path:
    """The bundled study as ``make demo`` runs it: from freshly generated 30 m rasters."""
    raw = REPO / "data" / "raw"
    write_demo_rasters(tmp_path, raw / "guiyang_counties.gpkg", raw / "demo_landuse_targets.csv")
    text = (REPO / "study.toml").read_text(encoding="utf-8")
    text = text.replace('"data/raw/landuse_', f'"{tmp_path.as_posix()}/landuse_')
    text = text.replace('"data/raw/', f'"{REPO.as_posix()}/data/raw/')
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=["area_table", "rasters"])
def guiyang(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Results:
    make_study = area_table_study if request.param == "area_table" else raster_study
    study = load_study(make_study(tmp_path_factory.mktemp(request.param)))
    if request.param == "rasters":
        assert study.landuse.rasters, "the bundled study should run from rasters"
    return compute(study, load_inputs(study, Timer()))


@pytest.fixture(scope="module")
def table2() -> pd.DataFrame:
    return read_reference(REFERENCE / "paper_table2.csv", reproduction.REFERENCE_COLUMNS)


def test_emission_and_sink_totals_within_0_05_percent(
    guiyang: Results, table2: pd.DataFrame
) -> None:
    compared = reproduction.compare_indices(guiyang.balance, table2)
    totals = compared[compared["index"].isin(["emission_10kt", "sink_10kt"])]
    assert len(totals) == 20  # 5 units × 2 years × 2 totals
    worst = totals.loc[totals["difference_pct"].abs().idxmax()]
    assert abs(worst["difference_pct"]) < 0.05, worst.to_dict()


def test_2015_sec_within_0_01(guiyang: Results, table2: pd.DataFrame) -> None:
    compared = reproduction.compare_indices(guiyang.balance, table2)
    sec_2015 = compared[(compared["index"] == "sec") & (compared["year"] == 2015)]
    assert len(sec_2015) == 5
    assert sec_2015["difference"].abs().max() < 0.01


def test_table3_zones_exactly(guiyang: Results) -> None:
    table3 = read_reference(REFERENCE / "paper_table3.csv", reproduction.ZONING_REFERENCE_COLUMNS)
    compared = reproduction.compare_zoning(guiyang.zoning, table3)
    assert compared["same"].all(), compared.to_string()
    ours = guiyang.zoning.set_index("unit")
    for row in table3.itertuples():
        assert (ours.at[row.unit, "eec_level"], ours.at[row.unit, "sec_level"]) == (
            row.eec_level,
            row.sec_level,
        )


def test_paper_inconsistencies_are_detected(table2: pd.DataFrame) -> None:
    sec = reproduction.reference_sec_check(table2).set_index(["unit", "year"])
    assert sec.loc[[(u, 2015) for u in sec.index.levels[0]], "consistent"].all()
    inconsistent_2020 = sorted(sec[~sec["consistent"]].index)
    assert inconsistent_2020 == sorted(
        [("市辖区", 2020), ("清镇市", 2020), ("息烽县", 2020), ("修文县", 2020)]
    )
    assert sec.loc[("修文县", 2020), "sec_from_columns"] == pytest.approx(1.815, abs=0.002)
    sums = reproduction.implied_gdp_shares(table2).groupby("year").sum(numeric_only=True)
    # Eq. 6 as printed implies GDP shares summing to 1.17 and 1.89 (README finding 3)
    assert sums.loc[2015, "share_emission_over_gdp"] == pytest.approx(1.17, abs=0.01)
    assert sums.loc[2020, "share_emission_over_gdp"] == pytest.approx(1.89, abs=0.01)
    assert sums.loc[2015, "share_gdp_over_emission"] == pytest.approx(1.09, abs=0.01)


def test_report_lists_paper_values_and_ours(guiyang: Results) -> None:
    report = guiyang.reproduction_markdown
    assert report is not None
    assert "Zoning: 5 of 5 units as published" in report
    assert "4377.200" in report  # the paper's 2015 emission of 市辖区
    assert "SEC recomputed from the paper's emission and sink columns" in report
    assert "观山湖区" in report  # notes on the reference are included
