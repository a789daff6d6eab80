"""The Web-Mercator side of the tile service: which native pixels a tile covers, and PNGs of them.

* :class:`TileGeometry` — the raster's place on the web map: bounds, native zoom, the native pixel
  window of a tile or a WGS84 box, the pixel of a longitude/latitude;
* :class:`TileRenderer` — a tile's PNG from native pixels: imagery (decimated reads from overviews
  below the native zoom), a precomputed class COG, or predicted classes / probabilities; plus the
  "zoom in" tile.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from PIL import Image, ImageDraw
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.warp import reproject

from .._redact import public_url
from ..config.schemes import ClassScheme
from ..data.geo import RasterGeo
from ..data.raster import RasterInfo, gdal_path, open_raster, read_info, read_window, valid_mask
from ..data.windows import PixelWindow
from ..errors import DataError, WindowError
from ..inference import soft_labels

TILE = 256
WEB_MERCATOR = CRS.from_epsg(3857)
#: Imagery (and a precomputed class COG) are served down to this many zooms below native, from overviews.
PRECOMPUTED_MIN_ZOOM_STEPS = 8

_TMS = morecantile.tms.get("WebMercatorQuad")

# rasterio's reproject of arrays (transforms given) can warn about its own in-memory dataset when tiles are
# warped on several threads at once; ``warnings.catch_warnings`` is not thread-safe, so the filter is global
# and matches only that message.
warnings.filterwarnings("ignore", message="Dataset has no geotransform", category=NotGeoreferencedWarning)


class TileGeometry:
    """Where a north-up raster lies on the web map.

    Args:
        info: the raster's grid (a CRS is required).
        source: the raster's name in messages.

    Raises:
        DataError: a rotated or flipped raster.
    """

    def __init__(self, info: RasterInfo, source: str) -> None:
        self.info = info
        t = info.transform
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
            raise DataError(f"{source}: rotated or flipped rasters are not served (transform {tuple(t)[:6]})")
        self.geo = RasterGeo(info.crs, t, (info.height, info.width))
        self.bounds = self.geo.bounds("EPSG:4326")
        self._mercator_bounds = self.geo.bounds(WEB_MERCATOR)
        self.native_zoom = _native_zoom(abs(t.a), (self.bounds[1] + self.bounds[3]) / 2)

    def tile_window(self, z: int, x: int, y: int) -> PixelWindow | None:
        """The native pixels tile ``z/x/y`` covers (plus two for resampling), or ``None`` off the raster.

        Args:
            z: zoom.
            x: tile column.
            y: tile row.
        """
        b = _TMS.xy_bounds(morecantile.Tile(x, y, z))
        w, s, e, n = self._mercator_bounds
        if b.left >= e or b.right <= w or b.bottom >= n or b.top <= s:
            return None  # answered without any projection: tiles off the raster cost nothing
        return self.geo.window((b.left, b.bottom, b.right, b.top), WEB_MERCATOR, grow=2)

    def bbox_window(self, bbox: Sequence[float]) -> PixelWindow:
        """The native pixels a WGS84 box covers.

        Args:
            bbox: ``(min lon, min lat, max lon, max lat)``.

        Raises:
            WindowError: not a box, or off the raster.
        """
        if len(bbox) != 4 or not all(math.isfinite(v) for v in bbox) or bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
            raise WindowError(f"bbox: {list(bbox)} is not min lon, min lat, max lon, max lat")
        window = self.geo.window(tuple(bbox), "EPSG:4326")
        if window is None:
            raise WindowError(f"bbox: {list(bbox)} does not overlap the raster")
        return window

    def pixel(self, lon: float, lat: float) -> tuple[int, int]:
        """The raster pixel ``(row, col)`` of a WGS84 position.

        Args:
            lon: longitude.
            lat: latitude.

        Raises:
            CoordinateError: not a position, or outside the raster.
        """
        return self.geo.pixel(lon, lat)


class TileRenderer:
    """PNG tiles of one raster (and, optionally, its precomputed class COG) in a class scheme's colours.

    Args:
        geometry: the raster's place on the map.
        scheme: the classes and colours.
        path: the raster as GDAL opens it.
        name: the raster's public name (no query string) for messages.
        env: the GDAL environment to read in.
        precomputed: a checked class COG (see :func:`check_precomputed`), or ``None``.
    """

    def __init__(self, geometry: TileGeometry, scheme: ClassScheme, path: str, name: str,
                 env: Callable[[], rasterio.Env], precomputed: str | None = None) -> None:
        self.geometry, self.info, self.scheme = geometry, geometry.info, scheme
        self._path, self._name, self._env, self.precomputed = path, name, env, precomputed
        self._local = threading.local()

    def dataset(self) -> Any:
        """This thread's handle on the imagery (rasterio handles are not shared between threads)."""
        return self._handle("ds", self._path)

    def _handle(self, slot: str, path: str) -> Any:
        ds = getattr(self._local, slot, None)
        if ds is None:
            opener = open_raster(path)
            with self._env():
                ds = opener.__enter__()
            setattr(self._local, slot + "_opener", opener)  # the opener closes the handle when it goes
            setattr(self._local, slot, ds)
        return ds

    def _read_scaled(self, ds: Any, window: PixelWindow, bands: int | list[int], z: int,
                     resampling: Resampling) -> tuple[npt.NDArray[Any], Affine]:
        """``window`` read at about twice the tile's resolution (GDAL uses overviews), and its transform."""
        factor = 2 ** max(0, self.geometry.native_zoom - z - 1)
        h, w = max(1, math.ceil(window.height / factor)), max(1, math.ceil(window.width / factor))
        shape = (h, w) if isinstance(bands, int) else (len(bands), h, w)
        data = ds.read(bands, window=window.to_rasterio(), out_shape=shape, resampling=resampling)
        transform = (self.info.transform @ Affine.translation(window.col, window.row)
                     @ Affine.scale(window.width / w, window.height / h))
        return np.asarray(data), transform

    def _warp(self, array: npt.NDArray[Any], z: int, x: int, y: int, src_transform: Affine,
              resampling: Resampling, fill: float = 0) -> npt.NDArray[Any]:
        b = _TMS.xy_bounds(morecantile.Tile(x, y, z))
        dst_transform = rasterio.transform.from_bounds(b.left, b.bottom, b.right, b.top, TILE, TILE)
        bands = array if array.ndim == 3 else array[None]
        dst = np.full((bands.shape[0], TILE, TILE), fill, dtype=bands.dtype)
        # tolerance 0: the exact transformer, so neighbouring tiles sample the native grid identically
        reproject(bands, dst, src_transform=src_transform, src_crs=self.info.crs, dst_transform=dst_transform,
                  dst_crs=WEB_MERCATOR, resampling=resampling, tolerance=0)
        return dst if array.ndim == 3 else dst[0]

    def _origin(self, window: PixelWindow) -> Affine:
        return self.info.transform @ Affine.translation(window.col, window.row)

    def naip(self, z: int, x: int, y: int, window: PixelWindow) -> bytes:
        """The imagery tile (RGB, transparent where the imagery has no data).

        Args:
            z: zoom.
            x: tile column.
            y: tile row.
            window: the native pixels it covers.
        """
        coarse, src_transform = z < self.geometry.native_zoom, self._origin(window)
        with self._env():
            ds = self.dataset()
            if coarse:  # decimated read: GDAL takes the overviews, and a z-8 tile is not 60k² pixels
                rgbn, src_transform = self._read_scaled(ds, window, [1, 2, 3, 4], z, Resampling.average)
                valid = np.ones(rgbn.shape[1:], bool) if ds.nodata is None else (rgbn != ds.nodata).any(axis=0)
            else:
                rgbn = read_window(ds, window, bands=[1, 2, 3, 4], source=self._name)
                valid = valid_mask(ds, window, rgbn, [1, 2, 3, 4])
        rgb = self._warp(np.ascontiguousarray(rgbn[:3]), z, x, y, src_transform,
                         Resampling.average if coarse else Resampling.bilinear)
        alpha = self._warp(valid.astype(np.uint8), z, x, y, src_transform, Resampling.nearest) * 255
        return _png(Image.fromarray(np.dstack([*rgb, alpha]).astype(np.uint8), "RGBA"))

    def precomputed_hard(self, z: int, x: int, y: int, window: PixelWindow) -> bytes:
        """The hard tile from the precomputed class COG (no model run).

        Args:
            z: zoom.
            x: tile column.
            y: tile row.
            window: the native pixels it covers.
        """
        assert self.precomputed is not None
        coarse, src_transform = z < self.geometry.native_zoom, self._origin(window)
        with self._env():
            cog = self._handle("cog", self.precomputed)
            if coarse:
                classes, src_transform = self._read_scaled(cog, window, 1, z, Resampling.mode)
            else:
                classes = read_window(cog, window, bands=1, source=str(self.precomputed))
        return self.hard_png(self._warp(classes, z, x, y, src_transform,
                                        Resampling.mode if coarse else Resampling.nearest))

    def hard(self, z: int, x: int, y: int, window: PixelWindow, classes: npt.NDArray[np.uint8]) -> bytes:
        """The hard tile from predicted class ids of ``window``.

        Args:
            z: zoom.
            x: tile column.
            y: tile row.
            window: the native pixels.
            classes: their class ids.
        """
        coarse = z < self.geometry.native_zoom
        return self.hard_png(self._warp(classes, z, x, y, self._origin(window),
                                        Resampling.mode if coarse else Resampling.nearest))

    def soft(self, z: int, x: int, y: int, window: PixelWindow, probabilities: npt.NDArray[Any],
             valid: npt.NDArray[np.bool_]) -> bytes:
        """The soft tile: bilinear probabilities blended in the class colours, transparent where invalid.

        Args:
            z: zoom.
            x: tile column.
            y: tile row.
            window: the native pixels.
            probabilities: their ``(C, h, w)`` probabilities.
            valid: their validity.
        """
        coarse, src = z < self.geometry.native_zoom, self._origin(window)
        warped = self._warp(probabilities, z, x, y, src, Resampling.average if coarse else Resampling.bilinear)
        rgb = soft_labels(warped, self.scheme)
        alpha = self._warp(valid.astype(np.uint8), z, x, y, src, Resampling.nearest) * 255
        return _png(Image.fromarray(np.dstack([rgb, alpha]).astype(np.uint8), "RGBA"))

    def hard_png(self, classes: npt.NDArray[np.uint8]) -> bytes:
        """Class ids as a palette PNG in the scheme's colours, the no-data class transparent.

        Args:
            classes: ``(h, w)`` class ids.
        """
        image = Image.fromarray(np.ascontiguousarray(classes, dtype=np.uint8), "P")
        palette = np.zeros((256, 3), np.uint8)
        palette[: self.scheme.num_classes] = self.scheme.colors
        image.putpalette(palette.tobytes())
        image.info["transparency"] = 0 if self.scheme.nodata_class == 0 else 255
        return _png(image)


_ZOOM_IN: list[bytes] = []


def zoom_in_png() -> bytes:
    """The tile served below the minimum zoom: transparent, with a "zoom in" hint (made once per process)."""
    if not _ZOOM_IN:
        image = Image.new("RGBA", (TILE, TILE), (255, 255, 255, 0))
        pen = ImageDraw.Draw(image)
        pen.rectangle((78, 114, 178, 142), fill=(255, 255, 255, 170))
        pen.text((128, 128), "zoom in", fill=(60, 60, 60, 255), anchor="mm")
        _ZOOM_IN.append(_png(image))
    return _ZOOM_IN[0]


def check_precomputed(path: str | Path, info: RasterInfo, env: Callable[[], rasterio.Env]) -> str:
    """A class COG on exactly this imagery's grid (as ``landcover predict`` writes it), or an error naming it.

    Args:
        path: the class COG.
        info: the imagery's grid.
        env: the GDAL environment to read in.

    Raises:
        DataError: another grid, or not one uint8 band.
    """
    local = gdal_path(path)
    with env():
        cog = read_info(local)
    differs = [what for what, a, b in (("size", (cog.height, cog.width), (info.height, info.width)),
                                       ("CRS", cog.crs, info.crs),
                                       ("transform", cog.transform, info.transform)) if a != b]
    if differs:
        verb = "differ" if len(differs) > 1 else "differs"
        raise DataError(f"{public_url(str(path))}: the precomputed classes are not on the imagery's grid "
                        f"({' and '.join(differs)} {verb}); predict the whole image with `landcover predict`")
    if cog.count != 1 or cog.dtypes[0] != "uint8":
        raise DataError(f"{public_url(str(path))}: not a class raster (one uint8 band)")
    return local


def _native_zoom(cell_size: float, lat: float) -> int:
    """The smallest Web-Mercator zoom whose ground pixel is no larger than the raster's cell."""
    ground_z0 = 2 * math.pi * 6378137.0 / TILE * math.cos(math.radians(lat))
    return max(0, min(24, math.ceil(math.log2(ground_z0 / cell_size))))


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
