"""Writing outputs: CSV tables, an Excel workbook, text reports and the run manifest.

Every file is first written under a temporary name beside its destination and renamed only
when every output of the run has been written, so a failed run leaves earlier outputs as they
were and no reader ever sees a half-written file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, is_dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import OutputError

COLUMN_NAMES_ZH: dict[str, str] = {
    "unit": "区县",
    "year": "年份",
    "code": "地类代码",
    "code_name": "地类名称",
    "class": "一级地类",
    "area_ha": "面积(hm²)",
    "pixels": "像元数",
    "population_10k": "常住人口(万人)",
    "gdp_100m_yuan": "地区生产总值(亿元)",
    "energy_tce": "能源消费总量(吨标准煤)",
    "emission_respiration_t": "人口呼吸碳排放(t)",
    "emission_energy_t": "能源碳排放(t)",
    "emission_t": "碳排放总量(t)",
    "sink_t": "碳汇总量(t)",
    "balance_t": "碳收支(t)",
    "emission_intensity_t_per_ha": "碳排放强度(t/hm²)",
    "sink_intensity_t_per_ha": "碳汇强度(t/hm²)",
    "eec": "碳排放经济贡献率",
    "sec": "碳吸收生态贡献率",
    "eec_level": "经济贡献率等级",
    "sec_level": "生态贡献率等级",
    "zone": "分区代码",
    "zone_zh": "碳平衡分区",
}
MANIFEST_PACKAGES = (
    "carbon-balance-zoning",
    "numpy",
    "pandas",
    "geopandas",
    "shapely",
    "pyogrio",
    "rasterio",
    "pyproj",
    "matplotlib",
    "mapclassify",
    "openpyxl",
    "numba",
)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` when the block succeeds.

    Readers never see a half-written file; on any error the temporary file is removed and
    ``path`` keeps what it held. OS errors become an :class:`OutputError` naming ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        raise OutputError(f"{path}: cannot be written ({error})") from error
    finally:
        temporary.unlink(missing_ok=True)


class StagedOutputs:
    """Collects outputs under temporary names; :meth:`commit` renames them all at once.

    Use as a context manager: on an exception nothing is renamed and the temporary files are
    removed, so the destination keeps whatever it held before.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._staged: dict[Path, Path] = {}

    def __enter__(self) -> StagedOutputs:
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def staging_path(self, relative: str | Path) -> Path:
        """A temporary path for ``relative``; it becomes ``root/relative`` on commit."""
        final = self.root / relative
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{final.parent}: cannot create output folder ({error})") from None
        temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        self._staged[final] = temporary
        return temporary

    def write(self, relative: str | Path, writer: Callable[[Path], None]) -> None:
        """Stage one output: ``writer`` writes it to the temporary path it is given."""
        temporary = self.staging_path(relative)
        try:
            writer(temporary)
        except OSError as error:
            raise OutputError(f"{self.root / relative}: cannot write ({error})") from None

    def write_text(self, relative: str | Path, text: str) -> None:
        """Stage a UTF-8 text file."""
        self.write(relative, lambda path: path.write_text(text, encoding="utf-8"))

    def write_csv(self, relative: str | Path, frame: pd.DataFrame) -> None:
        """Stage a CSV (UTF-8 with BOM, so Excel on Chinese Windows opens it correctly)."""
        self.write(relative, lambda path: frame.to_csv(path, index=False, encoding="utf-8-sig"))

    def write_json(self, relative: str | Path, content: Mapping[str, Any]) -> None:
        """Stage a JSON document (UTF-8, indented, non-ASCII kept readable)."""
        text = json.dumps(content, ensure_ascii=False, indent=2, default=_json_default)
        self.write_text(relative, text + "\n")

    @property
    def destinations(self) -> list[Path]:
        """Where the staged files will be once committed."""
        return list(self._staged)

    def commit(self) -> list[Path]:
        """Rename every staged file to its destination; return the destinations.

        Earlier outputs are first moved aside; if any rename fails (e.g. a file open in
        Excel on Windows) they are put back, so the folder holds either all the new outputs
        or all the old ones. SIGINT/SIGTERM are held back until the renames are done.
        """
        from pipeline.locking import deferred_interrupts

        with deferred_interrupts():
            backups: dict[Path, Path] = {}
            replaced: list[Path] = []
            try:
                for final, temporary in self._staged.items():
                    if final.exists():
                        backups[final] = final.with_name(f".{final.name}.{os.getpid()}.bak")
                        os.replace(final, backups[final])
                    os.replace(temporary, final)
                    replaced.append(final)
            except OSError as error:
                self._roll_back(replaced, backups)
                raise OutputError(
                    f"{error.filename}: cannot replace ({error.strerror}); the earlier outputs "
                    "were kept (close the file if another program has it open)"
                ) from None
            for backup in backups.values():
                backup.unlink(missing_ok=True)
        written = list(self._staged)
        self._staged.clear()
        return written

    def _roll_back(self, replaced: list[Path], backups: Mapping[Path, Path]) -> None:
        """Remove the new outputs already in place and put the earlier ones back."""
        for final in replaced:
            final.unlink(missing_ok=True)
        for final, backup in backups.items():
            with contextlib.suppress(OSError):
                os.replace(backup, final)
        self.discard()

    def discard(self) -> None:
        """Remove every staged temporary file."""
        for temporary in self._staged.values():
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
        self._staged.clear()


def write_workbook(
    path: Path, sheets: Mapping[str, pd.DataFrame], *, chinese_headers: bool = True
) -> None:
    """Write ``sheets`` to an .xlsx workbook, one sheet per table.

    With ``chinese_headers`` the first row holds Chinese column names and the second the
    column ids of the CSV files (read back with ``pandas.read_excel(..., header=1)``).
    """
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            start_row = 1 if chinese_headers else 0
            frame.to_excel(writer, sheet_name=name, index=False, startrow=start_row)
            sheet = writer.sheets[name]
            if chinese_headers:
                for column_number, column in enumerate(frame.columns, start=1):
                    sheet.cell(row=1, column=column_number, value=COLUMN_NAMES_ZH.get(column, ""))
            sheet.freeze_panes = sheet.cell(row=start_row + 2, column=2)


_SHA256_MEMO: dict[tuple[str, int, int], str] = {}


def sha256(path: Path) -> str:
    """SHA-256 of a file (or of every file under a folder, in sorted order).

    File checksums are remembered per (path, size, modification time) within a process, so
    the cache key and the manifest hash a large raster once.
    """
    if path.is_file():
        stat = path.stat()
        memo_key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if memo_key not in _SHA256_MEMO:
            _SHA256_MEMO[memo_key] = _sha256_of(path)
        return _SHA256_MEMO[memo_key]
    return _sha256_of(path)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def package_versions(names: tuple[str, ...] = MANIFEST_PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that shaped the outputs."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_manifest(
    *,
    study: Any,
    inputs: Mapping[str, Path],
    timings_s: Mapping[str, float],
    outputs: list[str],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What produced the outputs: study, inputs with checksums, settings, versions, timings."""
    return {
        "study": str(study.path),
        "study_sha256": sha256(study.path),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "inputs": {
            role: {"path": str(path), "sha256": sha256(path)} for role, path in inputs.items()
        },
        "settings": asdict(study) if is_dataclass(study) else {},
        "versions": package_versions(),
        "timings_s": {stage: round(seconds, 3) for stage, seconds in timings_s.items()},
        "outputs": outputs,
        **(extra or {}),
    }


def _json_default(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return str(value)


def balance_sheets(
    landuse_areas: pd.DataFrame, balance: pd.DataFrame, zoning: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """The tables of a run, by sheet name (also the CSV stem)."""
    return {"landuse_areas": landuse_areas, "carbon_balance": balance, "zoning": zoning}


def iter_csv_outputs(sheets: Mapping[str, pd.DataFrame]) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(data/processed/<name>.csv, frame)`` for each table."""
    for name, frame in sheets.items():
        yield f"data/processed/{name}.csv", frame
