"""GCJ-02 <-> WGS84 against coordinate pairs published by other implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.regions.gcj02 import (
    gcj02_to_wgs84,
    geometry_gcj02_to_wgs84,
    geometry_wgs84_to_gcj02,
    in_china,
    wgs84_to_gcj02,
)

EARTH_RADIUS_M = 6371008.8

# (wgs_lng, wgs_lat, gcj_lng, gcj_lat, where the pair is published)
PUBLISHED_PAIRS = [
    # googollee/eviltransform, python/test.py, TESTS (shanghai, shenzhen, beijing);
    # the same three pairs are in its C, Go, JavaScript and PHP test suites.
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597, "eviltransform shanghai"),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766, "eviltransform shenzhen"),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069, "eviltransform beijing"),
    # wandergis/coordtransform, test/app.js: wgs84togcj02(116.404, 39.915) "result" comment.
    (116.404, 39.915, 116.41024449916938, 39.91640428150164, "coordtransform app.js"),
]


def distance_m(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


@pytest.mark.parametrize("pair", PUBLISHED_PAIRS, ids=[p[-1] for p in PUBLISHED_PAIRS])
def test_forward_matches_published_pairs(pair: tuple) -> None:
    wgs_lng, wgs_lat, gcj_lng, gcj_lat, _ = pair
    lng, lat = wgs84_to_gcj02(wgs_lng, wgs_lat)
    assert distance_m(float(lng), float(lat), gcj_lng, gcj_lat) < 0.01


@pytest.mark.parametrize("pair", PUBLISHED_PAIRS, ids=[p[-1] for p in PUBLISHED_PAIRS])
def test_inverse_matches_published_pairs(pair: tuple) -> None:
    wgs_lng, wgs_lat, gcj_lng, gcj_lat, _ = pair
    lng, lat = gcj02_to_wgs84(gcj_lng, gcj_lat)
    assert distance_m(float(lng), float(lat), wgs_lng, wgs_lat) < 1.0


def test_vectorised_inverse_matches_scalar_calls() -> None:
    gcj = np.array([[p[2], p[3]] for p in PUBLISHED_PAIRS])
    lng, lat = gcj02_to_wgs84(gcj[:, 0], gcj[:, 1])
    for i, pair in enumerate(PUBLISHED_PAIRS):
        assert distance_m(lng[i], lat[i], pair[0], pair[1]) < 1.0


def test_offset_in_guiyang_is_a_few_hundred_metres() -> None:
    lng, lat = wgs84_to_gcj02(106.63, 26.65)
    assert 100 < distance_m(106.63, 26.65, float(lng), float(lat)) < 1000


@pytest.mark.parametrize("point", [(2.35, 48.85), (-74.0, 40.7), (140.0, 35.7), (100.0, -5.0)])
def test_outside_china_is_unchanged(point: tuple[float, float]) -> None:
    assert not in_china(*point)
    assert tuple(map(float, wgs84_to_gcj02(*point))) == point
    assert tuple(map(float, gcj02_to_wgs84(*point))) == point


@settings(max_examples=200, deadline=None)
@given(
    lng=st.floats(min_value=73.0, max_value=135.0),
    lat=st.floats(min_value=4.0, max_value=54.0),
)
def test_round_trip_is_below_a_centimetre(lng: float, lat: float) -> None:
    wgs_lng, wgs_lat = gcj02_to_wgs84(lng, lat)
    back_lng, back_lat = wgs84_to_gcj02(wgs_lng, wgs_lat)
    assert distance_m(float(back_lng), float(back_lat), lng, lat) < 0.01


def test_geometry_round_trip_keeps_the_shape() -> None:
    polygon = shapely.Polygon([(106.6, 26.6), (106.7, 26.6), (106.7, 26.7), (106.6, 26.6)])
    converted = geometry_gcj02_to_wgs84(polygon)
    assert converted.geom_type == "Polygon"
    assert not shapely.equals_exact(converted, polygon, tolerance=1e-4)
    back = geometry_wgs84_to_gcj02(converted)
    assert shapely.equals_exact(back, polygon, tolerance=1e-9)
