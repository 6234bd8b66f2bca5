"""Maps and charts of a study, drawn with matplotlib from the processed tables.

Every plot function takes ``ax=None`` (a new figure is made when omitted) and returns the
``Axes``; classes and colours come from :mod:`pipeline.classification`. :func:`render_maps`
reads ``data/processed/*.csv`` and the boundaries, draws every figure in an equal-area Albers
projection and writes PNG (300 dpi) and SVG files into ``maps/``, staged under temporary
names and renamed together. ``carbon-zoning maps STUDY`` runs only this step.
"""

from __future__ import annotations

import io
import itertools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import Bbox
from matplotlib_scalebar.scalebar import ScaleBar
from pyproj import CRS, Transformer

from pipeline import classification
from pipeline.errors import InputError
from pipeline.export import StagedOutputs
from pipeline.fonts import cjk_rc
from pipeline.landuse import CLASS_NAMES_ZH, LAND_CLASSES
from pipeline.provenance import Provenance, study_provenance
from pipeline.study import LEVELS, ZONES, Study, ZoningSettings
from pipeline.zoning import ZONE_NAMES_EN, ZONE_NAMES_ZH

# Albers equal-area conic for China (the projection of RESDC's national grids), on WGS84.
CHINA_ALBERS = CRS.from_proj4(
    "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +datum=WGS84 +units=m"
)
PNG_DPI = 300
MAP_FORMATS = ("png", "svg")  # SVG text is drawn as outlines: no font needed to view it
REPORT_DPI = 110
MAP_SIZE_IN = (7.6, 6.6)
MAP_RECT = (0.03, 0.11, 0.60, 0.79)  # left, bottom, width, height of the map axes
T_PER_10K_T = 1e-4  # t × 1e-4 = 10⁴ t (万吨), the unit of the paper's tables
HALO = [patheffects.withStroke(linewidth=2.4, foreground="white")]

CLASS_NAMES_EN: dict[str, str] = {
    "cropland": "Cropland",
    "forest": "Forest",
    "grassland": "Grassland",
    "water": "Water",
    "built_up": "Built-up",
    "unused": "Unused",
    "other": "Other",
}
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "zoning": "碳平衡分区",
        "zone_legend": "分区",
        "north": "北",
        "scatter": "碳排放经济贡献率与碳吸收生态贡献率",
        "mean": "多年均值",
        "landuse": "土地利用结构",
        "share": "面积占比 (%)",
        "emission_bars": "碳排放构成",
        "sink_bars": "碳汇构成",
        "energy": "能源消费",
        "respiration": "人口呼吸",
        "emission_axis": "碳排放 (万t CO₂)",
        "sink_axis": "碳汇 (万t CO₂)",
        "bars": "碳排放与碳汇构成",
        "sources": "数据来源",
        "boundaries": "行政边界",
        "landuse_source": "土地利用",
        "statistics": "社会经济统计",
        "projection": "投影：Albers 等积圆锥投影 (标准纬线 25°N、47°N，中央经线 105°E)",
        "synthetic": "注意：演示数据为合成/重建数据 (synthetic)，"
        "非官方统计或 RESDC 数据，仅供方法演示",
        "no_data": "无数据",
        "centre": "色带中值",
    },
    "en": {
        "zoning": "Carbon-balance zoning",
        "zone_legend": "Zone",
        "north": "N",
        "scatter": "Economic (EEC) and ecological (SEC) contribution coefficients",
        "mean": "mean of years",
        "landuse": "Land-use composition",
        "share": "share of area (%)",
        "emission_bars": "Emission by source",
        "sink_bars": "Sink by land class",
        "energy": "Energy use",
        "respiration": "Respiration",
        "emission_axis": "emission (10⁴ t CO₂)",
        "sink_axis": "sink (10⁴ t CO₂)",
        "bars": "Carbon emission and sink by component",
        "sources": "Sources",
        "boundaries": "boundaries",
        "landuse_source": "land use",
        "statistics": "statistics",
        "projection": "Projection: Albers equal-area conic (standard parallels 25°N, 47°N; 105°E)",
        "synthetic": "NOTE: SYNTHETIC / reconstructed demo data (合成数据), "
        "not official statistics or RESDC land use; for demonstration only",
        "no_data": "no data",
        "centre": "colours diverge at",
    },
}


@dataclass(frozen=True)
class Indicator:
    """A mapped column: titles and units in both languages, scale and palette."""

    column: str
    stem: str
    title_zh: str
    title_en: str
    unit_zh: str
    unit_en: str
    cmap: str
    scale: float = 1.0
    centre: float | None = None

    def title(self, language: str) -> str:
        """The indicator's name in ``language``."""
        return self.title_zh if language == "zh" else self.title_en

    def unit(self, language: str) -> str:
        """The displayed unit in ``language`` (empty for ratios)."""
        return self.unit_zh if language == "zh" else self.unit_en


INDICATORS: tuple[Indicator, ...] = (
    Indicator("emission_t", "emission", "碳排放总量", "Carbon emission",
              "万t CO₂", "10⁴ t CO₂", "OrRd", T_PER_10K_T),
    Indicator("sink_t", "sink", "碳汇总量", "Carbon sink",
              "万t CO₂", "10⁴ t CO₂", "YlGn", T_PER_10K_T),
    Indicator("balance_t", "balance", "碳收支 (排放-碳汇)", "Carbon balance (emission - sink)",
              "万t CO₂", "10⁴ t CO₂", "RdBu_r", T_PER_10K_T, centre=0.0),
    Indicator("emission_intensity_t_per_ha", "emission_intensity", "碳排放强度",
              "Emission intensity", "t CO₂/hm²", "t CO₂/ha", "OrRd"),
    Indicator("sink_intensity_t_per_ha", "sink_intensity", "碳汇强度", "Sink intensity",
              "t CO₂/hm²", "t CO₂/ha", "YlGn"),
    Indicator("eec", "eec", "碳排放经济贡献率 EEC", "Economic contribution coefficient EEC",
              "", "", "PuOr", centre=1.0),
    Indicator("sec", "sec", "碳吸收生态贡献率 SEC", "Ecological support coefficient SEC",
              "", "", "BrBG", centre=1.0),
)  # fmt: skip


@dataclass(frozen=True)
class MapTables:
    """What the maps are drawn from: the processed tables and the units' polygons."""

    balance: pd.DataFrame
    zoning: pd.DataFrame
    landuse_areas: pd.DataFrame
    units: gpd.GeoDataFrame | None
    reproduction_markdown: str | None = None


# --------------------------------------------------------------------------- map furniture


def _new_axes(ax: Axes | None, size_in: tuple[float, float] = MAP_SIZE_IN) -> Axes:
    """``ax``, or the map axes of a new figure (no pyplot: nothing global is kept)."""
    if ax is not None:
        return ax
    figure = Figure(figsize=size_in)
    return figure.add_axes(MAP_RECT)


def mathtext(text: str) -> str:
    """``text`` with the sub- and superscripts the CJK font lacks written as mathtext."""
    for plain, math_form in (("₂", "$_2$"), ("⁴", "$^4$"), ("²", "$^2$")):
        text = text.replace(plain, math_form)
    return text


def zone_name(zone: str, language: str) -> str:
    """The zone's name in ``language``."""
    return ZONE_NAMES_ZH[zone] if language == "zh" else ZONE_NAMES_EN[zone]


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


def class_labels(classes: classification.Classes, values: np.ndarray) -> list[str]:
    """Legend labels: the range of the values in each class (one value when it holds one)."""
    step = label_step(values)
    labels = []
    for members in classes.member_ranges(values):
        if members is None:
            labels.append("-")
            continue
        low, high = format_value(members[0], step), format_value(members[1], step)
        labels.append(high if low == high else f"{low} – {high}")
    return labels


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
    language: str = "zh",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Graduated map of one indicator (``values`` has ``unit`` and ``indicator.column``).

    Sequential colours for totals and intensities; diverging colours around
    ``indicator.centre`` for the balance (0) and for EEC and SEC (1).
    """
    ax = _new_axes(ax)
    frame = map_frame(units).merge(values[["unit", indicator.column]], on="unit", how="inner")
    shown = frame[indicator.column].to_numpy(dtype=float) * indicator.scale
    classes = classification.classify_values(
        shown, scheme=scheme, k=k, cmap=indicator.cmap, centre=indicator.centre
    )
    frame.plot(ax=ax, color=classes.value_colours(), edgecolor="#333333", linewidth=0.8)
    step = label_step(shown)
    label_units(ax, frame, {u: f"{u}\n{format_value(v, step)}" for u, v in
                            zip(frame["unit"], shown, strict=True)})  # fmt: skip
    handles = [
        Patch(facecolor=colour, edgecolor="#333333", label=label)
        for colour, label in zip(classes.colours, class_labels(classes, shown), strict=True)
    ]
    unit = indicator.unit(language)
    legend_title = wrap_line(indicator.title(language), 26)
    legend_title += f"\n({mathtext(unit)})" if unit else ""
    if indicator.centre is not None:
        legend_title += f"\n{TEXT[language]['centre']} {indicator.centre:g}"
    ax.legend(handles=handles[::-1], title=legend_title, loc="upper left",
              bbox_to_anchor=(1.02, 0.78), frameon=False, fontsize=8.5, title_fontsize=9.5,
              alignment="left")  # fmt: skip
    return finish_map(ax, frame, title or indicator.title(language), language)


# --------------------------------------------------------------------------- charts


def plot_eec_sec(
    balance: pd.DataFrame,
    zoning: pd.DataFrame,
    settings: ZoningSettings,
    *,
    language: str = "zh",
    ax: Axes | None = None,
) -> Axes:
    """EEC against SEC with the level breaks, the zone cells and each unit's zone.

    Filled markers are the values the zoning classified (``zoning``); with the ``mean`` basis
    small markers show each year, joined to the mean.
    """
    ax = ax if ax is not None else Figure(figsize=(7.6, 6.6)).add_axes((0.1, 0.2, 0.6, 0.72))
    eec_max = max(balance["eec"].max(), zoning["eec"].max(), settings.eec_breaks[1]) * 1.15
    sec_max = max(balance["sec"].max(), zoning["sec"].max(), settings.sec_breaks[1]) * 1.15
    _shade_zone_cells(ax, settings, eec_max, sec_max)
    for value in settings.eec_breaks:
        ax.axvline(value, color="#555555", linestyle="--", linewidth=0.9)
    for value in settings.sec_breaks:
        ax.axhline(value, color="#555555", linestyle="--", linewidth=0.9)
    if "year" not in zoning.columns:
        _year_tracks(ax, balance, zoning)
    _zoned_points(ax, zoning)
    ax.set_xlim(0, eec_max)
    ax.set_ylim(0, sec_max)
    _label_points(ax, zoning, _track_samples(balance, zoning))
    ax.set_xlabel("EEC" + (" 碳排放经济贡献率" if language == "zh" else ""))
    ax.set_ylabel("SEC" + (" 碳吸收生态贡献率" if language == "zh" else ""))
    ax.set_title(TEXT[language]["scatter"], fontsize=12, pad=10)
    handles = [Patch(facecolor=classification.ZONE_COLOURS[z], edgecolor="#333333",
                     label=zone_name(z, language)) for z in ZONES]  # fmt: skip
    if "year" not in zoning.columns:
        handles.append(Line2D([], [], color="#555555", marker="o", markersize=3.5, lw=0.8,
                              markerfacecolor="white",
                              label=_years_label(balance)))  # fmt: skip
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
              fontsize=8.5, title=TEXT[language]["zone_legend"], alignment="left")  # fmt: skip
    return ax


def _years_label(balance: pd.DataFrame) -> str:
    years = sorted(balance["year"].unique())
    return " → ".join(str(y) for y in years)


def _shade_zone_cells(ax: Axes, settings: ZoningSettings, eec_max: float, sec_max: float) -> None:
    """Tint each (EEC level, SEC level) cell with the colour of its zone."""
    eec_edges = [0.0, *settings.eec_breaks, eec_max]
    sec_edges = [0.0, *settings.sec_breaks, sec_max]
    lookup = {cell: zone for zone, cells in settings.matrix.items() for cell in cells}
    for i, eec_level in enumerate(LEVELS):
        for j, sec_level in enumerate(LEVELS):
            zone = lookup[(eec_level, sec_level)]
            ax.add_patch(Rectangle((eec_edges[i], sec_edges[j]), eec_edges[i + 1] - eec_edges[i],
                                   sec_edges[j + 1] - sec_edges[j], alpha=0.16, linewidth=0,
                                   facecolor=classification.ZONE_COLOURS[zone]))  # fmt: skip


def _year_tracks(ax: Axes, balance: pd.DataFrame, zoning: pd.DataFrame) -> None:
    """Each unit's yearly values as small markers joined through the classified mean."""
    for _unit, rows in balance.sort_values("year").groupby("unit"):
        ax.plot(rows["eec"], rows["sec"], color="#555555", lw=0.8, marker="o", markersize=3.5,
                markerfacecolor="white", zorder=3)  # fmt: skip
        last = rows.iloc[-1]
        ax.annotate("", xy=(last["eec"], last["sec"]), xytext=(rows.iloc[-2]["eec"],
                    rows.iloc[-2]["sec"]) if len(rows) > 1 else (last["eec"], last["sec"]),
                    arrowprops={"arrowstyle": "->", "color": "#555555", "lw": 0.8},
                    zorder=3)  # fmt: skip


def _zoned_points(ax: Axes, zoning: pd.DataFrame) -> None:
    """The classified points, coloured by zone."""
    colours = zoning["zone"].map(classification.ZONE_COLOURS)
    ax.scatter(zoning["eec"], zoning["sec"], c=colours, s=70, edgecolors="#222222",
               linewidths=0.8, zorder=4)  # fmt: skip


def _track_samples(balance: pd.DataFrame, zoning: pd.DataFrame) -> np.ndarray:
    """Points along every drawn line and marker (EEC, SEC), for labels to avoid."""
    samples = [zoning[["eec", "sec"]].to_numpy(dtype=float)]
    if "year" not in zoning.columns:
        for _unit, rows in balance.sort_values("year").groupby("unit"):
            xy = rows[["eec", "sec"]].to_numpy(dtype=float)
            for start, end in itertools.pairwise(xy):
                share = np.linspace(0.0, 1.0, 25)[:, None]
                samples.append(start + share * (end - start))
    return np.vstack(samples)


LABEL_OFFSETS_PT = ((7, 4), (7, -13), (-7, 4), (-7, -13), (0, 9), (0, -19))


def _label_points(ax: Axes, zoning: pd.DataFrame, obstacles_xy: np.ndarray) -> None:
    """Label each point with its unit at the offset covering the fewest lines and labels."""
    renderer = FigureCanvasAgg(ax.figure).get_renderer()
    obstacles = ax.transData.transform(obstacles_xy)
    markers = ax.transData.transform(zoning[["eec", "sec"]].to_numpy(dtype=float))
    inside = ax.get_window_extent(renderer)
    placed: list[Bbox] = []
    for row in zoning.itertuples(index=False):
        text = f"{row.unit} {row.year}" if hasattr(row, "year") else str(row.unit)
        best: tuple[float, dict[str, object], Bbox] | None = None
        for dx, dy in LABEL_OFFSETS_PT:
            style = {"xytext": (dx, dy), "textcoords": "offset points", "fontsize": 8.5,
                     "ha": "left" if dx > 0 else "right" if dx < 0 else "center",
                     "path_effects": HALO, "zorder": 5}  # fmt: skip
            artist = ax.annotate(text, (row.eec, row.sec), **style)
            box = artist.get_window_extent(renderer).padded(2)
            artist.remove()
            score = box.count_contains(obstacles) + 10 * sum(box.overlaps(b) for b in placed)
            # a label near another unit's marker reads as that unit's label
            score += 5 * (box.padded(14).count_contains(markers) - 1)
            score += (
                0 if inside.contains(box.x0, box.y0) and inside.contains(box.x1, box.y1) else 50
            )
            if best is None or score < best[0]:
                best = (score, style, box)
        assert best is not None
        ax.annotate(text, (row.eec, row.sec), **best[1])
        placed.append(best[2])


def landuse_shares(landuse_areas: pd.DataFrame) -> pd.DataFrame:
    """Percent of each unit-year's area per land class (rows ``unit, year``; class columns)."""
    table = landuse_areas.pivot_table(index=["unit", "year"], columns="class", values="area_ha",
                                      aggfunc="sum", fill_value=0.0)  # fmt: skip
    table = table[[c for c in LAND_CLASSES if c in table.columns]]
    return table.div(table.sum(axis=1), axis=0) * 100.0  # share × 100 = %


def plot_landuse_bars(
    landuse_areas: pd.DataFrame, *, language: str = "zh", ax: Axes | None = None
) -> Axes:
    """Horizontal stacked bars of land-use composition (% of area) per unit and year."""
    ax = ax if ax is not None else Figure(figsize=(7.6, 6.0)).add_axes((0.16, 0.27, 0.8, 0.64))
    shares = landuse_shares(landuse_areas)
    labels = [f"{unit} {year}" for unit, year in shares.index]
    left = np.zeros(len(shares))
    for land_class in shares.columns:
        name = CLASS_NAMES_ZH[land_class] if language == "zh" else CLASS_NAMES_EN[land_class]
        ax.barh(labels, shares[land_class], left=left, label=name, height=0.72,
                color=classification.LAND_CLASS_COLOURS[land_class], edgecolor="white",
                linewidth=0.5)  # fmt: skip
        left += shares[land_class].to_numpy()
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel(TEXT[language]["share"])
    ax.set_title(TEXT[language]["landuse"], fontsize=12, pad=8)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=len(shares.columns),
              frameon=False, fontsize=8.5, handlelength=1.2, columnspacing=1.0)  # fmt: skip
    ax.spines[["top", "right"]].set_visible(False)
    return ax


def sink_by_class(landuse_areas: pd.DataFrame, sink_t_per_ha: Mapping[str, float]) -> pd.DataFrame:
    """Sink (t CO₂) per unit-year and land class: coefficient × area."""
    frame = landuse_areas.groupby(["unit", "year", "class"], as_index=False)["area_ha"].sum()
    # (t / ha) × ha = t CO₂
    frame["sink_t"] = frame["class"].map(sink_t_per_ha).fillna(0.0) * frame["area_ha"]
    return frame.pivot_table(index=["unit", "year"], columns="class", values="sink_t",
                             fill_value=0.0)  # fmt: skip


def plot_emission_bars(
    balance: pd.DataFrame, *, language: str = "zh", ax: Axes | None = None
) -> Axes:
    """Stacked bars of emission by source (energy, respiration) per unit and year (10⁴ t)."""
    ax = ax if ax is not None else Figure(figsize=(6.0, 5.0)).add_axes((0.22, 0.2, 0.72, 0.7))
    table = balance.sort_values(["unit", "year"])
    labels = [f"{u} {y}" for u, y in zip(table["unit"], table["year"], strict=True)]
    left = np.zeros(len(table))
    for column, key, colour in (("emission_energy_t", "energy", "#c44536"),
                                ("emission_respiration_t", "respiration", "#f4a261")):  # fmt: skip
        shown = table[column].to_numpy() * T_PER_10K_T
        ax.barh(labels, shown, left=left, color=colour, label=TEXT[language][key], height=0.72)
        left += shown
    _finish_bars(ax, TEXT[language]["emission_bars"], TEXT[language]["emission_axis"], 2)
    return ax


def plot_sink_bars(
    landuse_areas: pd.DataFrame,
    sink_t_per_ha: Mapping[str, float],
    *,
    language: str = "zh",
    ax: Axes | None = None,
) -> Axes:
    """Stacked bars of sink by land class per unit and year (10⁴ t CO₂)."""
    ax = ax if ax is not None else Figure(figsize=(6.0, 5.0)).add_axes((0.22, 0.2, 0.72, 0.7))
    table = sink_by_class(landuse_areas, sink_t_per_ha)
    table = table[[c for c in LAND_CLASSES if c in table.columns and table[c].sum() > 0]]
    labels = [f"{unit} {year}" for unit, year in table.index]
    left = np.zeros(len(table))
    for land_class in table.columns:
        shown = table[land_class].to_numpy() * T_PER_10K_T
        name = CLASS_NAMES_ZH[land_class] if language == "zh" else CLASS_NAMES_EN[land_class]
        ax.barh(labels, shown, left=left, label=name, height=0.72,
                color=classification.LAND_CLASS_COLOURS[land_class])  # fmt: skip
        left += shown
    _finish_bars(ax, TEXT[language]["sink_bars"], TEXT[language]["sink_axis"], len(table.columns))
    return ax


def _finish_bars(ax: Axes, title: str, xlabel: str, ncol: int) -> None:
    ax.invert_yaxis()
    ax.set_title(title, fontsize=11.5, pad=8)
    ax.set_xlabel(mathtext(xlabel))
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=ncol, frameon=False,
              fontsize=8.5, handlelength=1.2, columnspacing=1.0)  # fmt: skip


def emission_sink_figure(
    balance: pd.DataFrame,
    landuse_areas: pd.DataFrame,
    sink_t_per_ha: Mapping[str, float],
    language: str = "zh",
) -> Figure:
    """Emission (by source) and sink (by land class) side by side, each on its own scale.

    Sinks are about 1 % of emissions here, so one shared axis would hide them.
    """
    figure = Figure(figsize=(11.0, 6.2))
    left = figure.add_axes((0.09, 0.27, 0.38, 0.62))
    right = figure.add_axes((0.6, 0.27, 0.38, 0.62))
    plot_emission_bars(balance, language=language, ax=left)
    plot_sink_bars(landuse_areas, sink_t_per_ha, language=language, ax=right)
    figure.suptitle(TEXT[language]["bars"], fontsize=13, y=0.97)
    return figure


# --------------------------------------------------------------------------- footnote


def footnote_text(provenance: Provenance, language: str, extra: str | None = None) -> str:
    """Data sources, projection and, for synthetic inputs, a warning; one item per line."""
    text = TEXT[language]
    sep = "；" if language == "zh" else "; "
    sources = [f"{text['landuse_source']} {provenance.landuse}",
               f"{text['statistics']} {provenance.statistics}"]  # fmt: skip
    if provenance.boundaries:
        sources.insert(0, f"{text['boundaries']} {provenance.boundaries}")
    colon = "：" if language == "zh" else ": "
    lines = [text["sources"] + colon + sep.join(sources)]
    if extra:
        lines.append(extra)
    lines.append(text["projection"])
    if provenance.synthetic:
        lines.append(text["synthetic"] + f" ({', '.join(provenance.synthetic_inputs)})")
    return "\n".join(wrap_line(line, 150) for line in lines)


def wrap_line(line: str, width: int) -> str:
    """Wrap ``line`` at ``width`` columns (a CJK character counts as two), at a space if near."""
    out, current = [], ""
    for char in line:
        if _columns(current + char) > width and current:
            cut = current.rfind(" ")
            if cut <= 0 or cut < len(current) - 25 or char.isspace():
                cut = len(current)
            out.append(current[:cut].rstrip())
            current = current[cut:].lstrip()
        current += char
    out.append(current)
    return "\n".join(out)


def _columns(text: str) -> int:
    return sum(2 if ord(char) > 0x2E80 else 1 for char in text)


def add_footnote(figure: Figure, text: str) -> None:
    """Write the footnote along the bottom of ``figure``."""
    figure.text(0.015, 0.012, text, fontsize=6.2, va="bottom", ha="left", color="#333333",
                linespacing=1.35)  # fmt: skip


# --------------------------------------------------------------------------- rendering


def read_tables(study: Study) -> MapTables:
    """The processed tables of ``study`` and its units; raise if the run has not been made."""
    tables = {}
    for name in ("carbon_balance", "zoning", "landuse_areas"):
        path = study.processed_dir / f"{name}.csv"
        if not path.is_file():
            raise InputError(path, "not found: run `carbon-zoning run` on the study first")
        tables[name] = pd.read_csv(path, encoding="utf-8-sig")
    units = None
    if study.boundaries is not None:
        from pipeline import boundaries

        units = boundaries.read_study_units(study.boundaries)
    reproduction_path = study.processed_dir / "reproduction.md"
    reproduction = None
    if study.reference is not None and reproduction_path.is_file():
        reproduction = reproduction_path.read_text(encoding="utf-8")
    return MapTables(
        tables["carbon_balance"], tables["zoning"], tables["landuse_areas"], units, reproduction
    )


def figures(study: Study, tables: MapTables) -> Iterator[tuple[str, Figure]]:
    """``(file stem, figure)`` for every map and chart of the study."""
    language, settings = study.maps.language, study.maps
    if tables.units is not None:
        for stem, zoning in _zonings(tables.zoning):
            ax = plot_zoning(tables.units, zoning, language=language,
                             title=_titled(study.name, TEXT[language]["zoning"], stem))  # fmt: skip
            yield stem, ax.figure
        for year, rows in tables.balance.groupby("year"):
            for indicator in INDICATORS:
                ax = plot_indicator(
                    tables.units, rows, indicator, scheme=settings.classification,
                    k=settings.classes, language=language,
                    title=f"{study.name} {year}: {indicator.title(language)}",
                )  # fmt: skip
                yield f"{indicator.stem}_{year}", ax.figure
    ax = plot_eec_sec(tables.balance, tables.zoning, study.zoning, language=language)
    yield "eec_sec_scatter", ax.figure
    ax = plot_landuse_bars(tables.landuse_areas, language=language)
    yield "landuse_composition", ax.figure
    yield (
        "emission_sink_bars",
        emission_sink_figure(
            tables.balance, tables.landuse_areas, study.coefficients.sink_t_per_ha, language
        ),
    )


def _zonings(zoning: pd.DataFrame) -> Iterator[tuple[str, pd.DataFrame]]:
    if "year" not in zoning.columns:
        yield "zoning", zoning
        return
    for year, rows in zoning.groupby("year"):
        yield f"zoning_{year}", rows


def _titled(study_name: str, title: str, stem: str) -> str:
    year = stem.removeprefix("zoning").strip("_")
    if title in study_name:
        return study_name + (f" {year}" if year else "")
    return f"{study_name}: {title}" + (f" {year}" if year else "")


def save_figure(figure: Figure, path: Path, file_format: str, dpi: int = PNG_DPI) -> None:
    """Save ``figure`` in ``file_format`` to ``path`` (format explicit: temp names vary)."""
    figure.savefig(path, format=file_format, dpi=dpi, facecolor="white")


def png_bytes(figure: Figure, dpi: int = REPORT_DPI) -> bytes:
    """``figure`` as PNG bytes (for embedding in the report)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def stage_maps(
    staged: StagedOutputs,
    study: Study,
    tables: MapTables,
    *,
    dpi: int = PNG_DPI,
    formats: tuple[str, ...] = MAP_FORMATS,
) -> dict[str, bytes]:
    """Draw every figure into ``staged`` (``maps/<stem>.<format>``); return report PNGs."""
    footnote = footnote_text(study_provenance(study), study.maps.language, study.maps.footnote)
    images: dict[str, bytes] = {}
    with mpl.rc_context(cjk_rc()):
        for stem, figure in figures(study, tables):
            add_footnote(figure, footnote)
            for file_format in formats:
                staged.write(f"maps/{stem}.{file_format}", _saver(figure, file_format, dpi))
            images[stem] = png_bytes(figure, min(dpi, REPORT_DPI))
    return images


def _saver(figure: Figure, file_format: str, dpi: int) -> Callable[[Path], None]:
    return lambda path: save_figure(figure, path, file_format, dpi)


def render_maps(
    study: Study, *, dpi: int = PNG_DPI, formats: tuple[str, ...] = MAP_FORMATS
) -> list[Path]:
    """Re-render every map and the HTML report from the processed tables; return the files.

    PNG files are ``dpi`` dots per inch; ``formats`` names the files written per figure.
    Everything is staged under temporary names and renamed together.
    """
    tables = read_tables(study)
    with StagedOutputs(study.output_dir) as staged:
        stage_maps_and_report(staged, study, tables, dpi=dpi, formats=formats)
        written = staged.destinations
    return written


def stage_maps_and_report(
    staged: StagedOutputs,
    study: Study,
    tables: MapTables,
    *,
    dpi: int = PNG_DPI,
    formats: tuple[str, ...] = MAP_FORMATS,
) -> None:
    """Stage every map and the HTML report (``run`` stages them with the tables)."""
    from pipeline import report

    images = stage_maps(staged, study, tables, dpi=dpi, formats=formats)
    report.stage_report(staged, study, tables, images)
