"""How certain each zone is (``[uncertainty]``): the zone-stability map and the report section.

The map colours each unit by its modal zone (the zone most draws fall in, in the zoning map's
colours) and shows how sure that is in three certainty classes: solid (≥ 90 % of the draws),
lighter and hatched ``///`` (60–90 %), lightest and cross-hatched (< 60 %). Units are labelled
with their share (``87%``) where the name fits.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from pipeline.model.constants import ZONE_NAMES_EN, ZONE_NAMES_ZH, ZONES
from pipeline.model.uncertainty import interval_columns, probability_column, zoning_rows
from pipeline.outputs import classes as classification
from pipeline.outputs.labels import TEXT, zone_name
from pipeline.outputs.maps import _edge_width, _new_axes, finish_map, frame_map, label_units
from pipeline.outputs.maps import map_frame as prepared
from pipeline.study.settings import Study, UncertaintySettings

STABILITY_STEM = "zone_stability"
OUTLINE = "#333333"


@dataclass(frozen=True)
class CertaintyClass:
    """Units whose modal-zone share is at least ``lower``: drawn with ``alpha`` and ``hatch``."""

    key: str  # TEXT key of its legend label
    lower: float
    alpha: float
    hatch: str


CERTAINTY_CLASSES = (
    CertaintyClass("stable", 0.9, 1.0, ""),
    CertaintyClass("likely", 0.6, 0.6, "////"),
    CertaintyClass("unstable", 0.0, 0.35, "xxxx"),
)


def certainty_class(probability: float) -> CertaintyClass:
    """The certainty class of a modal-zone share (0–1)."""
    return next(c for c in CERTAINTY_CLASSES if probability >= c.lower)


def stability_rows(table: pd.DataFrame, basis: str) -> Iterator[tuple[str, pd.DataFrame]]:
    """``(file stem, rows)`` per zone-stability map: one map, or one per year (basis year)."""
    rows = zoning_rows(table, basis)
    if "year" not in rows.columns:
        yield STABILITY_STEM, rows
        return
    for year, part in rows.groupby("year"):
        yield f"{STABILITY_STEM}_{year}", part


def plot_zone_stability(
    units: gpd.GeoDataFrame,
    rows: pd.DataFrame,
    *,
    language: str = "zh",
    title: str | None = None,
    labels: str = "auto",
    ax: Axes | None = None,
) -> Axes:
    """Map of the modal zone per unit, its certainty shown by lightness and hatching.

    ``rows`` has ``unit, modal_zone, modal_probability`` (one row per unit).
    """
    frame = prepared(units).merge(
        rows[["unit", "modal_zone", "modal_probability"]], on="unit", how="left"
    )
    ax = _new_axes(ax, frame)
    width = _edge_width(frame)
    missing = frame[frame["modal_zone"].isna()]
    if not missing.empty:
        missing.plot(ax=ax, color="#ffffff", edgecolor=OUTLINE, linewidth=width)
    drawn = frame[frame["modal_zone"].notna()]
    classes = drawn["modal_probability"].map(lambda p: certainty_class(float(p)).key)
    for certainty in CERTAINTY_CLASSES:
        part = drawn[classes == certainty.key]
        if part.empty:
            continue
        colours = part["modal_zone"].map(classification.ZONE_COLOURS)
        part.plot(ax=ax, color=colours, alpha=certainty.alpha, edgecolor="none", linewidth=0)
        part.plot(ax=ax, facecolor="none", edgecolor=OUTLINE, linewidth=width,
                  hatch=certainty.hatch or None)  # fmt: skip
    frame_map(ax, frame)
    fill_box(ax)
    shares = {row.unit: f"{row.modal_probability:.0%}" for row in drawn.itertuples()}
    label_units(ax, frame, shares, mode=labels)
    _legends(ax, language)
    text = TEXT[language]
    return finish_map(ax, frame, title or text["stability"], language)


def fill_box(ax: Axes) -> None:
    """Widen the map's data limits to the axes box's shape, keeping the scale 1:1.

    The legends, north arrow and scale bar are placed in fractions of the axes box; with
    the default equal aspect a region much wider than the box would shrink the box and
    stack them on one another. The region stays centred.
    """
    position = ax.get_position(original=True)  # the box as laid out, before the aspect
    width_in, height_in = ax.figure.get_size_inches()
    box_ratio = (position.height * height_in) / (position.width * width_in)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    data_ratio = (y1 - y0) / (x1 - x0)
    if data_ratio < box_ratio:  # too wide: more height
        middle, half = (y0 + y1) / 2, (x1 - x0) * box_ratio / 2
        ax.set_ylim(middle - half, middle + half)
    else:  # too tall: more width
        middle, half = (x0 + x1) / 2, (y1 - y0) / box_ratio / 2
        ax.set_xlim(middle - half, middle + half)


def _legends(ax: Axes, language: str) -> None:
    """The zones (modal zone colours) and, below, the certainty classes."""
    text, other = TEXT[language], "en" if language == "zh" else "zh"
    zones = [
        Patch(facecolor=classification.ZONE_COLOURS[zone], edgecolor=OUTLINE,
              label=f"{zone_name(zone, language)}\n{zone_name(zone, other)}")
        for zone in ZONES
    ]  # fmt: skip
    first = ax.legend(handles=zones, title=text["modal_zone"], loc="upper left",
                      bbox_to_anchor=(1.02, 0.78), frameon=False, fontsize=8,
                      title_fontsize=9.5, labelspacing=0.8, alignment="left")  # fmt: skip
    ax.add_artist(first)
    certainty = [
        Patch(facecolor="#8a8a8a", alpha=c.alpha, edgecolor=OUTLINE, hatch=c.hatch or None,
              label=text[c.key])
        for c in CERTAINTY_CLASSES
    ]  # fmt: skip
    ax.legend(handles=certainty, title=text["certainty_legend"], loc="upper left",
              bbox_to_anchor=(1.02, 0.30), frameon=False, fontsize=8, title_fontsize=9,
              alignment="left")  # fmt: skip


# --------------------------------------------------------------------------- report


def distribution_text(distribution: tuple[str, float, float]) -> str:
    """``uniform [3, 4.1]`` or ``normal (mean 3.55, sd 0.4; truncated at 0)``."""
    kind, first, second = distribution
    if kind == "uniform":
        return f"uniform [{first:g}, {second:g}]"
    return f"normal (mean {first:g}, sd {second:g}; truncated at 0)"


def settings_rows(settings: UncertaintySettings) -> list[tuple[str, str]]:
    """The report's inputs rows for ``[uncertainty]``."""
    listed = "; ".join(
        f"{name}: {distribution_text(d)}" for name, d in settings.distributions.items()
    )
    return [
        ("uncertainty: coefficient distributions", listed),
        ("uncertainty: draws, seed", f"{settings.draws}, {settings.seed}"),
    ]


def summary_counts(table: pd.DataFrame, basis: str) -> pd.DataFrame:
    """How many zoning rows fall in each certainty class."""
    rows = zoning_rows(table, basis)
    keys = rows["modal_probability"].map(lambda p: certainty_class(float(p)).key)
    return pd.DataFrame(
        {
            "certainty 稳定性": [f"{TEXT['zh'][c.key]} / {TEXT['en'][c.key]}"
                                 for c in CERTAINTY_CLASSES],
            "units 单元数": [int((keys == c.key).sum()) for c in CERTAINTY_CLASSES],
        }
    )  # fmt: skip


def zone_table(table: pd.DataFrame, basis: str) -> pd.DataFrame:
    """The zone columns of the report: per zoning row, the deterministic and modal zone and
    each zone's share, the least certain first."""
    rows = zoning_rows(table, basis)
    keys = ["unit", "year"] if "year" in rows.columns else ["unit"]
    out = rows[keys].copy()
    out["zone 分区"] = rows["zone"].map(ZONE_NAMES_ZH)
    out["modal zone 众数分区"] = rows["modal_zone"].map(ZONE_NAMES_ZH)
    out["share 概率"] = rows["modal_probability"]
    for zone in ZONES:
        out[f"{ZONE_NAMES_ZH[zone]} {ZONE_NAMES_EN[zone]}"] = rows[probability_column(zone)]
    return out.sort_values(["share 概率", *keys]).reset_index(drop=True)


def interval_table(table: pd.DataFrame) -> pd.DataFrame:
    """The 90 % intervals per unit and year (totals in 10⁴ t CO₂)."""
    out = table[["unit", "year"]].copy()
    for quantity, name, scale in (
        ("emission_t", "E (万t)", 1e-4), ("sink_t", "A (万t)", 1e-4),
        ("balance_t", "B (万t)", 1e-4), ("eec", "EEC", 1.0), ("sec", "SEC", 1.0),
    ):  # fmt: skip
        low, high = interval_columns(quantity)
        out[f"{name} 5%"] = table[low] * scale
        out[f"{name} 95%"] = table[high] * scale
    return out.sort_values(["year", "unit"]).reset_index(drop=True)


def uncertainty_html(study: Study, table: pd.DataFrame, table_html: Callable[..., str]) -> str:
    """The report section: what was drawn, how many units are stable, the tables
    (``table_html`` is the report's table builder)."""
    settings = study.uncertainty
    assert settings is not None
    basis = study.zoning.basis
    listed = "; ".join(
        f"<code>{html.escape(name)}</code> {html.escape(distribution_text(d))}"
        for name, d in settings.distributions.items()
    )
    basis_text = (
        "each unit's zone from the mean of its yearly EEC and SEC in every draw"
        if basis == "mean"
        else "each unit's zone in each year, per draw"
    )
    intro = (
        f"<p>{settings.draws} coefficient sets were drawn (seed {settings.seed}): {listed}; "
        "every other coefficient keeps its value. Each set went through the whole model and "
        f"the zoning ({basis_text}). <em>Share</em> is the fraction of draws in the modal "
        "(most frequent) zone; a unit is <strong>stable</strong> at ≥ 90 %. 按系数分布抽样 "
        f"{settings.draws} 组，逐组计算碳收支与分区；概率为落入该分区的抽样比例。"
        "Full table: <code>data/processed/zone_uncertainty.csv</code>.</p>"
    )
    return "\n".join(
        [
            intro,
            table_html(summary_counts(table, basis)),
            "<h3>Zone probabilities 分区概率 (least certain first)</h3>",
            table_html(zone_table(table, basis), "{:.3f}"),
            "<h3>90 % intervals 90% 区间 (5 % – 95 % of the draws)</h3>",
            table_html(interval_table(table), "{:,.3f}"),
        ]
    )
