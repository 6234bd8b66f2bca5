"""Charts of a study: the EEC–SEC scatter and the land-use, emission and sink bar charts.

Every plot function takes ``ax=None`` and returns the ``Axes``; the numbers come from
:mod:`pipeline.model` (views never re-derive a rule of the method).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import Bbox

from pipeline.model.balance import landuse_shares, sink_by_class
from pipeline.model.constants import CLASS_NAMES_EN, CLASS_NAMES_ZH, LEVELS, T_PER_10K_T, ZONES
from pipeline.outputs import classes as classification
from pipeline.outputs.labels import TEXT, mathtext, short_names, wrap_line, zone_name
from pipeline.outputs.placement import (
    HALO,
    LABEL_GID,
    LabelRequest,
    keep_clear,
    place_labels,
    renderer_of,
)
from pipeline.study.settings import ZoningSettings


def plot_eec_sec(
    balance: pd.DataFrame,
    zoning: pd.DataFrame,
    settings: ZoningSettings,
    *,
    language: str = "zh",
    labels: str = "auto",
    ax: Axes | None = None,
) -> Axes:
    """EEC against SEC with the level breaks, the zone cells and each unit's zone.

    Filled markers are the values the zoning classified (``zoning``); with the ``mean`` basis
    small markers show each year, joined to the mean. Unit names are moved clear of each other
    by adjustText, then any that still collide or leave the axes are dropped, smaller units
    first (``labels = "none"``: no names).
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
    if labels != "none":
        _label_points(ax, zoning, _unit_areas(balance))
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


def _unit_areas(balance: pd.DataFrame) -> dict[str, float]:
    """Each unit's mean area (ha): the priority of its label."""
    return balance.groupby("unit")["area_ha"].mean().to_dict() if "area_ha" in balance else {}


# Up to this many points the scatter's names are spread by adjustText (its iterations redraw
# the figure: seconds for a province); beyond, each name takes the first free spot around its
# point. Either way :mod:`pipeline.outputs.placement`'s rule then drops what still collides.
ADJUST_TEXT_MAX_POINTS = 25
POINT_OFFSETS_PT = ((5, 3), (5, -3), (-5, 3), (-5, -3), (0, 7), (0, -7), (9, 0), (-9, 0))


def _label_points(ax: Axes, zoning: pd.DataFrame, area_ha: Mapping[str, float]) -> None:
    """Name each point clear of the others; drop what cannot be placed (smaller units first)."""
    short = short_names([str(unit) for unit in zoning["unit"]])
    names = [
        f"{short[str(row.unit)]} {row.year}" if hasattr(row, "year") else short[str(row.unit)]
        for row in zoning.itertuples(index=False)
    ]
    size = _point_label_size(len(zoning))
    priorities = [area_ha.get(unit, 0.0) for unit in zoning["unit"]]
    xy = zoning[["eec", "sec"]].to_numpy(dtype=float)
    if len(zoning) > ADJUST_TEXT_MAX_POINTS:
        markers = [Bbox.from_bounds(px - 4, py - 4, 8, 8) for px, py in ax.transData.transform(xy)]
        requests = [
            LabelRequest(name, x, y, ((name, size),), priority, offsets_pt=POINT_OFFSETS_PT)
            for name, (x, y), priority in zip(names, xy, priorities, strict=True)
        ]
        place_labels(ax, requests, obstacles=markers)
        return
    from adjustText import adjust_text  # only small scatters need it

    texts = [ax.text(x, y, name, fontsize=size, path_effects=HALO, zorder=5, gid=LABEL_GID)
             for name, (x, y) in zip(names, xy, strict=True)]  # fmt: skip
    renderer_of(ax.figure)  # adjustText measures text with the figure's renderer
    _, arrows = adjust_text(
        texts, x=xy[:, 0], y=xy[:, 1], ax=ax, expand=(1.15, 1.3), ensure_inside_axes=True,
        iter_lim=200, arrowprops={"arrowstyle": "-", "color": "#777777", "lw": 0.5},
    )  # fmt: skip
    kept = set(map(id, keep_clear(ax, texts, priorities)))
    for arrow in arrows:
        if id(getattr(arrow, "patchA", None)) not in kept:
            arrow.remove()


def _point_label_size(count: int) -> float:
    """Font size of point labels: 8.5 pt for a city, down to 6 pt for a province and beyond."""
    return float(np.clip(8.5 - 2.5 * (count - 10) / 80.0, 6.0, 8.5))


# Bar charts grow with their rows (one per unit and year) so every name stays legible; beyond
# MAX_BAR_ROWS only the units with the largest and smallest values are drawn, with a note.
MAX_BAR_ROWS = 400  # all rows of a Sichuan-sized study (183 units x 2 years) are drawn
SHOWN_BAR_ROWS = 200  # past MAX_BAR_ROWS: this many rows, the top and bottom units
BAR_ROW_IN = 0.15  # per row when many; tick labels 7 pt
BAR_MARGINS_IN = {"top": 0.85, "bottom": 1.55, "left": 1.5, "right": 0.3}
BAR_HEIGHT = 0.72  # of a row
BAR_GID = "bars"  # the collections of bars, so tests and callers can find them
BAR_TABLES = {"landuse": "data/processed/landuse_areas.csv",
              "balance": "data/processed/carbon_balance.csv"}  # fmt: skip


def bar_plot_height_in(rows: int) -> float:
    """Height of a bar chart's plot area for ``rows`` bars (at least 3.6 in)."""
    return max(3.6, rows * BAR_ROW_IN)


def bar_tick_size(rows: int) -> float:
    """Tick label size: 9 pt for a few bars, 7 pt when they are many."""
    return 9.0 if rows <= 20 else 7.0


def bar_figure(rows: int, panels: int, panel_width_in: float) -> tuple[Figure, list[Axes]]:
    """A figure of ``panels`` bar charts side by side, sized for ``rows`` bars each."""
    plot_h = bar_plot_height_in(rows)
    width = panels * (BAR_MARGINS_IN["left"] + panel_width_in) + BAR_MARGINS_IN["right"]
    height = BAR_MARGINS_IN["top"] + plot_h + BAR_MARGINS_IN["bottom"]
    figure = Figure(figsize=(width, height))
    axes = []
    for k in range(panels):
        left = BAR_MARGINS_IN["left"] + k * (BAR_MARGINS_IN["left"] + panel_width_in)
        axes.append(figure.add_axes((left / width, BAR_MARGINS_IN["bottom"] / height,
                                     panel_width_in / width, plot_h / height)))  # fmt: skip
    return figure, axes


def top_and_bottom(
    rows: pd.DataFrame,
    measure: pd.Series,
    max_rows: int = MAX_BAR_ROWS,
    shown_rows: int = SHOWN_BAR_ROWS,
) -> tuple[pd.DataFrame, int]:
    """``rows`` (indexed by unit, year) of the units with the largest and smallest ``measure``.

    ``measure`` is indexed by unit. All rows come back (and 0) when they fit; otherwise the
    rows of ``k`` largest and ``k`` smallest units, largest first, and ``k``.
    """
    units = rows.index.get_level_values(0)
    per_unit = max(1, len(rows) // max(units.nunique(), 1))
    if len(rows) <= max_rows:
        return rows, 0
    keep = max(1, shown_rows // (2 * per_unit))
    ranked = measure.sort_values(ascending=False, kind="stable")
    chosen = [*ranked.index[:keep], *ranked.index[-keep:]]
    order = {unit: i for i, unit in enumerate(chosen)}
    kept = rows[units.isin(chosen)]
    positions = [order[u] for u in kept.index.get_level_values(0)]
    return kept.iloc[np.argsort(positions, kind="stable")], keep


def _row_labels(index: pd.Index) -> list[str]:
    names = short_names([str(unit) for unit, _ in index])
    return [f"{names[str(unit)]} {year}" for unit, year in index]


def _label_rows(ax: Axes, labels: list[str]) -> np.ndarray:
    """Row positions 0, 1, … named by ``labels`` (positions, not categories: rows of equal
    names stay apart)."""
    positions = np.arange(len(labels))
    ax.set_yticks(positions, labels)
    return positions


def _bar_segments(
    ax: Axes, rows: np.ndarray, left: np.ndarray, width: np.ndarray, *, label: str,
    colour: str, edgecolour: str = "none", linewidth: float = 0.0,
) -> None:  # fmt: skip
    """One segment of a stacked bar per row: ``width`` from ``left``, 0.72 of a row high.

    One collection per segment, not one patch per bar as ``barh`` makes: charts of a province
    have thousands of bars. Like ``barh``, the bars' left end sticks to the axis.
    """
    half = BAR_HEIGHT / 2.0
    corners = np.stack([
        np.column_stack([left, rows - half]), np.column_stack([left + width, rows - half]),
        np.column_stack([left + width, rows + half]), np.column_stack([left, rows + half]),
    ], axis=1)  # fmt: skip
    bars = PolyCollection(corners, facecolors=colour, edgecolors=edgecolour,
                          linewidths=linewidth, label=label, gid=BAR_GID)  # fmt: skip
    bars.sticky_edges.x.extend(left.tolist())
    ax.add_collection(bars, autolim=True)
    ax.autoscale_view()


def bar_count(ax: Axes) -> int:
    """The bars (segments of stacked bars) drawn on ``ax`` by the bar charts here."""
    return sum(len(c.get_paths()) for c in ax.collections if c.get_gid() == BAR_GID)


def _note_truncated(ax: Axes, language: str, shown: int, total: int, measure: str,
                    table: str) -> None:  # fmt: skip
    if not shown:
        return
    text = TEXT[language]["truncated"].format(shown=shown, total=total, table=table,
                                              measure=TEXT[language][measure])  # fmt: skip
    ax.annotate(wrap_line(text, 70), (0.0, 1.0), xycoords="axes fraction", xytext=(0, 4),
                textcoords="offset points", fontsize=7.5, va="bottom", color="#444444")  # fmt: skip


def plot_landuse_bars(
    landuse_areas: pd.DataFrame, *, language: str = "zh", ax: Axes | None = None
) -> Axes:
    """Horizontal stacked bars of land-use composition (% of area) per unit and year.

    Past :data:`MAX_BAR_ROWS` rows only the largest and smallest units (by area) are drawn.
    """
    shares = landuse_shares(landuse_areas)
    area = landuse_areas.groupby("unit")["area_ha"].sum()
    shares, shown = top_and_bottom(shares, area)
    if ax is None:
        ax = bar_figure(len(shares), 1, 5.6)[1][0]
    labels = _label_rows(ax, _row_labels(shares.index))
    left = np.zeros(len(shares))
    for land_class in shares.columns:
        name = CLASS_NAMES_ZH[land_class] if language == "zh" else CLASS_NAMES_EN[land_class]
        width = shares[land_class].to_numpy(dtype=float)
        colour = classification.LAND_CLASS_COLOURS[land_class]
        _bar_segments(ax, labels, left.copy(), width, label=name, colour=colour,
                      edgecolour="white", linewidth=0.5)  # fmt: skip
        left += width
    ax.set_xlim(0, 100)
    _finish_bars(ax, TEXT[language]["landuse"], TEXT[language]["share"], 4, len(shares))
    _note_truncated(ax, language, shown, area.size, "by_area", BAR_TABLES["landuse"])
    return ax


def plot_emission_bars(
    balance: pd.DataFrame, *, language: str = "zh", ax: Axes | None = None
) -> Axes:
    """Stacked bars of emission by source (energy, respiration) per unit and year (10⁴ t)."""
    table = balance.set_index(["unit", "year"]).sort_index()
    table, shown = top_and_bottom(table, balance.groupby("unit")["emission_t"].mean())
    if ax is None:
        ax = bar_figure(len(table), 1, 4.4)[1][0]
    labels = _label_rows(ax, _row_labels(table.index))
    left = np.zeros(len(table))
    for column, key, colour in (("emission_energy_t", "energy", "#c44536"),
                                ("emission_respiration_t", "respiration", "#f4a261")):  # fmt: skip
        shown_t = table[column].to_numpy() * T_PER_10K_T
        _bar_segments(ax, labels, left.copy(), shown_t, colour=colour, label=TEXT[language][key])
        left += shown_t
    _finish_bars(ax, TEXT[language]["emission_bars"], TEXT[language]["emission_axis"], 2,
                 len(table))  # fmt: skip
    _note_truncated(ax, language, shown, balance["unit"].nunique(), "by_emission",
                    BAR_TABLES["balance"])  # fmt: skip
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
    table = sink_by_class(landuse_areas, sink_t_per_ha, sink_t_per_ha_by_code)
    table = table[[c for c in table.columns if table[c].sum() > 0]]
    total = table.sum(axis=1).groupby(level=0).mean()
    table, shown = top_and_bottom(table, total)
    if ax is None:
        ax = bar_figure(len(table), 1, 4.4)[1][0]
    labels = _label_rows(ax, _row_labels(table.index))
    left = np.zeros(len(table))
    for land_class in table.columns:
        shown_t = table[land_class].to_numpy() * T_PER_10K_T
        name = CLASS_NAMES_ZH[land_class] if language == "zh" else CLASS_NAMES_EN[land_class]
        _bar_segments(ax, labels, left.copy(), shown_t, label=name,
                      colour=classification.LAND_CLASS_COLOURS[land_class])  # fmt: skip
        left += shown_t
    _finish_bars(ax, TEXT[language]["sink_bars"], TEXT[language]["sink_axis"], 3, len(table))
    _note_truncated(ax, language, shown, total.size, "by_sink", BAR_TABLES["balance"])
    return ax


def _finish_bars(ax: Axes, title: str, xlabel: str, ncol: int, rows: int) -> None:
    """Title, axis label, tick sizes for ``rows`` bars, and the legend below (0.5 in down)."""
    ax.set_ylim(rows - 0.4, -0.6)  # first row on top, no empty band
    ax.tick_params(axis="y", labelsize=bar_tick_size(rows), length=0)
    ax.tick_params(axis="x", labelsize=8.5)
    ax.set_title(title, fontsize=11.5, pad=30 if rows > SHOWN_BAR_ROWS // 2 else 8)
    ax.set_xlabel(mathtext(xlabel))
    ax.spines[["top", "right"]].set_visible(False)
    plot_h_in = ax.get_position().height * ax.figure.get_size_inches()[1]
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.55 / plot_h_in), ncol=ncol,
              frameon=False, fontsize=8.5, handlelength=1.2, columnspacing=1.0)  # fmt: skip


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
    rows = len(balance) if len(balance) <= MAX_BAR_ROWS else SHOWN_BAR_ROWS
    figure, (left, right) = bar_figure(rows, 2, 4.2)
    plot_emission_bars(balance, language=language, ax=left)
    plot_sink_bars(landuse_areas, sink_t_per_ha, language=language, ax=right,
                   sink_t_per_ha_by_code=sink_t_per_ha_by_code)  # fmt: skip
    top_in = BAR_MARGINS_IN["top"] / 3.0
    figure.suptitle(
        TEXT[language]["bars"], fontsize=13, y=1.0 - top_in / figure.get_size_inches()[1]
    )
    return figure
