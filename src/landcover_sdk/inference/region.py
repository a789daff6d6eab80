"""Regions of interest: a pixel window, bounds or a geometry in any CRS, or the tutorial's centre + size."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.features import geometry_mask
from rasterio.windows import from_bounds
from rasterio.windows import transform as window_transform

from ..data.raster import RasterInfo, centred_window
from ..data.windows import PixelWindow, check_size, require_inside
from ..errors import CoordinateError, WindowError

TUTORIAL_BLOCK = 128


@dataclass(frozen=True)
class Region:
    """The output window inside a raster, and optionally a geometry (raster CRS) masking it."""

    window: PixelWindow
    geometry: Any = None

    def transform(self, info: RasterInfo) -> Any:
        """The geotransform of the output window."""
        return window_transform(self.window.to_rasterio(), info.transform)

    def mask(self, info: RasterInfo, block: PixelWindow) -> npt.NDArray[np.bool_] | None:
        """``True`` where a block (in raster pixels) lies outside the geometry, or ``None``."""
        if self.geometry is None:
            return None
        t = window_transform(block.to_rasterio(), info.transform)
        out: npt.NDArray[np.bool_] = geometry_mask([self.geometry], out_shape=(block.height, block.width),
                                                   transform=t)
        return out


def _to_raster_crs(info: RasterInfo, crs: CRS | str | None) -> Transformer | None:
    if crs is None:
        return None
    if info.crs is None:
        raise CoordinateError(f"{info.path}: raster has no CRS; cannot use coordinates in {crs}")
    src = CRS.from_user_input(crs)
    if src == info.crs:
        return None
    return Transformer.from_crs(src, info.crs, always_xy=True)


def _window_from_bounds(info: RasterInfo, bounds: tuple[float, float, float, float], what: str) -> PixelWindow:
    win = from_bounds(*bounds, transform=info.transform)
    r0, c0 = math.floor(win.row_off + 1e-9), math.floor(win.col_off + 1e-9)
    r1 = math.ceil(win.row_off + win.height - 1e-9)
    c1 = math.ceil(win.col_off + win.width - 1e-9)
    full = PixelWindow(r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))
    inner = full.intersect(info.height, info.width) if full.height and full.width else None
    if inner is None:
        raise CoordinateError(f"{what} {tuple(round(b, 3) for b in bounds)} does not overlap {info.path}")
    return inner


def resolve_region(
    info: RasterInfo,
    *,
    window: PixelWindow | tuple[int, int, int, int] | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    geometry: Any = None,
    crs: CRS | str | None = None,
    center: tuple[float, float] | None = None,
    region_size: int = 1024,
    margin: int = 64,
) -> Region:
    """Turn one way of naming a region into an output window (whole raster when none is given).

    * ``window``: pixel window ``(row, col, height, width)``, inside the raster;
    * ``bounds``: ``(minx, miny, maxx, maxy)`` in ``crs`` (default the raster's CRS);
    * ``geometry``: a shapely geometry in ``crs``; pixels outside it become no data;
    * ``center``: ``(latitude, longitude)`` and ``region_size`` (a multiple of 128): the tutorial's
      square region, which needs a ``margin``-pixel border of real imagery inside the raster.
    """
    given = [n for n, v in (("window", window), ("bounds", bounds), ("geometry", geometry), ("center", center))
             if v is not None]
    if len(given) > 1:
        raise WindowError(f"give one region, not {' and '.join(given)}")
    if window is not None:
        win = window if isinstance(window, PixelWindow) else PixelWindow(*window)
        require_inside(win, info.height, info.width, info.path)
        return Region(win)
    if bounds is not None:
        tr = _to_raster_crs(info, crs)
        if tr is not None:
            bounds = tr.transform_bounds(*bounds, densify_pts=21)
        return Region(_window_from_bounds(info, bounds, "bounds"))
    if geometry is not None:
        import shapely

        if not isinstance(geometry, shapely.Geometry) or geometry.is_empty:
            raise WindowError("geometry: must be a non-empty shapely geometry")
        tr = _to_raster_crs(info, crs)
        geom = shapely.transform(geometry, lambda x, y: tr.transform(x, y), interleaved=False) if tr else geometry
        return Region(_window_from_bounds(info, geom.bounds, "geometry bounds"), geometry=geom)
    if center is not None:
        size = check_size(region_size, "region_size")
        if size % TUTORIAL_BLOCK:
            raise WindowError(f"region_size: {size} is not a multiple of {TUTORIAL_BLOCK}")
        lat, lon = center
        return Region(centred_window(info, lat, lon, size, margin=margin))
    return Region(PixelWindow(0, 0, info.height, info.width))
