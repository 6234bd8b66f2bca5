"""The study loader: every problem of a study file is reported at once, naming key and value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.errors import InputError, StudyError
from pipeline.study import load_study

MakeStudy = Callable[..., Path]


def _with(extra: str, base: str | None = None) -> str:
    """The toy study text with ``extra`` appended (new sections or replaced keys)."""
    from conftest import TOY_STUDY

    return (base or TOY_STUDY) + "\n" + extra


def test_toy_study_loads(toy_study: MakeStudy) -> None:
    study = load_study(toy_study())
    assert study.name == "toy"
    assert study.output_dir == study.path.parent / "out"
    assert study.landuse.areas == study.path.parent / "areas.csv"
    assert study.coefficients.energy_t_co2_per_tce == 2.66


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("[zoning]\neec_brakes = [0.5, 1.0]\n", r"\[zoning\.eec_brakes\] unknown key"),
        ("[zonning]\nbasis = 'mean'\n", r"\[zonning\] unknown section"),
        ("[coefficients]\nenergy_t_co2_per_tce = 'high'\n", r"must be a number, got 'high'"),
        ("[maps]\nclasses = true\n", r"\[maps\.classes\] must be an integer, got True"),
        ("[zoning]\nsec_breaks = [2.0, 1.0]\n", r"ascending, got \[2\.0, 1\.0\]"),
        ("[zoning]\neec_breaks = [0.5]\n", r"must be two numbers .*got \[0\.5\]"),
        (
            "[coefficients]\nrespiration_t_per_10k_people = -3285\n",
            r"\[coefficients\.respiration_t_per_10k_people\] must be a finite number >= 0, "
            r"got -3285",
        ),
        (
            "[coefficients]\nsink_t_per_ha = { forest = -3.55 }\n",
            r"\[coefficients\.sink_t_per_ha\.forest\] .* got -3\.55",
        ),
        (
            "[coefficients]\nsink_t_per_ha = { wetland = 1.0 }\n",
            r"unknown land class 'wetland'",
        ),
        ("[zoning]\nbasis = 'median'\n", r"\[zoning\.basis\] must be one of .*got 'median'"),
        ("[compute]\nscheduler = 'gpu'\n", r"\[compute\.scheduler\] .*got 'gpu'"),
        ("[output]\nmaps = 'no'\n", r"\[output\.maps\] must be true or false, got 'no'"),
        ("[maps]\nsvg_text = 'fonts'\n", r"\[maps\.svg_text\] must be one of .*got 'fonts'"),
        ("[maps]\nformats = 'svg'\n", r"\[maps\.formats\] must be an array, got 'svg'"),
        (
            "[maps]\nformats = ['png', 'jpg']\n",
            r"\[maps\.formats\] unknown format\(s\) \['jpg'\] \(valid: 'png', 'svg', 'pdf'\)",
        ),
        (
            "[maps]\nformats = ['svg']\n",
            r"\[maps\.formats\] must include 'png' \(the HTML report .*got \['svg'\]",
        ),
        (
            "[output]\nxlsx_header_language = 'de'\n",
            r"\[output\.xlsx_header_language\] must be one of .*got 'de'",
        ),
        (
            "[output]\nxlsx_chinese_headers = false\nxlsx_header_language = 'zh'\n",
            r"\[output\.xlsx_header_language\] 'zh' contradicts xlsx_chinese_headers = false",
        ),
    ],
)
def test_each_problem_names_key_and_value(toy_study: MakeStudy, extra: str, expected: str) -> None:
    with pytest.raises(StudyError, match=expected) as caught:
        load_study(toy_study(text=_with(extra)))
    assert "study.toml" in str(caught.value)


def test_missing_files_are_named_with_where_they_were_looked_for(toy_study: MakeStudy) -> None:
    text = _with("[boundaries]\npath = 'nowhere/units.gpkg'\n").replace(
        "statistics.csv", "stats_2020.csv"
    )
    with pytest.raises(StudyError) as caught:
        load_study(toy_study(text=text))
    message = str(caught.value)
    assert "[statistics.path] file not found: 'stats_2020.csv'" in message
    assert "[boundaries.path] file not found: 'nowhere/units.gpkg'" in message


def test_missing_raster_names_the_year(toy_study: MakeStudy) -> None:
    text = _with(
        "[boundaries]\npath = 'areas.csv'\n",
        base='[study]\nname = "t"\n[landuse]\nrasters = { 2015 = "lu_2015.tif" }\n'
        '[statistics]\npath = "statistics.csv"\n',
    )
    with pytest.raises(StudyError, match=r"\[landuse\.rasters\.2015\] file not found: 'lu_2015"):
        load_study(toy_study(text=text))


def test_bad_raster_year(toy_study: MakeStudy) -> None:
    text = (
        '[study]\nname = "t"\n[boundaries]\npath = "areas.csv"\n'
        '[landuse]\nrasters = { "20x5" = "areas.csv" }\n[statistics]\npath = "statistics.csv"\n'
    )
    with pytest.raises(StudyError, match=r"\[landuse\.rasters\.20x5\] year must be a four-digit"):
        load_study(toy_study(text=text))


def test_every_problem_is_listed_at_once(toy_study: MakeStudy) -> None:
    extra = (
        "[zoning]\neec_brakes = [0.5, 1.0]\nsec_breaks = [2.0, 1.0]\n"
        "[coefficients]\nenergy_t_co2_per_tce = -1\n"
    )
    text = _with(extra).replace("statistics.csv", "missing.csv")
    with pytest.raises(StudyError) as caught:
        load_study(toy_study(text=text))
    error = caught.value
    assert len(error.problems) == 4
    assert str(error).splitlines()[0].endswith("study.toml: 4 problems")
    for fragment in ("eec_brakes", "sec_breaks", "energy_t_co2_per_tce", "missing.csv"):
        assert fragment in str(error)


def test_toml_syntax_error_gives_the_line(toy_study: MakeStudy) -> None:
    with pytest.raises(StudyError, match=r"TOML syntax error: .*line 4"):
        load_study(toy_study(text='[study]\nname = "t"\n\nname2 = \n'))


def test_study_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match=r"nope\.toml: study file not found"):
        load_study(tmp_path / "nope.toml")


def test_study_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_bytes('[study]\nname = "贵阳"\n'.encode("gb18030"))
    with pytest.raises(StudyError, match="is not UTF-8 text"):
        load_study(path)


def test_required_sections(tmp_path: Path) -> None:
    path = tmp_path / "study.toml"
    path.write_text('[study]\nname = "t"\n', encoding="utf-8")
    with pytest.raises(StudyError) as caught:
        load_study(path)
    assert "[landuse] section is required but missing" in str(caught.value)
    assert "[statistics] section is required but missing" in str(caught.value)


def test_study_errors_are_input_errors() -> None:
    assert issubclass(StudyError, InputError)
    assert issubclass(StudyError, ValueError)


def test_validate_lists_every_problem_and_writes_nothing(
    toy_study: MakeStudy, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = "[zoning]\neec_brakes = [0.5, 1.0]\n[coefficients]\nenergy_t_co2_per_tce = -1\n"
    study = toy_study(text=_with(extra).replace("areas.csv", "gone.csv"))
    assert main(["validate", str(study)]) != 0
    err = capsys.readouterr().err
    assert "3 problems" in err
    for fragment in ("eec_brakes", "energy_t_co2_per_tce", "gone.csv"):
        assert fragment in err
    assert "Traceback" not in err
    assert not (study.parent / "out").exists()


def test_validate_ok(toy_study: MakeStudy, capsys: pytest.CaptureFixture[str]) -> None:
    study = toy_study()
    assert main(["validate", str(study)]) == 0
    assert "no problems found" in capsys.readouterr().out
    assert not (study.parent / "out").exists()


def test_sheet_must_be_a_string(toy_study: MakeStudy) -> None:
    text = _with("").replace('path = "statistics.csv"', 'path = "statistics.csv"\nsheet = 1')
    with pytest.raises(StudyError, match=r"\[statistics\.sheet\] must be a string, got 1"):
        load_study(toy_study(text=text))


def test_new_keys_are_read(toy_study: MakeStudy) -> None:
    text = _with("[output]\nmaps = false\n").replace(
        'path = "statistics.csv"', 'path = "statistics.csv"\nsheet = "数据"'
    )
    study = load_study(toy_study(text=text))
    assert study.statistics_sheet == "数据"
    assert study.output.maps is False


@pytest.mark.parametrize(
    ("output", "language"),
    [
        ("", "zh"),
        ("xlsx_chinese_headers = false\n", "en"),
        ('xlsx_header_language = "en"\n', "en"),
        ('xlsx_chinese_headers = true\nxlsx_header_language = "zh"\n', "zh"),
    ],
)
def test_workbook_header_language(toy_study: MakeStudy, output: str, language: str) -> None:
    study = load_study(toy_study(text=_with("[output]\n" + output)))
    assert study.output.xlsx_header_language == language
    assert study.output.xlsx_chinese_headers == (language == "zh")


def test_svg_text_defaults_to_paths(toy_study: MakeStudy) -> None:
    assert load_study(toy_study()).maps.svg_text == "paths"
    study = load_study(toy_study(text=_with('[maps]\nsvg_text = "text"\n')))
    assert study.maps.svg_text == "text"


@pytest.mark.parametrize(
    ("formats", "expected"),
    [
        (None, ("png",)),
        ('["png"]', ("png",)),
        ('["svg", "png"]', ("png", "svg")),
        ('["png", "pdf", "svg", "pdf"]', ("png", "pdf", "svg")),
    ],
)
def test_map_formats_are_png_by_default_and_png_first(
    toy_study: MakeStudy, formats: str | None, expected: tuple[str, ...]
) -> None:
    extra = f"[maps]\nformats = {formats}\n" if formats else ""
    assert load_study(toy_study(text=_with(extra))).maps.formats == expected


# --- schemes, class overrides, per-code coefficients and the coefficient table -----------


def _landuse(extra: str) -> str:
    """The toy study with ``extra`` lines in its [landuse] section."""
    from conftest import TOY_STUDY

    return TOY_STUDY.replace('areas = "areas.csv"\n', f'areas = "areas.csv"\n{extra}\n')


def test_builtin_scheme_and_class_overrides_are_read(toy_study: MakeStudy) -> None:
    text = _landuse('scheme = "modis_igbp"\ntransitions = false\n[landuse.classes]\n14 = "other"')
    study = load_study(toy_study(text=text))
    assert study.landuse.scheme == "modis_igbp"
    assert study.landuse.classes == {14: "other"}
    assert study.landuse.transitions is False


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('scheme = "modis"', r"\[landuse\.scheme\] unknown scheme 'modis': use a built-in one"),
        ('[landuse.classes]\n9 = "wetland"', r"\[landuse\.classes\.9\] must be one of .*'wetland'"),
        (
            '[landuse.classes]\nx = "water"',
            r"\[landuse\.classes\.x\] keys are integer raster codes",
        ),
        ("transitions = 'yes'", r"\[landuse\.transitions\] must be true or false, got 'yes'"),
        (
            "transitions = true",
            r"\[landuse\.transitions\] transitions = true needs land-use rasters .* 'areas'",
        ),
    ],
)
def test_scheme_problems_name_key_and_value(
    toy_study: MakeStudy, extra: str, expected: str
) -> None:
    with pytest.raises(StudyError, match=expected):
        load_study(toy_study(text=_landuse(extra)))


def test_sink_keys_may_be_codes_and_the_default_source_is_the_paper(toy_study: MakeStudy) -> None:
    study = load_study(
        toy_study(text=_with('[coefficients]\nsink_t_per_ha = { forest = 3.0, "8" = 2.0 }\n'))
    )
    coefficients = study.coefficients
    assert coefficients.sink_t_per_ha["forest"] == 3.0
    assert coefficients.sink_t_per_ha["cropland"] == 1.16
    assert coefficients.sink_t_per_ha_by_code == {8: 2.0}
    assert coefficients.sink_source("8") == "study file study.toml"
    assert "10.12677/AEP.2023.132046" in coefficients.sink_source("cropland")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            '"8" = -2.0',
            r"\[coefficients\.sink_t_per_ha\.8\] must be a finite number >= 0, got -2\.0",
        ),
        ('"8" = "two"', r"\[coefficients\.sink_t_per_ha\.8\] must be a number, got 'two'"),
        ("mosaic = 1.0", r"\[coefficients\.sink_t_per_ha\.mosaic\] unknown land class 'mosaic'"),
    ],
)
def test_bad_sink_entries(toy_study: MakeStudy, entry: str, expected: str) -> None:
    with pytest.raises(StudyError, match=expected):
        load_study(toy_study(text=_with(f"[coefficients]\nsink_t_per_ha = {{ {entry} }}\n")))


def _table_study(toy_study: MakeStudy, table: str, inline: str = "") -> Path:
    study = toy_study(text=_with(f'[coefficients]\ntable = "coefficients.csv"\n{inline}'))
    (study.parent / "coefficients.csv").write_text(table, encoding="utf-8")
    return study


def test_coefficient_table_gives_values_and_sources(toy_study: MakeStudy) -> None:
    table = "key,sink_t_per_ha,source\nforest,3.8,Fang et al. 2007\n14,0.9,Li 2020 Table 3\n"
    coefficients = load_study(_table_study(toy_study, table)).coefficients
    assert coefficients.sink_t_per_ha["forest"] == 3.8
    assert coefficients.sink_t_per_ha_by_code == {14: 0.9}
    assert coefficients.sink_source("forest") == "Fang et al. 2007"
    assert coefficients.sink_source(14) == "Li 2020 Table 3"
    assert coefficients.table == _table_study(toy_study, table).parent / "coefficients.csv"


def test_coefficient_table_without_source_column(toy_study: MakeStudy) -> None:
    study = _table_study(toy_study, "key,sink_t_per_ha\nforest,3.8\n")
    with pytest.raises(StudyError, match=r"coefficients\.csv: missing column\(s\) \['source'\]"):
        load_study(study)


def test_coefficient_table_lists_every_bad_row(toy_study: MakeStudy) -> None:
    table = (
        "key,sink_t_per_ha,source\nforest,-1,A\nwoods,1,B\n8,abc,C\n9,1.0,\nforest,2,D\n"
        "cropland,1.2,E\n"
    )
    with pytest.raises(StudyError) as caught:
        load_study(_table_study(toy_study, table, "sink_t_per_ha = { cropland = 1.0 }\n"))
    message = str(caught.value)
    assert "[coefficients.csv row 2] must be a finite number >= 0, got -1.0" in message
    assert "[coefficients.csv row 3] unknown land class 'woods'" in message
    assert "[coefficients.csv row 4] must be a number, got 'abc'" in message
    assert "[coefficients.csv row 5] column 'source' is empty for key '9'" in message
    assert "[coefficients.csv row 6] key 'forest' repeats row 2" in message
    assert "'cropland' is given both in [coefficients] table and in sink_t_per_ha" in message


def test_without_uncertainty_there_is_none(toy_study: MakeStudy) -> None:
    assert load_study(toy_study()).uncertainty is None


def test_uncertainty_is_read(toy_study: MakeStudy) -> None:
    extra = (
        "[coefficients]\nsink_t_per_ha = { 21 = 4.0 }\n"
        "[uncertainty]\nforest = [3.0, 4.1]\nrespiration = { mean = 3285, sd = 200 }\n"
        '"21" = [3.5, 4.5]\ndraws = 500\nseed = 9\n'
    )
    settings = load_study(toy_study(_with(extra))).uncertainty
    assert settings is not None and (settings.draws, settings.seed) == (500, 9)
    assert settings.distributions == {
        "forest": ("uniform", 3.0, 4.1),
        "respiration": ("normal", 3285.0, 200.0),
        "21": ("uniform", 3.5, 4.5),
    }


def test_uncertainty_defaults(toy_study: MakeStudy) -> None:
    settings = load_study(
        toy_study(_with("[uncertainty]\nenergy_factor = [2.5, 2.8]\n"))
    ).uncertainty
    assert settings is not None and (settings.draws, settings.seed) == (1000, 0)


def test_every_uncertainty_problem_at_once(toy_study: MakeStudy) -> None:
    extra = (
        "[uncertainty]\nforest = { mean = 3.55, sd = -0.4 }\nwater = [3.0, 2.0]\n"
        "wood = [1, 2]\ncropland = [1]\ngrassland = 'wide'\nunused = { mean = 1 }\n"
        "built_up = [-1, 1]\ndraws = 5\nseed = -1\n"
    )
    with pytest.raises(StudyError) as caught:
        load_study(toy_study(_with(extra)))
    message = str(caught.value)
    for expected in (
        "[uncertainty.forest] sd must be >= 0, got sd = -0.4",
        "[uncertainty.water] low > high in [low, high]: [3.0, 2.0]",
        "[uncertainty.wood] unknown coefficient 'wood' (valid: respiration, energy_factor, "
        "cropland, forest",
        "[uncertainty.cropland] an interval must be two finite numbers [low, high], got [1]",
        "[uncertainty.grassland] must be [low, high] (uniform) or { mean = , sd = } (normal), "
        "got 'wide'",
        "[uncertainty.unused] a normal distribution is { mean = , sd = }, got {'mean': 1}",
        "[uncertainty.built_up] a coefficient cannot be negative: low = -1",
        "[uncertainty.draws] must be at least 10",
        "got 5",
        "[uncertainty.seed] must be an integer from 0 to 4,294,967,295, got -1",
    ):
        assert expected in message, expected


def test_absurd_draws_name_the_cap(toy_study: MakeStudy, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        StudyError,
        match=r"\[uncertainty\.draws\] must be at most 10000 .*got "
        r"1000000; set the environment variable CARBON_ZONING_MAX_DRAWS",
    ):
        load_study(toy_study(_with("[uncertainty]\nforest = [3, 4]\ndraws = 1000000\n")))
    monkeypatch.setenv("CARBON_ZONING_MAX_DRAWS", "2000000")
    settings = load_study(toy_study(_with("[uncertainty]\nforest = [3, 4]\ndraws = 1000000\n")))
    assert settings.uncertainty is not None and settings.uncertainty.draws == 1_000_000


def test_uncertainty_seed_defaults_to_the_study_seed(toy_study: MakeStudy) -> None:
    drawn = "[uncertainty]\nforest = [3, 4]\n"
    study = load_study(toy_study(_with("[analysis]\nseed = 42\n" + drawn)))
    assert study.uncertainty is not None and study.uncertainty.seed == 42
    own = load_study(toy_study(_with("[analysis]\nseed = 42\n" + drawn + "seed = 7\n")))
    assert own.uncertainty is not None and own.uncertainty.seed == 7


def test_uncertainty_without_a_distribution(toy_study: MakeStudy) -> None:
    with pytest.raises(StudyError, match=r"\[uncertainty\] gives no coefficient distribution"):
        load_study(toy_study(_with("[uncertainty]\ndraws = 100\n")))


def test_a_code_needs_its_own_coefficient(toy_study: MakeStudy) -> None:
    with pytest.raises(
        StudyError,
        match=r"\[uncertainty\.21\] unknown coefficient '21'.*a scheme "
        r"code is valid once \[coefficients\] gives it its own sink coefficient",
    ):
        load_study(toy_study(_with('[uncertainty]\n"21" = [3, 4]\n')))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "[analysis]\nspatial = 'yes'\n",
            r"\[analysis\.spatial\] must be true or false, got 'yes'",
        ),
        ("[analysis]\nseed = -1\n", r"\[analysis\.seed\] must be an integer from 0 to .*got -1"),
        ("[analysis]\nseed = 1.5\n", r"\[analysis\.seed\] must be an integer, got 1\.5"),
        (
            "[analysis]\npermutations = 10\n",
            r"\[analysis\.permutations\] must be an integer from 99 to 99,999, got 10",
        ),
        (
            "[analysis]\npermutations = 1000000\n",
            r"\[analysis\.permutations\] must be an integer from 99 to 99,999, got 1000000",
        ),
        ("[analysis]\nmoran = true\n", r"\[analysis\.moran\] unknown key \(known keys: perm"),
    ],
)
def test_analysis_problems_name_key_and_value(
    toy_study: MakeStudy, extra: str, expected: str
) -> None:
    with pytest.raises(StudyError, match=expected):
        load_study(toy_study(text=_with(extra)))


def test_analysis_problems_are_listed_together(toy_study: MakeStudy) -> None:
    text = _with("[analysis]\nspatial = 1\nseed = 'x'\npermutations = 5\n")
    with pytest.raises(StudyError) as caught:
        load_study(toy_study(text=text))
    message = str(caught.value)
    for key in ("analysis.spatial", "analysis.seed", "analysis.permutations"):
        assert f"[{key}]" in message


def test_analysis_defaults_and_values(toy_study: MakeStudy) -> None:
    default = load_study(toy_study()).analysis
    assert (default.spatial, default.seed, default.permutations) == (True, 0, 999)
    text = _with("[analysis]\nspatial = false\nseed = 42\npermutations = 99\n")
    analysis = load_study(toy_study(text=text, folder="other")).analysis
    assert (analysis.spatial, analysis.seed, analysis.permutations) == (False, 42, 99)
