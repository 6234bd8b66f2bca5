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
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib_scalebar.scalebar import ScaleBar
from pyproj import CRS, Transformer

from pipeline.model.constants import ZONES
from pipeline.outputs import classes as classification
from pipeline.outputs.labels import TEXT, Indicator, mathtext, wrap_line, zone_name

# Albers equal-area conic for China (the projection of RESDC's national grids), on WGS84.
CHINA_ALBERS = CRS.from_proj4(
    "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +datum=WGS84 +units=m"
)
MAP_SIZE_IN = (7.6, 6.6)
MAP_RECT = (0.03, 0.11, 0.60, 0.79)  # left, bottom, width, height of the map axes
HALO = [patheffects.withStroke(linewidth=2.4, foreground="white")]


# --------------------------------------------------------------------------- map furniture


def _new_axes(ax: Axes | None, size_in: tuple[float, float] = MAP_SIZE_IN) -> Axes:
    """``ax``, or the map axes of a new figure (no pyplot: nothing global is kept)."""
    if ax is not None:
        return ax
    figure = Figure(figsize=size_in)
    return figure.add_axes(MAP_RECT)


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
    """``units`` in the equal-area Albers projection used for every map."""
    return units.to_crs(CHINA_ALBERS)


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
    """A metric scale bar (the map's units are metres of the equal-area projection)."""
    ax.add_artist(
        ScaleBar(1.0, "m", location="lower right", length_fraction=0.28, box_alpha=0.0,
                 font_properties={"size": 8}, scale_loc="top", border_pad=0.8)
    )  # fmt: skip


def label_units(ax: Axes, frame: gpd.GeoDataFrame, texts: Mapping[str, str]) -> None:
    """Write ``texts[unit]`` at a point inside each unit, with a white halo."""
    for unit, point in zip(frame["unit"], frame.geometry.representative_point(), strict=True):
        ax.text(point.x, point.y, texts.get(unit, unit), ha="center", va="center", fontsize=8,
                path_effects=HALO, linespacing=1.15)  # fmt: skip


def finish_map(ax: Axes, frame: gpd.GeoDataFrame, title: str, language: str) -> Axes:
    """Title, north arrow, scale bar, equal aspect and no axis frame."""
    ax.set_title(wrap_line(title, 62), fontsize=13, pad=10, loc="left")
    ax.set_aspect("equal")
    ax.set_axis_off()
    add_north_arrow(ax, north_angle_deg(frame), TEXT[language]["north"])
    add_scale_bar(ax)
    return ax


# --------------------------------------------------------------------------- maps


def plot_zoning(
    units: gpd.GeoDataFrame,
    zoning: pd.DataFrame,
    *,
    language: str = "zh",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Map of the four zones in categorical colours; the legend names each zone in 中文/English.

    ``zoning`` has one row per unit (``unit, zone``); ``units`` has ``unit, geometry``.
    """
    ax = _new_axes(ax)
    frame = map_frame(units).merge(zoning[["unit", "zone"]], on="unit", how="left")
    colours = frame["zone"].map(classification.ZONE_COLOURS).fillna("#ffffff")
    frame.plot(ax=ax, color=colours, edgecolor="#333333", linewidth=0.8)
    label_units(ax, frame, {})
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
    ax: Axes | None = None,
) -> Axes:
    """Graduated map of one indicator (``values`` has ``unit`` and ``indicator.column``).

    ``classes`` are the study's classes shared by all years
    (:func:`~pipeline.outputs.classes.study_classes`); without them ``values`` are classed on
    their own with ``scheme`` and ``k``. Sequential colours for totals and intensities;
    diverging colours around ``indicator.centre`` when the values straddle it.
    """
    ax = _new_axes(ax)
    frame = map_frame(units).merge(values[["unit", indicator.column]], on="unit", how="inner")
    column_values = frame[indicator.column].to_numpy(dtype=float)
    if classes is None:
        classes = classification.indicator_classes(
            column_values * indicator.scale, indicator, scheme=scheme, k=k
        )
    frame.plot(ax=ax, color=classes.value_colours(column_values), edgecolor="#333333",
               linewidth=0.8)  # fmt: skip
    shown = column_values * indicator.scale
    step = label_step(shown)
    label_units(ax, frame, {u: f"{u}\n{format_value(v, step)}" for u, v in
                            zip(frame["unit"], shown, strict=True)})  # fmt: skip
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
