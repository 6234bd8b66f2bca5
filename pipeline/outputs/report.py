"""One self-contained HTML report: inputs, tables, every map, the reproduction section.

Images are embedded as base64 PNG and the CSS is inline, so ``report.html`` opens offline
and can be mailed as one file. Nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from datetime import UTC, datetime

import markdown
import pandas as pd
from fontTools import subset
from fontTools.ttLib import TTFont

from pipeline.model.balance import class_areas
from pipeline.model.constants import CLASS_NAMES_ZH, T_PER_10K_T, ZONE_NAMES_EN, ZONE_NAMES_ZH
from pipeline.outputs.fonts import cjk_font_path
from pipeline.outputs.labels import COLUMN_NAMES_ZH, INDICATORS
from pipeline.outputs.provenance import study_provenance
from pipeline.outputs.staging import StagedOutputs
from pipeline.outputs.tables import MapTables, counting_text
from pipeline.runtime.versions import pipeline_version
from pipeline.study.settings import Coefficients, Study

REPORT_PATH = "data/processed/report.html"
CSS = """
body { font-family: "Report CJK", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif;
       margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.5; }
h1 { font-size: 1.6em; border-bottom: 2px solid #4a7fb5; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .8em 0; font-size: .86em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; }
th { background: #eef3f8; } table.numbers td { text-align: right; }
table.numbers td:first-child { text-align: left; }
.warning { background: #fff3cd; border: 1px solid #e0b84d; padding: .6em 1em; }
figure { margin: 1.2em 0; } figure img { width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #555; }
.maps { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 1em; }
code { background: #f4f4f4; padding: 0 .2em; }
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
    """An HTML table of ``frame`` with escaped cells and formatted (right-aligned) numbers."""
    classes = "numbers" if numbers else None
    return frame.to_html(
        index=False, escape=True, border=0, float_format=floatfmt.format, classes=classes
    )


def font_face_css(text: str) -> str:
    """An ``@font-face`` with the bundled CJK font cut down to the characters of ``text``.

    Embedding the subset (about 100 kB) makes the Chinese text render on machines without a
    CJK font, and keeps the report one file that fetches nothing.
    """
    options = subset.Options()
    options.layout_features = ["*"]
    font = TTFont(str(cjk_font_path()), lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(set(text))))
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
    ]
    if counting:
        rows.append((f"land-use counting (mode = {study.landuse.mode})", counting_text(counting)))
    frame = pd.DataFrame(rows, columns=["input / setting", "value"])
    return table_html(frame, numbers=False)


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


def images_html(images: Mapping[str, bytes]) -> str:
    """Every map as an embedded PNG with its file name as caption."""
    figures = []
    for stem, png in images.items():
        data = base64.b64encode(png).decode("ascii")
        figures.append(
            f'<figure><img alt="{html.escape(stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>maps/{html.escape(stem)}.png</figcaption></figure>"
        )
    return '<div class="maps">' + "\n".join(figures) + "</div>"


def reproduction_html(reproduction_markdown: str | None) -> str | None:
    """The reproduction report (Markdown) rendered to HTML, when the study has one."""
    if reproduction_markdown is None:
        return None
    return markdown.markdown(
        reproduction_markdown, extensions=["tables", "fenced_code"], output_format="html"
    )


def report_html(study: Study, tables: MapTables, images: Mapping[str, bytes]) -> str:
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
    parts += ["<h2>Inputs 输入</h2>", inputs_html(study, tables.counting)]
    parts += ["<h2>Zoning 碳平衡分区</h2>", zoning_html(tables.zoning)]
    parts += ["<h2>Maps 图件</h2>", images_html(images)]
    parts += ["<h2>Carbon balance 碳收支</h2>", balance_html(tables.balance)]
    parts += ["<h2>Land use 土地利用 (ha)</h2>", landuse_html(tables.landuse_areas)]
    reproduction = reproduction_html(tables.reproduction_markdown)
    if reproduction is not None:
        parts += ['<h2>Reproduction 复现</h2><div class="reproduction">', reproduction, "</div>"]
    column_names = ", ".join(f"{k} = {v}" for k, v in COLUMN_NAMES_ZH.items())
    parts.append(f'<p style="font-size:.8em;color:#666">Columns: {html.escape(column_names)}</p>')
    body = "\n".join(parts)
    fonts = font_face_css(name + body)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
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
    staged: StagedOutputs, study: Study, tables: MapTables, images: Mapping[str, bytes]
) -> None:
    """Stage ``data/processed/report.html``."""
    staged.write_text(REPORT_PATH, report_html(study, tables, images))
