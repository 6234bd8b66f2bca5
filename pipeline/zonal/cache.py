"""Cached land-use areas: zonal tabulation is the slow stage, so its table is kept.

The key is a SHA-256 over everything the areas depend on: the checksum of every raster and of
the boundaries (with a Shapefile's .dbf, .shx, .prj and .cpg), how the boundaries are read,
the engine settings (nodata, mode, scheme) and the engine's own code and version. Any change
gives a new key, so a stale table is never reused. Tables live in
``data/processed/cache/landuse_areas_<key>.csv``, with a sidecar ``landuse_areas_<key>.json``
recording the counting mode and grid of each year, and ``landuse_transitions_<key>.csv``
holding the transitions counted in the same pass (checksummed like the areas); all are written
with the run's other outputs (staged and renamed together), so a failed run leaves the cache
as it was. Areas are never served without their transitions: an entry whose transitions
table is missing or damaged is recomputed.

Each table starts with a line holding the SHA-256 of the rest (see
:func:`pipeline.runtime.files.checksummed_text`): a table edited by hand, truncated or damaged
no longer matches and is recomputed, with a note.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import OutputError
from pipeline.inputs import boundaries, landuse, rasters
from pipeline.inputs.boundaries import SHAPEFILE_SIDECARS
from pipeline.runtime.files import sha256, special_file_kind, verified_body
from pipeline.runtime.versions import pipeline_version
from pipeline.study.settings import Study
from pipeline.zonal.jobs import AREA_COLUMNS, TRANSITION_COLUMNS, Counting

CACHE_FORMAT = 2
"""2: the table carries a checksum of its own content."""
CACHE_FOLDER = "data/processed/cache"
KEY_SHOWN = 12
"""Hex digits of the key shown in messages (the file name holds 16)."""


def input_checksums(path: Path) -> dict[str, str]:
    """SHA-256 of an input file, of each file of a Shapefile, or of a folder's files."""
    if path.suffix.lower() == ".shp":
        parts = [path.with_suffix(s) for s in SHAPEFILE_SIDECARS]
        return {p.name: sha256(p) for p in parts if p.is_file()}
    return {path.name: sha256(path)}


def _engine_fingerprint() -> dict[str, str]:
    """Version and source checksum of the code that tabulates (a fix invalidates the cache)."""
    engine = sorted(Path(__file__).parent.glob("*.py"))
    files = [*engine, Path(rasters.__file__), Path(boundaries.__file__)]
    sources = {f"{path.parent.name}/{path.name}": sha256(path) for path in files}
    return {"version": pipeline_version(), **sources}


def key_content(study: Study) -> dict[str, Any]:
    """Everything the tabulated areas depend on (what the key is a checksum of)."""
    boundaries = study.boundaries
    assert boundaries is not None  # rasters need boundaries (the study loader checks)
    scheme = study.landuse.scheme
    return {
        "format": CACHE_FORMAT,
        "engine": _engine_fingerprint(),
        "rasters": {str(y): input_checksums(p) for y, p in sorted(study.landuse.rasters.items())},
        "boundaries": input_checksums(boundaries.path),
        "boundaries_settings": {
            "layer": boundaries.layer,
            "name_field": boundaries.name_field,
            "unit_field": boundaries.unit_field,
            "encoding": boundaries.encoding,
        },
        "nodata": study.landuse.nodata,
        "mode": study.landuse.mode,
        "scheme": input_checksums(scheme) if isinstance(scheme, Path) else scheme,
        "scheme_nodata": None
        if isinstance(scheme, Path)
        else landuse.builtin_scheme(scheme).nodata,
        "zero_is_code": 0 in study.landuse.classes,
        "transitions": study.landuse.transitions,
    }


def areas_key(study: Study) -> str:
    """The cache key of a study's land-use areas (64 hex digits)."""
    text = json.dumps(key_content(study), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def relative_path(key: str) -> str:
    """Where the areas of ``key`` are kept, relative to the output folder."""
    return f"{CACHE_FOLDER}/landuse_areas_{key[:16]}.csv"


def counting_path(key: str) -> str:
    """Where the counting mode and grid per year of ``key`` are kept (beside its table)."""
    return relative_path(key).removesuffix(".csv") + ".json"


def transitions_path(key: str) -> str:
    """Where the transitions of ``key`` are kept (beside its table)."""
    return f"{CACHE_FOLDER}/landuse_transitions_{key[:16]}.csv"


def _refuse_special(path: Path) -> None:
    """A FIFO or device at a cache file's name is refused, never opened (a read would block
    for ever); a folder there is refused when the outputs are staged."""
    kind = special_file_kind(path)
    if kind is not None:
        raise OutputError(
            f"{path}: is {kind} where a cache file goes, not a file the pipeline wrote; delete "
            "it, then run again (the earlier outputs were kept)"
        )


def holds_areas(output_dir: Path) -> bool:
    """Whether the output folder's cache holds any tabulated areas (of any key)."""
    return any((output_dir / CACHE_FOLDER).glob("landuse_areas_*.csv"))


def load_counting(output_dir: Path, key: str) -> Counting | None:
    """The counting record of ``key``, or ``None`` when absent or unreadable."""
    path = output_dir / counting_path(key)
    _refuse_special(path)
    try:
        return Counting.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def load_entry(
    output_dir: Path, key: str, note: Callable[[str], None] | None = None
) -> tuple[pd.DataFrame, Counting, pd.DataFrame] | None:
    """The cached areas of ``key``, how they were counted and their transitions, or ``None``
    unless all three are present and verified: a table without a readable counting record
    for each of its years, or without its verified transitions, is recomputed (``note``
    receives a line saying so)."""
    areas = load_areas(output_dir, key, note)
    if areas is None:
        return None
    transitions = _verified_table(
        output_dir / transitions_path(key),
        TRANSITION_COLUMNS,
        ("year_from", "year_to", "code_from", "code_to"),
    )
    if transitions is None:
        if note is not None:
            note(
                f"note: the cached land-use areas {output_dir / relative_path(key)} lack "
                f"verified transitions ({transitions_path(key)}); recomputed them"
            )
        return None
    counting = load_counting(output_dir, key)
    if counting is None or set(counting.mode) != set(areas["year"]):
        if note is not None:
            note(
                f"note: the cached land-use areas {output_dir / relative_path(key)} lack a "
                f"readable counting record ({counting_path(key)}); recomputed them"
            )
        return None
    return areas, counting, transitions


def load_areas(
    output_dir: Path, key: str, note: Callable[[str], None] | None = None
) -> pd.DataFrame | None:
    """The cached areas of ``key``, or ``None`` when absent or not verified.

    A table that does not match its checksum (edited, truncated, damaged) or cannot be read
    is not used: ``note`` receives a line saying so, and the areas are recomputed.
    """
    path = output_dir / relative_path(key)
    for cache_file in (path, output_dir / counting_path(key), output_dir / transitions_path(key)):
        _refuse_special(cache_file)
    if not path.is_file():
        return None
    table = _verified_table(path, AREA_COLUMNS, ("year", "code"))
    if table is None and note is not None:
        note(
            f"note: the cached land-use areas {path} do not match their checksum (edited or "
            "damaged); recomputed them"
        )
    return table


def _verified_table(
    path: Path, columns: list[str], integers: tuple[str, ...]
) -> pd.DataFrame | None:
    """The table at ``path`` when it matches its checksum and has exactly ``columns``."""
    try:
        body = verified_body(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError):
        return None
    if body is None:
        return None
    try:
        table = pd.read_csv(io.StringIO(body), dtype={"unit": str})
        if list(table.columns) != columns or table.isna().any().any():
            return None
        return table.astype({name: "int64" for name in integers})
    except (ValueError, TypeError, OverflowError):
        return None


def describe(key: str) -> str:
    """The line printed when the cache is used."""
    return f"reused cached land-use areas (key {key[:KEY_SHOWN]})"
