"""Study file (TOML) -> :class:`~pipeline.study.settings.Study`.

One loader reads the whole file, collects every problem (unknown keys, wrong types, missing
files, unordered breaks, negative coefficients) and raises one :class:`StudyError` naming each
key and value. Paths in a study file are relative to the study file.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import itertools
import math
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import StudyError, limit, limit_hint
from pipeline.model.constants import (
    BUILTIN_SCHEMES,
    DEFAULT_SINK_T_PER_HA,
    DEFAULT_UNCERTAINTY_DRAWS,
    DEFAULT_ZONE_MATRIX,
    EEC_DEFINITIONS,
    ENERGY_FACTOR_KEY,
    LAND_CLASSES,
    LEVELS,
    MAX_UNCERTAINTY_DRAWS,
    MIN_UNCERTAINTY_DRAWS,
    RESPIRATION_KEY,
    ZONES,
    ZONING_BASES,
)
from pipeline.study.settings import (
    DEFAULT_MAP_FORMATS,
    DEFAULT_PERMUTATIONS,
    DEFAULT_SEED,
    MAP_CLASSIFICATIONS,
    MAP_FILE_FORMATS,
    MAP_INDICATORS,
    MAP_LABEL_MODES,
    PERMUTATION_RANGE,
    SEED_RANGE,
    SVG_TEXT,
    AnalysisSettings,
    BoundarySettings,
    Coefficients,
    ComputeSettings,
    LanduseSettings,
    MapSettings,
    OutputSettings,
    Study,
    UncertaintySettings,
    ZoningSettings,
    scheduler_problem,
)

SECTION_KEYS: dict[str, set[str]] = {
    "study": {"name", "output_dir", "reference", "reference_zoning", "reference_notes"},
    "boundaries": {"path", "layer", "name_field", "unit_field", "encoding"},
    "landuse": {
        "scheme",
        "rasters",
        "areas",
        "nodata",
        "unknown_codes",
        "mode",
        "classes",
        "transitions",
    },
    "statistics": {"path", "sheet", "decimal"},
    "coefficients": {
        "respiration_t_per_10k_people",
        "energy_t_co2_per_tce",
        "sink_t_per_ha",
        "table",
    },
    "zoning": {"basis", "eec_definition", "eec_breaks", "sec_breaks", "matrix"},
    "maps": {
        "language",
        "classification",
        "classes",
        "footnote",
        "labels",
        "label_values",
        "breaks",
        "svg_text",
        "formats",
    },
    "output": {"xlsx", "xlsx_chinese_headers", "xlsx_header_language", "maps"},
    "compute": {"scheduler"},
    # besides these, one key per coefficient name (checked by _uncertainty)
    "uncertainty": {"draws", "seed"},
    "analysis": {"spatial", "seed", "permutations"},
}
OPEN_SECTIONS = {"uncertainty"}  # sections whose other keys are names their reader checks
REQUIRED_SECTIONS = ("study", "landuse", "statistics")
MAX_STUDY_BYTES = 1 << 20
"""Caps on a study file (each can be raised through the environment variable named in its
message): its size, how deep tables and arrays nest, and the length of any string."""
MAX_NESTING = 16
MAX_STRING_CHARS = 4096
MAX_INTEGER = 2**63 - 1
"""Larger integers are no value any key takes (and would overflow when made floats)."""


class _Reader:
    """Reads typed values out of the parsed TOML, collecting problems instead of raising."""

    def __init__(self, data: Mapping[str, Any], base_dir: Path) -> None:
        self.data = data
        self.base_dir = base_dir
        self.study_name = ""
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
        if path.exists() and not path.is_dir() and not path.is_file():
            self.problem(
                f"{section}.{key}",
                f"not a regular file: {value!r} ({path} is a FIFO, socket or device; reading "
                "it would never end)",
            )
            return None
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
    reader.study_name = study_path.name
    _check_keys(reader)
    study = _build_study(reader, study_path)
    if reader.problems:
        raise StudyError(study_path, reader.problems)
    assert study is not None
    return study


def _parse_toml(study_path: Path) -> dict[str, Any]:
    if not study_path.is_file():
        raise StudyError(study_path, "study file not found")
    _check_regular_file(study_path)
    try:
        text = study_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise StudyError(study_path, f"is not UTF-8 text ({error.reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StudyError(study_path, f"TOML syntax error: {error}") from None
    except RecursionError:
        raise StudyError(
            study_path, "TOML arrays or tables nested too deeply to read (thousands of levels)"
        ) from None
    except ValueError as error:  # e.g. an integer of more than 4300 digits
        raise StudyError(study_path, f"TOML value cannot be read: {error}") from None
    problems = _oversized_values(data)
    if problems:
        raise StudyError(study_path, problems)
    return data


def _check_regular_file(study_path: Path) -> None:
    """Refuse a FIFO or device (reads would never end) and a file above the size cap."""
    status = study_path.stat()
    if not stat.S_ISREG(status.st_mode):
        raise StudyError(study_path, "is not a regular file (a FIFO, socket or device?)")
    cap = limit("CARBON_ZONING_MAX_STUDY_BYTES", MAX_STUDY_BYTES)
    if status.st_size > cap:
        raise StudyError(
            study_path,
            f"study file is {status.st_size} bytes, above the {cap}-byte limit for a study "
            f"file; {limit_hint('CARBON_ZONING_MAX_STUDY_BYTES')}",
        )


def _oversized_values(data: Mapping[str, Any]) -> list[str]:
    """Values beyond the caps: nesting, string length, integer size (walked without
    recursion, so any depth is safe)."""
    max_depth = limit("CARBON_ZONING_MAX_NESTING", MAX_NESTING)
    max_chars = limit("CARBON_ZONING_MAX_STRING_CHARS", MAX_STRING_CHARS)
    problems: list[str] = []
    pending: list[tuple[str, object, int]] = [(str(k), v, 1) for k, v in data.items()]
    while pending and len(problems) < 100:
        key, value, depth = pending.pop()
        if depth > max_depth:
            problems.append(
                f"[{key}] nested {depth} levels deep, above the limit of {max_depth}; "
                f"{limit_hint('CARBON_ZONING_MAX_NESTING')}"
            )
            continue
        if isinstance(value, Mapping):
            pending += [(f"{key}.{k}", v, depth + 1) for k, v in value.items()]
            if len(key) > max_chars:
                problems.append(f"[{key[:40]}…] key of {len(key)} characters")
        elif isinstance(value, list):
            pending += [(f"{key}[{i}]", v, depth + 1) for i, v in enumerate(value)]
        elif isinstance(value, str) and len(value) > max_chars:
            problems.append(
                f"[{key[:200]}] string of {len(value)} characters, above the limit of "
                f"{max_chars}; {limit_hint('CARBON_ZONING_MAX_STRING_CHARS')}"
            )
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            digits = len(str(abs(value)))
            problems.append(
                f"[{key[:200]}] integer of {digits} digits ({str(value)[:12]}…) is too large "
                f"(at most {MAX_INTEGER})"
            )
    return problems


def _check_keys(reader: _Reader) -> None:
    for section, value in reader.data.items():
        if section not in SECTION_KEYS:
            known = ", ".join(f"[{s}]" for s in SECTION_KEYS)
            reader.problem(section, f"unknown section (known sections: {known})")
            continue
        if not isinstance(value, Mapping):
            continue
        for key in value:
            if section not in OPEN_SECTIONS and key not in SECTION_KEYS[section]:
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
        statistics_decimal=(
            reader.choice("statistics", "decimal", (".", ","), ".")
            if "decimal" in reader.section("statistics")
            else None
        ),
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
        analysis=_analysis(reader),
    )
    uncertainty = _uncertainty(reader, study.coefficients, study.analysis.seed)
    return dataclasses.replace(study, uncertainty=uncertainty)


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
    value = reader.get("boundaries", "encoding", str)
    if value is None:
        return None
    try:
        if not codecs.lookup(value)._is_text_encoding:  # rot13, base64: no text encodings
            raise LookupError(value)
    except LookupError:
        reader.problem("boundaries.encoding", f"unknown encoding {value!r} (e.g. 'GBK', 'UTF-8')")
        return None
    return value


def _landuse(reader: _Reader) -> LanduseSettings:
    scheme = _scheme(reader)
    rasters = _rasters(reader)
    areas = reader.existing_path("landuse", "areas", reader.get("landuse", "areas", str))
    if rasters and areas is not None:
        reader.problem("landuse", "give either 'rasters' or 'areas', not both")
    if not rasters and areas is None and "rasters" not in reader.section("landuse"):
        reader.problem("landuse", "needs 'rasters' (one per year) or an 'areas' table")
    nodata = reader.get("landuse", "nodata", int)
    transitions = reader.get("landuse", "transitions", bool)
    if transitions and "areas" in reader.section("landuse"):
        reader.problem(
            "landuse.transitions",
            "transitions = true needs land-use rasters (one per year): an 'areas' table holds "
            "no pixel pairs; remove 'transitions' or give 'rasters'",
        )
    return LanduseSettings(
        scheme=scheme,
        rasters=rasters,
        areas=areas,
        nodata=nodata,
        unknown_codes=reader.choice("landuse", "unknown_codes", ("error", "ignore"), "error"),
        mode=reader.choice("landuse", "mode", ("auto", "centre", "exact"), "auto"),
        classes=_class_overrides(reader),
        transitions=transitions,
    )


def _scheme(reader: _Reader) -> str | Path:
    value = reader.get("landuse", "scheme", str, "resdc")
    if value in BUILTIN_SCHEMES:
        return value
    if not Path(value).suffix:
        reader.problem(
            "landuse.scheme",
            f"unknown scheme {value!r}: use a built-in one ({', '.join(BUILTIN_SCHEMES)}) "
            "or the path of a CSV with columns code,class",
        )
        return "resdc"
    return reader.existing_path("landuse", "scheme", value) or value


def _class_overrides(reader: _Reader) -> dict[int, str]:
    """``[landuse.classes]``: code -> land class, replacing (or adding) the scheme's class."""
    overrides: dict[int, str] = {}
    for code_text, land_class in reader.get("landuse", "classes", dict, {}).items():
        key = f"landuse.classes.{code_text}"
        if not str(code_text).strip().isdigit():
            reader.problem(key, f"keys are integer raster codes, got {code_text!r}")
        elif land_class not in LAND_CLASSES:
            reader.problem(key, f"must be one of {', '.join(LAND_CLASSES)}, got {land_class!r}")
        else:
            overrides[int(code_text)] = land_class
    return dict(sorted(overrides.items()))


def _rasters(reader: _Reader) -> dict[int, Path]:
    table = reader.get("landuse", "rasters", dict, {})
    rasters: dict[int, Path] = {}
    for year_text, raster in table.items():
        key = f"landuse.rasters.{year_text}"
        if not re.fullmatch(r"[0-9]{4}", str(year_text)) or not 1900 <= int(year_text) <= 2100:
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
    sinks = _SinkEntries(reader)
    table = reader.existing_path("coefficients", "table", reader.get("coefficients", "table", str))
    if table is not None and table.is_file():
        for where, key, value, source in _read_coefficient_table(reader, table):
            sinks.add(where, key, value, source, origin="table")
    study_file = f"study file {reader.study_name}"
    for key, value in reader.get("coefficients", "sink_t_per_ha", dict, {}).items():
        where = f"coefficients.sink_t_per_ha.{key}"
        sinks.add(where, str(key), value, study_file, origin="sink_t_per_ha")
    return Coefficients(
        respiration,
        energy,
        sinks.by_class,
        sink_t_per_ha_by_code=dict(sorted(sinks.by_code.items())),
        table=table,
        sources=sinks.sources,
        table_keys=tuple(k for k, origin in sinks.origin.items() if origin == "table"),
    )


class _SinkEntries:
    """Sink coefficients keyed by land class or by code, with the source of each."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.by_class: dict[str, float] = dict(DEFAULT_SINK_T_PER_HA)
        self.by_code: dict[int, float] = {}
        self.sources: dict[str, str] = {}
        self.origin: dict[str, str] = {}

    def add(self, where: str, key: str, value: object, source: str, *, origin: str) -> None:
        """Check one entry (``where`` names it in messages) and keep it when valid."""
        key = key.strip()
        if key not in LAND_CLASSES and not key.isdigit():
            self.reader.problem(
                where,
                f"unknown land class {key!r}: a key is a land class ({', '.join(LAND_CLASSES)}) "
                "or an integer code of the land-use scheme",
            )
            return
        number = _as_number(value)
        if number is None:
            self.reader.problem(where, f"must be a number, got {value!r}")
            return
        if not _check_non_negative(self.reader, where, number):
            return
        normal = str(int(key)) if key.isdigit() else key
        if normal in self.origin and self.origin[normal] != origin:
            self.reader.problem(
                where, f"{key!r} is given both in [coefficients] table and in sink_t_per_ha"
            )
            return
        self.origin[normal] = origin
        self.sources[normal] = source
        if key.isdigit():
            self.by_code[int(key)] = number
        else:
            self.by_class[key] = number


def _as_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


COEFFICIENT_TABLE_COLUMNS = ("key", "sink_t_per_ha", "source")


def _read_coefficient_table(reader: _Reader, path: Path) -> list[tuple[str, str, str, str]]:
    """Rows ``(where, key, value, source)`` of a coefficients CSV (``key, sink_t_per_ha,
    source``); problems (missing columns, empty source, duplicate keys) go to ``reader``."""
    rows = _csv_rows(reader, path)
    if rows is None:
        return []
    header, *body = rows
    header = [column.strip() for column in header]
    missing = [column for column in COEFFICIENT_TABLE_COLUMNS if column not in header]
    if missing:
        reader.problem(
            "coefficients.table",
            f"{path}: missing column(s) {missing}; found {header}. Every coefficient needs "
            "its source (the publication the value is taken from)",
        )
        return []
    index = {column: header.index(column) for column in COEFFICIENT_TABLE_COLUMNS}
    entries: list[tuple[str, str, str, str]] = []
    seen: dict[str, int] = {}
    for row_number, row in enumerate(body, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {c: row[i].strip() if i < len(row) else "" for c, i in index.items()}
        where = f"coefficients.table] [{path.name} row {row_number}"
        if cells["key"] in seen:
            reader.problem(where, f"key {cells['key']!r} repeats row {seen[cells['key']]}")
            continue
        seen[cells["key"]] = row_number
        if not cells["source"]:
            reader.problem(where, f"column 'source' is empty for key {cells['key']!r}")
            continue
        entries.append((where, cells["key"], cells["sink_t_per_ha"], cells["source"]))
    return entries


def _csv_rows(reader: _Reader, path: Path) -> list[list[str]] | None:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows writes GB18030
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        reader.problem("coefficients.table", f"{path}: neither UTF-8 nor GB18030 text")
        return None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        reader.problem("coefficients.table", f"{path}: the table is empty")
        return None
    return rows


def _check_non_negative(reader: _Reader, key: str, value: float) -> bool:
    if not math.isfinite(value) or value < 0:
        reader.problem(key, f"must be a finite number >= 0, got {value!r}")
        return False
    return True


UNCERTAINTY_MAX_DRAWS_VARIABLE = "CARBON_ZONING_MAX_DRAWS"


def _uncertainty(
    reader: _Reader, coefficients: Coefficients, study_seed: int
) -> UncertaintySettings | None:
    """``[uncertainty]``: ``draws``, ``seed`` (by default the study's, ``[analysis] seed``)
    and a distribution per coefficient name."""
    if "uncertainty" not in reader.data:
        return None
    section = reader.section("uncertainty")
    valid = [RESPIRATION_KEY, ENERGY_FACTOR_KEY, *coefficients.sink_t_per_ha,
             *map(str, coefficients.sink_t_per_ha_by_code)]  # fmt: skip
    distributions: dict[str, tuple[str, float, float]] = {}
    problems_before = len(reader.problems)
    for name, value in section.items():
        if name in SECTION_KEYS["uncertainty"]:
            continue
        key = f"uncertainty.{name}"
        if name not in valid:
            codes = "" if coefficients.sink_t_per_ha_by_code else (
                "; a scheme code is valid once [coefficients] gives it its own sink coefficient"
            )  # fmt: skip
            reader.problem(
                key,
                f"unknown coefficient {name!r} (valid: {', '.join(valid)}, draws, seed{codes})",
            )
            continue
        distribution = _distribution(reader, key, value)
        if distribution is not None:
            distributions[name] = distribution
    if not distributions and len(reader.problems) == problems_before:
        reader.problem(
            "uncertainty",
            f"gives no coefficient distribution (e.g. forest = [3.0, 4.1] or "
            f"forest = {{ mean = 3.55, sd = 0.4 }}; names: {', '.join(valid)})",
        )
    seed = _integer_in(reader, "uncertainty.seed", study_seed, SEED_RANGE)
    return UncertaintySettings(distributions=distributions, draws=_draws(reader), seed=seed)


def _distribution(reader: _Reader, key: str, value: object) -> tuple[str, float, float] | None:
    """``[low, high]`` (uniform) or ``{ mean = , sd = }`` (normal, truncated at 0)."""
    if isinstance(value, list):
        numbers = [_finite(v) for v in value]
        if len(value) != 2 or None in numbers:
            reader.problem(
                key, f"an interval must be two finite numbers [low, high], got {value!r}"
            )
            return None
        low, high = numbers
        if low > high:  # type: ignore[operator]
            reader.problem(key, f"low > high in [low, high]: {value!r}")
        elif low < 0:  # type: ignore[operator]
            reader.problem(key, f"a coefficient cannot be negative: low = {low:g} in {value!r}")
        else:
            return ("uniform", low, high)  # type: ignore[return-value]
        return None
    if isinstance(value, Mapping):
        if set(value) != {"mean", "sd"}:
            reader.problem(key, f"a normal distribution is {{ mean = , sd = }}, got {value!r}")
            return None
        mean, sd = _finite(value["mean"]), _finite(value["sd"])
        if mean is None or sd is None:
            reader.problem(key, f"mean and sd must be finite numbers, got {value!r}")
        elif sd < 0:
            reader.problem(key, f"sd must be >= 0, got sd = {sd:g}")
        elif mean < 0:
            reader.problem(key, f"a coefficient cannot be negative: mean = {mean:g}")
        else:
            return ("normal", mean, sd)
        return None
    reader.problem(
        key, f"must be [low, high] (uniform) or {{ mean = , sd = }} (normal), got {value!r}"
    )
    return None


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _draws(reader: _Reader) -> int:
    draws = reader.get("uncertainty", "draws", int, DEFAULT_UNCERTAINTY_DRAWS)
    cap = limit(UNCERTAINTY_MAX_DRAWS_VARIABLE, MAX_UNCERTAINTY_DRAWS)
    if draws < MIN_UNCERTAINTY_DRAWS:
        reader.problem(
            "uncertainty.draws",
            f"must be at least {MIN_UNCERTAINTY_DRAWS} (too few for 5 % and 95 % points), "
            f"got {draws!r}",
        )
        return DEFAULT_UNCERTAINTY_DRAWS
    if draws > cap:
        reader.problem(
            "uncertainty.draws",
            f"must be at most {cap} (memory: draws × unit-years × 8 bytes per quantity), got "
            f"{draws!r}; {limit_hint(UNCERTAINTY_MAX_DRAWS_VARIABLE)}",
        )
        return DEFAULT_UNCERTAINTY_DRAWS
    return draws


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
        labels=reader.choice("maps", "labels", MAP_LABEL_MODES, "auto"),
        label_values=reader.get("maps", "label_values", bool, True),
        breaks=_map_breaks(reader),
        svg_text=reader.choice("maps", "svg_text", SVG_TEXT, "paths"),
        formats=_map_formats(reader),
    )


def _map_formats(reader: _Reader) -> tuple[str, ...]:
    """``[maps] formats``: the files written per figure, "png" first (the report embeds it)."""
    values = reader.get("maps", "formats", list, list(DEFAULT_MAP_FORMATS))
    valid = ", ".join(repr(f) for f in MAP_FILE_FORMATS)
    unknown = [v for v in values if v not in MAP_FILE_FORMATS]
    if unknown:
        reader.problem("maps.formats", f"unknown format(s) {unknown!r} (valid: {valid})")
        return DEFAULT_MAP_FORMATS
    if "png" not in values:
        reader.problem(
            "maps.formats",
            f"must include 'png' (the HTML report shows each map's PNG), got {values!r}",
        )
        return DEFAULT_MAP_FORMATS
    return ("png", *dict.fromkeys(v for v in values if v != "png"))


def _map_breaks(reader: _Reader) -> dict[str, tuple[float, ...]]:
    """``[maps.breaks]``: per indicator stem, ascending finite numbers in the legend's unit."""
    table = reader.get("maps", "breaks", dict, {})
    breaks: dict[str, tuple[float, ...]] = {}
    for stem, values in table.items():
        key = f"maps.breaks.{stem}"
        if stem not in MAP_INDICATORS:
            reader.problem(key, f"unknown indicator {stem!r} (valid: {', '.join(MAP_INDICATORS)})")
            continue
        numbers = values if isinstance(values, list) else None
        if not numbers or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in numbers
        ):
            reader.problem(key, f"must be a non-empty list of numbers, got {values!r}")
            continue
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            reader.problem(key, f"must be strictly ascending, got {values!r}")
            continue
        breaks[stem] = tuple(float(v) for v in numbers)
    return breaks


def _output(reader: _Reader) -> OutputSettings:
    chinese = reader.get("output", "xlsx_chinese_headers", bool, True)
    language = reader.choice(
        "output", "xlsx_header_language", ("zh", "en"), "zh" if chinese else "en"
    )
    if "xlsx_chinese_headers" in reader.section("output") and chinese != (language == "zh"):
        reader.problem(
            "output.xlsx_header_language",
            f"{language!r} contradicts xlsx_chinese_headers = {str(chinese).lower()}; keep one",
        )
    return OutputSettings(
        xlsx=reader.get("output", "xlsx", bool, True),
        xlsx_chinese_headers=language == "zh",
        xlsx_header_language=language,
        maps=reader.get("output", "maps", bool, True),
    )


def _scheduler(reader: _Reader) -> str:
    value = reader.get("compute", "scheduler", str, "single")
    problem = scheduler_problem(value)
    if problem is not None:
        reader.problem("compute.scheduler", problem)
        return "single"
    return value


def _analysis(reader: _Reader) -> AnalysisSettings:
    """``[analysis]``: spatial statistics on or off, the seed, the permutations."""
    return AnalysisSettings(
        spatial=reader.get("analysis", "spatial", bool, True),
        seed=_integer_in(reader, "analysis.seed", DEFAULT_SEED, SEED_RANGE),
        permutations=_integer_in(
            reader, "analysis.permutations", DEFAULT_PERMUTATIONS, PERMUTATION_RANGE
        ),
    )


def _integer_in(reader: _Reader, key: str, default: int, bounds: tuple[int, int]) -> int:
    """The integer at ``section.key`` within ``bounds`` (inclusive), else a problem."""
    section, name = key.split(".")
    value = reader.get(section, name, int, default)
    low, high = bounds
    if not low <= value <= high:
        reader.problem(key, f"must be an integer from {low:,} to {high:,}, got {value!r}")
        return default
    return value
