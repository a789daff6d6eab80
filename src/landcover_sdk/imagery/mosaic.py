"""Reading the chosen items into the scene grid, block by block, with plain windowed reads.

Never ``WarpedVRT``, ``rasterio.merge`` or boundless reads: some NAIP COGs tag the NIR band as
*alpha*, and those paths then zero red, green and blue wherever NIR is 0. Each item's raw window
is read with ``DatasetReader.read(window=…)`` and either copied (the item shares the grid's
lattice: same CRS, same pixel size, whole-pixel offset — bit-exact) or warped with
``rasterio.warp.reproject`` on the arrays (another UTM zone, or 0.6/0.3 m pixels), where a
pixel is no data only when all four bands are 0. The first item with a valid pixel wins.

Each read happens under its own GDAL configuration (the access's options, which may carry a
token), on a worker thread of this module, so nothing leaks into the caller's GDAL settings.
A failed read of a signed item is retried once with a renewed credential.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling

from .._redact import first_line, redact, strip_queries
from ..data.windows import PixelWindow
from ..errors import ImageryAccessError, InvalidRasterError
from .access import Access, Opened, public_href
from .items import NaipItem
from .plan import MODEL_BANDS, TargetGrid, band_problem, lattice_offset

log = logging.getLogger(__name__)

#: Side of the blocks the scene is assembled in (memory stays flat whatever the scene's size).
BLOCK = 2048
#: Source pixels read beyond a warped block's footprint, for the resampling kernel.
WARP_PAD = 8
#: Bumped whenever the bytes a request produces change (it is part of the cache key).
MOSAIC_VERSION = 1
#: The warp's error tolerance in source pixels: effectively exact, so a pixel's value does not depend on how the
#: scene is cut into blocks (GDAL's default, 0.125 px, interpolates coordinates across each chunk).
WARP_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ItemHeader:
    """What an item's file header says (read once, before any pixel).

    Attributes:
        crs: the file's CRS.
        transform: its geotransform.
        height: rows.
        width: columns.
        count: bands.
        dtype: data type of band 1.
    """

    crs: CRS
    transform: Affine
    height: int
    width: int
    count: int
    dtype: str

    @property
    def res(self) -> float:
        """Pixel width in CRS units."""
        return float(abs(self.transform.a))


@dataclass
class MosaicStats:
    """What a mosaic took from each item, and how much of the scene is valid.

    Attributes:
        pixels: scene pixels each item (by id) supplied.
        valid: scene pixels with data.
        inner_valid: pixels of the region itself with data.
        reads: windows read.
        retries: reads repeated after a renewed signature.
    """

    pixels: dict[str, int] = field(default_factory=dict)
    valid: int = 0
    inner_valid: int = 0
    reads: int = 0
    retries: int = 0


def default_resampling(headers: Sequence[ItemHeader], resolution: float) -> Resampling:
    """``average`` when any source is finer than the output (0.6/0.3 m → 1 m), else ``bilinear``.

    Args:
        headers: the items' headers.
        resolution: output pixel size.
    """
    finer = any(h.res < resolution * (1 - 1e-6) for h in headers)
    return Resampling.average if finer else Resampling.bilinear


class ItemReader:
    """Reads windows of one item through an :class:`~landcover_sdk.imagery.access.Access`, renewing once on failure.

    Args:
        item: the item.
        access: how its href is opened.
    """

    def __init__(self, item: NaipItem, access: Access) -> None:
        install_log_scrubbing()
        self.item = item
        self.access = access
        self.retries = 0
        self._renewed = False

    def _attempt(self, work: Callable[[Any], Any]) -> Any:
        import rasterio
        from rasterio.errors import RasterioError

        failure: str | None = None
        for attempt in range(2):
            opened = self.access.open(self.item.href, refresh=attempt > 0)
            try:
                with rasterio.Env(**opened.options), rasterio.open(opened.path) as ds:
                    return work(ds)
            except RasterioError as exc:
                failure = _scrub(first_line(exc, limit=None), opened)[:240]  # scrubbed whole, then cut
            if not self.access.signs(self.item.href):
                break
            self.retries += 1
            log.info("%s: read failed (%s); renewing the signature and retrying once", self.item.id, failure)
        assert failure is not None
        if self.access.signs(self.item.href):
            why = "HTTP 403 — SAS token expired or invalid" if "403" in failure else failure
            raise ImageryAccessError(f"{self.item.id}: {why} (after one renewal)")
        raise InvalidRasterError(self.item.id, f"cannot read {public_href(self.item.href)} ({failure})")

    def header(self) -> ItemHeader:
        """The item's CRS, transform, size, band count and type; refuses fewer than 4 bands or no CRS."""
        def read(ds: Any) -> ItemHeader:
            return ItemHeader(ds.crs, ds.transform, ds.height, ds.width, ds.count, ds.dtypes[0])

        head: ItemHeader = self._attempt(read)
        if head.crs is None:
            raise InvalidRasterError(self.item.id, "no CRS in the file")
        if head.count < MODEL_BANDS:
            raise InvalidRasterError(self.item.id, band_problem(head.count))
        if head.dtype != "uint8":
            raise InvalidRasterError(self.item.id, f"data type {head.dtype}; NAIP is uint8")
        return head

    def read(self, window: PixelWindow) -> npt.NDArray[np.uint8]:
        """Bands 1–4 of ``window`` (inside the file), as stored: no masks, no alpha handling.

        Args:
            window: the pixels to read.
        """
        def read(ds: Any) -> npt.NDArray[np.uint8]:
            data: npt.NDArray[np.uint8] = ds.read(list(range(1, MODEL_BANDS + 1)), window=window.to_rasterio())
            return data

        result: npt.NDArray[np.uint8] = self._attempt(read)
        return result


def read_block(reader: ItemReader, head: ItemHeader, grid: TargetGrid, block: PixelWindow,
               resampling: Resampling) -> npt.NDArray[np.uint8] | None:
    """One item's pixels for one block of the grid (0 where it has none), or ``None`` if it does not reach it.

    Args:
        reader: the item's reader.
        head: the item's header.
        grid: the scene grid.
        block: the block, in grid pixels.
        resampling: how warped items are resampled.
    """
    offset = lattice_offset(head.transform, head.crs, grid)
    if offset is not None:
        src = block.shift(*offset).intersect(head.height, head.width)
        if src is None:
            return None
        out = np.zeros((MODEL_BANDS, block.height, block.width), dtype=np.uint8)
        r, c = src.row - offset[0] - block.row, src.col - offset[1] - block.col
        out[:, r:r + src.height, c:c + src.width] = reader.read(src)
        return out
    return _warp_block(reader, head, grid, block, resampling)


def _warp_block(reader: ItemReader, head: ItemHeader, grid: TargetGrid, block: PixelWindow,
                resampling: Resampling) -> npt.NDArray[np.uint8] | None:
    from rasterio.warp import transform_bounds
    from rasterio.windows import from_bounds
    from rasterio.windows import transform as window_transform

    dst_transform = grid.transform @ Affine.translation(block.col, block.row)
    left, top = dst_transform @ (0, 0)
    right, bottom = dst_transform @ (block.width, block.height)
    bounds = transform_bounds(grid.crs, head.crs, left, bottom, right, top, densify_pts=21)
    win = from_bounds(*bounds, transform=head.transform)
    pad = WARP_PAD + math.ceil(grid.transform.a / head.res)
    r0, c0 = math.floor(win.row_off) - pad, math.floor(win.col_off) - pad
    r1, c1 = math.ceil(win.row_off + win.height) + pad, math.ceil(win.col_off + win.width) + pad
    src = PixelWindow(r0, c0, r1 - r0, c1 - c0).intersect(head.height, head.width)
    if src is None:
        return None
    data = reader.read(src)
    return warp_array(data, window_transform(src.to_rasterio(), head.transform), head.crs, dst_transform, grid.crs,
                      (block.height, block.width), resampling, scale=head.res / grid.transform.a)


def warp_array(data: npt.NDArray[np.uint8], src_transform: Affine, src_crs: CRS, dst_transform: Affine,
               dst_crs: CRS, shape: tuple[int, int], resampling: Resampling, *,
               scale: float = 1.0) -> npt.NDArray[np.uint8]:
    """Warp raw ``(bands, h, w)`` pixels onto a grid; a pixel is no data only where every band is 0.

    The result of a pixel does not depend on the extent warped (exact coordinates, a fixed
    resampling scale), so a scene assembled block by block equals one warp of the whole source.
    The pixels go through an in-memory GeoTIFF written without any alpha band, so NIR is data.

    Args:
        data: the source pixels.
        src_transform: their geotransform.
        src_crs: their CRS.
        dst_transform: the output grid's geotransform.
        dst_crs: the output CRS.
        shape: output ``(height, width)``.
        resampling: the resampling.
        scale: output pixels per source pixel (source pixel size ÷ output pixel size).
    """
    from rasterio.io import MemoryFile
    from rasterio.vrt import WarpedVRT

    bands, height, width = data.shape
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=width, height=height, count=bands, dtype=str(data.dtype), crs=src_crs,
                      transform=src_transform, photometric="MINISBLACK") as ds:
            ds.write(data)
        with mem.open() as ds, WarpedVRT(ds, crs=dst_crs, transform=dst_transform, width=shape[1], height=shape[0],
                                         resampling=resampling, tolerance=WARP_TOLERANCE, src_nodata=0, nodata=0,
                                         UNIFIED_SRC_NODATA="YES", XSCALE=scale, YSCALE=scale) as vrt:
            out: npt.NDArray[np.uint8] = vrt.read()
    return out


def mosaic_block(grid: TargetGrid, parts: Sequence[tuple[ItemReader, ItemHeader, Any]], resampling: Resampling,
                 stats: MosaicStats, win: PixelWindow) -> npt.NDArray[np.uint8]:
    """One block of the scene, filled first-valid from the items in order (reading stops once it is full).

    Args:
        grid: the scene grid.
        parts: ``(reader, header, footprint in the grid's CRS)`` per item, best first.
        resampling: how warped items are resampled.
        stats: updated with each item's contribution.
        win: the block, in grid pixels.
    """
    import shapely.geometry

    t = grid.transform @ Affine.translation(win.col, win.row)
    x0, y0 = t @ (0, 0)
    x1, y1 = t @ (win.width, win.height)
    box = shapely.geometry.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    buf = np.zeros((MODEL_BANDS, win.height, win.width), dtype=np.uint8)
    filled = np.zeros((win.height, win.width), dtype=bool)
    for reader, head, footprint in parts:
        if filled.all():
            break
        if footprint is not None and not footprint.intersects(box):
            continue
        data = read_block(reader, head, grid, win, resampling)
        stats.reads += 1
        if data is None:
            continue
        take = ~filled & (data != 0).any(axis=0)
        n = int(take.sum())
        if n:
            buf[:, take] = data[:, take]
            filled |= take
            stats.pixels[reader.item.id] = stats.pixels.get(reader.item.id, 0) + n
    stats.valid += int(filled.sum())
    inner = win.overlap(grid.inner)
    if inner is not None:
        stats.inner_valid += int(filled[inner.shift(-win.row, -win.col).slices()].sum())
    return buf


def scrub(text: str, secrets: Sequence[str] = ()) -> str:
    """``text`` without URL query strings (where SAS signatures travel), signatures or the given secrets.

    Args:
        text: a message.
        secrets: strings to mask wherever they appear.
    """
    return strip_queries(redact(text, tuple(secrets)))


def _scrub(text: str, opened: Opened) -> str:
    return scrub(text, opened.secrets)


class _ScrubSignedUrls(logging.Filter):
    """Removes query strings from rasterio's records of GDAL messages (GDAL quotes signed URLs in its errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is not ours to fix
            return True
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_FILTER = _ScrubSignedUrls()


def install_log_scrubbing() -> None:
    """Attach the scrubbing filter to every rasterio logger (filters act on their own logger's records only)."""
    names = {"rasterio._env", "rasterio._err", "rasterio._io", "rasterio._base", "rasterio.env", "rasterio._filepath",
             "rasterio._warp", "rasterio.vrt"}
    names |= {n for n in logging.Logger.manager.loggerDict if n.startswith("rasterio")}
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
