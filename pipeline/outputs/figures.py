"""Charts of a study: the EEC–SEC scatter and the land-use, emission and sink bar charts.

Every plot function takes ``ax=None`` and returns the ``Axes``; the numbers come from
:mod:`pipeline.model` (views never re-derive a rule of the method).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import Bbox

from pipeline.model.balance import landuse_shares, sink_by_class
from pipeline.model.constants import CLASS_NAMES_EN, CLASS_NAMES_ZH, LEVELS, T_PER_10K_T, ZONES
from pipeline.outputs import classes as classification
from pipeline.outputs.labels import TEXT, mathtext, zone_name
from pipeline.outputs.maps import HALO
from pipeline.study.settings import ZoningSettings


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
    sink_t_per_ha_by_code: Mapping[int, float] | None = None,
) -> Axes:
    """Stacked bars of sink by land class per unit and year (10⁴ t CO₂)."""
    ax = ax if ax is not None else Figure(figsize=(6.0, 5.0)).add_axes((0.22, 0.2, 0.72, 0.7))
    table = sink_by_class(landuse_areas, sink_t_per_ha, sink_t_per_ha_by_code)
    table = table[[c for c in table.columns if table[c].sum() > 0]]
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
    sink_t_per_ha_by_code: Mapping[int, float] | None = None,
) -> Figure:
    """Emission (by source) and sink (by land class) side by side, each on its own scale.

    Sinks are about 1 % of emissions here, so one shared axis would hide them.
    """
    figure = Figure(figsize=(11.0, 6.2))
    left = figure.add_axes((0.09, 0.27, 0.38, 0.62))
    right = figure.add_axes((0.6, 0.27, 0.38, 0.62))
    plot_emission_bars(balance, language=language, ax=left)
    plot_sink_bars(
        landuse_areas,
        sink_t_per_ha,
        language=language,
        ax=right,
        sink_t_per_ha_by_code=sink_t_per_ha_by_code,
    )
    figure.suptitle(TEXT[language]["bars"], fontsize=13, y=0.97)
    return figure
