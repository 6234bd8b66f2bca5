"""The command line: exit status, messages without tracebacks, outputs left as they were."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, TOY_STATISTICS, TOY_STUDY

from pipeline.cli import main
from pipeline.outputs.labels import COLUMN_NAMES_ZH

MakeStudy = Callable[..., Path]
FAST_STUDY = TOY_STUDY + "\n[output]\nmaps = false\n"  # maps are tested in test_maps


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes), hidden files included."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_run_writes_the_outputs(toy_study: MakeStudy, capsys: pytest.CaptureFixture[str]) -> None:
    study = toy_study(text=FAST_STUDY)
    assert main(["run", str(study)]) == 0
    processed = study.parent / "out" / "data" / "processed"
    expected = {"landuse_areas.csv", "carbon_balance.csv", "zoning.csv", "carbon_balance.xlsx"}
    assert expected | {"run.json"} <= set(snapshot(processed))
    assert not [p for p in processed.iterdir() if p.name.endswith(".tmp")]
    assert "wrote" in capsys.readouterr().out


def test_bad_input_exits_non_zero_and_leaves_outputs(
    toy_study: MakeStudy, capsys: pytest.CaptureFixture[str]
) -> None:
    study = toy_study(text=FAST_STUDY)
    assert main(["run", str(study)]) == 0
    processed = study.parent / "out" / "data" / "processed"
    before = snapshot(processed)
    bad = TOY_STATISTICS.astype(object).copy()
    bad.loc[2, "gdp_100m_yuan"] = "n/a"
    toy_study(statistics=bad)
    capsys.readouterr()
    assert main(["run", str(study)]) == 2
    err = capsys.readouterr().err
    assert "statistics.csv" in err
    assert "row 4, column 'gdp_100m_yuan': not a number: 'n/a'" in err
    assert "Traceback" not in err
    assert snapshot(processed) == before


def test_bad_input_in_a_real_process(toy_study: MakeStudy) -> None:
    """The installed entry point: one message on stderr, no traceback, exit status 2."""
    study = toy_study(text="[study]\nname = \n")
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", str(study)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2
    assert "TOML syntax error" in result.stderr
    assert "study.toml" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (study.parent / "out").exists()


def _workbook_as_csv(workbook: Path, sheet: str, csv: pd.DataFrame, chinese: bool) -> pd.DataFrame:
    """A workbook sheet with its one header row mapped back to the CSV's column ids."""
    table = pd.read_excel(workbook, sheet_name=sheet)
    if chinese:
        table = table.rename(columns={COLUMN_NAMES_ZH.get(c, c): c for c in csv.columns})
    return table[list(csv.columns)]


@pytest.mark.parametrize(
    "header", ["", "xlsx_chinese_headers = false\n", 'xlsx_header_language = "en"\n']
)
def test_workbook_round_trip(toy_study: MakeStudy, header: str) -> None:
    study = toy_study(text=FAST_STUDY + header)
    assert main(["run", str(study)]) == 0
    processed = study.parent / "out" / "data" / "processed"
    workbook = processed / "carbon_balance.xlsx"
    sheets = ["zoning", "carbon_balance", "landuse_areas", "说明"]
    assert pd.ExcelFile(workbook).sheet_names == sheets
    for sheet in sheets[:3]:
        csv = pd.read_csv(processed / f"{sheet}.csv", encoding="utf-8-sig")
        from_xlsx = _workbook_as_csv(workbook, sheet, csv, chinese=not header)
        pd.testing.assert_frame_equal(from_xlsx, csv, check_dtype=False)
        first_row = list(pd.read_excel(workbook, sheet_name=sheet, header=None, nrows=1).iloc[0])
        assert ("区县" in first_row) == (not header) and ("unit" in first_row) == bool(header)


def test_an_unexpected_error_is_an_internal_error_paragraph(
    toy_study: MakeStudy, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug anywhere: exit 3, a short paragraph naming the exception and stage, the
    traceback in a report file, the earlier outputs untouched."""
    from pipeline import api
    from pipeline.model import zoning

    study = toy_study(text=FAST_STUDY)
    assert main(["run", str(study)]) == 0
    before = snapshot(study.parent / "out")
    capsys.readouterr()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ZeroDivisionError("a bug in the zoning")

    monkeypatch.setattr(zoning, "classify", broken)
    assert api.zoning is zoning
    assert main(["run", str(study)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("internal error: ZeroDivisionError: a bug in the zoning\n")
    assert "  stage: pipeline.api" in err
    report = Path(err.split("a report was written to ")[1].split(": please")[0])
    assert "ZeroDivisionError: a bug in the zoning" in report.read_text(encoding="utf-8")
    assert "Traceback" in report.read_text(encoding="utf-8")
    report.unlink()
    assert snapshot(study.parent / "out") == before


IMPORT_PROBE = """\
import sys
from pipeline.cli import main
status = main(["run", sys.argv[1], "--force"])
drawing = ("matplotlib", "mapclassify", "sklearn", "scipy.stats", "fontTools", "openpyxl")
print(status, " ".join(sorted(name for name in drawing if name in sys.modules)))
"""


def test_a_maps_off_run_imports_no_drawing_library(tmp_path: Path) -> None:
    """A run with maps and workbook off, in a fresh interpreter, writes its GeoPackage (QGIS
    styles with the maps' classes and colours) without importing matplotlib, mapclassify,
    scikit-learn, scipy.stats, fontTools or openpyxl: together about 2.5 s of a 1 s run.

    Five units in one year: the default NaturalBreaks gives each value its own class.
    """
    raw = REPO / "data" / "raw"
    areas = pd.read_csv(raw / "demo_landuse_targets.csv")
    areas[areas["year"] == 2020].to_csv(tmp_path / "areas.csv", index=False)
    study = tmp_path / "study.toml"
    study.write_text(
        f"""\
[study]
name = "贵阳市 2020"
output_dir = "out"

[boundaries]
path = "{(raw / "guiyang_counties.gpkg").as_posix()}"
layer = "counties"
unit_field = "unit"

[landuse]
areas = "areas.csv"

[statistics]
path = "{(raw / "statistics.csv").as_posix()}"

[output]
maps = false
xlsx = false
""",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, str(study)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines()[-1].split() == ["0"]
    assert (tmp_path / "out" / "data" / "processed" / "carbon_balance.gpkg").is_file()
