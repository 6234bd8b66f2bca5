"""Wires the stages: study -> inputs -> areas -> balance -> zoning -> outputs.

Each stage is a call into its own module; this module only orders them, times them and hands
the results to :mod:`pipeline.export`. Everything is computed before the first output is
written, and outputs are staged and renamed together, so a failing run changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pipeline import balance as balance_model
from pipeline import cache, checks, export, landuse, locking, reproduction, statistics, zoning
from pipeline.errors import InputError, PipelineError
from pipeline.study import Study, load_study

LANDUSE_COLUMNS = ["unit", "year", "code", "class", "area_ha"]


@dataclass
class Timer:
    """Wall-clock seconds per stage, in the order the stages ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
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


@dataclass(frozen=True)
class Results:
    """Everything computed by one run."""

    landuse_areas: pd.DataFrame
    balance: pd.DataFrame
    zoning: pd.DataFrame
    reproduction_markdown: str | None = None


def input_files(study: Study) -> dict[str, Path]:
    """Every input file of the study by role (for checksums and the manifest)."""
    files = {"statistics": study.statistics_path}
    if study.boundaries is not None:
        files["boundaries"] = study.boundaries.path
        if study.boundaries.path.suffix.lower() == ".shp":
            for suffix in (".dbf", ".shx", ".prj", ".cpg"):
                if study.boundaries.path.with_suffix(suffix).is_file():
                    files[f"boundaries{suffix}"] = study.boundaries.path.with_suffix(suffix)
    if study.landuse.areas is not None:
        files["landuse_areas"] = study.landuse.areas
    files |= {f"landuse_{year}": path for year, path in study.landuse.rasters.items()}
    if isinstance(study.landuse.scheme, Path):
        files["landuse_scheme"] = study.landuse.scheme
    for role in ("reference", "reference_zoning", "reference_notes"):
        path = getattr(study, role)
        if path is not None:
            files[role] = path
    return files


def read_units(study: Study) -> gpd.GeoDataFrame | None:
    """The study's reporting units (``unit, geometry``), or ``None`` without boundaries."""
    if study.boundaries is None:
        return None
    from pipeline import boundaries

    return boundaries.read_study_units(study.boundaries)


def tabulate_areas(
    study: Study, units: gpd.GeoDataFrame | None, *, force: bool = False
) -> tuple[pd.DataFrame, str | None, bool]:
    """Hectares per (unit, year, code): from the area table, or zonally from the rasters.

    Returns the areas, the cache key (rasters only) and whether the cached table was reused;
    ``force`` recomputes even when the cache holds the key.
    """
    if study.landuse.areas is not None:
        return landuse.read_area_table(study.landuse.areas), None, False
    assert units is not None  # the study loader requires boundaries with rasters
    key = cache.areas_key(study)
    cached = None if force else cache.load_areas(study.output_dir, key)
    if cached is not None:
        return cached, key, True
    from pipeline import zonal

    locking.pause_for_tests("zonal")
    result = zonal.tabulate(
        units,
        study.landuse.rasters,
        nodata=study.landuse.nodata,
        mode=study.landuse.mode,
        scheduler=study.compute.scheduler,
    )
    return result.areas[cache.AREA_COLUMNS], key, False


def classify_areas(study: Study, areas: pd.DataFrame) -> pd.DataFrame:
    """Attach land classes from the study's scheme; unknown codes per the study's setting."""
    scheme = landuse.load_scheme(study.landuse.scheme)
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
        codes = sorted(ignored["code"].unique())
        print(f"note: ignored land-use codes outside the scheme: {codes}")
    return classified[LANDUSE_COLUMNS].sort_values(["year", "unit", "code"]).reset_index(drop=True)


def study_units(
    study: Study, units: gpd.GeoDataFrame | None, areas: pd.DataFrame
) -> tuple[list[str], str]:
    """The study's unit names and a description of where they come from."""
    if units is not None:
        return sorted(units["unit"]), f"the boundaries {study.boundaries.path.name}"  # type: ignore[union-attr]
    return sorted(areas["unit"].unique()), f"the area table {study.landuse.areas.name}"  # type: ignore[union-attr]


def check_area_table_units(
    study: Study, units: gpd.GeoDataFrame | None, areas: pd.DataFrame
) -> None:
    """With both boundaries and an area table, both must name the same units."""
    if units is None or study.landuse.areas is None:
        return
    from pipeline.names import describe_unmatched

    boundary_units, table_units = set(units["unit"]), set(areas["unit"])
    problems = [
        f"unit {describe_unmatched(u, boundary_units)} is not in the boundaries"
        for u in sorted(table_units - boundary_units)
    ] + [
        f"unit {describe_unmatched(u, table_units)} of the boundaries has no rows"
        for u in sorted(boundary_units - table_units)
    ]
    if problems:
        raise InputError(study.landuse.areas, problems)


def check_units_before_tabulation(
    study: Study, stats: pd.DataFrame, units: gpd.GeoDataFrame | None
) -> None:
    """With boundaries: at least two units, and (for rasters) statistics for each unit and
    year, checked before the long tabulation."""
    if units is None:
        return
    settings = study.boundaries
    assert settings is not None
    hint = (
        f"; [boundaries] unit_field = {settings.unit_field!r} puts every feature in one unit"
        if settings.unit_field
        else ""
    )
    checks.check_several_units(units["unit"], settings.path, hint)
    if study.landuse.rasters:
        statistics.check_coverage(
            stats,
            units["unit"],
            study.years,
            source=study.statistics_path,
            units_source=f"the boundaries {settings.path.name}",
        )


def load_inputs(study: Study, timer: Timer, *, force: bool = False) -> Inputs:
    """Read and check every input of the study; notes (how files were read) are printed
    and kept for the run manifest."""
    notes: list[str] = []

    def log(line: str) -> None:
        print(line)
        notes.append(line)

    with timer.stage("statistics"):
        stats = statistics.load_statistics(
            study.statistics_path, sheet=study.statistics_sheet, log=log
        )
    with timer.stage("boundaries"):
        units = read_units(study)
    check_units_before_tabulation(study, stats, units)
    with timer.stage("zonal"):
        raw, key, reused = tabulate_areas(study, units, force=force)
        areas = classify_areas(study, raw)
    check_area_table_units(study, units, areas)
    names, names_source = study_units(study, units, areas)
    if units is None:  # with boundaries, checked before tabulation
        checks.check_several_units(names, study.landuse.areas or study.path)
    if study.landuse.rasters:
        checks.check_land_in_every_unit(areas, names, study.landuse.rasters)
    years = sorted(areas["year"].unique())
    stats = statistics.check_coverage(
        stats, names, years, source=study.statistics_path, units_source=names_source
    )
    if reused:
        log(cache.describe(key))  # type: ignore[arg-type]
    return Inputs(
        stats,
        areas,
        units,
        input_files(study),
        notes=tuple(notes),
        raw_areas=raw,
        cache_key=key,
        cache_reused=reused,
    )


def compute(study: Study, inputs: Inputs) -> Results:
    """The model and the zoning (pure computation on the loaded inputs)."""
    coefficients = study.coefficients
    table = balance_model.carbon_balance(
        inputs.statistics,
        inputs.landuse_areas,
        respiration_t_per_10k_people=coefficients.respiration_t_per_10k_people,
        energy_t_co2_per_tce=coefficients.energy_t_co2_per_tce,
        sink_t_per_ha=coefficients.sink_t_per_ha,
        eec_definition=study.zoning.eec_definition,
        source=f"{study.statistics_path} with the land-use areas",
    )
    with_zones = zoning.classify(table, study.zoning).drop(columns="zone_zh")
    zones = zoning.zoning_table(table, study.zoning)
    report = reproduction_report(study, table, zones)
    return Results(inputs.landuse_areas, with_zones, zones, report)


def reproduction_report(study: Study, table: pd.DataFrame, zones: pd.DataFrame) -> str | None:
    """The reproduction report when the study names a reference table."""
    if study.reference is None:
        return None
    reference = reproduction.read_reference(study.reference, reproduction.REFERENCE_COLUMNS)
    zoning_comparison = None
    if study.reference_zoning is not None and study.zoning.basis == "mean":
        reference_zones = reproduction.read_reference(
            study.reference_zoning, reproduction.ZONING_REFERENCE_COLUMNS
        )
        zoning_comparison = reproduction.compare_zoning(zones, reference_zones)
    notes = None
    if study.reference_notes is not None:
        notes = study.reference_notes.read_text(encoding="utf-8")
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


def write_outputs(study: Study, inputs: Inputs, results: Results, timer: Timer) -> list[Path]:
    """Stage every output and rename them together."""
    sheets = export.balance_sheets(results.landuse_areas, results.balance, results.zoning)
    with export.StagedOutputs(study.output_dir) as staged:
        for relative, frame in export.iter_csv_outputs(sheets):
            staged.write_csv(relative, frame)
        if study.output.xlsx:
            staged.write(
                "data/processed/carbon_balance.xlsx",
                lambda path: export.write_workbook(
                    path, sheets, chinese_headers=study.output.xlsx_chinese_headers
                ),
            )
        if results.reproduction_markdown is not None:
            staged.write_text("data/processed/reproduction.md", results.reproduction_markdown)
        if inputs.units is not None:
            from pipeline import geopackage

            geopackage.stage_geopackage(
                staged, study, units=inputs.units, balance=results.balance,
                zoning=results.zoning, landuse_areas=results.landuse_areas,
            )  # fmt: skip
        if inputs.cache_key is not None and not inputs.cache_reused:
            staged.write_csv(cache.relative_path(inputs.cache_key), inputs.raw_areas)
        if study.output.maps:
            with timer.stage("maps"):
                stage_maps(staged, study, inputs, results)
        locking.pause_for_tests("write")
        outputs = [str(final.relative_to(study.output_dir)) for final in staged.destinations]
        manifest = export.run_manifest(
            study=study,
            inputs=inputs.files,
            timings_s=timer.seconds,
            outputs=[*outputs, "data/processed/run.json"],
            extra={"landuse_cache": cache_manifest(inputs), "notes": list(inputs.notes)},
        )
        staged.write_json("data/processed/run.json", manifest)
    return [study.output_dir / output for output in manifest["outputs"]]


def stage_maps(
    staged: export.StagedOutputs, study: Study, inputs: Inputs, results: Results
) -> None:
    """Stage the maps and the report with the run's tables, so all are renamed together."""
    from pipeline import maps  # matplotlib only when drawing

    tables = maps.MapTables(
        results.balance,
        results.zoning,
        results.landuse_areas,
        inputs.units,
        results.reproduction_markdown,
    )
    maps.stage_maps_and_report(staged, study, tables)


def cache_manifest(inputs: Inputs) -> dict[str, object] | None:
    """The land-use cache entry of run.json (``None`` for an area table)."""
    if inputs.cache_key is None:
        return None
    return {
        "key": inputs.cache_key,
        "file": cache.relative_path(inputs.cache_key),
        "reused": inputs.cache_reused,
    }


def run(study_path: str | Path, *, force: bool = False) -> list[Path]:
    """Run the whole pipeline on a study file; return the written outputs.

    The output folder is locked for the run (``data/processed/.lock``); SIGTERM stops the run
    like Ctrl-C, leaving earlier outputs as they were. ``force`` recomputes the land-use
    areas even when cached.
    """
    timer = Timer()
    with timer.stage("study"):
        study = load_study(study_path)
    with (
        locking.interrupts_as_keyboard_interrupt(),
        locking.RunLock(study.processed_dir, study.output_dir),
    ):
        inputs = load_inputs(study, timer, force=force)
        with timer.stage("model"):
            results = compute(study, inputs)
        return write_outputs(study, inputs, results, timer)


def maps(study_path: str | Path) -> list[Path]:
    """Re-render the maps and report from the processed tables, holding the output lock."""
    from pipeline.maps import render_maps  # matplotlib only when drawing

    study = load_study(study_path)
    with (
        locking.interrupts_as_keyboard_interrupt(),
        locking.RunLock(study.processed_dir, study.output_dir),
    ):
        return render_maps(study)


def validate(study_path: str | Path) -> Study:
    """Check every input of a study without writing anything; raise listing all problems."""
    study = load_study(study_path)
    problems: list[str] = []
    readers = [
        lambda: statistics.load_statistics(study.statistics_path, sheet=study.statistics_sheet),
        lambda: landuse.load_scheme(study.landuse.scheme),
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
        compute(study, load_inputs(study, Timer()))  # the model's checks too; writes nothing
    except PipelineError as error:
        raise InputError(study.path, [str(error)]) from None
    return study
