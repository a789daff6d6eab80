"""A :class:`~landcover_sdk.config.region.Region` resolved against one raster: the pixel window to predict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.features import geometry_mask
from rasterio.windows import transform as window_transform

from ..config.region import Region
from .geo import to_raster_crs as _to_raster_crs
from .geo import window_around
from .geo import window_from_bounds as _window_from_bounds
from .raster import RasterInfo
from .windows import PixelWindow, require_inside


@dataclass(frozen=True)
class RasterRegion:
    """The output window inside a raster, and optionally a geometry (in the raster's CRS) masking it."""

    window: PixelWindow
    geometry: Any = None

    def transform(self, info: RasterInfo) -> Affine:
        """The geotransform of the output window."""
        result: Affine = window_transform(self.window.to_rasterio(), info.transform)
        return result

    def outside(self, info: RasterInfo, block: PixelWindow) -> npt.NDArray[np.bool_] | None:
        """``True`` where a block (in raster pixels) lies outside the geometry, or ``None`` without one."""
        if self.geometry is None:
            return None
        t = window_transform(block.to_rasterio(), info.transform)
        out: npt.NDArray[np.bool_] = geometry_mask([self.geometry], out_shape=(block.height, block.width),
                                                   transform=t)
        return out


def resolve_region(info: RasterInfo, region: Region | None = None, *, margin: int = 64) -> RasterRegion:
    """The pixel window (and mask geometry) of ``region`` in a raster; ``None`` is the whole raster.

    Args:
        info: the raster's header (:func:`~landcover_sdk.data.read_info`).
        region: the region of interest; ``None`` or an empty :class:`Region` is the whole raster.
        margin: pixels of real imagery a tutorial region (``center_lat``/``center_lon``) needs
            around it inside the raster (the model's margin, 64).

    Raises:
        WindowError: a pixel window that is not inside the raster.
        CoordinateError: bounds or a geometry that miss the raster, a point outside it, or a
            tutorial region whose margin does not fit.
    """
    region = region or Region()
    if region.window is not None:
        win = PixelWindow(*region.window)
        require_inside(win, info.height, info.width, info.path)
        return RasterRegion(win)
    if region.bounds is not None:
        tr = _to_raster_crs(info, region.crs)
        bounds = tr.transform_bounds(*region.bounds, densify_pts=21) if tr is not None else region.bounds
        return RasterRegion(_window_from_bounds(info, bounds, "bounds"))
    if region.geometry is not None:
        import shapely

        tr = _to_raster_crs(info, region.crs)
        geometry = region.shape()
        geom = shapely.transform(geometry, lambda x, y: tr.transform(x, y), interleaved=False) if tr else geometry
        return RasterRegion(_window_from_bounds(info, geom.bounds, "geometry bounds"), geometry=geom)
    if region.center_lat is not None and region.center_lon is not None:
        return RasterRegion(window_around(info, region.center_lat, region.center_lon, region.region_size,
                                          margin=margin))
    return RasterRegion(PixelWindow(0, 0, info.height, info.width))
