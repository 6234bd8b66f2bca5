"""Rendering: every map and chart of a study, footnoted, saved as PNG (and SVG or PDF where
``[maps] formats`` asks for them) and staged.

:func:`stage_maps_and_report` draws into a :class:`~pipeline.outputs.staging.StagedOutputs`
(``run`` stages maps and report with the tables); :func:`render_maps` re-renders them from the
processed tables on their own (``carbon-zoning maps``).
"""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import geopandas as gpd
import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from pipeline.errors import InputError, OutputError
from pipeline.model.balance import BALANCE_COLUMNS
from pipeline.model.spatial import SpatialResult, empty_result
from pipeline.outputs import report
from pipeline.outputs import transitions as transition_outputs
from pipeline.outputs import uncertainty as zone_uncertainty
from pipeline.outputs.classes import study_classes
from pipeline.outputs.figures import emission_sink_figure, plot_eec_sec, plot_landuse_bars
from pipeline.outputs.fonts import cjk_rc
from pipeline.outputs.labels import INDICATORS, TEXT, wrap_line
from pipeline.outputs.maps import plot_indicator, plot_zoning, prepare_outlines, prepare_units
from pipeline.outputs.provenance import Provenance, study_provenance
from pipeline.outputs.spatial import lisa_figure
from pipeline.outputs.staging import StagedOutputs
from pipeline.outputs.tables import MapTables
from pipeline.study.settings import Study

PNG_DPI = 300
REPORT_DPI = 110
PNG_COMPRESS_LEVEL = 3  # zlib level of the PNGs: 6 is ~1.4 x slower and 10 % smaller
METRES_PER_INCH = 0.0254
MAX_MAP_WORKERS = 4  # processes drawing figures (one per core up to this)
MIN_PARALLEL_JOBS = 4  # fewer figures are drawn in the run's own process
# Width of the PNG embedded in the report (px): at least the width it is shown at (about
# 1,150 px in a 1,400 px window), so the browser never scales a map up.
REPORT_IMAGE_PX = 1200
# Figures that are charts, not maps: their footnote names no projection and no boundaries.
CHART_STEMS = ("eec_sec_scatter", "landuse_composition", "emission_sink_bars")
# matplotlib's svg.fonttype for [maps] svg_text: outlines, or text an editor can change.
SVG_FONTTYPE = {"paths": "path", "text": "none"}


def figure_kind(stem: str) -> str:
    """``"chart"`` for the scatter and bar charts and the class flows, ``"map"`` for maps."""
    flows = stem.startswith(transition_outputs.FLOW_STEM + "_")
    return "chart" if stem in CHART_STEMS or flows else "map"


def footnote_text(
    provenance: Provenance, language: str, extra: str | None = None, *, kind: str = "map"
) -> str:
    """The footnote of a figure of ``kind``, one item per line.

    Maps: data sources (boundaries, land use, statistics), ``extra``, the projection and, for
    synthetic inputs, a warning. Charts (``kind="chart"``) draw no geometry: land use and
    statistics only, no projection.
    """
    text = TEXT[language]
    sep = "；" if language == "zh" else "; "
    sources = [f"{text['landuse_source']} {provenance.landuse}",
               f"{text['statistics']} {provenance.statistics}"]  # fmt: skip
    if provenance.boundaries and kind == "map":
        sources.insert(0, f"{text['boundaries']} {provenance.boundaries}")
    colon = "：" if language == "zh" else ": "
    lines = [text["sources"] + colon + sep.join(sources)]
    if extra:
        lines.append(extra)
    if kind == "map":
        lines.append(text["projection"])
    if provenance.synthetic:
        lines.append(text["synthetic"] + f" ({', '.join(provenance.synthetic_inputs)})")
    return "\n".join(wrap_line(line, 150) for line in lines)


def outlines_note(outlines: gpd.GeoDataFrame, language: str) -> str:
    """The footnote line naming where the province outlines come from (their ``source``)."""
    colon = "：" if language == "zh" else ": "
    sources = sorted({str(v) for v in outlines.get("source", pd.Series(dtype=str)).dropna()})
    return wrap_line(TEXT[language]["outlines"] + colon + "; ".join(sources or ["?"]), 150)


def add_footnote(figure: Figure, text: str) -> None:
    """Write the footnote along the bottom of ``figure``."""
    figure.text(0.015, 0.012, text, fontsize=6.2, va="bottom", ha="left", color="#333333",
                linespacing=1.35)  # fmt: skip


PROCESSED_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # table -> (text columns, numeric columns) the maps and report need
    "carbon_balance": (("unit", "zone"), tuple(BALANCE_COLUMNS[1:])),
    "zoning": (("unit", "eec_level", "sec_level", "zone"), ("eec", "sec")),
    "landuse_areas": (("unit", "class"), ("year", "code", "area_ha")),
}
UNCERTAINTY_TABLE_COLUMNS: tuple[tuple[str, ...], tuple[str, ...]] = (
    ("unit", "zone", "modal_zone"),
    ("year", "modal_probability"),
)


def read_processed_table(
    path: Path, text: tuple[str, ...], numeric: tuple[str, ...]
) -> pd.DataFrame:
    """A table an earlier run wrote, checked before drawing from it: every needed column
    present, no blank cell, numbers finite. A damaged table is an error naming the cell."""
    again = "run `carbon-zoning run` on the study again"
    try:
        table = pd.read_csv(path, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise InputError(path, f"damaged table, cannot be read ({error}); {again}") from None
    missing = [c for c in (*text, *numeric) if c not in table.columns]
    if missing or table.empty or not isinstance(table.index, pd.RangeIndex):
        what = f"missing column(s) {missing}" if missing else "no rows"
        if not isinstance(table.index, pd.RangeIndex):
            what = "rows have more fields than the header"
        raise InputError(path, f"damaged table: {what}; {again}")
    problems = []
    for column in numeric:
        values = pd.to_numeric(table[column], errors="coerce").astype(float)
        for index in table.index[~np.isfinite(values.to_numpy())][:10]:
            cell = table[column][index]
            found = "blank cell" if pd.isna(cell) else f"not a finite number: {str(cell)!r}"
            problems.append(f"row {index + 2}, column {column!r}: {found}")
    for column in text:
        for index in table.index[table[column].isna().to_numpy()][:10]:
            problems.append(f"row {index + 2}, column {column!r}: blank cell")
    if problems:
        raise InputError(path, [*problems, f"the table is damaged; {again}"])
    return table


def read_tables(
    study: Study, units: gpd.GeoDataFrame | None, outlines: gpd.GeoDataFrame | None = None
) -> MapTables:
    """The processed tables of ``study`` with its ``units`` (and province ``outlines``);
    raise if the run has not been made."""
    tables = {}
    for name in ("carbon_balance", "zoning", "landuse_areas"):
        path = study.processed_dir / f"{name}.csv"
        if not path.is_file():
            raise InputError(path, "not found: run `carbon-zoning run` on the study first")
        tables[name] = read_processed_table(path, *PROCESSED_COLUMNS[name])
    uncertainty = None
    if study.uncertainty is not None:
        path = study.processed_dir / "zone_uncertainty.csv"
        if not path.is_file():
            raise InputError(path, "not found: run `carbon-zoning run` on the study first")
        uncertainty = read_processed_table(path, *UNCERTAINTY_TABLE_COLUMNS)
    reproduction_path = study.processed_dir / "reproduction.md"
    reproduction = None
    if study.reference is not None and reproduction_path.is_file():
        reproduction = reproduction_path.read_text(encoding="utf-8")
    return MapTables(
        tables["carbon_balance"], tables["zoning"], tables["landuse_areas"], units, reproduction,
        counting=recorded_counting(study), uncertainty=uncertainty, outlines=outlines,
        spatial=recorded_spatial(study),
        transitions=transition_outputs.read_recorded(study.processed_dir, read_processed_table),
    )  # fmt: skip


SPATIAL_TABLES = ("spatial_autocorrelation", "lisa_clusters")


def recorded_spatial(study: Study) -> SpatialResult | None:
    """The spatial statistics of the last run: its tables where run.json lists them, and its
    notes about them (``None`` with ``[analysis] spatial = false``)."""
    if not study.analysis.spatial:
        return None
    try:
        manifest = json.loads((study.processed_dir / "run.json").read_text(encoding="utf-8"))
        outputs, notes = set(manifest.get("outputs", [])), manifest.get("notes", [])
    except (OSError, ValueError, AttributeError, TypeError):  # absent, damaged or older
        outputs, notes = set(), []
    notes = tuple(str(n) for n in notes if str(n).startswith("note: spatial autocorrelation"))
    paths = [study.processed_dir / f"{name}.csv" for name in SPATIAL_TABLES]
    listed = all(f"data/processed/{p.name}" in outputs and p.is_file() for p in paths)
    if not listed:
        return empty_result(notes)
    global_moran = read_processed_table(paths[0], ("indicator",), ("year", "moran_i", "p_sim"))
    lisa = read_processed_table(paths[1], ("unit", "indicator", "quadrant"), ("year",))
    return SpatialResult(global_moran, lisa, notes)


def recorded_counting(study: Study) -> dict[str, dict[str, object]] | None:
    """The counting mode and grid per year recorded in run.json (``zonal``), when readable."""
    try:
        manifest = json.loads((study.processed_dir / "run.json").read_text(encoding="utf-8"))
        zonal = manifest.get("zonal")
        if set(zonal) == {"mode", "grid"} and set(zonal["mode"]) == set(zonal["grid"]):
            return zonal
    except (OSError, ValueError, AttributeError, TypeError):  # absent, damaged or older
        pass
    return None


@dataclass(frozen=True)
class FigureJob:
    """Draws one or a few figures when called; ``cost`` is its drawing time relative to one
    unit map (:func:`drawn_jobs` starts the costliest first, so the workers end together)."""

    draw: Callable[[], Iterable[tuple[str, Figure]]]
    cost: float = 1.0

    def __call__(self) -> Iterable[tuple[str, Figure]]:
        """``(file stem, figure)`` of every figure of the job."""
        return self.draw()


# Drawing time relative to a unit map (measured on 88 counties, two years): the bar charts
# grow with their rows (units x years), the LISA figure (six small maps) and a year pair's
# transition figures (class flows and a map) take about one and a half maps.
BAR_ROWS_PER_MAP = 60.0
PANELS_COST = 1.5


def figures(study: Study, tables: MapTables) -> Iterator[tuple[str, Figure]]:
    """``(file stem, figure)`` for every map and chart of the study."""
    for job in figure_jobs(study, tables):
        yield from job()


def figure_jobs(study: Study, tables: MapTables) -> list[FigureJob]:
    """Every map and chart of the study as jobs (each draws one or a few figures when called),
    in report order; the work they share (units projected, simplified and anchored; the
    classes of every indicator) is done here, once."""
    language, settings = study.maps.language, study.maps
    jobs: list[FigureJob] = []
    if tables.units is not None:
        units = prepare_units(tables.units)  # projected, simplified and anchored once
        outlines = prepare_outlines(tables.outlines, units)
        for stem, zoning in _zonings(tables.zoning):
            title = _titled(study.name, TEXT[language]["zoning"], stem)
            zoning_map = partial(plot_zoning, units, zoning, labels=settings.labels)
            jobs.append(FigureJob(partial(_drawn, stem, zoning_map, language=language,
                                          outlines=outlines, title=title)))  # fmt: skip
        if tables.uncertainty is not None:
            jobs.append(FigureJob(partial(_stability_figures, study, tables.uncertainty, units)))
        shared = study_classes(tables.balance, settings, study.zoning)
        for year, rows in tables.balance.groupby("year"):
            for indicator in INDICATORS:
                jobs.append(FigureJob(partial(
                    _drawn, f"{indicator.stem}_{year}", plot_indicator, units, rows, indicator,
                    classes=shared[indicator.column], language=language, labels=settings.labels,
                    label_values=settings.label_values, outlines=outlines,
                    title=f"{study.name} {year}: {indicator.title(language)}",
                )))  # fmt: skip
        years = tables.balance["year"].nunique()
        jobs.append(FigureJob(partial(_lisa_figures, study, tables, units), PANELS_COST * years))
    jobs.append(FigureJob(partial(_drawn, "eec_sec_scatter", plot_eec_sec, tables.balance,
                                  tables.zoning, study.zoning, language=language,
                                  labels=settings.labels)))  # fmt: skip
    bar_cost = 1.0 + len(tables.balance) / BAR_ROWS_PER_MAP  # one bar per unit and year
    jobs.append(FigureJob(partial(_drawn, "landuse_composition", plot_landuse_bars,
                                  tables.landuse_areas, language=language), bar_cost))  # fmt: skip
    jobs.append(FigureJob(partial(
        _drawn, "emission_sink_bars", emission_sink_figure, tables.balance, tables.landuse_areas,
        study.coefficients.sink_t_per_ha, language, study.coefficients.sink_t_per_ha_by_code,
    ), 2.0 * bar_cost))  # fmt: skip
    if tables.transitions is not None:
        pairs = len(transition_outputs.year_pairs(tables.transitions))
        jobs.append(FigureJob(partial(transition_outputs.figures, study.name, tables.transitions,
                                      tables.units, language=language, labels=settings.labels),
                              PANELS_COST * pairs))  # fmt: skip
    return jobs


def _drawn(
    stem: str, draw: Callable[..., Any], *args: Any, **kwargs: Any
) -> list[tuple[str, Figure]]:
    """``[(stem, figure)]`` of ``draw(*args, **kwargs)`` (an ``Axes`` or a ``Figure``)."""
    result = draw(*args, **kwargs)
    return [(stem, result if isinstance(result, Figure) else result.figure)]


def _stability_figures(
    study: Study, uncertainty: pd.DataFrame, units: gpd.GeoDataFrame
) -> Iterator[tuple[str, Figure]]:
    language = study.maps.language
    for stem, rows in zone_uncertainty.stability_rows(uncertainty, study.zoning.basis):
        title = _titled(study.name, TEXT[language]["stability"], stem.replace(
            zone_uncertainty.STABILITY_STEM, "zoning"))  # fmt: skip
        ax = zone_uncertainty.plot_zone_stability(
            units, rows, language=language, labels=study.maps.labels, title=title
        )
        yield stem, ax.figure


def _lisa_figures(
    study: Study, tables: MapTables, units: gpd.GeoDataFrame
) -> Iterator[tuple[str, Figure]]:
    """``lisa_<year>``: the LISA clusters of every tested indicator, one figure per year."""
    result = tables.spatial
    if result is None or not result.computed:
        return
    language = study.maps.language
    for year, rows in result.lisa.groupby("year", sort=True):
        moran = result.global_moran[result.global_moran["year"] == year]
        title = f"{study.name} {year}: {TEXT[language]['lisa']}"
        yield f"lisa_{year}", lisa_figure(units, rows, moran, title=title, language=language)


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


def save_figure(
    figure: Figure, path: Path, file_format: str, dpi: int = PNG_DPI, svg_text: str = "paths"
) -> None:
    """Save ``figure`` in ``file_format`` (png, svg, pdf) to ``path`` (explicit: temp names vary).

    SVG text is drawn as outlines (``svg_text="paths"``: looks the same everywhere) or kept
    as ``<text>`` in the figure's font (``"text"``: editable and searchable in Inkscape or
    Illustrator, which then need the font, Noto Sans CJK SC).
    """
    # PDF fonts as Type 3: the CJK font is CFF-flavoured OpenType, which matplotlib's Type 42
    # embedding declares TrueType (viewers warn of a font-type mismatch).
    with mpl.rc_context({"svg.fonttype": SVG_FONTTYPE[svg_text], "pdf.fonttype": 3}):
        figure.savefig(path, format=file_format, dpi=dpi, facecolor="white")


def png_bytes(figure: Figure, dpi: float = REPORT_DPI) -> bytes:
    """``figure`` as PNG bytes (for embedding in the report)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def report_dpi(figure: Figure) -> float:
    """The dpi that makes ``figure`` ``REPORT_IMAGE_PX`` wide (at least ``REPORT_DPI``)."""
    return max(REPORT_DPI, REPORT_IMAGE_PX / figure.get_figwidth())


def save_png_and_report_image(figure: Figure, path: Path | None, dpi: int = PNG_DPI) -> bytes:
    """Draw ``figure`` once at ``dpi``: write it to ``path`` as PNG (unless ``None``) and
    return the report's PNG, the same pixels scaled down to :func:`report_dpi` (no redraw).

    The drawn pixels are read in place, a block of rows at a time: a province's bar chart is
    30 Mpx, and a copy of it more would cost a worker 90 to 120 MB.
    """
    from PIL import Image

    canvas = FigureCanvasAgg(figure)
    figure.patch.set_facecolor("white")
    original_dpi = figure.dpi
    figure.set_dpi(dpi)
    try:
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())  # the renderer's buffer, opaque (white)
        if path is not None:
            with path.open("wb") as file:
                write_png(file, rgba, dpi)
        width = max(1, round(figure.get_figwidth() * report_dpi(figure)))
        height = max(1, round(rgba.shape[0] * width / rgba.shape[1]))
        small = _rgbx(rgba).resize((width, height), Image.Resampling.BOX).convert("RGB")
    finally:
        figure.set_dpi(original_dpi)
    buffer = io.BytesIO()
    write_png(buffer, np.asarray(small))
    return buffer.getvalue()


def _rgbx(rgba: np.ndarray) -> Any:
    """A Pillow image of ``rgba``'s colours sharing its memory (the alpha byte ignored:
    resizing RGBA would first copy the image to weigh colours by their alpha)."""
    from PIL import Image

    height, width = rgba.shape[:2]
    return Image.frombuffer("RGBX", (width, height), rgba, "raw", "RGBX", 0, 1)


def _rgb_rows(pixels: np.ndarray, block_rows: int = 256) -> Iterator[bytes | memoryview]:
    """The rows of ``pixels`` (RGB or RGBA) as RGB bytes; RGBA converted by blocks of rows."""
    height, width, channels = pixels.shape
    row_bytes = width * 3
    if channels == 3:
        yield from pixels.reshape(height, row_bytes)
        return
    for top in range(0, height, block_rows):
        block = memoryview(_rgbx(pixels[top : top + block_rows]).convert("RGB").tobytes())
        for start in range(0, len(block), row_bytes):
            yield block[start : start + row_bytes]


def write_png(file: BinaryIO, pixels: np.ndarray, dpi: float | None = None) -> None:
    """``pixels`` (rows × columns × 3 or 4 bytes, RGB or opaque RGBA) to ``file`` as a
    lossless RGB PNG, ``dpi`` recorded.

    Rows are written unfiltered (PNG filter type 0): on flat-coloured maps and charts that is
    both faster and smaller than choosing a filter per row, as Pillow does (a 300 dpi map of
    2467 × 2340 px: 33 ms and 378 kB against 100 ms and 430 kB).
    """
    import png  # pypng

    height, width = pixels.shape[:2]
    pixels_per_metre = None if dpi is None else round(dpi / METRES_PER_INCH)
    writer = png.Writer(width, height, greyscale=False, compression=PNG_COMPRESS_LEVEL,
                        x_pixels_per_unit=pixels_per_metre, y_pixels_per_unit=pixels_per_metre,
                        unit_is_meter=dpi is not None)  # fmt: skip
    writer.write(file, _rgb_rows(pixels))


def map_workers(jobs: int) -> int:
    """Processes drawing the figures: one per core (at most :data:`MAX_MAP_WORKERS`), one
    when there are few jobs, no ``fork`` on this system, or ``CARBON_ZONING_MAP_WORKERS=1``."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wanted = os.environ.get("CARBON_ZONING_MAP_WORKERS", "")
    limit = int(wanted) if wanted.isdigit() and int(wanted) > 0 else MAX_MAP_WORKERS
    workers = min(cores or 1, limit, jobs)
    return workers if jobs >= MIN_PARALLEL_JOBS else 1


DrawnFiles = list[tuple[str, list[tuple[str, Path]], bytes]]  # stem, staged files, report PNG


def _draw_job(
    job: FigureJob, staged: StagedOutputs, footnotes: dict[str, str], dpi: int,
    formats: tuple[str, ...], svg_text: str,
) -> DrawnFiles:  # fmt: skip
    """Draw and save the figures of ``job`` to staging paths (removed again if it fails)."""
    done: DrawnFiles = []
    created: list[Path] = []
    try:
        for stem, figure in job():
            add_footnote(figure, footnotes[figure_kind(stem)])
            files = []
            for file_format in formats:
                relative = f"maps/{stem}.{file_format}"
                files.append((relative, staged.staging_path(relative)))
                created.append(files[-1][1])
            png = next((path for relative, path in files if relative.endswith(".png")), None)
            try:
                image = save_png_and_report_image(figure, png, dpi)
                for relative, path in files:
                    if path != png:
                        save_figure(figure, path, relative.rsplit(".", 1)[1], dpi, svg_text)
            except OSError as error:
                raise OutputError(f"{staged.root / files[0][0]}: cannot write ({error})") from None
            done.append((stem, files, image))
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    return done


# The jobs of the figure set being drawn, read by the forked workers (which inherit them).
_FORKED: dict[str, Any] = {}


def _forked_worker_start() -> None:
    """A worker leaves Ctrl-C to the run and ends at once when the pool is terminated."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(ImportError):  # OpenMP teams of the parent do not survive fork
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="openmp")


def _forked_draw(index: int) -> tuple[int, DrawnFiles]:
    return index, _FORKED["draw"](_FORKED["jobs"][index])


def drawn_jobs(
    jobs: list[FigureJob], draw: Callable[[FigureJob], DrawnFiles]
) -> Iterator[DrawnFiles]:
    """``draw(job)`` for every job, in order: in forked worker processes when
    :func:`map_workers` gives more than one (figures of a study drawn on every core), the
    costliest jobs started first so that no worker is left with a long one at the end."""
    workers = map_workers(len(jobs))
    if workers <= 1:
        for job in jobs:
            yield draw(job)
        return
    _FORKED.update(jobs=jobs, draw=draw)
    costliest_first = sorted(range(len(jobs)), key=lambda i: -jobs[i].cost)  # stable
    done: dict[int, DrawnFiles] = {}
    next_index = 0
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_forked_worker_start) as pool:
            for index, drawn in pool.imap_unordered(_forked_draw, costliest_first, chunksize=1):
                done[index] = drawn
                while next_index in done:  # in the jobs' order
                    yield done.pop(next_index)
                    next_index += 1
    finally:
        _FORKED.clear()


def stage_maps(
    staged: StagedOutputs,
    study: Study,
    tables: MapTables,
    *,
    dpi: int = PNG_DPI,
    formats: tuple[str, ...] | None = None,
) -> dict[str, bytes]:
    """Draw every figure into ``staged`` (``maps/<stem>.<format>``); return report PNGs.

    ``formats`` are the files per figure (by default ``[maps] formats``; the PNG is always
    written, the report shows it). The figures are drawn by :func:`drawn_jobs` (on every
    core), each once at ``dpi`` for its PNG and the report's smaller copy, and once more per
    other format.
    """
    provenance, settings = study_provenance(study), study.maps
    formats = ("png", *(f for f in formats or settings.formats if f != "png"))
    footnotes = {
        kind: footnote_text(provenance, settings.language, settings.footnote, kind=kind)
        for kind in ("map", "chart")
    }
    if tables.outlines is not None and not tables.outlines.empty:
        footnotes["map"] += "\n" + outlines_note(tables.outlines, settings.language)
    images: dict[str, bytes] = {}
    with mpl.rc_context(cjk_rc()):
        jobs = figure_jobs(study, tables)
        draw = partial(_draw_job, staged=staged, footnotes=footnotes, dpi=dpi, formats=formats,
                       svg_text=settings.svg_text)  # fmt: skip
        for drawn in drawn_jobs(jobs, draw):
            for stem, files, image in drawn:
                for relative, path in files:
                    staged.adopt(relative, path)
                images[stem] = image
    return images


def render_maps(
    study: Study,
    units: gpd.GeoDataFrame | None,
    *,
    dpi: int = PNG_DPI,
    formats: tuple[str, ...] | None = None,
    outlines: gpd.GeoDataFrame | None = None,
) -> list[Path]:
    """Re-render every map and the HTML report from the processed tables; return the files.

    PNG files are ``dpi`` dots per inch; ``formats`` names the files written per figure (by
    default ``[maps] formats``);
    ``outlines`` are province outlines for a national study's maps. Everything is staged
    under temporary names and renamed together.
    """
    tables = read_tables(study, units, outlines)
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
    formats: tuple[str, ...] | None = None,
) -> None:
    """Stage every map and the HTML report (``run`` stages them with the tables)."""
    images = stage_maps(staged, study, tables, dpi=dpi, formats=formats)
    report.stage_report(staged, study, tables, images, "png")
