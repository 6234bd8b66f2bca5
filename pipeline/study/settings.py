"""The study's settings: frozen, typed dataclasses built by :mod:`pipeline.study.loader`.

Every value here has been checked; paths are absolute. Nothing in this module reads a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.model.constants import (
    DEFAULT_EEC_BREAKS,
    DEFAULT_ENERGY_T_CO2_PER_TCE,
    DEFAULT_RESPIRATION_T_PER_10K_PEOPLE,
    DEFAULT_SEC_BREAKS,
    DEFAULT_SINK_SOURCE,
    DEFAULT_SINK_T_PER_HA,
    DEFAULT_UNCERTAINTY_DRAWS,
    DEFAULT_UNCERTAINTY_SEED,
    DEFAULT_ZONE_MATRIX,
)

# mapclassify schemes for graduated maps ([maps] classification); the first six take k.
MAP_CLASSIFICATIONS = (
    "NaturalBreaks",
    "FisherJenks",
    "JenksCaspall",
    "EqualInterval",
    "Quantiles",
    "MaximumBreaks",
    "HeadTailBreaks",
    "StdMean",
    "BoxPlot",
)
# The mapped indicators, by map file stem (keys of ``[maps.breaks]``; outputs.labels.INDICATORS).
MAP_INDICATORS = (
    "emission",
    "sink",
    "balance",
    "emission_intensity",
    "sink_intensity",
    "eec",
    "sec",
    "compensation_rate",
)
# ``[maps] labels``: "auto" names what fits (no county names beyond NATIONAL_UNITS units),
# "all" names what fits at any size, "none" names nothing.
MAP_LABEL_MODES = ("auto", "all", "none")

# [maps] svg_text: "paths" draws SVG text as outlines, "text" keeps it editable text.
SVG_TEXT = ("paths", "text")
# [maps] formats: the files written per figure. "png" is always among them: the report
# embeds the PNG (a scaled-down copy of its pixels).
MAP_FILE_FORMATS = ("png", "svg", "pdf")
DEFAULT_MAP_FORMATS = ("png",)


@dataclass(frozen=True)
class BoundarySettings:
    """Where the reporting units come from."""

    path: Path
    layer: str | None = None
    name_field: str = "name"
    unit_field: str | None = None
    encoding: str | None = None  # attribute encoding of a Shapefile without .cpg, e.g. "GBK"


@dataclass(frozen=True)
class LanduseSettings:
    """Land-use input: rasters per year, or a ready area table."""

    scheme: str | Path = "resdc"
    rasters: Mapping[int, Path] = field(default_factory=dict)
    areas: Path | None = None
    nodata: int | None = None
    unknown_codes: str = "error"
    mode: str = "auto"
    classes: Mapping[int, str] = field(default_factory=dict)  # [landuse.classes] per-code overrides
    transitions: bool | None = None  # None: counted when the rasters allow it


@dataclass(frozen=True)
class Coefficients:
    """The model's coefficients (the paper's by default)."""

    respiration_t_per_10k_people: float = DEFAULT_RESPIRATION_T_PER_10K_PEOPLE
    energy_t_co2_per_tce: float = DEFAULT_ENERGY_T_CO2_PER_TCE
    sink_t_per_ha: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SINK_T_PER_HA))
    sink_t_per_ha_by_code: Mapping[int, float] = field(default_factory=dict)  # overrides class
    table: Path | None = None  # [coefficients] table (columns key, sink_t_per_ha, source)
    sources: Mapping[str, str] = field(default_factory=dict)  # sink key (class or code) -> source
    table_keys: tuple[str, ...] = ()  # the keys that came from the table

    def sink_source(self, key: str | int) -> str:
        """Where the sink coefficient of a class or code comes from."""
        return self.sources.get(str(key), DEFAULT_SINK_SOURCE)


@dataclass(frozen=True)
class ZoningSettings:
    """How indices become levels and levels become zones."""

    basis: str = "mean"
    eec_definition: str = "gdp_over_emission"
    eec_breaks: tuple[float, float] = DEFAULT_EEC_BREAKS
    sec_breaks: tuple[float, float] = DEFAULT_SEC_BREAKS
    matrix: Mapping[str, tuple[tuple[str, str], ...]] = field(
        default_factory=lambda: dict(DEFAULT_ZONE_MATRIX)
    )


@dataclass(frozen=True)
class UncertaintySettings:
    """``[uncertainty]``: a distribution per coefficient name, how many draws, the seed.

    ``distributions`` maps ``respiration``, ``energy_factor``, a land class or a code with its
    own sink coefficient to ``("uniform", low, high)`` or ``("normal", mean, sd)``.
    """

    distributions: Mapping[str, tuple[str, float, float]] = field(default_factory=dict)
    draws: int = DEFAULT_UNCERTAINTY_DRAWS
    seed: int = DEFAULT_UNCERTAINTY_SEED


@dataclass(frozen=True)
class MapSettings:
    """Map rendering options."""

    language: str = "zh"
    classification: str = "NaturalBreaks"
    classes: int = 5
    footnote: str | None = None  # extra data-source text appended to every map footnote
    labels: str = "auto"  # one of MAP_LABEL_MODES
    label_values: bool = True  # indicator maps: the value under the name (where it fits)
    # [maps.breaks]: inner class breaks per indicator stem, ascending, in the legend's unit
    breaks: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    svg_text: str = "paths"  # "paths": SVG text as outlines (no font needed); "text": editable
    # [maps] formats: files per figure, from MAP_FILE_FORMATS, "png" first and always present
    formats: tuple[str, ...] = DEFAULT_MAP_FORMATS


@dataclass(frozen=True)
class OutputSettings:
    """Extra output options."""

    xlsx: bool = True
    xlsx_chinese_headers: bool = True
    # the workbook's one header row: "zh" Chinese names with units, "en" the column ids;
    # by default "zh", or "en" where the older key xlsx_chinese_headers = false
    xlsx_header_language: str = "zh"
    maps: bool = True  # false: `run` skips maps and report (`carbon-zoning maps` draws them)


# [analysis]: the seed of every random step, the permutations of the spatial tests
DEFAULT_SEED = 0
DEFAULT_PERMUTATIONS = 999
PERMUTATION_RANGE = (99, 99_999)
SEED_RANGE = (0, 2**32 - 1)  # what numpy's legacy seeding (used by esda) accepts


@dataclass(frozen=True)
class AnalysisSettings:
    """Analyses beyond the paper's zoning."""

    spatial: bool = True  # Moran's I and LISA clusters (skipped below the minimum of units)
    seed: int = DEFAULT_SEED  # seeds every random step (the permutation tests)
    permutations: int = DEFAULT_PERMUTATIONS  # conditional permutations per test


@dataclass(frozen=True)
class ComputeSettings:
    """Where zonal tabulation runs."""

    scheduler: str = "single"


@dataclass(frozen=True)
class Study:
    """A validated study: every path absolute, every value checked."""

    path: Path
    name: str
    output_dir: Path
    statistics_path: Path
    landuse: LanduseSettings
    boundaries: BoundarySettings | None = None
    reference: Path | None = None
    reference_zoning: Path | None = None
    reference_notes: Path | None = None
    coefficients: Coefficients = field(default_factory=Coefficients)
    zoning: ZoningSettings = field(default_factory=ZoningSettings)
    maps: MapSettings = field(default_factory=MapSettings)
    output: OutputSettings = field(default_factory=OutputSettings)
    compute: ComputeSettings = field(default_factory=ComputeSettings)
    uncertainty: UncertaintySettings | None = None  # None: no [uncertainty], no draws
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    statistics_sheet: str | None = None  # Excel sheet of the statistics; None: the first
    statistics_decimal: str | None = None  # the statistics' decimal mark, "." or ",", if declared

    @property
    def years(self) -> tuple[int, ...]:
        """The study's years, ascending (from the rasters; empty for an area table)."""
        return tuple(sorted(self.landuse.rasters))

    @property
    def processed_dir(self) -> Path:
        """``output_dir/data/processed``: tables, GeoPackage, run manifest."""
        return self.output_dir / "data" / "processed"

    @property
    def maps_dir(self) -> Path:
        """``output_dir/maps``: rendered maps."""
        return self.output_dir / "maps"


LOCAL_SCHEDULERS: tuple[str, ...] = ("single", "threads", "processes")
DASK_SCHEDULERS: tuple[str, ...] = ("threads", "processes")


def scheduler_problem(value: str) -> str | None:
    """Why ``value`` is not a scheduler name (``None`` when it is one)."""
    if value in LOCAL_SCHEDULERS or value.startswith("tcp://"):
        return None
    return f"must be 'single', 'threads', 'processes' or 'tcp://host:port', got {value!r}"
