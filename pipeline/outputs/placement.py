"""Where labels go: boxes measured in display coordinates, placed so that none collide.

The rule, the same for every map and chart (deterministic: no randomness, no iteration order
from a set or dict):

1. Labels are taken in order of decreasing priority (a unit's area, so larger units win),
   ties broken by the label's key (the unit's name).
2. Each label has variants (text, font size), tried in order: on maps the name with its value,
   then smaller, then the name alone.
3. A variant is placed when its box, padded by :data:`PAD_PX`, lies inside the axes, overlaps
   no label placed before it and no obstacle, and, when the label has a ``shape`` (the unit's
   polygon), at least ``min_inside_share`` of the box lies inside that shape (so a name does
   not spill across its neighbours).
4. A label none of whose variants can be placed is dropped; the tables keep every unit.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox, Transform
from shapely.geometry import box as shapely_box
from shapely.geometry.base import BaseGeometry

# Every placed label carries this gid, so tests and callers can find them among other texts.
LABEL_GID = "unit-label"
PAD_PX = 1.5  # at the figure's dpi; covers the white halo drawn around each label
HALO = [patheffects.withStroke(linewidth=2.4, foreground="white")]


@dataclass(frozen=True)
class LabelRequest:
    """One label to place: its anchor (data coordinates), variants and priority."""

    key: str
    x: float
    y: float
    variants: tuple[tuple[str, float], ...]  # (text, font size in points), first preferred
    priority: float
    shape: BaseGeometry | None = None  # data coordinates
    # positions tried for each variant, in points from the anchor (the anchor itself first)
    offsets_pt: tuple[tuple[float, float], ...] = ((0.0, 0.0),)


def renderer_of(figure: Figure) -> RendererBase:
    """A renderer measuring text as the saved figure will (Agg at the figure's dpi)."""
    canvas = figure.canvas
    if not isinstance(canvas, FigureCanvasAgg):
        canvas = FigureCanvasAgg(figure)
    return canvas.get_renderer()


@functools.cache
def measuring_renderer(dpi: float) -> RendererAgg:
    """One Agg renderer per dpi for measuring labels, shared by every figure of the process.

    Text is measured as by the figure's own renderer (the same fonts at the same dpi), but
    matplotlib keeps its text metrics per renderer: shared, a unit's name measured on one map
    is known on the next.
    """
    return RendererAgg(1, 1, dpi)


def place_labels(
    ax: Axes,
    requests: Iterable[LabelRequest],
    *,
    obstacles: Sequence[Bbox] = (),
    min_inside_share: float = 0.0,
) -> list[Text]:
    """Draw the labels of ``requests`` that can be placed (see the module rule); return them.

    Each variant is measured on one probe text (moved and re-worded); only the variant placed
    becomes a label.
    """
    renderer = measuring_renderer(ax.figure.dpi)
    ax.apply_aspect()
    frame = ax.get_window_extent(renderer)
    to_data = ax.transData.inverted()
    placed = np.array([_extents(box) for box in obstacles]).reshape(-1, 4)
    drawn: list[Text] = []
    style = {"textcoords": "offset points", "linespacing": 1.1, "annotation_clip": False}
    probe = ax.annotate("", (0.0, 0.0), xytext=(0.0, 0.0), **style)
    try:
        for request in sorted(requests, key=lambda r: (-r.priority, r.key)):
            candidates = itertools.product(request.variants, request.offsets_pt)
            for (text, size), (dx, dy) in candidates:
                ha = "left" if dx > 0 else "right" if dx < 0 else "center"
                va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
                probe.xy, probe.xyann = (request.x, request.y), (dx, dy)
                probe.update({"text": text, "fontsize": size, "ha": ha, "va": va})
                bbox = probe.get_window_extent(renderer).padded(PAD_PX)
                share = min_inside_share if request.shape is not None else 0.0
                if _fits(bbox, frame, placed) and (
                    _inside_share(bbox, request.shape, to_data) >= share
                ):
                    placed = np.vstack([placed, _extents(bbox)])
                    drawn.append(ax.annotate(text, (request.x, request.y), xytext=(dx, dy),
                                             ha=ha, va=va, fontsize=size, path_effects=HALO,
                                             gid=LABEL_GID, zorder=6, **style))  # fmt: skip
                    break
    finally:
        probe.remove()
    return drawn


def _extents(bbox: Bbox) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` of ``bbox``, corners ordered."""
    (x0, y0), (x1, y1) = np.sort(bbox.get_points(), axis=0)
    return x0, y0, x1, y1


def _fits(bbox: Bbox, frame: Bbox, placed: np.ndarray) -> bool:
    """``bbox`` lies inside ``frame`` and overlaps none of the ``placed`` extents (rows
    ``x0, y0, x1, y1``; touching counts as overlapping, as in :meth:`Bbox.overlaps`)."""
    inside = frame.x0 <= bbox.x0 and bbox.x1 <= frame.x1 and frame.y0 <= bbox.y0
    if not (inside and bbox.y1 <= frame.y1):
        return False
    x0, y0, x1, y1 = _extents(bbox)
    overlaps = (placed[:, 0] <= x1) & (x0 <= placed[:, 2]) & (placed[:, 1] <= y1)
    return not np.any(overlaps & (y0 <= placed[:, 3]))


def _inside_share(bbox: Bbox, shape: BaseGeometry | None, to_data: Transform) -> float:
    if shape is None:
        return 1.0
    (x0, y0), (x1, y1) = to_data.transform([(bbox.x0, bbox.y0), (bbox.x1, bbox.y1)])
    region = shapely_box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    return region.intersection(shape).area / region.area if region.area else 0.0


def keep_clear(ax: Axes, texts: Sequence[Text], priorities: Sequence[float]) -> list[Text]:
    """Remove, lowest priority first, texts that overlap a kept one or leave the axes.

    For labels moved by another placer (adjustText on the scatter): the same rule as
    :func:`place_labels`, applied to where they ended up. Returns the texts kept.
    """
    renderer = renderer_of(ax.figure)
    frame = ax.get_window_extent(renderer)
    order = sorted(range(len(texts)), key=lambda i: (-priorities[i], texts[i].get_text()))
    kept_boxes = np.empty((0, 4))
    kept: list[Text] = []
    for index in order:
        text = texts[index]
        bbox = text.get_window_extent(renderer).padded(PAD_PX)
        if _fits(bbox, frame, kept_boxes):
            kept_boxes = np.vstack([kept_boxes, _extents(bbox)])
            kept.append(text)
        else:
            text.remove()
    return kept


def drawn_label_boxes(ax: Axes) -> list[Bbox]:
    """Display boxes of the placed labels on ``ax`` (for checks: none may overlap)."""
    renderer = renderer_of(ax.figure)
    return [t.get_window_extent(renderer) for t in ax.texts if t.get_gid() == LABEL_GID]
