"""Files written whole or not at all, and file checksums."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import InputError, OutputError

_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def special_file_kind(path: str | Path) -> str | None:
    """What ``path`` is (after symbolic links) when it is neither a regular file nor a folder:
    ``"a FIFO (named pipe)"``, ``"a socket"``, ``"a character device"`` (``/dev/zero``) or
    ``"a block device"``; ``None`` for regular files, folders and missing paths. Found with
    one ``stat``, without opening the file (opening a FIFO blocks)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    return next((kind for test, kind in _SPECIAL_KINDS if test(mode)), None)


def refuse_non_file(path: str | Path, *, folder_ok: bool = False) -> None:
    """Raise an :class:`InputError` naming ``path`` when it is a FIFO, socket or device (a
    read would block or never end) or, unless ``folder_ok``, a folder; before any read."""
    kind = special_file_kind(path)
    if kind is not None:
        raise InputError(
            path,
            f"not a regular file: it is {kind}, and reading it would never end; point the "
            "study at the file itself",
        )
    if not folder_ok and Path(path).is_dir():
        raise InputError(path, "is a folder, not a file; point the study at the file inside it")


def space_hint(folder: Path) -> str:
    """Free space on ``folder``'s disk and any file-size limit of this process, for a message
    about a write that failed without saying why (GDAL, SQLite)."""
    import shutil

    parts = []
    with contextlib.suppress(OSError):
        parts.append(f"{shutil.disk_usage(folder).free} bytes free on its disk")
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY:
            parts.append(f"files limited to {soft} bytes (ulimit -f)")
    except (ImportError, OSError, ValueError):  # no resource module on Windows
        pass
    return "; ".join(parts)


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


_SHA256_MEMO: dict[tuple[str, int, int], str] = {}


def sha256(path: Path) -> str:
    """SHA-256 of a file (or of every file under a folder, in sorted order).

    File checksums are remembered per (path, size, modification time) within a process, so
    the cache key and the manifest hash a large raster once. A FIFO or device is refused
    (:func:`refuse_non_file`), never read.
    """
    refuse_non_file(path, folder_ok=True)
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


CHECKSUM_LINE = "# sha256 of the lines below: "
"""First line of a checksummed text file (:func:`checksummed_text`)."""


def checksummed_text(body: str) -> str:
    """``body`` preceded by a line holding its SHA-256, so that edits and damage show."""
    return f"{CHECKSUM_LINE}{hashlib.sha256(body.encode('utf-8')).hexdigest()}\n{body}"


def verified_body(text: str) -> str | None:
    """The body of a :func:`checksummed_text`, or ``None`` when it does not match its line."""
    first, _, body = text.partition("\n")
    if not first.startswith(CHECKSUM_LINE):
        return None
    expected = first.removeprefix(CHECKSUM_LINE).strip()
    return body if hashlib.sha256(body.encode("utf-8")).hexdigest() == expected else None
