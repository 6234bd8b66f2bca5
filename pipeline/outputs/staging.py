"""Staging: every output is written under a temporary name and all are renamed together.

A failed run leaves earlier outputs as they were and no reader ever sees a half-written file.
Temporary names hold a random part and are created exclusively (a file or symbolic link
planted at a guessable name is never followed). Before the renames a commit journal is
written (:mod:`pipeline.runtime.journal`), so a run killed half-way through them is
completed by the next run instead of leaving old and new outputs mixed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import OutputError
from pipeline.runtime import journal
from pipeline.runtime.lock import deferred_interrupts

_EXCLUSIVE = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)


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
        if final.is_dir() and not final.is_symlink():
            raise OutputError(
                f"{final}: is a folder where an output file goes; move or delete it, then run "
                "again (the earlier outputs were kept)"
            )
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OutputError(f"{final.parent}: cannot create output folder ({error})") from None
        if final in self._staged:
            return self._staged[final]
        temporary = _exclusive_temporary(final)
        self._staged[final] = temporary
        return temporary

    def adopt(self, relative: str | Path, temporary: Path) -> None:
        """Stage ``temporary``, written by a worker process from its own :meth:`staging_path`
        (a copy of this object in a forked child), as the output ``relative``."""
        final = self.root / relative
        previous = self._staged.get(final)
        if previous is not None and previous != temporary:
            previous.unlink(missing_ok=True)
        self._staged[final] = temporary

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
        or all the old ones. SIGINT/SIGTERM are held back until the renames are done; a
        journal of the renames lets the next run finish them after a SIGKILL.
        """
        with deferred_interrupts():
            pid = os.getpid()
            plan = [
                (final, temporary, final.with_name(f".{final.name}.{pid}.bak"))
                for final, temporary in self._staged.items()
            ]
            try:
                record = journal.write_journal(self.root, plan)
            except OSError as error:
                self.discard()
                problem = f"cannot write the commit journal ({error})"
                raise OutputError(f"{self.root}: {problem}") from None
            backups: dict[Path, Path] = {}
            replaced: list[Path] = []
            try:
                for final, temporary, backup in plan:
                    if final.exists():
                        os.replace(final, backup)
                        backups[final] = backup
                    os.replace(temporary, final)
                    replaced.append(final)
            except OSError as error:
                self._roll_back(replaced, backups)
                record.unlink(missing_ok=True)
                raise OutputError(
                    f"{error.filename}: cannot replace ({error.strerror}); the earlier outputs "
                    "were kept (close the file if another program has it open)"
                ) from None
            for backup in backups.values():
                with contextlib.suppress(OSError):
                    backup.unlink()
            record.unlink(missing_ok=True)
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


def _exclusive_temporary(final: Path) -> Path:
    """A new, empty temporary file beside ``final`` (``.name.<random>.<pid>.tmp``), created
    exclusively: an existing file or link at the name is never opened or followed."""
    for _attempt in range(100):
        temporary = final.with_name(f".{final.name}.{secrets.token_hex(4)}.{os.getpid()}.tmp")
        try:
            os.close(os.open(temporary, _EXCLUSIVE, 0o666))
        except FileExistsError:
            continue
        except OSError as error:
            raise OutputError(f"{temporary}: cannot create a temporary file ({error})") from None
        return temporary
    raise OutputError(f"{final.parent}: cannot create a temporary file (every name taken)")


def _json_default(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return str(value)
