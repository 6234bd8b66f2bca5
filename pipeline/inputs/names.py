"""Unit names: one rule for matching names across boundaries, statistics and area tables."""

from __future__ import annotations

import difflib
import itertools
import re
import unicodedata
from collections.abc import Iterable

_WHITESPACE = re.compile(r"\s+")
LARGE_POOL = 10_000
"""Above this many candidate names, suggestions are looked for among the candidates sharing
the name's first character only (an index built once), so that a table of a million unknown
names is checked in seconds, not hours. Smaller pools (any real study: China has about 2,900
counties) are searched whole."""


def normalise_name(name: object) -> str:
    """Return ``name`` in its matching form: Unicode NFKC, whitespace trimmed and collapsed.

    Full-width letters and digits become ASCII, ideographic spaces become plain spaces.
    Nothing else changes: ``清镇`` and ``清镇市`` stay different names.
    """
    text = unicodedata.normalize("NFKC", str(name))
    return _WHITESPACE.sub(" ", text).strip()


class NameMatcher:
    """Near-miss suggestions among one set of candidate names (sorted and indexed once)."""

    def __init__(self, candidates: Iterable[str]) -> None:
        pool = candidates if isinstance(candidates, list) else list(candidates)
        if not all(a < b for a, b in itertools.pairwise(pool)):
            pool = sorted(set(pool))  # (a sorted list of unique names is taken as it is)
        self.pool = pool
        self._by_first: dict[str, list[str]] | None = None

    def _candidates(self, name: str) -> list[str]:
        if len(self.pool) <= LARGE_POOL:
            return self.pool
        if self._by_first is None:
            self._by_first = {}
            for candidate in self.pool:
                self._by_first.setdefault(candidate[:1], []).append(candidate)
        return self._by_first.get(name[:1], [])[:LARGE_POOL]

    def near_misses(self, name: str, limit: int = 3) -> list[str]:
        """Names that look like ``name`` (containment or close spelling), best first."""
        pool = self._candidates(name)
        contained = [c for c in pool if c != name and (name in c or c in name)]
        close = difflib.get_close_matches(name, pool, n=limit, cutoff=0.6)
        return list(dict.fromkeys(contained + close))[:limit]

    def describe(self, name: str) -> str:
        """``'清镇'`` or ``'清镇' (did you mean '清镇市'?)`` for an error message."""
        suggestions = self.near_misses(name)
        if not suggestions:
            return repr(name)
        return f"{name!r} (did you mean {' or '.join(repr(s) for s in suggestions)}?)"


def near_misses(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Names among ``candidates`` that look like ``name`` (containment or close spelling)."""
    return NameMatcher(candidates).near_misses(name, limit)


def describe_unmatched(name: str, candidates: Iterable[str]) -> str:
    """``'清镇'`` or ``'清镇' (did you mean '清镇市'?)`` for an error message."""
    return NameMatcher(candidates).describe(name)


def unmatched_problems(
    names: Iterable[str], candidates: Iterable[str], template: str, suggest: int
) -> list[str]:
    """One problem per name, ``template`` holding ``{name}``; the first ``suggest`` names
    carry near-miss suggestions (a message lists only its first problems: looking for
    suggestions for the rest of a million unknown names would take hours)."""
    matcher = NameMatcher(candidates)
    return [
        template.format(name=matcher.describe(name) if index < suggest else repr(name))
        for index, name in enumerate(names)
    ]
