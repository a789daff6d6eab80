"""Invariants of the imagery planning and scrubbing, over many places and tokens (hypothesis; no network)."""

from __future__ import annotations

import math

from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS

from landcover_sdk import Region
from landcover_sdk.data.raster import RasterInfo, window_around
from landcover_sdk.imagery.mosaic import scrub
from landcover_sdk.imagery.plan import lattice_offset, locate, plan_grid

UTM17 = CRS.from_epsg(26917)
TILE = Affine(1.0, 0.0, 708_000.0, 0.0, -1.0, 4_105_600.0)  # a 1 m NAIP-like tile, integer-metre origin
INFO = RasterInfo("tile.tif", 6000, 6000, 4, ("uint8",) * 4, UTM17, TILE, None, {})


@settings(max_examples=60, deadline=None)
@given(dx=st.floats(1500, 4500), dy=st.floats(1500, 4500), blocks=st.integers(1, 8))
def test_a_point_region_lands_on_the_tiles_pixels(dx: float, dy: float, blocks: int) -> None:
    """On a 1 m centre item the scene's region is exactly the local tile's window_around (the parity invariant)."""
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(UTM17, "EPSG:4326", always_xy=True).transform(TILE.c + dx, TILE.f - dy)
    size = 128 * blocks
    region = Region.around(lat, lon, size=size)
    grid = plan_grid(locate(region, resolution=1.0, margin=64), UTM17, TILE, resolution=1.0, margin=64)
    local = window_around(INFO, lat, lon, size)
    assert (grid.inner.height, grid.inner.width) == (size, size) == (local.height, local.width)
    assert (grid.height, grid.width) == (size + 128, size + 128)
    assert grid.transform @ (grid.inner.col, grid.inner.row) == TILE @ (local.col, local.row)
    offset = lattice_offset(TILE, UTM17, grid)
    assert offset == (local.row - 64, local.col - 64)  # copied, never resampled


@settings(max_examples=60, deadline=None)
@given(west=st.floats(-78.9, -78.1), south=st.floats(36.6, 37.4), w=st.floats(0.001, 0.02),
       h=st.floats(0.001, 0.02), res=st.sampled_from([0.6, 1.0, 2.0]))
def test_bounds_regions_are_covered_with_their_margin(west: float, south: float, w: float, h: float,
                                                      res: float) -> None:
    """Every part of the bounds is inside the scene's region window, which sits ``margin`` pixels inside the scene."""
    from rasterio.warp import transform_bounds

    region = Region.from_bounds((west, south, west + w, south + h), "EPSG:4326")
    anchor = Affine(0.6, 0.0, 708_000.0, 0.0, -0.6, 4_105_600.0)
    grid = plan_grid(locate(region, resolution=res, margin=64), UTM17, anchor, resolution=res, margin=64)
    left, bottom, right, top = transform_bounds("EPSG:4326", UTM17, west, south, west + w, south + h, densify_pts=21)
    inner = grid.transform @ Affine.translation(grid.inner.col, grid.inner.row)
    x0, y0 = inner @ (0, 0)
    x1, y1 = inner @ (grid.inner.width, grid.inner.height)
    tol = 1e-6
    assert x0 <= left + tol and y0 >= top - tol and x1 >= right - tol and y1 <= bottom + tol
    assert x1 - x0 < right - left + 2 * res + tol and y0 - y1 < top - bottom + 2 * res + tol  # snapped, not padded
    assert grid.inner.row == grid.inner.col == 64
    assert grid.transform.a == res and math.isclose(grid.transform.c / res, round(grid.transform.c / res))


_TOKEN = st.text(alphabet=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789%-_."),
                 min_size=16, max_size=80)


@settings(max_examples=100, deadline=None)
@given(token=_TOKEN, before=st.text(max_size=30), after=st.text(max_size=30))
def test_scrub_leaves_no_trace_of_a_signature(token: str, before: str, after: str) -> None:
    sas = f"st=2026-11-28T10%3A00%3A00Z&se=2026-11-28T11%3A00%3A00Z&sp=rl&sv=2025-01-05&sr=c&sig={token}"
    for message in (f"{before} HTTP response code on https://naipeuwest.blob.core.windows.net/naip/m.tif?{sas}: 403 "
                    f"{after}", f"{before}m.tif?{sas}, band 1: IReadBlock failed {after}",
                    f"{before}'/vsicurl/http://127.0.0.1:1/a/b.tif?{sas}' not recognized {after}"):
        clean = scrub(message, (sas,))
        assert "sig=" not in clean and "se=" not in clean
        assert not any(token[i:i + 8] in clean for i in range(len(token) - 7) if token[i:i + 8] not in message.replace(
            sas, ""))
