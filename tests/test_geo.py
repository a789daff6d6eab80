"""landcover_sdk.data.geo (one geodesy module) and landcover_sdk.models.locate (one way to find a model)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.warp import transform_bounds

from landcover_sdk._util import sha256_file
from landcover_sdk.data.geo import RasterGeo, latlon_to_pixel, pixel_to_latlon, project_bounds
from landcover_sdk.errors import CoordinateError, ModelFormatError
from landcover_sdk.models.builtin import BUILTIN_MODELS, builtin_model
from landcover_sdk.models.locate import local_model, model_identity

UTM18 = "EPSG:26918"
GRID = RasterGeo(UTM18, Affine(1.0, 0.0, 400000.0, 0.0, -1.0, 4300000.0), (2000, 3000))


@settings(max_examples=60, deadline=None)
@given(x=st.floats(-77.5, -75.5), y=st.floats(37.5, 39.5), w=st.floats(1e-5, 0.2), h=st.floats(1e-5, 0.2))
def test_project_bounds_is_rasterio_transform_bounds(x: float, y: float, w: float, h: float) -> None:
    box = (x, y, x + w, y + h)
    assert project_bounds(box, "EPSG:4326", UTM18) == transform_bounds("EPSG:4326", UTM18, *box, densify_pts=21)


def test_raster_geo_pixel_window_and_bounds_agree() -> None:
    west, south, east, north = GRID.bounds()
    lon, lat = (west + east) / 2, (south + north) / 2
    row, col = GRID.pixel(lon, lat)
    frow, fcol = latlon_to_pixel(lat, lon, UTM18, GRID.transform)
    assert (row, col) == (math.floor(frow), math.floor(fcol))
    back = pixel_to_latlon(frow, fcol, UTM18, GRID.transform)
    assert back == pytest.approx((lat, lon), abs=1e-9)
    assert GRID.window(GRID.native_bounds) is not None
    whole = GRID.window((west, south, east, north), "EPSG:4326")
    assert whole is not None and (whole.height, whole.width) == (2000, 3000)
    assert GRID.window((10.0, 10.0, 11.0, 11.0), "EPSG:4326") is None  # far off the raster
    with pytest.raises(CoordinateError):
        GRID.pixel(200.0, 0.0)
    with pytest.raises(CoordinateError):
        GRID.pixel(0.0, 0.0)


def test_local_model_and_identity(tmp_path: Path) -> None:
    name = next(iter(BUILTIN_MODELS))
    assert local_model(f"builtin:{name}") == builtin_model(name).path
    f = tmp_path / "m.onnx"
    f.write_bytes(b"not really a model")
    assert local_model(str(f)) == f and local_model(f"file://{f}") == f and local_model(f) == f
    assert model_identity(f) == sha256_file(f) == model_identity(str(f))
    with pytest.raises(ModelFormatError, match="no such built-in model"):
        local_model("builtin:nope")
