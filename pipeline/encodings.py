"""Text encodings of Chinese inputs: spotting GBK names that were decoded as Latin-1.

A Shapefile's .dbf written on Chinese Windows holds GBK text; without a .cpg file (and with no
language id in the .dbf header) GDAL reads it as ISO-8859-1 and ``南明区`` arrives as
``ÄÏÃ÷Çø``. Rather than join such names to nothing, the run stops and says which encoding
to set.
"""

from __future__ import annotations

from collections.abc import Iterable

_CJK = ("\u4e00", "\u9fff")


def _is_cjk(character: str) -> bool:
    return _CJK[0] <= character <= _CJK[1]


def as_gbk(name: str) -> str | None:
    """``name`` re-read as GBK when it looks like GBK bytes decoded as Latin-1, else None."""
    if not name or not any("\x80" <= c <= "\xff" for c in name):
        return None
    try:
        repaired = name.encode("latin-1").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
    return repaired if any(_is_cjk(c) for c in repaired) else None


def mojibake_hint(names: Iterable[str]) -> str | None:
    """A message naming a mis-decoded name and the fix, when most names look mis-decoded."""
    names = [str(name) for name in names]
    repaired = {name: as_gbk(name) for name in names}
    suspicious = {name: fixed for name, fixed in repaired.items() if fixed is not None}
    if not names or len(suspicious) * 2 < len(names):
        return None
    name, fixed = next(iter(suspicious.items()))
    return (
        f"names look like GBK text read as Latin-1 ({name!r} would be {fixed!r} in GBK); "
        'the Shapefile has no .cpg file: set [boundaries] encoding = "GBK" in the study '
        "(or add a .cpg file containing GBK next to the .dbf)"
    )
