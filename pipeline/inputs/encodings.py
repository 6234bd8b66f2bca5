"""Text encodings of Chinese inputs: spotting GBK names that were decoded as Latin-1.

A Shapefile's .dbf written on Chinese Windows holds GBK text; without a .cpg file (and with no
language id in the .dbf header) GDAL reads it as ISO-8859-1 and ``南明区`` arrives as
``ÄÏÃ÷Çø``. Rather than join such names to nothing, the run stops and says which encoding
to set.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pipeline.errors import InputError
from pipeline.runtime.files import refuse_non_file

TEXT_ENCODINGS = ("utf-8-sig", "gb18030")
"""Tried in order for CSV inputs: UTF-8 (BOM optional), then GB18030 (a superset of GBK)."""
ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030 (GBK)"}

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


def mojibake_hint(texts: Iterable[object]) -> str | None:
    """A message naming a mis-decoded text and the fix, when most non-ASCII texts look
    like GBK decoded as Latin-1; ``None`` otherwise."""
    candidates = [str(text) for text in texts if not str(text).isascii()]
    repaired = {text: as_gbk(text) for text in candidates}
    suspicious = {text: fixed for text, fixed in repaired.items() if fixed is not None}
    if not suspicious or len(suspicious) * 2 < len(candidates):
        return None
    text, fixed = next(iter(suspicious.items()))
    return (
        f"text looks like GBK read as Latin-1 ({text!r} would be {fixed!r} in GBK); "
        'the Shapefile has no .cpg file: set [boundaries] encoding = "GBK" in the study '
        "(or add a .cpg file containing GBK next to the .dbf)"
    )


def shapefile_hint(path: Path, layer: str | None = None, sample: int = 50) -> str | None:
    """For a Shapefile without a .cpg file: the :func:`mojibake_hint` of its field names and
    the text values of its first ``sample`` features; ``None`` for other formats."""
    import pyogrio

    if path.suffix.lower() != ".shp" or path.with_suffix(".cpg").exists():
        return None
    try:
        frame = pyogrio.read_dataframe(path, layer=layer, read_geometry=False, max_features=sample)
    except Exception:  # unreadable files are reported by the boundary reader
        return None
    texts = [*frame.columns]
    for column in frame.columns:
        texts += [value for value in frame[column] if isinstance(value, str)]
    return mojibake_hint(texts)


def read_chinese_text(path: Path) -> tuple[str, str]:
    """The text of a CSV and the encoding that decoded it (:data:`TEXT_ENCODINGS` in turn).

    Raises
    ------
    InputError
        When the file cannot be read or is in neither encoding.
    """
    refuse_non_file(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InputError(path, f"cannot read the file: {error.strerror}") from None
    for encoding in TEXT_ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise InputError(path, "is neither UTF-8 nor GB18030/GBK text; save it as UTF-8 CSV")
