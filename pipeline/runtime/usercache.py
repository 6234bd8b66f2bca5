"""Derived text kept between runs in the user's cache folder, verified on every read.

Something slow to compute and fully determined by its inputs (the report's font subset:
the font file, the characters, the fontTools version) is computed once and kept under
``$XDG_CACHE_HOME/carbon-balance-zoning/`` (``~/.cache/carbon-balance-zoning/`` when the
variable is unset), named by a hash of everything it depends on. Each entry carries its own
SHA-256 (:func:`~pipeline.runtime.files.checksummed_text`): an entry that fails it, or
cannot be read, is computed again and rewritten. A cache folder that cannot be written
costs the next run the computation, never the run itself.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from pipeline.errors import OutputError
from pipeline.runtime.files import atomic_path, checksummed_text, verified_body

logger = logging.getLogger(__name__)

CACHE_FOLDER = "carbon-balance-zoning"


def user_cache_dir() -> Path:
    """The package's folder in the user's cache folder (XDG base directories)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / CACHE_FOLDER


def entry_path(kind: str, key_parts: Sequence[str]) -> Path:
    """Where the entry of ``kind`` for ``key_parts`` is kept (a hash of every part)."""
    digest = hashlib.sha256("\0".join(key_parts).encode("utf-8")).hexdigest()
    return user_cache_dir() / kind / f"{digest[:32]}.txt"


def cached_text(kind: str, key_parts: Sequence[str], build: Callable[[], str]) -> str:
    """The text ``build()`` returns for ``key_parts``, from the cache when a verified entry
    holds it; otherwise built and kept for the next call (a folder that cannot be written
    is logged and skipped)."""
    path = entry_path(kind, key_parts)
    try:
        body = verified_body(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        body = None
    if body is not None:
        return body
    body = build()
    try:
        with atomic_path(path) as temporary:
            temporary.write_text(checksummed_text(body), encoding="utf-8")
    except (OSError, OutputError) as error:
        logger.info("not kept for the next run: %s (%s)", path, error)
    return body
