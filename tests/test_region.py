"""The typed region: one object for Python, job files and the command line; round trips and errors."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from landcover_sdk import ConfigError, JobSpec, Region

windows = st.tuples(st.integers(-5, 5000), st.integers(-5, 5000), st.integers(1, 5000), st.integers(1, 5000))
finite = st.floats(-1e6, 1e6, allow_nan=False)
bounds = st.tuples(finite, finite, st.floats(1, 1e3), st.floats(1, 1e3)).map(
    lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3]))
regions = st.one_of(
    st.just(Region()),
    windows.map(Region.from_window),
    st.builds(Region.from_bounds, bounds, st.sampled_from([None, "EPSG:4326", "EPSG:26917"])),
    st.builds(lambda b, crs: Region.from_geometry(box(*b), crs), bounds, st.sampled_from([None, "EPSG:4326"])),
    st.builds(Region.around, st.floats(-90, 90), st.floats(-180, 180), st.integers(1, 40).map(lambda k: 128 * k)),
)


@settings(max_examples=150, deadline=None)
@given(region=regions)
def test_every_region_round_trips_through_its_serialised_form(region: Region) -> None:
    data = region.to_dict()
    again = Region.from_dict(data)
    assert again == region and again.kind == region.kind
    assert JobSpec.from_dict({"name": "r", "kind": "evaluate", "outputs": "o", "region": data,
                              "inputs": {"model": "m", "image": "i", "labels": "l"}}).region == region


@pytest.mark.parametrize(("data", "message"), [
    ({"centre_lat": 1.0}, r"region\.centre_lat: unknown key"),
    ({"center_lat": 91.0, "center_lon": 0.0}, r"region\.center_lat: Input should be less than or equal to 90"),
    ({"center_lon": 0.0}, "center_lat and center_lon go together"),
    ({"window": [0, 0, 0, 5]}, r"region\.window\.2: Input should be greater than 0"),
    ({"bounds": [5, 0, 1, 1]}, r"region\.bounds: .* with min < max"),
    ({"crs": "EPSG:4326"}, r"region\.crs: only for bounds or geometry"),
    ({"geometry": {"type": "Polygon", "coordinates": "nope"}}, r"region\.geometry: .*not a GeoJSON geometry"),
    ({"geometry": {"type": "Polygon", "coordinates": []}}, r"region\.geometry: .*empty geometry"),
    ({"window": [0, 0, 5, 5], "center_lat": 1.0, "center_lon": 2.0}, "not window and center_lat/center_lon"),
])
def test_mistakes_are_config_errors_naming_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Region.coerce(data)


def test_constructors_and_coerce() -> None:
    assert Region.coerce(None) == Region.whole() and Region.whole().kind == "whole"
    r = Region.around(37.055522, -78.638640)
    assert r.region_size == 1024 and "1024x1024 px around" in r.describe()
    assert Region.coerce({"window": (1, 2, 3, 4)}) == Region.from_window((1, 2, 3, 4))
    with pytest.raises(ConfigError, match="expected a Region or a mapping, got str"):
        Region.coerce("whole")  # type: ignore[arg-type]
    g = Region.from_geometry(box(0, 0, 10, 5), crs="EPSG:26917")
    assert g.shape().bounds == (0.0, 0.0, 10.0, 5.0) and g.geometry is not None and g.geometry["type"] == "Polygon"
