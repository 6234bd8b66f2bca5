"""Where a study's inputs come from, for map footnotes and GeoPackage metadata.

The study is flagged as (partly) synthetic from the data itself: provenance columns of the
statistics table (any ``*_source`` column whose values say synthetic, reconstructed or demo)
and the GDAL metadata of land-use rasters (the demo rasters are tagged ``SYNTHETIC``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.study.settings import Study

SYNTHETIC_WORDS = ("synthetic", "reconstructed", "demo", "合成", "重建")
GENERATOR = "carbon-balance-zoning"


@dataclass(frozen=True)
class Provenance:
    """Data sources of a study and the inputs found to be synthetic or reconstructed."""

    boundaries: str | None
    landuse: str
    statistics: str
    synthetic_inputs: tuple[str, ...]

    @property
    def synthetic(self) -> bool:
        """True when any input is synthetic or reconstructed."""
        return bool(self.synthetic_inputs)


def _says_synthetic(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in SYNTHETIC_WORDS)


def synthetic_statistics(path: Path) -> bool:
    """True when a ``*_source`` column of the statistics CSV calls any value synthetic."""
    try:
        table = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except (OSError, ValueError):
        return False
    columns = [c for c in table.columns if str(c).strip().lower().endswith("_source")]
    return any(_says_synthetic(value) for c in columns for value in table[c].unique())


def synthetic_raster(path: Path) -> bool:
    """True when a raster's GDAL metadata tags call it synthetic."""
    try:
        import rasterio

        with rasterio.open(path) as dataset:
            tags = " ".join(f"{k} {v}" for k, v in dataset.tags().items())
    except Exception:  # an unreadable raster is reported by the run, not here
        return False
    return _says_synthetic(tags)


def boundary_source(study: Study) -> str | None:
    """The boundary file's name and the distinct values of its ``source`` field, if any."""
    if study.boundaries is None:
        return None
    settings = study.boundaries
    text = settings.path.name
    try:
        import pyogrio

        table = pyogrio.read_dataframe(
            settings.path, layer=settings.layer, columns=["source"], read_geometry=False
        )
        sources = sorted({str(v) for v in table.get("source", pd.Series()).dropna().unique()})
    except Exception:  # no readable source field: the file name alone
        sources = []
    return f"{text} ({'; '.join(sources)})" if sources else text


def study_provenance(study: Study) -> Provenance:
    """The data sources of ``study`` and which inputs are synthetic."""
    synthetic: list[str] = []
    if synthetic_statistics(study.statistics_path):
        synthetic.append(study.statistics_path.name)
    for path in study.landuse.rasters.values():
        if synthetic_raster(path):
            synthetic.append(path.name)
    if study.landuse.areas is not None:
        landuse = study.landuse.areas.name
        if _says_synthetic(landuse):
            synthetic.append(landuse)
    else:
        landuse = ", ".join(path.name for path in study.landuse.rasters.values())
    return Provenance(boundary_source(study), landuse, study.statistics_path.name, tuple(synthetic))
