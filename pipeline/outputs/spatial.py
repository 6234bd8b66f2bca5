"""What users see of the spatial statistics: LISA cluster maps, GeoPackage layers, the report.

- ``maps/lisa_<year>``: one figure per year, a small map per tested indicator (2 × 3), each
  unit coloured by its LISA cluster in the conventional colours (GeoDa's: high-high red,
  low-low blue, low-high light blue, high-low pink, not significant light grey), Moran's I
  and its pseudo p-value under each map's title;
- GeoPackage layers ``lisa_<year>`` (one ``lisa_<indicator>`` field per indicator, styled on
  the balance's) and the tables ``spatial_autocorrelation`` and ``lisa_clusters``;
- the report's section: method, global Moran's I per indicator and year, clusters counted,
  the notes (skipped, units without neighbours).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from pipeline.model import spatial as model
from pipeline.outputs.labels import INDICATORS, TEXT, wrap_line

if TYPE_CHECKING:  # matplotlib only when drawing: the layers and tables are written without it
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.path import Path

# Conventional LISA colours (as GeoDa draws them); islands white, hatched.
CLUSTER_COLOURS: dict[str, str] = {
    "HH": "#e31a1c",
    "LL": "#1f4e9c",
    "LH": "#a6bddb",
    "HL": "#f4a6a6",
    model.NOT_SIGNIFICANT: "#e6e6e6",
    model.ISLAND: "#ffffff",
}
LAYER_FIELD = "lisa_balance"  # the field the lisa_<year> layers are styled on
PANEL_COLUMNS = 3
PANEL_IN = 3.5  # the larger side of one small map (inches)
PANEL_TITLE_IN = 0.62  # above each small map: its two-line title and a gap
TITLE_IN, LEGEND_IN, FOOTNOTE_IN = 0.75, 0.75, 0.85  # bands above and below the panels


# Short names for the small maps' titles (中文, English).
SHORT_TITLES: dict[str, tuple[str, str]] = {
    "emission_intensity": ("碳排放强度", "Emission intensity"),
    "sink_intensity": ("碳汇强度", "Sink intensity"),
    "balance": ("碳收支 (排放-碳汇)", "Carbon balance"),
    "compensation_rate": ("碳补偿率", "Compensation rate"),
    "eec": ("经济贡献率 EEC", "Economic contribution EEC"),
    "sec": ("生态贡献率 SEC", "Ecological support SEC"),
}


def indicator_title(indicator: str, language: str) -> str:
    """The tested indicator's name (``balance`` -> 碳收支 (排放-碳汇))."""
    column = dict(model.SPATIAL_INDICATORS)[indicator]
    found = next(i for i in INDICATORS if i.column == column)
    return found.title(language)


def cluster_name(cluster: str, language: str) -> str:
    """The LISA cluster's name in ``language``."""
    names = model.CLUSTER_NAMES_ZH if language == "zh" else model.CLUSTER_NAMES_EN
    return names[cluster]


# --------------------------------------------------------------------------- GeoPackage


def lisa_layers(units: gpd.GeoDataFrame, lisa: pd.DataFrame) -> dict[str, gpd.GeoDataFrame]:
    """``lisa_<year>``: the units with one ``lisa_<indicator>`` field (cluster id) per
    tested indicator of that year."""
    layers = {}
    for year, rows in lisa.groupby("year", sort=True):
        wide = rows.pivot(index="unit", columns="indicator", values="quadrant")
        ordered = [name for name, _ in model.SPATIAL_INDICATORS if name in wide.columns]
        wide = wide[ordered].rename(columns=lambda name: f"lisa_{name}").reset_index()
        layer = units[["unit", "geometry"]].merge(wide, on="unit", how="left")
        columns = [c for c in layer.columns if c != "geometry"] + ["geometry"]
        layers[f"lisa_{int(year)}"] = gpd.GeoDataFrame(layer[columns], crs=units.crs)
    return layers


def layer_field(layer: gpd.GeoDataFrame) -> str:
    """The field a ``lisa_<year>`` layer is styled on (the balance's, else the first)."""
    fields = [c for c in layer.columns if str(c).startswith("lisa_")]
    return LAYER_FIELD if LAYER_FIELD in fields else fields[0]


def field_aliases() -> dict[str, str]:
    """Chinese aliases of the ``lisa_<indicator>`` fields (``LISA 碳收支 (排放-碳汇)``)."""
    return {
        f"lisa_{name}": f"LISA {indicator_title(name, 'zh')}"
        for name, _ in model.SPATIAL_INDICATORS
    }


# --------------------------------------------------------------------------- maps


def lisa_figure(
    units: gpd.GeoDataFrame,
    lisa: pd.DataFrame,
    global_moran: pd.DataFrame,
    *,
    title: str,
    language: str = "zh",
) -> Figure:
    """One year's LISA clusters: a small map per indicator, one legend, north and scale.

    ``lisa`` and ``global_moran`` hold that year's rows; each map's title gives Moran's I
    and its pseudo p-value.
    """
    from pipeline.outputs.maps import map_frame

    frame = map_frame(units)
    indicators = [name for name, _ in model.SPATIAL_INDICATORS if name in set(lisa["indicator"])]
    figure, axes = _panel_grid(frame, len(indicators), title)
    by_indicator = global_moran.set_index("indicator")
    paths: list[Path] | None = None  # the units' outlines, made once for every small map
    for ax, indicator in zip(axes, indicators, strict=False):
        rows = lisa[lisa["indicator"] == indicator]
        paths = _draw_panel(ax, frame, rows, paths)
        stats = by_indicator.loc[indicator]
        ax.set_title(_panel_title(indicator, stats, language), fontsize=9.5, loc="left", pad=4)
    for ax in axes[len(indicators) :]:
        ax.set_visible(False)
    _north_and_scale(figure, axes, frame, language)
    _legend(figure, lisa, language)
    return figure


def _panel_grid(frame: gpd.GeoDataFrame, panels: int, title: str) -> tuple[Figure, list[Axes]]:
    """A figure of ``panels`` map axes in rows of :data:`PANEL_COLUMNS`, sized to the region."""
    from matplotlib.figure import Figure

    west, south, east, north = frame.total_bounds
    aspect = max(east - west, 1.0) / max(north - south, 1.0)
    panel_w = PANEL_IN if aspect >= 1 else PANEL_IN * max(aspect, 0.55)
    panel_h = panel_w / aspect if aspect >= 1 else PANEL_IN
    panel_h += PANEL_TITLE_IN  # the panel's two-line title, clear of the map above
    columns = min(PANEL_COLUMNS, panels)
    rows = -(-panels // columns)
    width = max(columns * panel_w + 0.5, 7.4)
    height = TITLE_IN + rows * panel_h + LEGEND_IN + FOOTNOTE_IN
    figure = Figure(figsize=(width, height))
    figure.suptitle(wrap_line(title, 90), x=0.02, ha="left", y=1 - 0.18 / height, va="top",
                    fontsize=13)  # fmt: skip
    axes = []
    left = (width - columns * panel_w) / 2
    for index in range(rows * columns):
        row, column = divmod(index, columns)
        bottom = LEGEND_IN + FOOTNOTE_IN + (rows - 1 - row) * panel_h
        rect = ((left + column * panel_w + 0.08) / width, (bottom + 0.05) / height,
                (panel_w - 0.16) / width, (panel_h - PANEL_TITLE_IN - 0.05) / height)  # fmt: skip
        axes.append(figure.add_axes(rect))
    return figure, axes


def _draw_panel(
    ax: Axes, frame: gpd.GeoDataFrame, rows: pd.DataFrame, paths: list[Path] | None
) -> list[Path] | None:
    """One small map: the units coloured by cluster. ``paths`` are the units' outlines as
    an earlier small map drew them (``frame``'s order; ``None``: drawn by geopandas, whose
    outlines are returned for the next maps: the figure's six maps share one geometry)."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch

    from pipeline.outputs.maps import frame_map

    merged = frame.merge(rows[["unit", "quadrant"]], on="unit", how="left")
    clusters = merged["quadrant"].fillna(model.ISLAND)
    edge = float(np.clip(0.6 * np.sqrt(20.0 / max(len(frame), 1)), 0.15, 0.6))
    colours = list(clusters.map(CLUSTER_COLOURS))
    if paths is not None and len(paths) == len(merged):
        ax.add_collection(PatchCollection([PathPatch(path) for path in paths],
                                          facecolor=colours, edgecolor="#555555",
                                          linewidth=edge))  # fmt: skip
    else:
        merged.plot(ax=ax, color=colours, edgecolor="#555555", linewidth=edge)
        drawn = ax.collections[-1].get_paths() if ax.collections else []
        paths = list(drawn) if len(drawn) == len(merged) else None
    islands = merged[clusters == model.ISLAND]
    if not islands.empty:
        islands.plot(ax=ax, facecolor="none", edgecolor="#888888", hatch="////", linewidth=edge)
    frame_map(ax, frame, pad_share=0.02)
    return paths


def _panel_title(indicator: str, stats: pd.Series, language: str) -> str:
    name = SHORT_TITLES[indicator][0 if language == "zh" else 1]
    p_text = "p < 0.001" if stats["p_sim"] < 0.001 else f"p = {stats['p_sim']:.3f}"
    return f"{name}\nMoran's I = {stats['moran_i']:.3f} ({p_text})"


def _north_and_scale(figure: Figure, axes: Sequence[Axes], frame: gpd.GeoDataFrame,
                     language: str) -> None:  # fmt: skip
    """A north arrow in the title band (right) and a scale bar under the bottom-left map,
    both outside the maps."""
    from matplotlib.patches import FancyArrowPatch
    from matplotlib_scalebar.scalebar import ScaleBar

    from pipeline.outputs.maps import north_angle_deg

    angle = np.radians(north_angle_deg(frame))
    height = figure.get_figheight()
    length = 0.32 / height
    x, y = 0.965, 1 - (TITLE_IN / 2 + 0.08) / height
    dx = length * np.sin(angle) * height / figure.get_figwidth()
    dy = length * np.cos(angle)
    figure.add_artist(FancyArrowPatch((x - dx / 2, y - dy / 2), (x + dx / 2, y + dy / 2),
                                      transform=figure.transFigure, arrowstyle="-|>",
                                      mutation_scale=12, lw=1.6, color="k"))  # fmt: skip
    figure.text(x + dx / 2, y + dy / 2 + 0.004, TEXT[language]["north"], ha="center",
                va="bottom", fontsize=9)  # fmt: skip
    bottom_left = axes[(len(axes) - 1) // PANEL_COLUMNS * PANEL_COLUMNS]
    bottom_left.add_artist(ScaleBar(1.0, "m", location="upper left", length_fraction=0.3,
                                    box_alpha=0.0, font_properties={"size": 7}, scale_loc="top",
                                    border_pad=0.0, bbox_to_anchor=(0.0, -0.02),
                                    bbox_transform=bottom_left.transAxes))  # fmt: skip


def _legend(figure: Figure, lisa: pd.DataFrame, language: str) -> None:
    """One legend below the maps: every cluster (islands only where there are some)."""
    from matplotlib.patches import Patch

    other = "en" if language == "zh" else "zh"
    shown = [c for c in model.CLUSTERS if c != model.ISLAND or (lisa["quadrant"] == c).any()]
    handles = [
        Patch(facecolor=CLUSTER_COLOURS[c], edgecolor="#555555",
              hatch="////" if c == model.ISLAND else None,
              label=f"{cluster_name(c, language)} {cluster_name(c, other)}")
        for c in shown
    ]  # fmt: skip
    title = TEXT[language]["lisa_legend"].format(p=model.SIGNIFICANCE)
    figure.legend(handles=handles, loc="lower center", ncols=min(len(handles), 3),
                  bbox_to_anchor=(0.5, FOOTNOTE_IN / figure.get_figheight()), frameon=False,
                  fontsize=8, title=title, title_fontsize=8.5)  # fmt: skip


# --------------------------------------------------------------------------- report


def section_html(
    result: model.SpatialResult | None, table_html, permutations: int, seed: int
) -> str:
    """The report's spatial-autocorrelation section (``table_html`` builds its tables)."""
    if result is None:
        return "<p>Not computed: <code>[analysis] spatial = false</code>. 未计算空间自相关。</p>"
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in result.notes)
    notes_html = f"<ul>{notes}</ul>" if notes else ""
    if not result.computed:
        return (
            "<p>空间自相关未计算 / Spatial autocorrelation was not computed "
            f"(minimum {model.MIN_UNITS} units with neighbours):</p>{notes_html}"
        )
    method = (
        "<p>Queen contiguity (units sharing a border or corner), row-standardised weights; "
        f"global Moran's I and local Moran (LISA) by esda with {permutations} conditional "
        f"permutations, seed {seed} (<code>[analysis] seed</code>). A unit's LISA cluster is "
        f"its Moran scatter-plot quadrant where the pseudo p-value is below "
        f"{model.SIGNIFICANCE:g}, else not significant. Tables: "
        "<code>spatial_autocorrelation.csv</code>, <code>lisa_clusters.csv</code>. "
        "Within a year SEC is the compensation rate times one constant (the region's E/A), "
        "so their Moran's I and clusters coincide. "
        "Queen 邻接、行标准化权重；置换检验伪 P 值；LISA 聚集类型以 p &lt; 0.05 判定；"
        "同一年份 SEC 等于碳补偿率乘以同一常数，两者的莫兰指数与聚集类型相同。</p>"
    )
    return (
        method
        + notes_html
        + table_html(global_table(result.global_moran), "{:.4f}")
        + (
            "<h3>LISA clusters 局部聚集 (units per cluster)</h3>"
            + table_html(cluster_counts(result.lisa), "{:.0f}")
        )
    )


def global_table(global_moran: pd.DataFrame) -> pd.DataFrame:
    """Moran's I per indicator and year as the report shows it (names in 中文 / English)."""
    frame = global_moran[["indicator", "year", "moran_i", "expected_i", "z", "p_sim"]].copy()
    frame.insert(1, "指标 indicator", [
        f"{indicator_title(i, 'zh')} / {indicator_title(i, 'en')}" for i in frame["indicator"]
    ])  # fmt: skip
    frame["significant (p < 0.05)"] = np.where(global_moran["significant"], "yes 是", "no 否")
    frame["units"] = global_moran["units"]
    return frame.drop(columns="indicator").rename(
        columns={"moran_i": "Moran's I", "expected_i": "E[I]", "z": "z (sim)",
                 "p_sim": "p (sim)"}
    )  # fmt: skip


def cluster_counts(lisa: pd.DataFrame, clusters: Sequence[str] = model.CLUSTERS) -> pd.DataFrame:
    """Units per LISA cluster, indicator and year (columns in :data:`CLUSTERS` order)."""
    counts = pd.crosstab([lisa["year"], lisa["indicator"]], lisa["quadrant"])
    present = [c for c in clusters if c in counts.columns or c != model.ISLAND]
    counts = counts.reindex(columns=present, fill_value=0).reset_index()
    order = {name: k for k, (name, _) in enumerate(model.SPATIAL_INDICATORS)}
    counts = counts.sort_values(["year", "indicator"], key=lambda s: s.map(order) if
                                s.name == "indicator" else s)  # fmt: skip
    counts["indicator"] = [indicator_title(i, "zh") for i in counts["indicator"]]
    counts.columns = [
        f"{cluster_name(c, 'zh')} {c}" if c in model.CLUSTERS else str(c) for c in counts.columns
    ]
    return counts.reset_index(drop=True)
