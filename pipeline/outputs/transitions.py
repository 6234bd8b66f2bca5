"""Land-use change outputs: the transition tables, the class-flow (Sankey) figure, the map of
each unit's net sink change, and the report section.

The tables come from :mod:`pipeline.model.transitions` (via ``api.Transitions``); the flow
figure is drawn by ``sankeyflow`` on matplotlib. Only the land that changed class is drawn as
flows (unchanged land would dwarf them); the figure says how much stayed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from pipeline.model.constants import CLASS_NAMES_EN, CLASS_NAMES_ZH, T_PER_10K_T
from pipeline.model.transitions import NODATA_CLASS, STUDY_TOTAL
from pipeline.outputs.classes import LAND_CLASS_COLOURS
from pipeline.outputs.labels import Indicator

if TYPE_CHECKING:  # matplotlib only when drawing: the tables are written without it
    from matplotlib.figure import Figure

SHEETS = {
    "transitions": ("codes", "land-use transitions per unit, year pair and code (ha, t CO2)"),
    "transitions_class": ("classes", "land-use transitions per unit, year pair and class"),
    "landuse_dynamics": ("dynamics", "single dynamic degree per unit and class (% per year)"),
    "transition_summary": (
        "summary",
        "changed area, comprehensive dynamic degree and net sink change per unit",
    ),
}
"""Table (CSV stem, workbook sheet, GeoPackage attribute table) -> (attribute, description)."""
FLOW_STEM = "landuse_transitions"
SINK_CHANGE_STEM = "transition_sink_change"
TEXT = {
    "zh": {
        "flows": "土地利用转移 (地类间流向)",
        "unchanged": "未变化 {ha} hm² ({share:.1f}%)；转移 {changed} hm² ({changed_share:.2f}%)",
        "no_change": "两年之间无地类转移",
        "sink_change": "土地利用变化引起的碳汇变化",
        "section": "土地利用转移",
    },
    "en": {
        "flows": "Land-use transitions (flows between classes)",
        "unchanged": "unchanged {ha} ha ({share:.1f} %); changed {changed} ha "
        "({changed_share:.2f} %)",
        "no_change": "no land changed class between the two years",
        "sink_change": "Sink change from land-use change",
        "section": "Land-use transitions",
    },
}


def sheets_of(transitions: Any) -> dict[str, pd.DataFrame]:
    """The transition tables by name (CSV stem and workbook sheet); empty without any."""
    if transitions is None:
        return {}
    return {name: getattr(transitions, attribute) for name, (attribute, _) in SHEETS.items()}


@dataclass(frozen=True)
class RecordedTransitions:
    """The transition tables a re-render draws from (read back from the processed CSVs)."""

    classes: pd.DataFrame
    summary: pd.DataFrame


RECORDED_COLUMNS = {
    # table -> (text columns, numeric columns) the figures and the report need; sink changes
    # of nodata rows and LC without land are blank, so not required to be numbers
    "transitions_class": (("unit", "class_from", "class_to"), ("year_from", "year_to", "area_ha")),
    "transition_summary": (
        ("unit",),
        ("year_from", "year_to", "land_ha", "changed_ha", "sink_change_t"),
    ),
}


def read_recorded(
    processed_dir: Path, reader: Callable[[Path, tuple[str, ...], tuple[str, ...]], pd.DataFrame]
) -> RecordedTransitions | None:
    """The transition tables of the last run, when its run.json lists them (a later run
    without transitions leaves older files behind, which are not drawn); ``reader`` checks
    each table (``render.read_processed_table``)."""
    try:
        manifest = json.loads((processed_dir / "run.json").read_text(encoding="utf-8"))
        listed = set(manifest.get("outputs", []))
    except (OSError, ValueError, AttributeError, TypeError):
        return None
    names = list(RECORDED_COLUMNS)
    if not all(f"data/processed/{name}.csv" in listed for name in names):
        return None
    tables = {
        name: reader(processed_dir / f"{name}.csv", *RECORDED_COLUMNS[name]) for name in names
    }
    for frame in tables.values():
        frame["unit"] = frame["unit"].astype(str)
    return RecordedTransitions(tables["transitions_class"], tables["transition_summary"])


def geopackage_tables(transitions: Any) -> dict[str, tuple[pd.DataFrame, str]]:
    """The transition tables as GeoPackage attribute tables: name -> (frame, description)."""
    return {name: (frame, SHEETS[name][1]) for name, frame in sheets_of(transitions).items()}


def class_name(land_class: str, language: str) -> str:
    """The class's name in ``language`` (nodata too)."""
    if land_class == NODATA_CLASS:
        return "无数据" if language == "zh" else "No data"
    names = CLASS_NAMES_ZH if language == "zh" else CLASS_NAMES_EN
    return names.get(land_class, land_class)


def class_flows(
    class_level: pd.DataFrame, year_from: int, year_to: int, unit: str | None = None
) -> tuple[pd.DataFrame, float, float]:
    """Changed land by (class_from, class_to), the unchanged and the total valid area (ha)
    of one year pair, over the study or one ``unit``."""
    rows = class_level[
        (class_level["year_from"] == year_from) & (class_level["year_to"] == year_to)
    ]
    if unit is not None:
        rows = rows[rows["unit"] == unit]
    valid = rows[(rows["class_from"] != NODATA_CLASS) & (rows["class_to"] != NODATA_CLASS)]
    changed = valid[valid["class_from"] != valid["class_to"]]
    flows = changed.groupby(["class_from", "class_to"], as_index=False)["area_ha"].sum()
    flows = flows[flows["area_ha"] > 0].sort_values("area_ha", ascending=False)
    unchanged = float(valid.loc[valid["class_from"] == valid["class_to"], "area_ha"].sum())
    return flows.reset_index(drop=True), unchanged, float(valid["area_ha"].sum())


def _ha(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"


def plot_class_flows(
    class_level: pd.DataFrame,
    year_from: int,
    year_to: int,
    *,
    unit: str | None = None,
    language: str = "zh",
    title: str | None = None,
) -> Figure:
    """Sankey (alluvial) figure of the land that changed class between two years.

    Left: the classes land left in ``year_from``; right: the classes it became in
    ``year_to``; each band's width is the area (ha). ``unit`` draws one unit only.
    """
    import matplotlib.pyplot as plt
    from sankeyflow.sankeyflow import Sankey  # matplotlib-based; only when drawing

    flows, unchanged_ha, valid_ha = class_flows(class_level, year_from, year_to, unit)
    text = TEXT[language]
    figure, ax = plt.subplots(figsize=(8.0, 6.2))
    figure.subplots_adjust(left=0.22, right=0.78, top=0.82, bottom=0.12)
    changed_ha = float(flows["area_ha"].sum())
    heading = title or text["flows"]
    figure.text(0.5, 0.955, f"{heading} {year_from}→{year_to}", ha="center", va="top",
                fontsize=12.5)  # fmt: skip
    summary = text["unchanged"].format(
        ha=_ha(unchanged_ha), share=100 * unchanged_ha / valid_ha if valid_ha else 0.0,
        changed=_ha(changed_ha), changed_share=100 * changed_ha / valid_ha if valid_ha else 0.0,
    )  # fmt: skip
    figure.text(0.5, 0.905, summary, ha="center", va="top", fontsize=8.5, color="#444444")
    if flows.empty:
        ax.text(0.5, 0.5, text["no_change"], ha="center", va="center", fontsize=11)
        ax.axis("off")
        return figure
    left = flows.groupby("class_from")["area_ha"].sum().sort_values(ascending=False)
    right = flows.groupby("class_to")["area_ha"].sum().sort_values(ascending=False)
    levels = [
        [(f"{c}|from", float(v), _node(c, float(v), language, "left")) for c, v in left.items()],
        [(f"{c}|to", float(v), _node(c, float(v), language, "right")) for c, v in right.items()],
    ]
    bands = [
        (f"{row.class_from}|from", f"{row.class_to}|to", float(row.area_ha))
        for row in flows.itertuples(index=False)
    ]  # bands take the colour of the class the land left
    diagram = Sankey(
        flows=bands, nodes=levels, node_pad_y_min=0.03, node_pad_y_max=0.08, node_width=0.04,
        flow_color_mode="source", flow_color_mode_alpha=0.55,
    )  # fmt: skip
    diagram.draw(ax=ax)
    for level in diagram.nodes:
        spread_labels([node.text for node in level], ax)
    ax.text(0.0, 1.01, str(year_from), transform=ax.transAxes, ha="left", va="bottom",
            fontsize=10.5)  # fmt: skip
    ax.text(1.0, 1.01, str(year_to), transform=ax.transAxes, ha="right", va="bottom",
            fontsize=10.5)  # fmt: skip
    return figure


LABEL_GAP_PT = 13.0
"""Least vertical distance between the centres of two node labels (points; 9 pt text)."""


def spread_labels(texts: list[Any], ax: Any) -> None:
    """Move the labels of one column of nodes apart so none overlaps the next.

    Labels keep their order; each is pushed down (in data units) from the one above by at
    least :data:`LABEL_GAP_PT`, and the column is shifted back up if it leaves the axes.
    """
    if len(texts) < 2:
        return
    figure_height_pt = ax.figure.get_figheight() * 72.0
    y_low, y_high = ax.get_ylim()
    axes_height_pt = figure_height_pt * ax.get_position().height
    gap = LABEL_GAP_PT * (y_high - y_low) / axes_height_pt
    ordered = sorted(texts, key=lambda t: -t.get_position()[1])
    ys = [t.get_position()[1] for t in ordered]
    for i in range(1, len(ys)):
        ys[i] = min(ys[i], ys[i - 1] - gap)
    shift = max(0.0, y_low + gap / 2 - ys[-1])
    for text, y in zip(ordered, ys, strict=True):
        x = text.get_position()[0]
        text.set_position((x, y + shift))
        text.set_va("center")


def _node(land_class: str, area_ha: float, language: str, side: str) -> dict[str, object]:
    unit = "hm²" if language == "zh" else "ha"
    return {
        "label": f"{class_name(land_class, language)} {_ha(area_ha)} {unit}",
        "label_format": "{label}",
        "label_pos": side,
        "label_opts": {"fontsize": 9},
        "color": LAND_CLASS_COLOURS.get(land_class, "#999999"),
    }


def sink_change_indicator(values_t: pd.Series) -> Indicator:
    """The mapped sink change: t CO₂ for small totals, 10⁴ t CO₂ past 10⁴ t."""
    large = float(values_t.abs().max()) >= 1e4 if len(values_t) else False
    unit_zh, unit_en, scale = (
        ("万t CO₂", "10⁴ t CO₂", T_PER_10K_T) if large else ("t CO₂", "t CO₂", 1.0)
    )
    return Indicator(
        "sink_change_t", SINK_CHANGE_STEM, TEXT["zh"]["sink_change"], TEXT["en"]["sink_change"],
        unit_zh, unit_en, "RdYlGn", scale, centre=0.0,
    )  # fmt: skip


def plot_sink_change(
    units: gpd.GeoDataFrame,
    summary: pd.DataFrame,
    year_from: int,
    year_to: int,
    *,
    language: str = "zh",
    title: str | None = None,
    labels: str = "auto",
) -> Figure:
    """Map of each unit's net sink change from land-use change between two years (t CO₂
    per year: positive, more taken up). Diverging colours around 0 when values straddle it."""
    from pipeline.outputs.maps import plot_indicator

    rows = summary[
        (summary["year_from"] == year_from)
        & (summary["year_to"] == year_to)
        & (summary["unit"] != STUDY_TOTAL)
    ]
    indicator = sink_change_indicator(rows["sink_change_t"])
    ax = plot_indicator(
        units, rows, indicator, language=language, labels=labels,
        title=title or f"{indicator.title(language)} {year_from}→{year_to}",
    )  # fmt: skip
    return ax.figure


def year_pairs(transitions: Any) -> list[tuple[int, int]]:
    """The year pairs of the transition tables, in order."""
    pairs = transitions.summary[["year_from", "year_to"]].drop_duplicates()
    return sorted((int(a), int(b)) for a, b in pairs.itertuples(index=False, name=None))


def figures(
    study_name: str,
    transitions: Any,
    units: gpd.GeoDataFrame | None,
    *,
    language: str = "zh",
    labels: str = "auto",
) -> Iterator[tuple[str, Figure]]:
    """``(stem, figure)``: per year pair the class flows and (with units) the sink-change map."""
    if transitions is None:
        return
    for year_from, year_to in year_pairs(transitions):
        stem = f"{year_from}_{year_to}"
        yield f"{FLOW_STEM}_{stem}", plot_class_flows(
            transitions.classes, year_from, year_to, language=language,
            title=f"{study_name}: {TEXT[language]['flows']}",
        )  # fmt: skip
        if units is not None:
            yield f"{SINK_CHANGE_STEM}_{stem}", plot_sink_change(
                units, transitions.summary, year_from, year_to, language=language,
                labels=labels,
                title=f"{study_name}: {TEXT[language]['sink_change']} {year_from}→{year_to}",
            )  # fmt: skip


def is_transition_stem(stem: str) -> bool:
    """True for the figures of this module (they go to the report's transitions section)."""
    return stem.startswith((FLOW_STEM + "_", SINK_CHANGE_STEM + "_"))


def figure_titles(stem: str, study_name: str) -> tuple[str, str] | None:
    """The figure's title in Chinese and English, or ``None`` for another module's stem."""
    for prefix, key in ((FLOW_STEM, "flows"), (SINK_CHANGE_STEM, "sink_change")):
        if stem.startswith(prefix + "_"):
            year_from, _, year_to = stem.removeprefix(prefix + "_").partition("_")
            period = f" {year_from}→{year_to}"
            return (
                f"{study_name}：{TEXT['zh'][key]}{period}",
                f"{study_name}: {TEXT['en'][key]}{period}",
            )
    return None


def figure_alt(stem: str, units: int) -> str | None:
    """What the figure shows (``alt`` text), or ``None`` for another module's stem."""
    if stem.startswith(FLOW_STEM + "_"):
        return "Sankey diagram of the land that changed class, earlier year left, later right"
    if stem.startswith(SINK_CHANGE_STEM + "_"):
        return f"Map of the {units} units coloured by net sink change, with legend and unit"
    return None


def report_section(transitions: Any, figures_html: str, language: str) -> str | None:
    """The report's transitions section (HTML) ending with ``figures_html``; ``None``
    without transitions."""
    if transitions is None:
        return None
    zh = language == "zh"
    parts = [
        "<p>"
        + (
            "各单元相邻年份 (及首末年份) 之间的土地利用转移，在统计面积的同一次栅格遍历中计数；"
            "碳汇变化 = (转入地类系数 − 转出地类系数) × 面积 (t CO₂/a)。完整表格：transitions.csv、"
            "transitions_class.csv、landuse_dynamics.csv、transition_summary.csv。"
            if zh
            else "Land-use transitions between consecutive years (and first → last) in each "
            "unit, counted in the same raster pass as the areas; sink change = (coefficient "
            "of the new class − of the old) × area (t CO₂ per year). Full tables: "
            "transitions.csv, transitions_class.csv, landuse_dynamics.csv, "
            "transition_summary.csv."
        )
        + "</p>"
    ]
    summary = transitions.summary
    for year_from, year_to in year_pairs(transitions):
        total = summary[
            (summary["unit"] == STUDY_TOTAL)
            & (summary["year_from"] == year_from)
            & (summary["year_to"] == year_to)
        ].iloc[0]
        parts.append(f"<h3>{year_from} → {year_to}</h3>")
        parts.append(_totals_paragraph(total, zh))
        parts.append(_flow_table(transitions.classes, year_from, year_to, language))
    parts.append(figures_html)
    return "\n".join(parts)


def _totals_paragraph(total: pd.Series, zh: bool) -> str:
    lc = total["comprehensive_dynamic_degree_pct_per_year"]
    if zh:
        return (
            f"<p>转移面积 {_ha(total['changed_ha'])} hm² (有效面积 {_ha(total['land_ha'])} hm²)；"
            f"综合土地利用动态度 {lc:.3f} %/a；土地利用变化引起的碳汇变化 "
            f"{total['sink_change_t']:,.1f} t CO₂/a。</p>"
        )
    return (
        f"<p>Changed: {_ha(total['changed_ha'])} ha of {_ha(total['land_ha'])} ha; "
        f"comprehensive dynamic degree {lc:.3f} % per year; sink change from land-use change "
        f"{total['sink_change_t']:,.1f} t CO₂ per year.</p>"
    )


def _flow_table(class_level: pd.DataFrame, year_from: int, year_to: int, language: str) -> str:
    flows, _, _ = class_flows(class_level, year_from, year_to)
    rows = class_level[
        (class_level["year_from"] == year_from) & (class_level["year_to"] == year_to)
    ]
    sinks = rows.groupby(["class_from", "class_to"])["sink_change_t"].sum(min_count=1)
    zh = language == "zh"
    head = (
        ("转出地类", "转入地类", "面积 (hm²)", "碳汇变化 (t CO₂/a)")
        if zh
        else ("from", "to", "area (ha)", "sink change (t CO₂/yr)")
    )
    lines = ["<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>"]
    lines.append("<tbody>")
    for row in flows.itertuples(index=False):
        sink = sinks.get((row.class_from, row.class_to), float("nan"))
        cells = [
            f"<td>{html.escape(class_name(row.class_from, language))}</td>",
            f"<td>{html.escape(class_name(row.class_to, language))}</td>",
            f'<td class="num">{row.area_ha:,.1f}</td>',
            f'<td class="num">{sink:,.1f}</td>',
        ]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)
