"""One self-contained HTML report: inputs, tables, every map, the reproduction section.

Images are embedded as base64 PNG and the CSS is inline, so ``report.html`` opens offline
and can be mailed as one file. Nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import markdown
import numpy as np
import pandas as pd

from pipeline.model.balance import class_areas
from pipeline.model.constants import CLASS_NAMES_ZH, T_PER_10K_T, ZONE_NAMES_EN, ZONE_NAMES_ZH
from pipeline.outputs import spatial as spatial_outputs
from pipeline.outputs import transitions as transition_outputs
from pipeline.outputs import uncertainty as zone_uncertainty
from pipeline.outputs.fonts import cjk_font_path
from pipeline.outputs.labels import COLUMN_NAMES_ZH, INDICATORS, TEXT
from pipeline.outputs.provenance import study_provenance
from pipeline.outputs.staging import StagedOutputs
from pipeline.outputs.tables import MapTables, counting_text
from pipeline.runtime.usercache import cached_text
from pipeline.runtime.versions import pipeline_version, version_of
from pipeline.study.settings import Coefficients, Study

REPORT_PATH = "data/processed/report.html"
CSS = """
body { font-family: "Report CJK", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       margin: 2em auto; max-width: 1180px; padding: 0 1em; color: #222; line-height: 1.5; }
h1 { font-size: 1.6em; border-bottom: 2px solid #4a7fb5; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.1em; } h4, h5, h6 { font-size: 1em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .86em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #eef3f8; } th.num, td.num { text-align: right; }
.warning { background: #fff3cd; border: 1px solid #e0b84d; padding: .6em 1em; }
nav.toc { background: #f6f8fa; border: 1px solid #ddd; padding: .4em 1.2em; }
nav.toc ol { margin: .3em 0; padding-left: 1.4em; columns: 2; }
figure { margin: 1.5em 0; } figure img { display: block; width: 100%; height: auto;
         border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #444; margin-top: .3em; }
code { background: #f4f4f4; padding: 0 .2em; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  section { break-before: page; } figure { break-inside: avoid; }
  table { font-size: 8pt; } nav.toc { break-after: page; }
  a { color: inherit; text-decoration: none; }
}
"""
# Sets data-images-decoded on <body> once every image has loaded, so a headless browser can
# check the embedded maps decoded (used by the tests; harmless for readers).
ONLOAD_SCRIPT = """
window.addEventListener("load", function () {
  var ok = Array.prototype.filter.call(document.images, function (i) {
    return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images-decoded", ok.length + "/" + document.images.length);
});
"""


def table_html(frame: pd.DataFrame, floatfmt: str = "{:,.2f}", numbers: bool = True) -> str:
    """An HTML table of ``frame``: escaped cells, no index; numbers formatted and right-aligned,
    text left-aligned (with ``numbers=False`` every column is text). Integers (years, codes)
    print as they are."""
    numeric = [
        numbers
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
        for c in frame.columns
    ]
    head = "".join(
        f"<th{_num(n)}>{html.escape(str(column))}</th>"
        for column, n in zip(frame.columns, numeric, strict=True)
    )
    rows = []
    for values in frame.itertuples(index=False):
        cells = "".join(
            f"<td{_num(n)}>{html.escape(_cell(value, floatfmt))}</td>"
            for value, n in zip(values, numeric, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    body = "\n".join(rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _num(numeric: bool) -> str:
    return ' class="num"' if numeric else ""


def _cell(value: object, floatfmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        return floatfmt.format(value)
    return str(value)


FONT_CACHE_KIND = "report-fonts"  # the folder of the user's cache holding the subsets
SUBSET_LAYOUT_FEATURES = ("*",)  # every OpenType layout feature of the font kept


def font_face_css(text: str) -> str:
    """An ``@font-face`` with the bundled CJK font cut down to the characters of ``text``.

    Embedding the subset (about 100 kB) makes the Chinese text render on machines without a
    CJK font, and keeps the report one file that fetches nothing. Cutting the 16 MB font
    takes about a second, so the rule is kept in the user's cache folder
    (:mod:`pipeline.runtime.usercache`), keyed by the font file (path, size, modification
    time), the fontTools version, the subsetting options and the characters.
    """
    font = cjk_font_path()
    characters = "".join(sorted(set(text)))
    stat = font.stat()
    key = (
        str(font.resolve()), str(stat.st_size), str(stat.st_mtime_ns),
        f"fonttools {version_of('fonttools')}", f"layout_features {SUBSET_LAYOUT_FEATURES}",
        characters,
    )  # fmt: skip
    return cached_text(FONT_CACHE_KIND, key, lambda: subset_font_css(font, characters))


def subset_font_css(font_path: Path, characters: str) -> str:
    """The ``@font-face`` rule embedding ``font_path`` cut down to ``characters``.

    The font's own timestamp is kept (not the time of cutting), so the same characters
    give the same bytes.
    """
    from fontTools import subset  # about 0.25 s to import: only when cutting
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = list(SUBSET_LAYOUT_FEATURES)
    font = TTFont(str(font_path), lazy=True, recalcTimestamp=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=characters)
    subsetter.subset(font)
    buffer = io.BytesIO()
    font.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        '@font-face { font-family: "Report CJK"; '
        f'src: url(data:font/otf;base64,{data}) format("opentype"); }}'
    )


def inputs_html(study: Study, counting: Mapping[str, object] | None = None) -> str:
    """The study's inputs and settings as a two-column table (with the counting mode per
    raster grid when ``counting``, run.json's ``zonal`` entry, is given)."""
    provenance = study_provenance(study)
    rows = [("study file", study.path.name), ("statistics", provenance.statistics),
            ("land use", provenance.landuse)]  # fmt: skip
    if provenance.boundaries:
        rows.append(("boundaries", provenance.boundaries))
    coefficients = study.coefficients
    rows += [
        ("respiration (t CO₂ / 10⁴ people)", f"{coefficients.respiration_t_per_10k_people:g}"),
        ("energy (t CO₂ / tce)", f"{coefficients.energy_t_co2_per_tce:g}"),
        (
            "sink (t CO₂ / ha)",
            ", ".join(f"{k} {v:g}" for k, v in coefficients.sink_t_per_ha.items()),
        ),
        *sink_source_rows(coefficients),
        ("zoning basis", study.zoning.basis),
        ("EEC definition", study.zoning.eec_definition),
        ("EEC breaks", ", ".join(f"{b:g}" for b in study.zoning.eec_breaks)),
        ("SEC breaks", ", ".join(f"{b:g}" for b in study.zoning.sec_breaks)),
        ("map classes", f"{study.maps.classification}, k ≤ {study.maps.classes}"),
        ("spatial statistics ([analysis])", _analysis_text(study)),
    ]
    if study.uncertainty is not None:
        rows += zone_uncertainty.settings_rows(study.uncertainty)
    if counting:
        rows.append((f"land-use counting (mode = {study.landuse.mode})", counting_text(counting)))
    frame = pd.DataFrame(rows, columns=["input / setting", "value"])
    return table_html(frame, numbers=False)


def _analysis_text(study: Study) -> str:
    settings = study.analysis
    if not settings.spatial:
        return "off (spatial = false)"
    return (
        f"Moran's I and LISA, Queen contiguity, {settings.permutations} permutations, "
        f"seed {settings.seed}"
    )


def sink_source_rows(coefficients: Coefficients) -> list[tuple[str, str]]:
    """Report rows: the per-code sink coefficients and where every sink coefficient is from."""
    rows = []
    if coefficients.sink_t_per_ha_by_code:
        listed = ", ".join(f"{c} {v:g}" for c, v in coefficients.sink_t_per_ha_by_code.items())
        rows.append(("sink per code (t CO₂ / ha; replaces its class's)", listed))
    if coefficients.table is not None:
        rows.append(("sink coefficient table", coefficients.table.name))
    keys = [*coefficients.sink_t_per_ha, *map(str, coefficients.sink_t_per_ha_by_code)]
    by_source: dict[str, list[str]] = {}
    for key in keys:
        by_source.setdefault(coefficients.sink_source(key), []).append(key)
    rows += [(f"sink source: {', '.join(k)}", source) for source, k in by_source.items()]
    return rows


def zoning_html(zoning: pd.DataFrame) -> str:
    """The zoning table with zone names in Chinese and English."""
    frame = zoning.copy()
    frame["zone_zh"] = frame["zone"].map(ZONE_NAMES_ZH)
    frame["zone_en"] = frame["zone"].map(ZONE_NAMES_EN)
    return table_html(frame, "{:.3f}")


def balance_html(balance: pd.DataFrame) -> str:
    """The balance per unit and year, totals in 10⁴ t CO₂ as in the paper."""
    frame = balance[["unit", "year"]].copy()
    for indicator in INDICATORS:
        unit = indicator.unit_en
        name = f"{indicator.stem} ({unit})" if unit else indicator.stem
        frame[name] = balance[indicator.column] * indicator.scale
    frame["zone"] = balance["zone"].map(ZONE_NAMES_ZH)
    return table_html(frame.sort_values(["year", "unit"]))


def landuse_html(landuse_areas: pd.DataFrame) -> str:
    """Hectares per land class, unit and year."""
    table = class_areas(landuse_areas)
    table.columns = [f"{CLASS_NAMES_ZH[c]} {c} (ha)" for c in table.columns]
    table["total (ha)"] = table.sum(axis=1)
    return table_html(table.reset_index(), "{:,.1f}")


def figure_titles(stem: str, study_name: str) -> tuple[str, str]:
    """The figure's title in Chinese and English, from its file stem (``balance_2015``)."""
    zh, en = TEXT["zh"], TEXT["en"]
    transition_titles = transition_outputs.figure_titles(stem, study_name)
    if transition_titles is not None:
        return transition_titles
    stem_part, _, year = stem.rpartition("_")
    if not (year.isdigit() and len(year) == 4):
        stem_part, year = stem, ""
    suffix = f" {year}" if year else ""
    charts = {"eec_sec_scatter": "scatter", "landuse_composition": "landuse",
              "emission_sink_bars": "bars", "zoning": "zoning", "lisa": "lisa",
              zone_uncertainty.STABILITY_STEM: "stability"}  # fmt: skip
    if stem_part in charts:
        key = charts[stem_part]
        title_zh = study_name if zh[key] in study_name else f"{study_name}：{zh[key]}"
        return title_zh + suffix, f"{study_name}: {en[key]}{suffix}"
    indicator = next((i for i in INDICATORS if i.stem == stem_part), None)
    if indicator is None:
        return stem, stem
    return (
        f"{study_name}{suffix}：{indicator.title_zh}",
        f"{study_name}{suffix}: {indicator.title_en}",
    )


def figure_alt(stem: str, study_name: str, units: int) -> str:
    """What the figure shows, for readers who cannot see it (``alt`` text)."""
    title_zh, title_en = figure_titles(stem, study_name)
    stem_part = stem.rpartition("_")[0] if stem[-4:].isdigit() else stem
    transition_alt = transition_outputs.figure_alt(stem, units)
    if transition_alt is not None:
        what = transition_alt
    elif stem_part == "zoning":
        what = f"Map of the {units} units coloured by carbon-balance zone, with legend"
    elif stem_part == zone_uncertainty.STABILITY_STEM:
        what = (
            f"Map of the {units} units coloured by their most frequent zone over the "
            "coefficient draws, lighter and hatched where less certain, with legends"
        )
    elif any(i.stem == stem_part for i in INDICATORS):
        what = f"Map of the {units} units coloured by class, with legend and unit"
    elif stem_part == "lisa":
        what = (
            f"Six small maps of the {units} units, one per indicator, coloured by LISA cluster "
            "(high-high red, low-low blue, low-high light blue, high-low pink, not significant "
            "grey), Moran's I under each title, one legend"
        )
    elif stem_part == "eec_sec_scatter":
        what = f"Scatter chart of EEC against SEC for the {units} units, with the zoning breaks"
    else:
        what = f"Bar chart for the {units} units"
    return f"{title_zh} / {title_en}. {what}."


def images_html(
    images: Mapping[str, bytes],
    study_name: str,
    units: int,
    link_format: str = "png",
    start: int = 1,
) -> str:
    """Every figure, one per row at the page's width, opening its full-size file on click.

    The captions give the figure's title in Chinese and English; the full-size file is
    ``maps/<stem>.<link_format>`` beside ``data/`` (the link works where the run wrote it).
    """
    figures = []
    for number, (stem, png) in enumerate(images.items(), start=start):
        data = base64.b64encode(png).decode("ascii")
        title_zh, title_en = figure_titles(stem, study_name)
        full = f"../../maps/{html.escape(stem)}.{link_format}"
        alt = html.escape(figure_alt(stem, study_name, units), quote=True)
        figures.append(
            f'<figure id="figure-{html.escape(stem)}"><a href="{full}">'
            f'<img src="data:image/png;base64,{data}" alt="{alt}" data-stem="{html.escape(stem)}">'
            f"</a><figcaption>图 {number} Figure {number}. {html.escape(title_zh)} / "
            f'{html.escape(title_en)} — <a href="{full}">maps/{html.escape(stem)}.{link_format}'
            "</a> (full size 原图)</figcaption></figure>"
        )
    return '<div class="maps">\n' + "\n".join(figures) + "\n</div>"


def reproduction_html(reproduction_markdown: str | None) -> str | None:
    """The reproduction report (Markdown) as HTML, its headings under the section's ``<h2>``."""
    if reproduction_markdown is None:
        return None
    rendered = markdown.markdown(
        reproduction_markdown, extensions=["tables", "fenced_code"], output_format="html"
    )
    return re.sub(
        r"<(/?)h([1-6])\b",
        lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + 2)}",
        rendered,
    )


def _section(anchor: str, title: str, *content: str) -> str:
    return f'<section id="{anchor}">\n<h2>{title}</h2>\n' + "\n".join(content) + "\n</section>"


def toc_html(sections: Sequence[tuple[str, str]]) -> str:
    """The table of contents: a link to each section."""
    items = "".join(f'<li><a href="#{anchor}">{title}</a></li>' for anchor, title in sections)
    return f'<nav class="toc"><strong>目录 Contents</strong><ol>{items}</ol></nav>'


def report_html(
    study: Study, tables: MapTables, images: Mapping[str, bytes], link_format: str = "png"
) -> str:
    """The whole report as one HTML document."""
    name = html.escape(study.name)
    provenance = study_provenance(study)
    parts = [f"<h1>{name}</h1>", _generated_line()]
    if provenance.synthetic:
        synthetic = ", ".join(provenance.synthetic_inputs)
        parts.append(
            '<p class="warning"><strong>合成数据 / SYNTHETIC data.</strong> '
            f"Inputs {html.escape(synthetic)} are synthetic or reconstructed demo data, "
            "not official statistics or RESDC land use; every number below follows from them."
            "</p>"
        )
    units = int(tables.balance["unit"].nunique())
    flows = {s: png for s, png in images.items() if transition_outputs.is_transition_stem(s)}
    lisa_maps = {s: png for s, png in images.items() if s.startswith("lisa_")}
    maps = {s: png for s, png in images.items() if s not in flows and s not in lisa_maps}
    spatial_html = spatial_outputs.section_html(
        tables.spatial, table_html, study.analysis.permutations, study.analysis.seed
    )
    if lisa_maps:
        spatial_html += images_html(lisa_maps, study.name, units, link_format, len(maps) + 1)
    sections = [
        ("inputs", "Inputs 输入", inputs_html(study, tables.counting)),
        ("zoning", "Zoning 碳平衡分区", zoning_html(tables.zoning)),
    ]
    if tables.uncertainty is not None:
        content = zone_uncertainty.uncertainty_html(study, tables.uncertainty, table_html)
        sections.append(("uncertainty", "Uncertainty of the zoning 分区不确定性", content))
    sections += [
        ("maps", "Maps 图件", images_html(maps, study.name, units, link_format)),
        ("spatial", "Spatial autocorrelation 空间自相关", spatial_html),
        ("balance", "Carbon balance 碳收支", balance_html(tables.balance)),
        ("landuse", "Land use 土地利用 (ha)", landuse_html(tables.landuse_areas)),
    ]
    flow_start = len(maps) + len(lisa_maps) + 1
    flow_figures = images_html(flows, study.name, units, link_format, start=flow_start)
    transitions = transition_outputs.report_section(
        tables.transitions, flow_figures, study.maps.language
    )
    if transitions is not None:
        sections.append(("transitions", "Land-use transitions 土地利用转移", transitions))
    reproduction = reproduction_html(tables.reproduction_markdown)
    if reproduction is not None:
        sections.append(
            ("reproduction", "Reproduction 复现", f'<div class="reproduction">{reproduction}</div>')
        )
    parts.append(toc_html([(anchor, title) for anchor, title, _ in sections]))
    parts += [_section(anchor, title, content) for anchor, title, content in sections]
    column_names = ", ".join(f"{k} = {v}" for k, v in COLUMN_NAMES_ZH.items())
    parts.append(f'<p style="font-size:.8em;color:#666">Columns: {html.escape(column_names)}</p>')
    body = "\n".join(parts)
    fonts = font_face_css(name + body)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{name}</title>\n<style>{fonts}\n{CSS}</style>\n"
        f"<script>{ONLOAD_SCRIPT}</script>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _generated_line() -> str:
    version = pipeline_version()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<p>Generated by carbon-balance-zoning {version}, {stamp}. Totals in 10⁴ t CO₂ "
        f"(万t, t × {T_PER_10K_T:g}); intensities in t CO₂/ha.</p>"
    )


def stage_report(
    staged: StagedOutputs,
    study: Study,
    tables: MapTables,
    images: Mapping[str, bytes],
    link_format: str = "png",
) -> None:
    """Stage ``data/processed/report.html`` (figures link to ``maps/<stem>.<link_format>``)."""
    staged.write_text(REPORT_PATH, report_html(study, tables, images, link_format))
