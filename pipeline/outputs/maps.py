"""Choropleth maps of a study: the zoning and one graduated map per indicator and year.

Every plot function takes ``ax=None`` (a new figure is made when omitted) and returns the
``Axes``; classes and colours come from :mod:`pipeline.outputs.classes`. Maps are drawn in an
equal-area Albers projection for China.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib_scalebar.scalebar import ScaleBar
from pyproj import CRS, Transformer

from pipeline.model.constants import ZONES
from pipeline.outputs import classes as classification
from pipeline.outputs.labels import TEXT, Indicator, mathtext, short_name, wrap_line, zone_name
from pipeline.outputs.placement import LabelRequest, place_labels

# Albers equal-area conic for China (the projection of RESDC's national grids), on WGS84.
CHINA_ALBERS = CRS.from_proj4(
    "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +datum=WGS84 +units=m"
)
MAP_SIZE_IN = (7.6, 6.6)  # a map drawn without its units' shape (plot functions, ax given)
MAP_RECT = (0.03, 0.11, 0.60, 0.79)  # left, bottom, width, height of the map axes
# Layout of a map figure that follows the region's shape (inches).
MAP_MAX_IN = (5.6, 6.2)  # largest map area (width, height)
MAP_MIN_HEIGHT_IN = 4.3  # the legend and north arrow beside the map need this height
SIDE_IN = 2.6  # column right of the map: north arrow, legend, scale bar
MARGINS_IN = {"left": 0.25, "top": 0.7, "bottom": 0.9}  # title above, footnote below
MIN_FIGURE_WIDTH_IN = 7.4  # the footnote's width
# [maps] labels = "auto": no unit names on maps of more units than this (a national study).
NATIONAL_UNITS = 400
AUTO_INSIDE_SHARE = 0.6  # "auto": a name's box lies at least this much inside its unit
NAME_SIZES_PT = (8.0, 6.5, 5.5)  # font sizes tried in turn for a unit's label


# --------------------------------------------------------------------------- map furniture


def _new_axes(ax: Axes | None, frame: gpd.GeoDataFrame | None = None) -> Axes:
    """``ax``, or the map axes of a new figure sized to ``frame``'s shape (no pyplot)."""
    if ax is not None:
        return ax
    if frame is None:
        return Figure(figsize=MAP_SIZE_IN).add_axes(MAP_RECT)
    size_in, rect = map_layout(frame.total_bounds)
    return Figure(figsize=size_in).add_axes(rect)


def map_layout(bounds: np.ndarray) -> tuple[tuple[float, float], tuple[float, float, float, float]]:
    """Figure size (in) and map-axes rect (figure fractions) for a region of ``bounds``.

    The map takes the region's aspect at the largest size within :data:`MAP_MAX_IN`, so little
    white space is left; the legend column and the title and footnote bands are fixed.
    """
    west, south, east, north = (float(b) for b in bounds)
    aspect = max(east - west, 1.0) / max(north - south, 1.0)
    width_in = min(MAP_MAX_IN[0], MAP_MAX_IN[1] * aspect)
    height_in = max(width_in / aspect, MAP_MIN_HEIGHT_IN)
    figure_w = max(MARGINS_IN["left"] + width_in + SIDE_IN, MIN_FIGURE_WIDTH_IN)
    figure_h = MARGINS_IN["top"] + height_in + MARGINS_IN["bottom"]
    rect = (MARGINS_IN["left"] / figure_w, MARGINS_IN["bottom"] / figure_h,
            width_in / figure_w, height_in / figure_h)  # fmt: skip
    return (figure_w, figure_h), rect


def format_value(value: float, step: float) -> str:
    """``value`` with as many decimals as ``step`` (the gap to tell values apart) needs."""
    decimals = 0 if step >= 10 else max(0, 1 - math.floor(math.log10(max(abs(step), 1e-9))))
    return f"{value:,.{min(decimals, 3)}f}"


def label_step(values: np.ndarray) -> float:
    """The smallest gap between distinct values (at least 1/1000 of their spread)."""
    distinct = np.unique(values[np.isfinite(values)])
    spread = float(np.ptp(distinct)) if len(distinct) else 0.0
    if len(distinct) < 2 or spread == 0:
        return abs(float(distinct[0])) if len(distinct) else 1.0
    return max(float(np.diff(distinct).min()), spread / 1000.0)


def map_frame(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``units`` prepared for maps: :func:`prepare_units` unless they already are."""
    if {"label_x", "label_y", "area_m2"} <= set(units.columns) and units.crs == CHINA_ALBERS:
        return units
    return prepare_units(units)


def prepare_units(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``units`` in the Albers projection of every map, simplified for display, with anchors.

    Done once per figure set: the geometry is simplified as one coverage (shared edges stay
    shared) to 1/3000 of the region's extent, far below a line's width on the page; each unit
    gets its area (before simplifying) and a label anchor (the pole of inaccessibility of its
    largest part, the point farthest from its edges).
    """
    frame = units[["unit", "geometry"]].to_crs(CHINA_ALBERS).reset_index(drop=True)
    west, south, east, north = frame.total_bounds
    tolerance_m = max(east - west, north - south) / 3000.0
    area_m2 = frame.geometry.area.to_numpy()
    try:
        simplified = shapely.coverage_simplify(frame.geometry.to_numpy(), tolerance_m)
    except shapely.errors.GEOSException:  # not a valid coverage (overlaps): plain simplify
        simplified = shapely.simplify(frame.geometry.to_numpy(), tolerance_m)
    frame = frame.set_geometry(gpd.GeoSeries(simplified, crs=CHINA_ALBERS))
    anchors = [_anchor(geometry) for geometry in frame.geometry]
    frame["label_x"] = [point.x for point in anchors]
    frame["label_y"] = [point.y for point in anchors]
    frame["area_m2"] = area_m2
    return frame


def _anchor(geometry: shapely.Geometry) -> shapely.Point:
    parts = getattr(geometry, "geoms", [geometry])
    largest = max(parts, key=lambda part: part.area)
    if largest.is_empty or largest.area == 0:
        return geometry.representative_point()
    return shapely.ops.polylabel(largest, tolerance=math.sqrt(largest.area) / 100.0)


def prepare_outlines(
    outlines: gpd.GeoDataFrame | None, frame: gpd.GeoDataFrame
) -> gpd.GeoSeries | None:
    """Province outlines (national maps) in the maps' projection, simplified like ``frame``.

    Only the outlines' edges are kept (lines), so drawing them never fills a unit.
    """
    if outlines is None or outlines.empty:
        return None
    west, south, east, north = frame.total_bounds
    tolerance_m = max(east - west, north - south) / 3000.0
    projected = outlines.to_crs(CHINA_ALBERS).geometry.boundary
    return gpd.GeoSeries(shapely.simplify(projected.to_numpy(), tolerance_m), crs=CHINA_ALBERS)


def draw_outlines(ax: Axes, outlines: gpd.GeoSeries | None) -> None:
    """Province outlines over the units (a national map's orientation), 0.6 pt dark grey."""
    if outlines is not None:
        outlines.plot(ax=ax, color="#222222", linewidth=0.6, zorder=4)


def north_angle_deg(units: gpd.GeoDataFrame) -> float:
    """Angle of true north from the map's up direction at the units' centre (degrees, cw)."""
    west, south, east, north = units.to_crs(4326).total_bounds
    lon, lat = (west + east) / 2.0, (south + north) / 2.0
    project = Transformer.from_crs(4326, CHINA_ALBERS, always_xy=True).transform
    x0, y0 = project(lon, lat)
    x1, y1 = project(lon, lat + 0.1)
    return math.degrees(math.atan2(x1 - x0, y1 - y0))


def add_north_arrow(ax: Axes, angle_deg: float, label: str) -> None:
    """A north arrow to the right of the map, above the legend, tilted to true north."""
    length, (x, y) = 0.1, (1.1, 0.88)
    dx, dy = length * math.sin(math.radians(angle_deg)), length * math.cos(math.radians(angle_deg))
    ax.annotate(
        "",
        xy=(x + dx / 2, y + dy / 2),
        xytext=(x - dx / 2, y - dy / 2),
        xycoords="axes fraction",
        arrowprops={"arrowstyle": "-|>,head_width=0.4,head_length=0.8", "lw": 2.0, "color": "k"},
        annotation_clip=False,
    )
    ax.text(x + dx / 2, y + dy / 2 + 0.012, label, transform=ax.transAxes, ha="center",
            va="bottom", fontsize=11)  # fmt: skip


def add_scale_bar(ax: Axes) -> None:
    """A metric scale bar right of the map, at its foot (metres of the equal-area projection).

    Outside the map, so it never covers a unit or its label.
    """
    ax.add_artist(
        ScaleBar(1.0, "m", location="lower left", length_fraction=0.28, box_alpha=0.0,
                 font_properties={"size": 8}, scale_loc="top", border_pad=0.0,
                 bbox_to_anchor=(1.04, 0.0), bbox_transform=ax.transAxes)
    )  # fmt: skip


def label_units(
    ax: Axes,
    frame: gpd.GeoDataFrame,
    values: Mapping[str, str] | None = None,
    *,
    mode: str = "auto",
) -> int:
    """Write each unit's short name (and ``values[unit]`` below it) where it fits.

    Placement follows :mod:`pipeline.outputs.placement`: larger units first, a label dropped
    when no variant fits. ``mode`` is ``[maps] labels``: ``"auto"`` keeps names inside their
    unit and writes none on maps of more than :data:`NATIONAL_UNITS` units, ``"all"`` only
    avoids collisions, ``"none"`` writes nothing. Returns the number of labels drawn.
    """
    if mode == "none" or (mode == "auto" and len(frame) > NATIONAL_UNITS):
        return 0
    requests = []
    for row in frame.itertuples(index=False):
        name = short_name(str(row.unit))
        variants = []
        if values and row.unit in values:
            variants += [(f"{name}\n{values[row.unit]}", size) for size in NAME_SIZES_PT[:2]]
        variants += [(name, size) for size in NAME_SIZES_PT]
        requests.append(LabelRequest(str(row.unit), row.label_x, row.label_y, tuple(variants),
                                     row.area_m2, row.geometry))  # fmt: skip
    share = AUTO_INSIDE_SHARE if mode == "auto" else 0.0
    return len(place_labels(ax, requests, min_inside_share=share))


def frame_map(ax: Axes, frame: gpd.GeoDataFrame, pad_share: float = 0.015) -> None:
    """Equal aspect, no axis frame, limits hugging the units (labels are placed after this).

    ``pad_share``: the margin around the units, as a share of their longer side.
    """
    west, south, east, north = frame.total_bounds
    pad = pad_share * max(east - west, north - south)
    ax.set_xlim(west - pad, east + pad)
    ax.set_ylim(south - pad, north + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    # Hidden as well as off: placing the title then skips laying out ticks nobody sees.
    ax.xaxis.set_visible(False)
    ax.yaxis.set_visible(False)


def finish_map(ax: Axes, frame: gpd.GeoDataFrame, title: str, language: str) -> Axes:
    """Title, north arrow and scale bar."""
    ax.set_title(wrap_line(title, 62), fontsize=13, pad=10, loc="left")
    add_north_arrow(ax, north_angle_deg(frame), TEXT[language]["north"])
    add_scale_bar(ax)
    return ax


def _edge_width(frame: gpd.GeoDataFrame) -> float:
    """Unit outlines thinner as units get more numerous (0.8 pt for a city, 0.2 nationally)."""
    return float(np.clip(0.8 * math.sqrt(20.0 / max(len(frame), 1)), 0.2, 0.8))


# --------------------------------------------------------------------------- maps


def plot_zoning(
    units: gpd.GeoDataFrame,
    zoning: pd.DataFrame,
    *,
    language: str = "zh",
    title: str | None = None,
    labels: str = "auto",
    outlines: gpd.GeoSeries | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Map of the four zones in categorical colours; the legend names each zone in 中文/English.

    ``zoning`` has one row per unit (``unit, zone``); ``units`` has ``unit, geometry``;
    ``labels`` is ``[maps] labels`` (see :func:`label_units`); ``outlines`` are province
    outlines drawn over the units (:func:`prepare_outlines`; national studies).
    """
    frame = map_frame(units).merge(zoning[["unit", "zone"]], on="unit", how="left")
    ax = _new_axes(ax, frame)
    colours = frame["zone"].map(classification.ZONE_COLOURS).fillna("#ffffff")
    frame.plot(ax=ax, color=colours, edgecolor="#333333", linewidth=_edge_width(frame))
    draw_outlines(ax, outlines)
    frame_map(ax, frame)
    label_units(ax, frame, mode=labels)
    other = "en" if language == "zh" else "zh"
    handles = [
        Patch(facecolor=classification.ZONE_COLOURS[zone], edgecolor="#333333",
              label=f"{zone_name(zone, language)}\n{zone_name(zone, other)}")
        for zone in ZONES
    ]  # fmt: skip
    ax.legend(handles=handles, title=TEXT[language]["zone_legend"], loc="upper left",
              bbox_to_anchor=(1.02, 0.78), frameon=False, fontsize=8.5, title_fontsize=10,
              labelspacing=1.0, alignment="left")  # fmt: skip
    return finish_map(ax, frame, title or TEXT[language]["zoning"], language)


def plot_indicator(
    units: gpd.GeoDataFrame,
    values: pd.DataFrame,
    indicator: Indicator,
    *,
    scheme: str = "NaturalBreaks",
    k: int = 5,
    classes: classification.SharedClasses | None = None,
    language: str = "zh",
    title: str | None = None,
    labels: str = "auto",
    label_values: bool = True,
    outlines: gpd.GeoSeries | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Graduated map of one indicator (``values`` has ``unit`` and ``indicator.column``).

    ``classes`` are the study's classes shared by all years
    (:func:`~pipeline.outputs.classes.study_classes`); without them ``values`` are classed on
    their own with ``scheme`` and ``k``. Sequential colours for totals and intensities;
    diverging colours around ``indicator.centre`` when the values straddle it. ``outlines``
    as in :func:`plot_zoning`.
    """
    frame = map_frame(units).merge(values[["unit", indicator.column]], on="unit", how="inner")
    ax = _new_axes(ax, frame)
    column_values = frame[indicator.column].to_numpy(dtype=float)
    if classes is None:
        classes = classification.indicator_classes(
            column_values * indicator.scale, indicator, scheme=scheme, k=k
        )
    frame.plot(ax=ax, color=classes.value_colours(column_values), edgecolor="#333333",
               linewidth=_edge_width(frame))  # fmt: skip
    draw_outlines(ax, outlines)
    frame_map(ax, frame)
    shown = column_values * indicator.scale
    step = label_step(shown)
    texts = {u: format_value(v, step) for u, v in zip(frame["unit"], shown, strict=True)}
    label_units(ax, frame, texts if label_values else None, mode=labels)
    handles = [
        Patch(facecolor=colour, edgecolor="#333333", label=label)
        for colour, label in zip(classes.colours, classes.labels, strict=True)
    ]
    unit = indicator.unit(language)
    legend_title = wrap_line(indicator.title(language), 26)
    legend_title += f"\n({mathtext(unit)})" if unit else ""
    if classes.centre is not None:
        legend_title += f"\n{TEXT[language]['centre']} {classes.centre:g}"
    ax.legend(handles=handles[::-1], title=legend_title, loc="upper left",
              bbox_to_anchor=(1.02, 0.78), frameon=False, fontsize=8.5, title_fontsize=9.5,
              alignment="left")  # fmt: skip
    return finish_map(ax, frame, title or indicator.title(language), language)
