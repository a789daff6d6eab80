"""Geodesy in one place: WGS84 and other CRSs to raster pixels and back, bounds to windows, geometries between CRSs.

:class:`RasterGeo` is a raster's place on the Earth (CRS, geotransform, shape) with its coordinate transformers
built once; the functions below it are the SDK's older entry points (re-exported from :mod:`~landcover_sdk.data.raster`,
:mod:`~landcover_sdk.data.region` and :mod:`~landcover_sdk.imagery.plan`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any, Protocol

import pyproj
from affine import Affine
from pyproj import Transformer
from pyproj.exceptions import ProjError
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.windows import from_bounds

from ..errors import ConfigError, CoordinateError, InvalidRasterError
from .windows import PixelWindow

__all__ = ["DENSIFY_POINTS", "WGS84", "GridInfo", "RasterGeo", "latlon_to_pixel", "pixel_to_latlon", "project_bounds",
           "reproject_geometry", "to_raster_crs", "transformer", "window_around", "window_from_bounds"]

WGS84 = "EPSG:4326"
#: Points added along each edge of a box before it is projected (straight edges bend in another CRS).
DENSIFY_POINTS = 21


class GridInfo(Protocol):
    """What geodesy needs of a raster header (:class:`~landcover_sdk.data.raster.RasterInfo` has it)."""

    @property
    def path(self) -> str: ...  # noqa: D102
    @property
    def crs(self) -> CRS | None: ...  # noqa: D102
    @property
    def transform(self) -> Affine: ...  # noqa: D102
    @property
    def height(self) -> int: ...  # noqa: D102
    @property
    def width(self) -> int: ...  # noqa: D102


@functools.lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(pyproj.CRS.from_user_input(src), pyproj.CRS.from_user_input(dst), always_xy=True)


def transformer(src: CRS | str, dst: CRS | str) -> Transformer:
    """A cached ``always_xy`` transformer from ``src`` to ``dst`` (building one costs milliseconds).

    pyproj transformers may be shared between threads (each call takes the transformer's own context).

    Args:
        src: the source CRS.
        dst: the target CRS.
    """
    return _transformer(_key(src), _key(dst))


def _key(crs: CRS | str) -> str:
    # a string goes to pyproj as given and a CRS object as its WKT, which is what pyproj made of either before
    # the transformers were cached: the same pipelines (datum shifts included), hence the same numbers
    return crs if isinstance(crs, str) else crs.to_wkt()


class RasterGeo:
    """A raster's place on the Earth: its CRS, geotransform and shape, with cached transformers.

    Args:
        crs: the raster's CRS.
        transform: its geotransform.
        shape: ``(height, width)`` in pixels.
    """

    def __init__(self, crs: CRS | str, transform: Affine, shape: tuple[int, int]) -> None:
        self.crs = CRS.from_user_input(crs)
        self.transform = transform
        self.height, self.width = int(shape[0]), int(shape[1])
        self._from_wgs84 = transformer(WGS84, self.crs)
        self._to_native: dict[str, Transformer | None] = {}

    def __repr__(self) -> str:
        return f"RasterGeo({self.crs.to_string()!r}, {tuple(self.transform)[:6]}, ({self.height}, {self.width}))"

    @property
    def native_bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in the raster's CRS (a north-up raster)."""
        t = self.transform
        return t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f

    def bounds(self, crs: CRS | str = WGS84) -> tuple[float, float, float, float]:
        """The raster's bounds in ``crs``, its edges densified.

        Args:
            crs: the CRS wanted (default WGS84: ``(min lon, min lat, max lon, max lat)``).
        """
        return project_bounds(self.native_bounds, self.crs, crs)

    def pixel(self, lon: float, lat: float) -> tuple[int, int]:
        """The pixel ``(row, col)`` holding a WGS84 position.

        Args:
            lon: longitude.
            lat: latitude.

        Raises:
            CoordinateError: not a WGS84 position, or outside the raster.
        """
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise CoordinateError(f"lon/lat: ({lon}, {lat}) is not a WGS84 position")
        x, y = self._from_wgs84.transform(lon, lat)
        t = self.transform
        if not (math.isfinite(x) and math.isfinite(y)):
            raise CoordinateError(f"lon/lat: ({lon}, {lat}) is outside the raster")
        r, c = math.floor((y - t.f) / t.e), math.floor((x - t.c) / t.a)
        if not (0 <= r < self.height and 0 <= c < self.width):
            raise CoordinateError(f"lon/lat: ({lon}, {lat}) is outside the raster")
        return r, c

    def window(self, bounds: Sequence[float], crs: CRS | str | None = None, grow: int = 0) -> PixelWindow | None:
        """The raster pixels a box covers (plus ``grow`` on every side), clipped to the raster; ``None`` off it.

        Args:
            bounds: ``(left, bottom, right, top)`` in ``crs``.
            crs: the box's CRS (``None``: the raster's).
            grow: pixels added on every side (for resampling).
        """
        if crs is not None:
            key = _key(crs)
            if key not in self._to_native:  # tiles ask thousands of times: no CRS parsing per call
                same = CRS.from_user_input(crs) == self.crs
                self._to_native[key] = None if same else transformer(crs, self.crs)
            tr = self._to_native[key]
            if tr is not None:
                bounds = _project(tr, bounds)
        left, bottom, right, top = bounds
        if not all(math.isfinite(v) for v in bounds):
            return None
        t = self.transform
        c0 = math.floor((left - t.c) / t.a) - grow
        c1 = math.ceil((right - t.c) / t.a) + grow
        r0 = math.floor((top - t.f) / t.e) - grow
        r1 = math.ceil((bottom - t.f) / t.e) + grow
        return PixelWindow(r0, c0, max(0, r1 - r0), max(0, c1 - c0)).intersect(self.height, self.width)


def project_bounds(bounds: Sequence[float], src: CRS | str, dst: CRS | str) -> tuple[float, float, float, float]:
    """A box's bounds after projection, its edges densified (:data:`DENSIFY_POINTS` per edge).

    Bitwise equal to ``rasterio.warp.transform_bounds(..., densify_pts=21)`` and the tile service's former
    hand-rolled densifier (checked on 4000 random boxes), and with the cached transformer about 0.04 ms
    instead of 30 ms.

    Args:
        bounds: ``(left, bottom, right, top)`` in ``src``.
        src: the box's CRS.
        dst: the CRS wanted.

    Returns:
        The projected bounds; all ``inf`` where the box cannot be projected.
    """
    return _project(transformer(src, dst), bounds)


def _project(tr: Transformer, bounds: Sequence[float]) -> tuple[float, float, float, float]:
    left, bottom, right, top = (float(v) for v in bounds)
    try:
        out = tr.transform_bounds(left, bottom, right, top, densify_pts=DENSIFY_POINTS)
    except ProjError:
        return math.inf, math.inf, math.inf, math.inf
    return float(out[0]), float(out[1]), float(out[2]), float(out[3])


def latlon_to_pixel(lat: float, lon: float, crs: CRS | str, transform: Affine) -> tuple[float, float]:
    """Fractional ``(row, col)`` of a WGS84 latitude/longitude in a raster's CRS and grid.

    Args:
        lat: WGS84 latitude.
        lon: WGS84 longitude.
        crs: the raster's CRS.
        transform: the raster's geotransform.

    Raises:
        CoordinateError: not a WGS84 coordinate.
    """
    if not (-90.0 <= lat <= 90.0) or not (-180.0 <= lon <= 180.0) or not (math.isfinite(lat) and math.isfinite(lon)):
        raise CoordinateError(f"latitude {lat}, longitude {lon}: not a valid WGS84 coordinate")
    x, y = transformer(WGS84, crs).transform(lon, lat)
    col, row = ~transform @ (x, y)
    return float(row), float(col)


def pixel_to_latlon(row: float, col: float, crs: CRS | str, transform: Affine) -> tuple[float, float]:
    """WGS84 ``(lat, lon)`` of a fractional pixel position.

    Args:
        row: fractional pixel row.
        col: fractional pixel column.
        crs: the raster's CRS.
        transform: the raster's geotransform.
    """
    x, y = transform @ (col, row)
    lon, lat = transformer(crs, WGS84).transform(x, y)
    return float(lat), float(lon)


def window_around(info: GridInfo, lat: float, lon: float, size: int, *, margin: int = 0) -> PixelWindow:
    """The ``size`` × ``size`` window around a latitude/longitude (the tutorial's ``region_dim``).

    Args:
        info: the raster's header.
        lat: WGS84 latitude of the region's centre.
        lon: WGS84 longitude of the region's centre.
        size: side of the square window in pixels.
        margin: pixels of real imagery the window needs on every side.

    Raises:
        InvalidRasterError: the raster has no CRS.
        CoordinateError: the point is outside the raster, or the window plus ``margin`` on every side does
            not fit inside it.
    """
    if info.crs is None:
        raise InvalidRasterError(info.path, "raster has no CRS; cannot locate a latitude/longitude")
    row, col = latlon_to_pixel(lat, lon, info.crs, info.transform)
    r0 = math.floor(row) - size // 2
    c0 = math.floor(col) - size // 2
    win = PixelWindow(r0, c0, size, size)
    if not (0 <= row < info.height and 0 <= col < info.width):
        raise CoordinateError(
            f"latitude {lat}, longitude {lon} is outside {info.path} (pixel row {row:.1f}, col {col:.1f} of "
            f"{info.height}x{info.width})"
        )
    if not win.grow(margin).inside(info.height, info.width):
        raise CoordinateError(
            f"latitude {lat}, longitude {lon}: a {size}x{size} region with a {margin}-pixel margin "
            f"(rows {r0 - margin}..{r0 + size + margin}, cols {c0 - margin}..{c0 + size + margin}) "
            f"does not fit inside {info.path} ({info.height}x{info.width})"
        )
    return win


def to_raster_crs(info: GridInfo, crs: str | None) -> Transformer | None:
    """The transformer from ``crs`` to the raster's CRS; ``None`` when no CRS is given or it is the raster's.

    Args:
        info: the raster's header.
        crs: the CRS coordinates are given in.

    Raises:
        CoordinateError: the raster has no CRS.
        ConfigError: ``crs`` is not a CRS.
    """
    if crs is None:
        return None
    if info.crs is None:
        raise CoordinateError(f"{info.path}: raster has no CRS; cannot use coordinates in {crs}")
    try:
        src = CRS.from_user_input(crs)
    except CRSError as exc:
        raise ConfigError(f"region.crs: {crs!r} is not a coordinate reference system ({exc})") from exc
    if src == info.crs:
        return None
    return transformer(src, info.crs)


def window_from_bounds(info: GridInfo, bounds: Sequence[float], what: str) -> PixelWindow:
    """The raster pixels a box in the raster's CRS touches, clipped to the raster.

    Args:
        info: the raster's header.
        bounds: ``(left, bottom, right, top)`` in the raster's CRS.
        what: the box's name in messages.

    Raises:
        CoordinateError: the box misses the raster.
    """
    win = from_bounds(*bounds, transform=info.transform)
    r0, c0 = math.floor(win.row_off + 1e-9), math.floor(win.col_off + 1e-9)
    r1 = math.ceil(win.row_off + win.height - 1e-9)
    c1 = math.ceil(win.col_off + win.width - 1e-9)
    full = PixelWindow(r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))
    inner = full.intersect(info.height, info.width) if full.height and full.width else None
    if inner is None:
        raise CoordinateError(f"{what} {tuple(round(b, 3) for b in bounds)} does not overlap {info.path}")
    return inner


def reproject_geometry(geometry: Any, src: CRS, dst: CRS) -> Any:
    """A shapely geometry from ``src`` to ``dst``, its edges densified first (straight lines bend in another CRS).

    Args:
        geometry: the geometry.
        src: its CRS.
        dst: the CRS wanted.
    """
    import shapely

    if src == dst:
        return geometry
    tr = transformer(src, dst)
    dense = shapely.segmentize(geometry, _segment(geometry))
    return shapely.transform(dense, lambda x, y: tr.transform(x, y), interleaved=False)


def _segment(geometry: Any) -> float:
    minx, miny, maxx, maxy = geometry.bounds
    return float(max(maxx - minx, maxy - miny, 1e-9)) / 20
