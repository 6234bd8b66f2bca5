"""Land-use raster readers: the file formats RESDC ships, opened in place through GDAL.

Supported inputs (see :data:`SUPPORTED_FORMATS`):

* GeoTIFF (``.tif``, ``.tiff``)
* ERDAS Imagine (``.img``)
* ESRI ArcInfo GRID: the folder holding ``hdr.adf`` (or the ``hdr.adf`` file itself).
  GDAL reads this format but cannot write it, so tests cover the path handling only.
* any one of the above inside a ``.zip`` archive, read in place through ``/vsizip/``
  (nothing is unpacked). An archive holding several rasters is an error listing them.

Only the edges touch disk: this module opens files and describes grids; counting lives in
:mod:`pipeline.zonal`.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS, Geod

from pipeline.errors import InputError, limit, limit_hint
from pipeline.runtime.files import refuse_non_file

SUPPORTED_FORMATS: dict[str, str] = {
    ".tif": "GeoTIFF",
    ".tiff": "GeoTIFF",
    ".img": "ERDAS Imagine",
    "hdr.adf": "ESRI ArcInfo GRID (the folder holding hdr.adf)",
    ".zip": "a .zip archive holding one raster of the formats above",
}

_RASTER_SUFFIXES = (".tif", ".tiff", ".img")

MAX_PIXELS = 10**11
"""Cap on a raster's declared pixels (``CARBON_ZONING_MAX_RASTER_PIXELS`` raises it). China at
30 m is about 2·10¹⁰ pixels (its bounding box, nodata around it): five times that fits."""
MAX_SIDE = 2_000_000
"""Cap on a raster's width and height: the engine holds a few arrays of one row or one column
(8 bytes a pixel), so a side of 2·10⁶ is 16 MB each; the whole Earth at 30 m is 1.3·10⁶
pixels wide. ``CARBON_ZONING_MAX_RASTER_SIDE`` raises it."""
MAX_PIXELS_PER_BYTE = 100_000
"""Cap on declared pixels per byte of the file(s): DEFLATE, LZW and ZSTD tiles of a single
code stay below ~10⁴ pixels a byte (every tile also costs 8–16 bytes of index), so a header
declaring far more pixels than its file could hold is damaged or crafted (a 24 KB file
declaring 2·10¹¹ pixels). ``CARBON_ZONING_MAX_PIXELS_PER_BYTE`` raises it."""


def supported_formats_text() -> str:
    """One line listing the supported raster formats, for error messages."""
    return ", ".join(f"{key} ({name})" for key, name in SUPPORTED_FORMATS.items())


@dataclass(frozen=True)
class RasterInfo:
    """What the engine needs to know about one land-use raster before reading pixels."""

    path: Path
    gdal_path: str
    crs: CRS
    transform: Affine
    width: int
    height: int
    dtype: str
    nodata: float | None
    block_height: int
    block_width: int = 1

    @property
    def grid_key(self) -> tuple[str, tuple[float, ...], int, int]:
        """Rasters with equal keys share one grid and so one rasterization of the units."""
        return (self.crs.to_wkt(), tuple(self.transform)[:6], self.width, self.height)

    @property
    def is_float(self) -> bool:
        """True for floating-point rasters (codes must still be whole numbers)."""
        return np.dtype(self.dtype).kind == "f"


def gdal_path(path: str | Path) -> str:
    """Return the path GDAL opens for a land-use raster given as users receive it.

    Raises
    ------
    InputError
        Unknown file type (the message lists the supported ones), a missing file, or a zip
        archive holding no raster or several.
    """
    path = Path(path)
    refuse_non_file(path, folder_ok=True)
    if path.is_dir():
        if (path / "hdr.adf").is_file():
            return str(path)
        raise InputError(path, f"folder holds no hdr.adf; supported: {supported_formats_text()}")
    if not path.exists():
        raise InputError(path, "file not found")
    if path.name.lower() == "hdr.adf":
        return str(path.parent)
    suffix = path.suffix.lower()
    if suffix in _RASTER_SUFFIXES:
        return str(path)
    if suffix == ".zip":
        return _zip_member_path(path)
    raise InputError(
        path, f"unknown raster type {suffix or path.name!r}; supported: {supported_formats_text()}"
    )


def _zip_member_path(path: Path) -> str:
    """``/vsizip/`` path of the single raster inside a zip archive."""
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if not n.endswith("/")]
    rasters = [n for n in names if PurePosixPath(n).suffix.lower() in _RASTER_SUFFIXES]
    rasters += [str(PurePosixPath(n).parent) for n in names if PurePosixPath(n).name == "hdr.adf"]
    if len(rasters) == 1:
        return f"/vsizip/{path.resolve()}/{rasters[0]}"
    if not rasters:
        listing = ", ".join(names[:10]) or "nothing"
        raise InputError(
            path,
            f"archive holds no raster (found: {listing}); supported: {supported_formats_text()}",
        )
    raise InputError(
        path, f"archive holds {len(rasters)} rasters, expected one: {', '.join(sorted(rasters))}"
    )


def read_info(path: str | Path) -> RasterInfo:
    """Open a raster's header and check it can carry land-use codes.

    Raises
    ------
    InputError
        Unreadable file, no CRS, a rotated grid or several bands.
    """
    source = gdal_path(path)
    try:
        with rasterio.open(source) as dataset:
            info = _info_from_dataset(Path(path), source, dataset)
    except rasterio.RasterioIOError as error:
        raise InputError(path, f"GDAL cannot read it: {error}") from error
    return info


def _info_from_dataset(path: Path, source: str, dataset: rasterio.DatasetReader) -> RasterInfo:
    if dataset.crs is None:
        raise InputError(
            path,
            "raster has no CRS (coordinate reference system); CRS = None, expected e.g. "
            "RESDC's Albers (+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +ellps=krass)",
        )
    transform = dataset.transform
    if transform.b != 0 or transform.d != 0:
        raise InputError(path, f"rotated grids are not supported; transform = {tuple(transform)}")
    if dataset.count != 1:
        raise InputError(path, f"expected one band of land-use codes, found {dataset.count} bands")
    _check_dimensions(path, dataset.width, dataset.height, _file_bytes(path))
    return RasterInfo(
        path=path,
        gdal_path=source,
        crs=CRS.from_user_input(dataset.crs.to_wkt()),
        transform=transform,
        width=dataset.width,
        height=dataset.height,
        dtype=dataset.dtypes[0],
        nodata=dataset.nodata,
        block_height=int(dataset.block_shapes[0][0]),
        block_width=int(dataset.block_shapes[0][1]),
    )


def _file_bytes(path: Path) -> int:
    """Bytes on disk of a raster as given: the file, the zip archive or the GRID folder."""
    path = path.parent if path.name.lower() == "hdr.adf" else path
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _check_dimensions(path: Path, width: int, height: int, size: int) -> None:
    """Refuse declared dimensions no land-use raster has, before anything is allocated:
    a side above :data:`MAX_SIDE`, more pixels than :data:`MAX_PIXELS`, or more pixels per
    byte of the file (``size`` bytes) than :data:`MAX_PIXELS_PER_BYTE`; each message names
    its cap."""
    pixels = width * height
    declared = f"declares {width} × {height} = {pixels:.3g} pixels"
    side_cap = limit("CARBON_ZONING_MAX_RASTER_SIDE", MAX_SIDE)
    if max(width, height) > side_cap:
        raise InputError(
            path,
            f"{declared}: a side of {max(width, height)} pixels is above the limit of "
            f"{side_cap} (the whole Earth at 30 m is 1.3·10⁶ pixels wide); a damaged header? "
            f"Otherwise {limit_hint('CARBON_ZONING_MAX_RASTER_SIDE')}",
        )
    pixel_cap = limit("CARBON_ZONING_MAX_RASTER_PIXELS", MAX_PIXELS)
    if pixels > pixel_cap:
        raise InputError(
            path,
            f"{declared}, above the limit of {pixel_cap:.3g} (China at 30 m is about 2e+10); "
            f"a damaged header? Otherwise {limit_hint('CARBON_ZONING_MAX_RASTER_PIXELS')}",
        )
    ratio_cap = limit("CARBON_ZONING_MAX_PIXELS_PER_BYTE", MAX_PIXELS_PER_BYTE)
    hint = limit_hint("CARBON_ZONING_MAX_PIXELS_PER_BYTE")
    if pixels > ratio_cap * max(size, 1):
        raise InputError(
            path,
            f"{declared} in a file of {size} bytes: {pixels / max(size, 1):.3g} pixels a "
            f"byte, above the limit of {ratio_cap} (compressed land-use tiles hold at most "
            "~10⁴); the header is damaged or the file incomplete (a download cut short?). "
            f"If the raster is sound (sparse tiles), {hint}",
        )


def pixel_area_m2(info: RasterInfo) -> float:
    """Area of one pixel in m² for a projected CRS (any linear unit, converted to metres)."""
    # (m per CRS unit)² × |a·e − b·d| (CRS units²) = m²
    metres_per_unit = info.crs.axis_info[0].unit_conversion_factor
    return abs(info.transform.a * info.transform.e) * metres_per_unit**2


def row_areas_m2(info: RasterInfo) -> np.ndarray:
    """Area in m² of one cell in each row: constant for projected CRSs, per-latitude otherwise.

    For a geographic CRS the cell is bounded by two meridians and two parallels; its area on
    the raster's ellipsoid (``pyproj.Geod``) is the ellipsoidal zone formula
    ``A = Δλ · a²/2 · [q(φ₂) − q(φ₁)]`` with Snyder's authalic function ``q``. It depends only on
    the row.
    """
    if not info.crs.is_geographic:
        return np.full(info.height, pixel_area_m2(info))
    ellipsoid = info.crs.ellipsoid
    geod = Geod(a=ellipsoid.semi_major_metre, b=ellipsoid.semi_minor_metre)
    edges_deg = info.transform.f + info.transform.e * np.arange(info.height + 1)
    q = _authalic_q(np.radians(np.clip(edges_deg, -90.0, 90.0)), geod.es)
    dlon_rad = math.radians(abs(info.transform.a))
    # rad × m² = m²
    return np.abs(np.diff(q)) * dlon_rad * geod.a**2 / 2.0


def _authalic_q(lat_rad: np.ndarray, es: float) -> np.ndarray:
    """Authalic ``q(φ)`` of an ellipsoid with squared eccentricity ``es``."""
    sin = np.sin(lat_rad)
    if es == 0.0:
        return 2.0 * sin
    e = math.sqrt(es)
    return (1 - es) * (sin / (1 - es * sin**2) - np.log((1 - e * sin) / (1 + e * sin)) / (2 * e))
