"""A CJK font for map labels, installed by pip with :mod:`mplfonts` (no system fonts assumed).

:func:`cjk_rc` registers Noto Sans CJK SC from the ``mplfonts`` package with matplotlib's
font manager and returns rc settings that use it; call it where figures are drawn (nothing
happens at import time).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from matplotlib import font_manager

from pipeline.errors import PipelineError

CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"


def cjk_font_path() -> Path:
    """The Noto Sans CJK SC file shipped by the ``mplfonts`` package."""
    try:
        path = Path(str(resources.files("mplfonts") / "fonts" / CJK_FONT_FILE))
    except ModuleNotFoundError:
        raise PipelineError(
            "maps need the 'mplfonts' package for Chinese labels: pip install mplfonts"
        ) from None
    if not path.is_file():
        raise PipelineError(f"{path}: the CJK font of the 'mplfonts' package is missing")
    return path


@cache
def register_cjk_font() -> str:
    """Register the bundled Noto Sans CJK SC font; return its family name."""
    path = cjk_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()


def cjk_rc() -> dict[str, object]:
    """Matplotlib rc settings for Chinese and English labels in the bundled CJK font."""
    family = register_cjk_font()
    return {
        "font.family": "sans-serif",
        "font.sans-serif": [family],
        # Noto Sans CJK has U+2212, but an ASCII hyphen-minus is safe in every font.
        "axes.unicode_minus": False,
        "pdf.fonttype": 42,
        "svg.fonttype": "path",  # SVG text as outlines: no font needed to view it
    }
