"""Land-use class schemes: which raster code is which land class.

Built-in schemes (``pipeline/data/schemes/``, documented in docs/schemes.md): ``resdc``
(RESDC's CNLUCC classification, 中国土地利用现状遥感监测数据: codes 11–67 and the third-level
paddy/dry-land codes 111–124, mapped by their first digit), ``clcd``, ``esa_worldcover`` and
``modis_igbp``. A custom scheme is a CSV with columns ``code,class``. A study's
``[landuse.classes]`` overrides the class of single codes.
"""

from __future__ import annotations

import functools
import io
import logging
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.inputs.encodings import read_chinese_text
from pipeline.inputs.names import normalise_name
from pipeline.model.constants import BUILTIN_SCHEMES, LAND_CLASSES
from pipeline.runtime.files import refuse_non_file

logger = logging.getLogger(__name__)

# CNLUCC second-level classes (and the third-level cropland codes) with their Chinese names.
RESDC_CODE_NAMES: dict[int, str] = {
    11: "水田", 12: "旱地",
    21: "有林地", 22: "灌木林", 23: "疏林地", 24: "其他林地",
    31: "高覆盖度草地", 32: "中覆盖度草地", 33: "低覆盖度草地",
    41: "河渠", 42: "湖泊", 43: "水库坑塘", 44: "永久性冰川雪地", 45: "滩涂", 46: "滩地",
    51: "城镇用地", 52: "农村居民点", 53: "其他建设用地",
    61: "沙地", 62: "戈壁", 63: "盐碱地", 64: "沼泽地", 65: "裸土地", 66: "裸岩石质地",
    67: "其他未利用地",
    111: "山区水田", 112: "丘陵区水田", 113: "平原区水田", 114: "大于25度坡地水田",
    121: "山区旱地", 122: "丘陵区旱地", 123: "平原区旱地", 124: "大于25度坡地旱地",
}  # fmt: skip


@dataclass(frozen=True)
class Scheme:
    """A land-use scheme: code -> land class, with a name for messages.

    ``nodata`` is the product's documented nodata value (``None`` when none is documented);
    ``names_zh`` / ``names_en`` the product's class names per code (may be empty).
    """

    name: str
    classes: Mapping[int, str]
    nodata: int | None = None
    names_zh: Mapping[int, str] = field(default_factory=dict)
    names_en: Mapping[int, str] = field(default_factory=dict)

    def unknown(self, codes: Iterable[int]) -> list[int]:
        """Codes that the scheme does not know, ascending."""
        return sorted({int(code) for code in codes} - set(self.classes))

    def with_overrides(self, overrides: Mapping[int, str]) -> Scheme:
        """The scheme with ``[landuse.classes]`` overrides applied (a new code is added)."""
        if not overrides:
            return self
        classes = dict(self.classes) | {int(code): c for code, c in overrides.items()}
        return replace(self, classes=dict(sorted(classes.items())))


@functools.cache
def builtin_scheme(name: str) -> Scheme:
    """A built-in scheme (one of :data:`BUILTIN_SCHEMES`) from its CSV and TOML files."""
    if name not in BUILTIN_SCHEMES:
        raise ValueError(f"unknown built-in scheme {name!r}; built-in: {list(BUILTIN_SCHEMES)}")
    folder = files("pipeline") / "data" / "schemes"
    table = pd.read_csv(
        io.StringIO((folder / f"{name}.csv").read_text(encoding="utf-8")),
        dtype={"code": int},
        keep_default_na=False,
    )
    meta = tomllib.loads((folder / f"{name}.toml").read_text(encoding="utf-8"))
    codes = [int(code) for code in table["code"]]
    return Scheme(
        name=name,
        classes=dict(zip(codes, table["class"], strict=True)),
        nodata=meta.get("nodata"),
        names_zh=dict(zip(codes, table["name_zh"], strict=True)),
        names_en=dict(zip(codes, table["name_en"], strict=True)),
    )


def resdc_scheme() -> Scheme:
    """The built-in RESDC/CNLUCC scheme (first digit of the code gives the class)."""
    return builtin_scheme("resdc")


def read_scheme(path: Path) -> Scheme:
    """Read a custom scheme CSV with columns ``code,class`` (class one of LAND_CLASSES).

    Optional columns ``name_zh`` and ``name_en`` give the class names per code.
    """
    refuse_non_file(path)
    try:
        table = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(path, f"cannot read scheme CSV: {error}") from None
    missing = {"code", "class"} - set(table.columns)
    if missing:
        raise InputError(path, f"missing column(s) {sorted(missing)}; found {list(table.columns)}")
    problems: list[str] = []
    classes: dict[int, str] = {}
    for row_number, (code_text, land_class) in enumerate(
        zip(table["code"], table["class"], strict=True), start=2
    ):
        code_text, land_class = str(code_text).strip(), str(land_class).strip()
        if not code_text.isdigit():
            problems.append(f"row {row_number}, column 'code': not an integer code: {code_text!r}")
        elif land_class not in LAND_CLASSES:
            problems.append(
                f"row {row_number}, column 'class': {land_class!r} "
                f"is not one of {list(LAND_CLASSES)}"
            )
        elif int(code_text) in classes:
            problems.append(f"row {row_number}, column 'code': duplicate code {code_text}")
        else:
            classes[int(code_text)] = land_class
    if problems:
        raise InputError(path, problems)
    names = {
        column: {int(c): str(n) for c, n in zip(table["code"], table[column], strict=True)}
        for column in ("name_zh", "name_en")
        if column in table.columns
    }
    return Scheme(path.name, classes, None, names.get("name_zh", {}), names.get("name_en", {}))


def load_scheme(scheme: str | Path, overrides: Mapping[int, str] | None = None) -> Scheme:
    """The scheme a study names (a built-in name or a CSV path), with its class overrides."""
    if isinstance(scheme, str) and scheme in BUILTIN_SCHEMES:
        loaded = builtin_scheme(scheme)
    else:
        loaded = read_scheme(Path(scheme))
    for code, land_class in sorted((overrides or {}).items()):
        before = loaded.classes.get(int(code))
        was = f"was {before!r}" if before else "a code the scheme lacks"
        logger.info("[landuse.classes] code %s -> %r (%s)", code, land_class, was)
    return loaded.with_overrides(overrides or {})


def code_name(code: int, scheme: Scheme | None = None) -> str:
    """Chinese name of a code in ``scheme`` (RESDC by default), or ``''`` when unnamed."""
    if scheme is None:
        return RESDC_CODE_NAMES.get(int(code), "")
    return str(scheme.names_zh.get(int(code), ""))


def check_coefficient_codes(
    scheme: Scheme, codes: Iterable[int], source: str | Path, *, in_table: bool = False
) -> None:
    """Raise when a per-code coefficient names a code that is not in the scheme."""
    unknown = scheme.unknown(codes)
    if unknown:
        raise InputError(
            source,
            [
                ("column 'key', value " if in_table else "[coefficients.sink_t_per_ha] key ")
                + f"'{code}': neither a land class nor a code of "
                f"the {scheme.name!r} scheme (codes: {_code_range(scheme)}; classes: "
                f"{', '.join(LAND_CLASSES)})"
                for code in unknown
            ],
        )


def _code_range(scheme: Scheme) -> str:
    codes = sorted(scheme.classes)
    if len(codes) <= 12:
        return ", ".join(map(str, codes))
    return f"{', '.join(map(str, codes[:10]))}, … {codes[-1]}"


def matching_builtin_schemes(codes: Iterable[int]) -> list[str]:
    """The built-in schemes that know every one of ``codes`` (for a wrong-scheme hint)."""
    wanted = {int(c) for c in codes}
    return [name for name in BUILTIN_SCHEMES if not builtin_scheme(name).unknown(wanted)]


def attach_classes(
    areas: pd.DataFrame,
    scheme: Scheme,
    *,
    source: str | Path,
    unknown_codes: str = "error",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add a ``class`` column to an area table (``unit, year, code, area_ha[, pixels]``).

    Returns the classified table and a table of the ignored unknown codes (empty unless
    ``unknown_codes == "ignore"``). Unknown codes are an error by default, listing each
    code with its pixel count (or area) so the user can see what is in the raster.
    """
    unknown = scheme.unknown(areas["code"].unique())
    ignored = areas[areas["code"].isin(unknown)]
    if unknown and unknown_codes == "error":
        raise InputError(source, _describe_unknown(ignored, scheme, areas["code"].unique()))
    known = areas[~areas["code"].isin(unknown)].copy()
    known["class"] = known["code"].map(scheme.classes)
    return known.reset_index(drop=True), ignored.reset_index(drop=True)


def _describe_unknown(ignored: pd.DataFrame, scheme: Scheme, all_codes: Iterable[int]) -> str:
    amount = "pixels" if "pixels" in ignored.columns else "area_ha"
    totals = ignored.groupby("code")[amount].sum()
    listed = ", ".join(f"{int(code)} ({value:,.0f} {amount})" for code, value in totals.items())
    fitting = [name for name in matching_builtin_schemes(all_codes) if name != scheme.name]
    hint = (
        f"; every code present fits the built-in scheme(s) {', '.join(map(repr, fitting))}: "
        "is this raster from another product? Set [landuse] scheme"
        if fitting
        else ""
    )
    return (
        f"codes not in the {scheme.name!r} land-use scheme: {listed}{hint}. Fix the raster, use "
        "another scheme ([landuse] scheme), add the codes in [landuse.classes], or set "
        '[landuse] unknown_codes = "ignore"'
    )


AREA_TABLE_COLUMNS = ("unit", "year", "code", "area_ha")
MAX_TABLE_INTEGER = 10**9
"""Years and codes of an area table are below this (larger ones are typing errors)."""
MAX_AREA_HA = 1e12
"""No unit is larger (the Earth's land is 1.5·10¹⁰ ha); larger values are refused."""


def read_area_table(path: Path) -> pd.DataFrame:
    """Read a land-use area table (``unit, year, code, area_ha``), e.g. from a land survey.

    Unit names are normalised; every problem (missing columns, non-numeric or negative
    values, duplicate (unit, year, code) rows) is reported at once.
    """
    text, _encoding = read_chinese_text(path)  # UTF-8, else GB18030 (Excel on Chinese Windows)
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(path, f"cannot read area table: {error}") from None
    missing = [c for c in AREA_TABLE_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; found {list(raw.columns)}")
    if not isinstance(raw.index, pd.RangeIndex):  # pandas made the extra field an index
        raise InputError(path, "rows have more fields than the header; look for stray commas")
    return _parse_area_table(raw, path)


def _parse_area_table(raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    problems: list[str] = []
    table = pd.DataFrame({"unit": raw["unit"].map(normalise_name)})
    invalid = pd.Series(False, index=raw.index)
    for column, integer in (("year", True), ("code", True), ("area_ha", False)):
        values = pd.to_numeric(raw[column].str.strip(), errors="coerce").astype(float)
        largest = MAX_TABLE_INTEGER if integer else MAX_AREA_HA
        bad = ~((values >= 0) & (values <= largest))  # NaN too
        if integer:
            bad |= values % 1 != 0
        for index in bad[bad].index:
            problems.append(
                f"row {index + 2}, column {column!r}: invalid value {raw[column].iloc[index]!r}"
            )
        invalid |= bad
        table[column] = values
    duplicated = table.duplicated(["unit", "year", "code"], keep=False) & ~invalid
    for (unit, year, code), rows in (
        table[duplicated].groupby(["unit", "year", "code"]).groups.items()
    ):
        listed = ", ".join(f"row {i + 2}" for i in rows)
        key = (unit, int(year), int(code))
        problems.append(f"duplicate (unit, year, code) {key} in {listed}")
    if problems:
        raise InputError(path, problems)
    table[["year", "code"]] = table[["year", "code"]].astype(int)
    return table.sort_values(["unit", "year", "code"]).reset_index(drop=True)
