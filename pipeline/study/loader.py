"""Study file (TOML) -> :class:`~pipeline.study.settings.Study`.

One loader reads the whole file, collects every problem (unknown keys, wrong types, missing
files, unordered breaks, negative coefficients) and raises one :class:`StudyError` naming each
key and value. Paths in a study file are relative to the study file.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import StudyError
from pipeline.model.constants import (
    DEFAULT_SINK_T_PER_HA,
    DEFAULT_ZONE_MATRIX,
    EEC_DEFINITIONS,
    LEVELS,
    ZONES,
    ZONING_BASES,
)
from pipeline.study.settings import (
    MAP_CLASSIFICATIONS,
    BoundarySettings,
    Coefficients,
    ComputeSettings,
    LanduseSettings,
    MapSettings,
    OutputSettings,
    Study,
    ZoningSettings,
    scheduler_problem,
)

SECTION_KEYS: dict[str, set[str]] = {
    "study": {"name", "output_dir", "reference", "reference_zoning", "reference_notes"},
    "boundaries": {"path", "layer", "name_field", "unit_field", "encoding"},
    "landuse": {"scheme", "rasters", "areas", "nodata", "unknown_codes", "mode"},
    "statistics": {"path", "sheet"},
    "coefficients": {"respiration_t_per_10k_people", "energy_t_co2_per_tce", "sink_t_per_ha"},
    "zoning": {"basis", "eec_definition", "eec_breaks", "sec_breaks", "matrix"},
    "maps": {"language", "classification", "classes", "footnote"},
    "output": {"xlsx", "xlsx_chinese_headers", "maps"},
    "compute": {"scheduler"},
}
REQUIRED_SECTIONS = ("study", "landuse", "statistics")


class _Reader:
    """Reads typed values out of the parsed TOML, collecting problems instead of raising."""

    def __init__(self, data: Mapping[str, Any], base_dir: Path) -> None:
        self.data = data
        self.base_dir = base_dir
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"[{key}] {message}")

    def section(self, name: str) -> Mapping[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, Mapping):
            self.problem(name, f"must be a table, got {value!r}")
            return {}
        return value

    def get(
        self,
        section: str,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        required: bool = False,
    ) -> Any:
        table = self.section(section)
        if key not in table:
            if required:
                self.problem(f"{section}.{key}", "is required but missing")
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, bool) and kind is not bool:
            self.problem(f"{section}.{key}", f"must be {_kind_name(kind)}, got {value!r}")
            return default
        if not isinstance(value, kind):
            self.problem(f"{section}.{key}", f"must be {_kind_name(kind)}, got {value!r}")
            return default
        return value

    def choice(self, section: str, key: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.get(section, key, str, default)
        if value not in allowed:
            allowed_text = ", ".join(repr(a) for a in allowed)
            self.problem(f"{section}.{key}", f"must be one of {allowed_text}, got {value!r}")
            return default
        return value

    def existing_path(
        self, section: str, key: str, value: str | None, *, directory_ok: bool = False
    ) -> Path | None:
        if value is None:
            return None
        path = (self.base_dir / value).resolve()
        exists = path.exists() if directory_ok else path.is_file()
        if not exists and not _is_archive_member(path):
            self.problem(f"{section}.{key}", f"file not found: {value!r} (looked for {path})")
        return path


def _is_archive_member(path: Path) -> bool:
    """True for ``something.zip`` paths that exist (rasters may be read inside a zip)."""
    return path.suffix.lower() == ".zip" and path.is_file()


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}
    names |= {list: "an array", dict: "a table"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Raises
    ------
    StudyError
        Listing every problem found: each names the key and the offending value.
    """
    study_path = Path(path).resolve()
    data = _parse_toml(study_path)
    reader = _Reader(data, study_path.parent)
    _check_keys(reader)
    study = _build_study(reader, study_path)
    if reader.problems:
        raise StudyError(study_path, reader.problems)
    assert study is not None
    return study


def _parse_toml(study_path: Path) -> dict[str, Any]:
    if not study_path.is_file():
        raise StudyError(study_path, "study file not found")
    try:
        text = study_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise StudyError(study_path, f"is not UTF-8 text ({error.reason})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StudyError(study_path, f"TOML syntax error: {error}") from None


def _check_keys(reader: _Reader) -> None:
    for section, value in reader.data.items():
        if section not in SECTION_KEYS:
            known = ", ".join(f"[{s}]" for s in SECTION_KEYS)
            reader.problem(section, f"unknown section (known sections: {known})")
            continue
        if not isinstance(value, Mapping):
            continue
        for key in value:
            if key not in SECTION_KEYS[section]:
                known = ", ".join(sorted(SECTION_KEYS[section]))
                reader.problem(f"{section}.{key}", f"unknown key (known keys: {known})")
    for section in REQUIRED_SECTIONS:
        if section not in reader.data:
            reader.problem(section, "section is required but missing")


def _build_study(reader: _Reader, study_path: Path) -> Study | None:
    name = reader.get("study", "name", str, study_path.stem)
    output_dir = reader.get("study", "output_dir", str, ".")
    reference, reference_zoning, reference_notes = (
        reader.existing_path("study", key, reader.get("study", key, str))
        for key in ("reference", "reference_zoning", "reference_notes")
    )
    statistics = reader.existing_path(
        "statistics", "path", reader.get("statistics", "path", str, required=True)
    )
    study = Study(
        path=study_path,
        name=name,
        output_dir=(study_path.parent / output_dir).resolve(),
        statistics_path=statistics or study_path.parent,
        statistics_sheet=reader.get("statistics", "sheet", str),
        landuse=_landuse(reader),
        boundaries=_boundaries(reader),
        reference=reference,
        reference_zoning=reference_zoning,
        reference_notes=reference_notes,
        coefficients=_coefficients(reader),
        zoning=_zoning(reader),
        maps=_maps(reader),
        output=_output(reader),
        compute=ComputeSettings(scheduler=_scheduler(reader)),
    )
    return study


def _boundaries(reader: _Reader) -> BoundarySettings | None:
    if "boundaries" not in reader.data:
        if "areas" not in reader.section("landuse"):
            reader.problem("boundaries", "section is required when [landuse] uses rasters")
        return None
    path = reader.existing_path(
        "boundaries",
        "path",
        reader.get("boundaries", "path", str, required=True),
        directory_ok=True,
    )
    return BoundarySettings(
        path=path or reader.base_dir,
        layer=reader.get("boundaries", "layer", str),
        name_field=reader.get("boundaries", "name_field", str, "name"),
        unit_field=reader.get("boundaries", "unit_field", str),
        encoding=_encoding(reader),
    )


def _encoding(reader: _Reader) -> str | None:
    import codecs

    value = reader.get("boundaries", "encoding", str)
    if value is None:
        return None
    try:
        codecs.lookup(value)
    except LookupError:
        reader.problem("boundaries.encoding", f"unknown encoding {value!r} (e.g. 'GBK', 'UTF-8')")
        return None
    return value


def _landuse(reader: _Reader) -> LanduseSettings:
    scheme_value = reader.get("landuse", "scheme", str, "resdc")
    scheme: str | Path = scheme_value
    if scheme_value != "resdc":
        scheme = reader.existing_path("landuse", "scheme", scheme_value) or scheme_value
    rasters = _rasters(reader)
    areas = reader.existing_path("landuse", "areas", reader.get("landuse", "areas", str))
    if rasters and areas is not None:
        reader.problem("landuse", "give either 'rasters' or 'areas', not both")
    if not rasters and areas is None and "rasters" not in reader.section("landuse"):
        reader.problem("landuse", "needs 'rasters' (one per year) or an 'areas' table")
    nodata = reader.get("landuse", "nodata", int)
    return LanduseSettings(
        scheme=scheme,
        rasters=rasters,
        areas=areas,
        nodata=nodata,
        unknown_codes=reader.choice("landuse", "unknown_codes", ("error", "ignore"), "error"),
        mode=reader.choice("landuse", "mode", ("auto", "centre", "exact"), "auto"),
    )


def _rasters(reader: _Reader) -> dict[int, Path]:
    table = reader.get("landuse", "rasters", dict, {})
    rasters: dict[int, Path] = {}
    for year_text, raster in table.items():
        key = f"landuse.rasters.{year_text}"
        if not str(year_text).isdigit() or not 1900 <= int(year_text) <= 2100:
            reader.problem(key, f"year must be a four-digit year, got {year_text!r}")
            continue
        if not isinstance(raster, str):
            reader.problem(key, f"must be a path string, got {raster!r}")
            continue
        path = reader.existing_path("landuse", f"rasters.{year_text}", raster, directory_ok=True)
        if path is not None:
            rasters[int(year_text)] = path
    return dict(sorted(rasters.items()))


def _coefficients(reader: _Reader) -> Coefficients:
    respiration = reader.get("coefficients", "respiration_t_per_10k_people", float, 3285.0)
    energy = reader.get("coefficients", "energy_t_co2_per_tce", float, 2.66)
    for key, value in (
        ("respiration_t_per_10k_people", respiration),
        ("energy_t_co2_per_tce", energy),
    ):
        _check_non_negative(reader, f"coefficients.{key}", value)
    sinks = dict(DEFAULT_SINK_T_PER_HA)
    for land_class, value in reader.get("coefficients", "sink_t_per_ha", dict, {}).items():
        key = f"coefficients.sink_t_per_ha.{land_class}"
        if land_class not in sinks:
            known = ", ".join(sinks)
            reader.problem(key, f"unknown land class {land_class!r} (known: {known})")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            reader.problem(key, f"must be a number, got {value!r}")
        elif _check_non_negative(reader, key, float(value)):
            sinks[land_class] = float(value)
    return Coefficients(respiration, energy, sinks)


def _check_non_negative(reader: _Reader, key: str, value: float) -> bool:
    if not math.isfinite(value) or value < 0:
        reader.problem(key, f"must be a finite number >= 0, got {value!r}")
        return False
    return True


def _zoning(reader: _Reader) -> ZoningSettings:
    return ZoningSettings(
        basis=reader.choice("zoning", "basis", ZONING_BASES, "mean"),
        eec_definition=reader.choice(
            "zoning", "eec_definition", EEC_DEFINITIONS, "gdp_over_emission"
        ),
        eec_breaks=_breaks(reader, "eec_breaks", (0.5, 1.0)),
        sec_breaks=_breaks(reader, "sec_breaks", (1.0, 2.0)),
        matrix=_matrix(reader),
    )


def _breaks(reader: _Reader, key: str, default: tuple[float, float]) -> tuple[float, float]:
    value = reader.get("zoning", key, list, list(default))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    if len(value) != 2 or not numeric:
        reader.problem(
            f"zoning.{key}", f"must be two numbers [low/medium, medium/high], got {value!r}"
        )
        return default
    low, high = float(value[0]), float(value[1])
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        reader.problem(f"zoning.{key}", f"breaks must be finite and ascending, got {value!r}")
        return default
    return (low, high)


def _matrix(reader: _Reader) -> dict[str, tuple[tuple[str, str], ...]]:
    table = reader.get("zoning", "matrix", dict)
    if table is None:
        return dict(DEFAULT_ZONE_MATRIX)
    matrix: dict[str, tuple[tuple[str, str], ...]] = {}
    for zone, cells in table.items():
        key = f"zoning.matrix.{zone}"
        if zone not in ZONES:
            reader.problem(key, f"unknown zone {zone!r} (zones: {', '.join(ZONES)})")
            continue
        parsed = _matrix_cells(reader, key, cells)
        if parsed is not None:
            matrix[zone] = parsed
    _check_matrix_complete(reader, matrix)
    return matrix


def _matrix_cells(reader: _Reader, key: str, cells: object) -> tuple[tuple[str, str], ...] | None:
    valid_cell: Callable[[object], bool] = lambda cell: (  # noqa: E731
        isinstance(cell, list) and len(cell) == 2 and all(level in LEVELS for level in cell)
    )
    if not isinstance(cells, list) or not all(valid_cell(cell) for cell in cells):
        reader.problem(
            key,
            f"must be a list of [eec_level, sec_level] pairs with levels in {LEVELS}, "
            f"got {cells!r}",
        )
        return None
    return tuple((cell[0], cell[1]) for cell in cells)


def _check_matrix_complete(
    reader: _Reader, matrix: Mapping[str, tuple[tuple[str, str], ...]]
) -> None:
    seen: dict[tuple[str, str], str] = {}
    for zone, cells in matrix.items():
        for cell in cells:
            if cell in seen:
                reader.problem(
                    "zoning.matrix", f"cell {list(cell)} is in both {seen[cell]!r} and {zone!r}"
                )
            seen[cell] = zone
    missing = [[e, s] for e in LEVELS for s in LEVELS if (e, s) not in seen]
    if missing:
        reader.problem("zoning.matrix", f"cells without a zone: {missing}")


def _maps(reader: _Reader) -> MapSettings:
    classes = reader.get("maps", "classes", int, 5)
    if not 2 <= classes <= 9:
        reader.problem("maps.classes", f"must be between 2 and 9, got {classes!r}")
        classes = 5
    return MapSettings(
        language=reader.choice("maps", "language", ("zh", "en"), "zh"),
        classification=reader.choice(
            "maps", "classification", MAP_CLASSIFICATIONS, "NaturalBreaks"
        ),
        classes=classes,
        footnote=reader.get("maps", "footnote", str),
    )


def _output(reader: _Reader) -> OutputSettings:
    return OutputSettings(
        xlsx=reader.get("output", "xlsx", bool, True),
        xlsx_chinese_headers=reader.get("output", "xlsx_chinese_headers", bool, True),
        maps=reader.get("output", "maps", bool, True),
    )


def _scheduler(reader: _Reader) -> str:
    value = reader.get("compute", "scheduler", str, "single")
    problem = scheduler_problem(value)
    if problem is not None:
        reader.problem("compute.scheduler", problem)
        return "single"
    return value
