"""Unit names: one rule for matching names across boundaries, statistics and area tables."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

_WHITESPACE = re.compile(r"\s+")


def normalise_name(name: object) -> str:
    """Return ``name`` in its matching form: Unicode NFKC, whitespace trimmed and collapsed.

    Full-width letters and digits become ASCII, ideographic spaces become plain spaces.
    Nothing else changes: ``清镇`` and ``清镇市`` stay different names.
    """
    text = unicodedata.normalize("NFKC", str(name))
    return _WHITESPACE.sub(" ", text).strip()


def near_misses(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Names among ``candidates`` that look like ``name`` (containment or close spelling)."""
    pool = sorted(set(candidates))
    contained = [c for c in pool if c != name and (name in c or c in name)]
    close = difflib.get_close_matches(name, pool, n=limit, cutoff=0.6)
    ordered = list(dict.fromkeys(contained + close))
    return ordered[:limit]


def describe_unmatched(name: str, candidates: Iterable[str]) -> str:
    """``'清镇'`` or ``'清镇' (did you mean '清镇市'?)`` for an error message."""
    suggestions = near_misses(name, candidates)
    if not suggestions:
        return repr(name)
    return f"{name!r} (did you mean {' or '.join(repr(s) for s in suggestions)}?)"
