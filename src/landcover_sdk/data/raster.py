"""GeoTIFF input and output with rasterio: validation, windowed reads, geodesy, COG writing."""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, MaskFlags
from rasterio.errors import NotGeoreferencedWarning, RasterioError, RasterioIOError
from rasterio.io import DatasetReader

from .. import _gdal
from .._atomic import check_output_path, partial_name, publish, remove_stale_partials
from .._redact import first_line
from .._util import is_remote, local_path
from ..errors import InvalidRasterError, RasterMismatchError
from ..storage import gdal_path_for, get_storage
from .geo import latlon_to_pixel as latlon_to_pixel
from .geo import pixel_to_latlon as pixel_to_latlon
from .geo import window_around as window_around
from .windows import PixelWindow, require_inside

log = logging.getLogger(__name__)

PadMode = Literal["reflect", "symmetric", "edge", "constant"]

SCHEME_TAG = "LANDCOVER_SCHEME"


def gdal_path(path: str | Path) -> str:
    """The path rasterio should open for ``path``: ``http(s)://`` COGs through GDAL's ``/vsicurl/`` (range
    requests), other storage URLs through the storage layer (``az://`` → ``/vsiaz/``)."""
    text = str(path)
    if text.startswith("/vsi"):
        return text  # already a GDAL virtual path
    if text.startswith(("http://", "https://")):
        return f"/vsicurl/{text}"
    if is_remote(path):
        return gdal_path_for(str(path))
    return str(local_path(path))


@contextlib.contextmanager
def open_raster(path: str | Path) -> Iterator[DatasetReader]:
    """Open a raster for reading; unreadable or missing files raise :class:`InvalidRasterError`.

    A raster without georeferencing opens without rasterio's ``NotGeoreferencedWarning``: the
    checks that need a CRS say so in their own errors.
    """
    target = gdal_path(path)
    _gdal.apply()  # this thread may not have seen the latest published credentials yet
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            ds = rasterio.open(target)
    except RasterioIOError as exc:
        problem = "file not found" if not _exists(path) else f"not a readable raster ({short_error(exc)})"
        raise InvalidRasterError(path, problem) from exc
    try:
        yield ds
    finally:
        ds.close()


def _exists(path: str | Path) -> bool:
    if str(path).startswith(("http://", "https://", "/vsi")):
        return True  # GDAL's own message says whether the server answered
    if is_remote(path):
        return get_storage(str(path)).exists(str(path))
    return local_path(path).exists()


#: The first line of an error (:func:`landcover_sdk._redact.first_line`).
short_error = first_line


@dataclass(frozen=True)
class RasterInfo:
    """What a raster's header says: size, bands, data types, georeferencing and nodata.

    Attributes:
        path: the raster's path or URL, as given.
        width: columns.
        height: rows.
        count: bands.
        dtypes: data type of each band.
        crs: coordinate reference system, ``None`` without georeferencing.
        transform: the geotransform (pixel to CRS coordinates).
        nodata: the nodata value, if any.
        tags: the dataset's metadata tags.
    """

    path: str
    width: int
    height: int
    count: int
    dtypes: tuple[str, ...]
    crs: CRS | None
    transform: Affine
    nodata: float | None
    tags: Mapping[str, str]

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size ``(x, y)`` in CRS units."""
        return abs(self.transform.a), abs(self.transform.e)


def read_info(path: str | Path) -> RasterInfo:
    """Read the header of a raster without reading its pixels."""
    with open_raster(path) as ds:
        return info_of(ds, path)


def info_of(ds: DatasetReader, path: str | Path) -> RasterInfo:
    """:class:`RasterInfo` of an open dataset."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        transform = ds.transform
    return RasterInfo(
        path=str(path),
        width=ds.width,
        height=ds.height,
        count=ds.count,
        dtypes=tuple(ds.dtypes),
        crs=ds.crs,
        transform=transform,
        nodata=ds.nodata,
        tags=dict(ds.tags()),
    )


def validate_image(info: RasterInfo, bands: Sequence[int], *, dtypes: Sequence[str] = ("uint8",)) -> None:
    """Check that an imagery raster has the configured bands with an accepted data type.

    Args:
        info: the raster's header.
        bands: 1-based bands that must exist.
        dtypes: accepted data types of those bands.
    """
    missing = [b for b in bands if not 1 <= b <= info.count]
    if missing:
        raise InvalidRasterError(
            info.path, f"imagery has {info.count} band(s) but band(s) {missing} are required (bands {list(bands)})"
        )
    for b in bands:
        dt = info.dtypes[b - 1]
        if dt not in dtypes:
            raise InvalidRasterError(info.path, f"band {b} has dtype {dt}; expected {' or '.join(dtypes)}")


def validate_label(info: RasterInfo) -> None:
    """Check that a label raster has exactly one band of an integer type."""
    if info.count != 1:
        raise InvalidRasterError(info.path, f"labels must have 1 band, found {info.count}")
    if not np.issubdtype(np.dtype(info.dtypes[0]), np.integer):
        raise InvalidRasterError(info.path, f"band 1 has dtype {info.dtypes[0]}; labels must be integers")


def check_aligned(image: RasterInfo, label: RasterInfo) -> None:
    """Check that an image and its labels share CRS, transform and size."""
    if image.shape != label.shape:
        raise RasterMismatchError(
            label.path,
            f"size {label.width}x{label.height} differs from imagery {image.path} ({image.width}x{image.height})",
        )
    if (image.crs is None) != (label.crs is None):
        bare, other = (image, label) if image.crs is None else (label, image)
        raise RasterMismatchError(
            bare.path, f"has no georeferencing (no CRS), while {other.path} is in {_crs_name(other.crs)}; "
                       "imagery and labels must be georeferenced alike")
    if image.crs is not None and image.crs != label.crs:
        raise RasterMismatchError(
            label.path, f"CRS {_crs_name(label.crs)} differs from imagery {image.path} ({_crs_name(image.crs)})"
        )
    tol = 1e-6 * max(image.res[0], image.res[1], 1e-12)
    if not image.transform.almost_equals(label.transform, precision=tol):
        raise RasterMismatchError(
            label.path,
            f"geotransform {tuple(label.transform)[:6]} differs from imagery {image.path} "
            f"({tuple(image.transform)[:6]})",
        )


def _crs_name(crs: CRS | None) -> str:
    if crs is None:
        return "none"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()[:80]


def read_window(
    ds: DatasetReader,
    window: PixelWindow,
    *,
    bands: Sequence[int] | int = 1,
    pad_mode: PadMode = "reflect",
    fill: float = 0,
    source: str | None = None,
) -> npt.NDArray[Any]:
    """Read ``window`` from an open dataset; parts outside the raster are filled by ``pad_mode``.

    Returns ``(bands, h, w)`` for a band list and ``(h, w)`` for a single band index. Only the
    window is read from disk. A window that does not overlap the raster at all raises
    :class:`~landcover_sdk.WindowError`.

    Args:
        ds: an open rasterio dataset.
        window: the pixels to read; may extend past the raster.
        bands: a 1-based band list, or one band index.
        pad_mode: how pixels outside the raster are filled (``numpy.pad`` modes).
        fill: the value for ``pad_mode="constant"``.
        source: the name errors use (default: the dataset's name).
    """
    h, w = ds.height, ds.width
    inner = window.intersect(h, w)
    if inner is None:
        require_inside(window, h, w, source or str(ds.name))
        raise AssertionError("unreachable")
    indexes: int | list[int] = bands if isinstance(bands, int) else list(bands)
    if inner == window:
        return np.asarray(_read(ds, indexes, inner, source))
    rows = edge_indices(window.row, window.height, h, pad_mode)
    cols = edge_indices(window.col, window.width, w, pad_mode)
    # Pixels beyond the edges mirror the raster's own pixels, which may lie outside ``window``
    # itself (a narrow strip at the edge mirrors further in): read the span the indices reach.
    r0, c0 = int(rows[rows >= 0].min()), int(cols[cols >= 0].min())
    span = PixelWindow(r0, c0, int(rows.max()) + 1 - r0, int(cols.max()) + 1 - c0)
    data = np.asarray(_read(ds, indexes, span, source))
    out = data[..., np.clip(rows - span.row, 0, None)[:, None], np.clip(cols - span.col, 0, None)[None, :]]
    if pad_mode == "constant":
        out[..., (rows < 0)[:, None] | (cols < 0)[None, :]] = fill
    return out


def _read(ds: DatasetReader, indexes: int | list[int], window: PixelWindow, source: str | None) -> Any:
    try:
        return ds.read(indexes, window=window.to_rasterio())
    except RasterioError as exc:
        raise InvalidRasterError(source or ds.name, f"cannot read window {window} ({short_error(exc)})") from exc


def edge_indices(start: int, length: int, size: int, mode: PadMode) -> npt.NDArray[np.intp]:
    """Which pixel of a ``size``-pixel axis fills each of ``length`` positions from ``start`` (may pass the edges).

    Positions inside the axis map to themselves; positions beyond it follow ``mode`` about the
    axis's own edges (``numpy.pad`` semantics), so every reader of a raster — whatever window it
    reads — fills the same position with the same pixel. ``constant`` positions are ``-1``.

    Args:
        start: first position (may be negative).
        length: positions wanted.
        size: pixels on the axis.
        mode: a ``numpy.pad`` mode (``reflect`` and ``symmetric`` need ``size >= 2``).
    """
    before, after = max(0, -start), max(0, start + length - size)
    axis = np.arange(size, dtype=np.intp)
    if mode == "constant":
        padded = np.pad(axis, (before, after), mode="constant", constant_values=-1)
    else:
        padded = np.pad(axis, (before, after), mode=mode)
    return padded[start + before : start + before + length]


def valid_mask(
    ds: DatasetReader, window: PixelWindow, data: npt.NDArray[Any], bands: Sequence[int]
) -> npt.NDArray[np.bool_]:
    """``True`` where a window (inside the raster) has data; ``data`` is its ``(bands, h, w)`` pixels.

    A pixel is no data when every input band equals the raster's nodata value, or when a real
    mask (an internal mask band, or an alpha band that is *not* one of the input bands) says so.
    GDAL reports the 4th band of a 4-band uint8 RGB-photometric GeoTIFF as alpha; for NAIP that
    band is near-infrared, so an alpha flag on an input band is ignored.

    Args:
        ds: the open dataset.
        window: the window, inside the raster.
        data: its pixels ``(bands, h, w)``, already read.
        bands: the 1-based bands ``data`` holds.
    """
    valid = np.ones(data.shape[-2:], dtype=bool)
    if ds.nodata is not None:
        valid &= ~(data == ds.nodata).all(axis=0)
    masked = dataset_mask(ds, window, bands)
    if masked is not None:
        valid &= masked
    return valid


def dataset_mask(ds: DatasetReader, window: PixelWindow, bands: Sequence[int]) -> npt.NDArray[np.bool_] | None:
    """``True`` where a real mask says a window has data (an internal mask, or an alpha band that is not one of
    ``bands``); ``None`` when the dataset has no such mask (nodata values are not looked at).

    Args:
        ds: the open dataset.
        window: the window, inside the raster.
        bands: the 1-based bands read as data (an alpha flag on one of them is ignored: NAIP's NIR).
    """
    alpha = [i + 1 for i, ci in enumerate(ds.colorinterp) if ci == ColorInterp.alpha]
    extra_alpha = [a for a in alpha if a not in bands]
    rio_win = window.to_rasterio()
    if extra_alpha:
        mask: npt.NDArray[np.bool_] = ds.read(extra_alpha[0], window=rio_win) > 0
        return mask
    if not alpha and any(MaskFlags.per_dataset in f and MaskFlags.nodata not in f for f in ds.mask_flag_enums):
        internal: npt.NDArray[np.bool_] = ds.read_masks(bands[0], window=rio_win) > 0
        return internal
    return None


def pad_array(array: npt.NDArray[Any], pads: tuple[tuple[int, int], tuple[int, int]], mode: PadMode,
              fill: float = 0) -> npt.NDArray[Any]:
    """Pad the last two axes of ``array`` by ``pads`` using ``mode``.

    Args:
        array: ``(..., h, w)``.
        pads: ``((top, bottom), (left, right))`` pixels.
        mode: a ``numpy.pad`` mode.
        fill: the value for ``mode="constant"``.
    """
    full = tuple([(0, 0)] * (array.ndim - 2)) + pads
    if mode == "constant":
        return np.pad(array, full, mode="constant", constant_values=fill)
    return np.pad(array, full, mode=mode)


def iter_blocks(height: int, width: int, block: int = 1024) -> Iterator[PixelWindow]:
    """Windows of at most ``block`` × ``block`` covering a raster, row-major.

    Args:
        height: rows to cover.
        width: columns to cover.
        block: the largest block side.
    """
    for r in range(0, height, block):
        for c in range(0, width, block):
            yield PixelWindow(r, c, min(block, height - r), min(block, width - c))


def check_pixels(path: str | Path, *, chunk: int = 2048) -> None:
    """Read every pixel of every band, so that a damaged file fails now rather than mid-training.

    A GeoTIFF whose header is intact but whose pixel data is cut or corrupt opens normally; only
    reading the damaged blocks fails. The raster is read in ``chunk``-pixel squares; a chunk that
    fails is read again block by block, and the error names the first block that cannot be read
    (its pixel rows and columns and band). A 10,000² 4-band tile takes a few seconds.

    Args:
        path: the raster (path or storage URL).
        chunk: side of the squares read at once.
    """
    with open_raster(path) as ds:
        for win in iter_blocks(ds.height, ds.width, chunk):
            try:
                ds.read(window=win.to_rasterio())
            except RasterioError as exc:
                _find_bad_block(ds, win, path)
                raise InvalidRasterError(path, f"pixel rows {win.row}..{win.row_stop}, cols {win.col}..{win.col_stop} "
                                               f"cannot be read ({short_error(exc)})") from exc


def _find_bad_block(ds: DatasetReader, area: PixelWindow, path: str | Path) -> None:
    block_h, block_w = ds.block_shapes[0]
    for band in range(1, ds.count + 1):
        for r in range(area.row // block_h * block_h, area.row_stop, block_h):
            for c in range(area.col // block_w * block_w, area.col_stop, block_w):
                blk = PixelWindow(r, c, min(block_h, ds.height - r), min(block_w, ds.width - c))
                try:
                    ds.read(band, window=blk.to_rasterio())
                except RasterioError as exc:
                    raise InvalidRasterError(
                        path, f"band {band}: pixel block rows {r}..{blk.row_stop}, cols {c}..{blk.col_stop} "
                              f"cannot be read (truncated or corrupt file: {short_error(exc)})") from exc


def code_histogram(path: str | Path, *, block: int = 2048) -> dict[int, int]:
    """Count each value of a 1-band integer raster, reading block by block."""
    counts: dict[int, int] = {}
    with open_raster(path) as ds:
        for win in iter_blocks(ds.height, ds.width, block):
            data = read_window(ds, win, bands=1, source=str(path))
            values, n = np.unique(data, return_counts=True)
            for v, k in zip(values.tolist(), n.tolist(), strict=True):
                counts[int(v)] = counts.get(int(v), 0) + int(k)
    return counts


# ---------------------------------------------------------------------------- geodesy
# ---------------------------------------------------------------------------- writing
class GeoTiffWriter:
    """Write a georeferenced raster window by window; publish it atomically, as a COG if asked.

    Pixels go to a hidden, tiled staging GeoTIFF beside the target. On a clean exit the staging
    file gets its overviews and is copied into a Cloud-Optimised GeoTIFF (or kept as a tiled
    GeoTIFF), then renamed to the final name; on an error every temporary file is deleted.

    Args:
        path: the final path (checked now: its folder must exist and it must not be an input).
        width: columns.
        height: rows.
        count: bands.
        dtype: numpy/GDAL data type name, e.g. ``"uint8"``.
        crs: coordinate reference system (``None``: not georeferenced).
        transform: geotransform of pixel (0, 0).
        nodata: nodata value to record.
        colormap: colour table of band 1 (``{value: (r, g, b, a)}``).
        tags: dataset metadata tags.
        band_descriptions: one description per band.
        cog: publish as a Cloud-Optimised GeoTIFF (else a tiled GeoTIFF).
        compress: GDAL compression.
        blocksize: internal tile side.
        overview_resampling: resampling of the overviews (``nearest`` keeps class ids).
        inputs: paths the output must not overwrite.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        count: int,
        dtype: str,
        crs: CRS | str | None,
        transform: Affine,
        nodata: float | None = None,
        colormap: Mapping[int, tuple[int, int, int, int]] | None = None,
        tags: Mapping[str, str] | None = None,
        band_descriptions: Sequence[str] | None = None,
        cog: bool = True,
        compress: str = "deflate",
        blocksize: int = 512,
        overview_resampling: str = "nearest",
        inputs: tuple[str | Path, ...] = (),
    ) -> None:
        self.path = check_output_path(path, inputs=inputs)
        self.cog = cog
        self.compress = compress
        self.blocksize = blocksize
        self.overview_resampling = overview_resampling
        self.colormap = colormap
        self.tags = dict(tags or {})
        self.band_descriptions = list(band_descriptions or [])
        self._profile: dict[str, Any] = {
            "driver": "GTiff",
            "width": width,
            "height": height,
            "count": count,
            "dtype": dtype,
            "crs": crs,
            "transform": transform,
            "nodata": nodata,
            "tiled": True,
            "blockxsize": blocksize,
            "blockysize": blocksize,
            "compress": compress,
            "BIGTIFF": "IF_SAFER",
        }
        if count > 1:
            # Without this GDAL writes 4-band uint8 as RGB + alpha, turning near-infrared into a mask.
            self._profile["photometric"] = "MINISBLACK"
        if min(width, height) < blocksize:
            self._profile.update(tiled=False)
            del self._profile["blockxsize"], self._profile["blockysize"]
        self._staging: Path | None = None
        self._ds: Any = None

    def __enter__(self) -> GeoTiffWriter:
        remove_stale_partials(self.path)
        self._staging = partial_name(self.path.with_suffix(".tif"))
        self._ds = rasterio.open(self._staging, "w", **self._profile)
        if self.colormap is not None:
            self._ds.write_colormap(1, dict(self.colormap))
        for i, desc in enumerate(self.band_descriptions, start=1):
            self._ds.set_band_description(i, desc)
        if self.tags:
            self._ds.update_tags(**self.tags)
        return self

    def write(self, array: npt.NDArray[Any], window: PixelWindow) -> None:
        """Write ``(bands, h, w)`` or ``(h, w)`` pixels at ``window``."""
        data = array if array.ndim == 3 else array[None]
        self._ds.write(data, window=window.to_rasterio())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        staging = self._staging
        assert staging is not None
        final_tmp: Path | None = None
        try:
            self._ds.close()
            if exc_type is not None:
                return
            if self.cog:
                final_tmp = partial_name(self.path)
                rasterio.shutil.copy(
                    staging,
                    final_tmp,
                    driver="COG",
                    COMPRESS=self.compress.upper(),
                    BLOCKSIZE=self.blocksize,
                    OVERVIEW_RESAMPLING=self.overview_resampling.upper(),
                    RESAMPLING=self.overview_resampling.upper(),
                    BIGTIFF="IF_SAFER",
                )
                publish(final_tmp, self.path)
            else:
                publish(staging, self.path)
        finally:
            for p in (staging, final_tmp):
                if p is not None:
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
                    with contextlib.suppress(FileNotFoundError):
                        Path(str(p) + ".aux.xml").unlink()


def write_raster(
    path: str | Path,
    array: npt.NDArray[Any],
    *,
    crs: CRS | str | None,
    transform: Affine,
    nodata: float | None = None,
    colormap: Mapping[int, tuple[int, int, int, int]] | None = None,
    tags: Mapping[str, str] | None = None,
    band_descriptions: Sequence[str] | None = None,
    cog: bool = True,
    blocksize: int = 512,
) -> Path:
    """Write a whole in-memory array as a GeoTIFF/COG, atomically (see :class:`GeoTiffWriter`).

    Args:
        path: the final path.
        array: ``(bands, h, w)`` or ``(h, w)`` pixels.
        crs: coordinate reference system.
        transform: geotransform of pixel (0, 0).
        nodata: nodata value to record.
        colormap: colour table of band 1.
        tags: dataset metadata tags.
        band_descriptions: one description per band.
        cog: publish as a Cloud-Optimised GeoTIFF.
        blocksize: internal tile side.
    """
    data = array if array.ndim == 3 else array[None]
    with GeoTiffWriter(
        path,
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=str(data.dtype),
        crs=crs,
        transform=transform,
        nodata=nodata,
        colormap=colormap,
        tags=tags,
        band_descriptions=band_descriptions,
        cog=cog,
        blocksize=blocksize,
    ) as w:
        w.write(data, PixelWindow(0, 0, data.shape[1], data.shape[2]))
    return Path(path)


def class_tags(names: Sequence[str], scheme_name: str) -> dict[str, str]:
    """GeoTIFF metadata tags recording class names (``CLASS_<id>``) and the scheme."""
    tags = {f"CLASS_{i}": n for i, n in enumerate(names)}
    tags["CLASS_NAMES"] = json.dumps(list(names))
    tags[SCHEME_TAG] = scheme_name
    return tags
