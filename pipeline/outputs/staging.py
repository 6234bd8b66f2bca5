"""Staging: every output is written under a temporary name and all are renamed together.

A failed run leaves earlier outputs as they were and no reader ever sees a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import OutputError
from pipeline.runtime.lock import deferred_interrupts


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


def _json_default(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return str(value)
