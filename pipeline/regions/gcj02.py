"""GCJ-02 ("Mars coordinates") to and from WGS84, vectorised with numpy.

GCJ-02 is the obfuscated datum of Chinese web maps (Amap/高德, Tencent). The forward
transform WGS84 -> GCJ-02 is the widely published one (Krasovsky 1940 ellipsoid constants
and the ``transformlat``/``transformlng`` polynomials); it has no closed-form inverse, so
GCJ-02 -> WGS84 is solved by fixed-point iteration to well below a millimetre.

Points outside the rough bounding box of China are left unchanged, as in every published
implementation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import shapely

# Krasovsky 1940 semi-major axis (m) and first eccentricity squared, as used by GCJ-02.
KRASOVSKY_A_M = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323

# The usual rough bounding box of China (degrees); outside it nothing is shifted.
CHINA_LNG_RANGE = (72.004, 137.8347)
CHINA_LAT_RANGE = (0.8293, 55.8271)

DEFAULT_TOLERANCE_DEG = 1e-9  # ≈ 0.1 mm on the ground
MAX_ITERATIONS = 50

ArrayLike = npt.ArrayLike
Pair = tuple[np.ndarray, np.ndarray]


def in_china(lng: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """True where (lng, lat) lies inside the rough bounding box where GCJ-02 applies."""
    lng = np.asarray(lng, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return (
        (lng >= CHINA_LNG_RANGE[0])
        & (lng <= CHINA_LNG_RANGE[1])
        & (lat >= CHINA_LAT_RANGE[0])
        & (lat <= CHINA_LAT_RANGE[1])
    )


def _periodic_terms(u: np.ndarray, v: np.ndarray, big: tuple[float, float]) -> np.ndarray:
    """The sine terms shared by both polynomials (``u`` = x shifted, ``v`` = own axis)."""
    pi = np.pi
    terms = 20.0 * np.sin(6.0 * u * pi) + 20.0 * np.sin(2.0 * u * pi)
    terms += 20.0 * np.sin(v * pi) + 40.0 * np.sin(v / 3.0 * pi)
    terms += big[0] * np.sin(v / 12.0 * pi) + big[1] * np.sin(v / 30.0 * pi)
    return terms * 2.0 / 3.0


def _transform_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    base = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    return base + _periodic_terms(x, y, (160.0, 320.0))


def _transform_lng(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    base = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    return base + _periodic_terms(x, x, (150.0, 300.0))


def _offset_deg(lng: np.ndarray, lat: np.ndarray) -> Pair:
    """GCJ-02 minus WGS84 (degrees) at WGS84 position (lng, lat), ignoring the China box."""
    x = lng - 105.0
    y = lat - 35.0
    dlat_m = _transform_lat(x, y)
    dlng_m = _transform_lng(x, y)
    rad_lat = np.radians(lat)
    magic = 1.0 - KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    # metres -> degrees with the Krasovsky meridian and prime-vertical radii of curvature
    meridian_m = KRASOVSKY_A_M * (1.0 - KRASOVSKY_EE) / (magic * sqrt_magic)
    parallel_m = KRASOVSKY_A_M / sqrt_magic * np.cos(rad_lat)
    return dlng_m * 180.0 / (parallel_m * np.pi), dlat_m * 180.0 / (meridian_m * np.pi)


def wgs84_to_gcj02(lng: ArrayLike, lat: ArrayLike) -> Pair:
    """Shift WGS84 longitudes/latitudes (degrees) to GCJ-02.

    Parameters
    ----------
    lng, lat
        WGS84 longitude and latitude in degrees, scalars or arrays of one shape.

    Returns
    -------
    (lng, lat)
        GCJ-02 coordinates as float arrays; unchanged outside China's bounding box.
    """
    lng = np.asarray(lng, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlng, dlat = _offset_deg(lng, lat)
    inside = in_china(lng, lat)
    return np.where(inside, lng + dlng, lng), np.where(inside, lat + dlat, lat)


def gcj02_to_wgs84(
    lng: ArrayLike,
    lat: ArrayLike,
    *,
    tolerance_deg: float = DEFAULT_TOLERANCE_DEG,
    max_iterations: int = MAX_ITERATIONS,
) -> Pair:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration.

    Solves ``wgs84_to_gcj02(w) == g`` with ``w <- w - (wgs84_to_gcj02(w) - g)``; the offset
    field varies slowly (its Jacobian is ~1e-4), so each step gains about four digits and
    three or four steps reach ``tolerance_deg``.

    Parameters
    ----------
    lng, lat
        GCJ-02 longitude and latitude in degrees, scalars or arrays of one shape.
    tolerance_deg
        Stop when every coordinate moved less than this in the last step.
    max_iterations
        Safety cap on the number of steps.

    Returns
    -------
    (lng, lat)
        WGS84 coordinates as float arrays; unchanged outside China's bounding box.
    """
    g_lng = np.asarray(lng, dtype=float)
    g_lat = np.asarray(lat, dtype=float)
    w_lng, w_lat = g_lng.copy(), g_lat.copy()
    for _ in range(max_iterations):
        f_lng, f_lat = wgs84_to_gcj02(w_lng, w_lat)
        step_lng, step_lat = f_lng - g_lng, f_lat - g_lat
        w_lng, w_lat = w_lng - step_lng, w_lat - step_lat
        if max(_abs_max(step_lng), _abs_max(step_lat)) < tolerance_deg:
            break
    return w_lng, w_lat


def _abs_max(values: np.ndarray) -> float:
    return float(np.max(np.abs(values), initial=0.0))


def _coords_gcj02_to_wgs84(coords: np.ndarray) -> np.ndarray:
    lng, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lng, lat])


def _coords_wgs84_to_gcj02(coords: np.ndarray) -> np.ndarray:
    lng, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    return np.column_stack([lng, lat])


def geometry_gcj02_to_wgs84(geometry: shapely.Geometry | np.ndarray) -> shapely.Geometry:
    """Convert a shapely geometry (or an array of them) from GCJ-02 to WGS84 degrees."""
    return shapely.transform(geometry, _coords_gcj02_to_wgs84)


def geometry_wgs84_to_gcj02(geometry: shapely.Geometry | np.ndarray) -> shapely.Geometry:
    """Convert a shapely geometry (or an array of them) from WGS84 to GCJ-02 degrees."""
    return shapely.transform(geometry, _coords_wgs84_to_gcj02)
