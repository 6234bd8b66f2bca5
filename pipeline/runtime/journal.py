"""The commit journal: a record of the renames that replace a run's outputs, so that a run
killed half-way through them (SIGKILL, power loss) is completed by the next run.

Before the first rename, :class:`pipeline.outputs.staging.StagedOutputs` writes
``.commit.<pid>.journal`` in the output folder (whole, under a temporary name first, then
renamed): every ``(final, temporary, backup)`` path of the commit. Every staged file is
complete by then, so a killed commit can always be finished: :func:`recover` moves each final
file still old aside and puts the staged one in its place, then removes the backups and the
journal. The folder then holds the complete new set, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

JOURNAL_NAME = ".commit.{pid}.journal"


def journal_path(root: Path, pid: int) -> Path:
    """Where process ``pid`` keeps the journal of its commit into ``root``."""
    return root / JOURNAL_NAME.format(pid=pid)


def write_journal(root: Path, renames: Sequence[tuple[Path, Path, Path]]) -> Path:
    """Record ``renames`` (final, temporary, backup) durably before any of them is done."""
    path = journal_path(root, os.getpid())
    content = {"renames": [[str(p.relative_to(root)) for p in row] for row in renames]}
    temporary = path.with_name(path.name + ".tmp")
    handle = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _NOFOLLOW, 0o644)
    try:
        os.write(handle, json.dumps(content).encode("utf-8"))
        os.fsync(handle)
    finally:
        os.close(handle)
    os.replace(temporary, path)
    return path


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def recover(root: Path, pid: int) -> bool:
    """Finish the commit that process ``pid`` (now dead) was doing in ``root``, if any.

    Returns True when a journal was found (the commit is then complete).
    """
    path = journal_path(root, pid)
    with contextlib.suppress(FileNotFoundError):
        path.with_name(path.name + ".tmp").unlink()  # killed while writing it: nothing renamed
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        renames = [tuple(root / p for p in row) for row in content["renames"]]
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        return False  # unreadable: written by something else; the caller's cleanup applies
    for final, temporary, _backup in renames:
        if temporary.exists():  # this rename had not happened yet (the old file is replaced)
            os.replace(temporary, final)
    for _final, _temporary, backup in renames:
        with contextlib.suppress(OSError):
            backup.unlink()
    path.unlink(missing_ok=True)
    return True
