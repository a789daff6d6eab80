"""``TileService``: land cover as Web-Mercator map tiles, predicted on the raster's own grid, cached.

Framework-free: an app embeds it directly (``service.tile("hard", 17, x, y)``); the web server in
:mod:`.app` is a thin layer over it.

How a prediction tile is made:

1. The tile's Web-Mercator bounds (``morecantile``) are taken to the raster's CRS and to the native
   pixel window they cover (plus two pixels for resampling).
2. The window is covered by *units* on a grid anchored at the raster's top-left pixel — exact
   mode: the tutorial's 128-pixel cores; fast mode: the batch predictor's blocks (``fast_window``
   − 2 ``fast_halo``). A unit is computed exactly as ``Predictor.predict_raster`` computes it
   (:meth:`Predictor.predict_area`), so a served tile equals the batch COG whatever the pan, zoom
   or request order.
3. Units come from a bounded LRU (class ids, validity, float16 probabilities). Missing ones are
   computed once even when several tiles wait for them (one future per unit), by one inference
   thread, newest request first; a unit whose every requester has gone (the browser aborted the
   tile) is dropped before it is computed.
4. The native window is reprojected to the 256² tile: hard labels nearest (a palette PNG
   comparable pixel for pixel with the COG), soft labels from bilinear probabilities, imagery
   bilinear. Below the native zoom, average/mode; below ``min_zoom`` a "zoom in" tile: the
   network never sees resampled imagery.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import heapq
import io
import itertools
import logging
import math
import os
import re
import secrets
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import morecantile
import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from PIL import Image, ImageDraw
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.warp import reproject, transform_bounds

from .._lru import SizedLRU
from .._version import __version__
from ..data.raster import (
    RasterInfo,
    gdal_path,
    open_raster,
    read_info,
    read_window,
    valid_mask,
    write_raster,
)
from ..data.windows import PixelWindow
from ..errors import CoordinateError, DataError, InvalidRasterError, LandcoverError, WindowError
from ..inference.backends import CountingBackend
from ..inference.metrics import softmax
from ..inference.predictor import Predictor
from ..inference.render import soft_labels
from ..inference.tiling import Mode, row_runs

log = logging.getLogger(__name__)

Layer = Literal["naip", "soft", "hard"]
LAYERS: tuple[Layer, ...] = ("naip", "soft", "hard")
TILE = 256
WEB_MERCATOR = CRS.from_epsg(3857)
#: Native pixels of units one prediction tile may need before it is served as "zoom in" (64 of the
#: tutorial's 128² cores: a tile two zooms below native at 1 m).
MAX_TILE_PIXELS = 64 * 128 * 128
#: Imagery (and a precomputed class COG) are served down to this many zooms below native, from overviews.
PRECOMPUTED_MIN_ZOOM_STEPS = 8
#: Largest export, in native pixels.
MAX_EXPORT_PIXELS = 4096 * 4096
#: Fast mode's unit: the batch predictor's block with these settings — one 192² window per 128² core, the
#: same 32-pixel context as the batch default (576² windows for 512² blocks) but a cold map tile needs about
#: 9 such units instead of 4 of 512², less than a third of the work (see docs/serve.md).
FAST_SETTINGS = {"fast_window": 192, "fast_halo": 32, "block_size": 128}
#: GDAL settings for remote COGs: no directory listing, merged range requests, a read cache.
REMOTE_GDAL = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
               "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES", "VSI_CACHE": "TRUE", "GDAL_HTTP_MAX_RETRY": "2"}

_TMS = morecantile.tms.get("WebMercatorQuad")

# rasterio's reproject of arrays (transforms given) can warn about its own in-memory dataset when tiles are
# warped on several threads at once; ``warnings.catch_warnings`` is not thread-safe, so the filter is global
# and matches only that message.
warnings.filterwarnings("ignore", message="Dataset has no geotransform", category=NotGeoreferencedWarning)


class SourceError(LandcoverError):
    """The imagery could not be read while serving (the server keeps serving other requests)."""


@dataclass(frozen=True)
class Unit:
    """A computed unit: class ids (no-data pixels → the no-data class), validity and probabilities.

    Attributes:
        classes: ``(h, w)`` uint8 class ids.
        valid: ``(h, w)`` bool, ``False`` where the input has no data.
        probabilities: ``(C, h, w)`` float16.
    """

    classes: npt.NDArray[np.uint8]
    valid: npt.NDArray[np.bool_]
    probabilities: npt.NDArray[np.float16]

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return int(self.classes.nbytes + self.valid.nbytes + self.probabilities.nbytes)


@dataclass
class _Pending:
    future: cf.Future[Unit]
    interest: int = 0
    started: bool = False


@dataclass(order=True)
class _Job:
    priority: int  # minus the request's sequence number: the newest request comes first
    keys: list[tuple[int, int]] = field(compare=False)


class _Stats:
    """Counters and latencies for ``/metrics``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.units_computed = 0
        self.hits = 0
        self.misses = 0
        self.dropped = 0
        self.latency: dict[str, deque[float]] = {layer: deque(maxlen=2000) for layer in LAYERS}

    def record(self, layer: str, seconds: float) -> None:
        with self.lock:
            self.latency.setdefault(layer, deque(maxlen=2000)).append(seconds)

    def percentiles(self) -> dict[str, dict[str, float | int]]:
        with self.lock:
            out: dict[str, dict[str, float | int]] = {}
            for layer, values in self.latency.items():
                arr = np.array(values) if values else np.zeros(0)
                out[layer] = {"count": len(arr),
                              "p50_ms": round(float(np.percentile(arr, 50)) * 1e3, 1) if len(arr) else 0.0,
                              "p95_ms": round(float(np.percentile(arr, 95)) * 1e3, 1) if len(arr) else 0.0}
            return out


class TileRequest:
    """One tile being made; :meth:`result` waits for its bytes, :meth:`cancel` gives it up.

    Made by :meth:`TileService.request`, not directly.

    Args:
        service: the service making it.
        layer: ``naip``, ``soft`` or ``hard``.
        z: zoom.
        x: tile column.
        y: tile row.

    Attributes:
        future: resolves to the PNG bytes (``None`` outside the raster).
    """

    def __init__(self, service: TileService, layer: str, z: int, x: int, y: int) -> None:
        self.layer, self.z, self.x, self.y = layer, z, x, y
        self.future: cf.Future[bytes | None] = cf.Future()
        self._service = service
        self._keys: list[tuple[int, int]] = []
        self._released = False
        self._t0 = time.perf_counter()

    def result(self, timeout: float | None = None) -> bytes | None:
        """The PNG bytes, or ``None`` when the tile lies outside the raster.

        Args:
            timeout: seconds to wait (``None``: as long as it takes).
        """
        return self.future.result(timeout)

    def cancel(self) -> None:
        """Give the tile up: units no other request waits for are not computed."""
        self.future.cancel()
        self._service._release(self)


class TileService:
    """Map tiles, point probabilities, view statistics and exports of one raster through one model.

    Args:
        predictor: the model (its tiling settings are used; fast mode uses :data:`FAST_SETTINGS`).
        source: the imagery: a local GeoTIFF, a storage URL (``az://…``) or an ``https://`` COG.
        mode: ``"exact"`` (the tutorial's windows; default) or ``"fast"``.
        cache_mb: memory for computed units (least recently used dropped first).
        min_zoom: below this zoom prediction tiles say "zoom in" (default: two below the native zoom).
        model_id: a stable name of the model for ETags (default: a per-process token).
        precomputed: the class COG ``landcover predict`` wrote for this imagery: hard tiles come from it
            at every zoom (down to :data:`PRECOMPUTED_MIN_ZOOM_STEPS` below native, from its overviews) and
            no model runs for them.
    """

    def __init__(self, predictor: Predictor, source: str | Path, *, mode: Mode | str = "exact",
                 cache_mb: float = 512, min_zoom: int | None = None, model_id: str | None = None,
                 precomputed: str | Path | None = None) -> None:
        if mode not in ("exact", "fast"):
            raise DataError(f"mode: {mode!r} is not 'exact' or 'fast'")
        self.mode: Mode = "exact" if mode == "exact" else "fast"
        self.source = str(source)
        self.stats = _Stats()
        config = predictor.config.updated(mode=mode, **(FAST_SETTINGS if mode == "fast" else {}))
        self._backend = CountingBackend(predictor.backend)
        self.predictor = Predictor(self._backend, config)
        self.scheme = self.predictor.scheme
        self.tiling = self.predictor.tiling(mode)
        self.unit = self.tiling.model_core if mode == "exact" else self.tiling.block_side
        self._path = gdal_path(self.source)
        self._remote = self._path.startswith("/vsi")
        self.info = self._open_info()
        self._local = threading.local()
        t = self.info.transform
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
            raise DataError(f"{self.source}: rotated or flipped rasters are not served (transform {tuple(t)[:6]})")
        self._from_wgs84 = Transformer.from_crs("EPSG:4326", self.info.crs, always_xy=True)
        self._from_mercator = Transformer.from_crs(WEB_MERCATOR, self.info.crs, always_xy=True)
        self.bounds = transform_bounds(self.info.crs, "EPSG:4326", *self._native_bounds(), densify_pts=21)
        self._mercator_bounds = transform_bounds(self.info.crs, WEB_MERCATOR, *self._native_bounds(), densify_pts=21)
        self.native_zoom = _native_zoom(abs(t.a), (self.bounds[1] + self.bounds[3]) / 2)
        self.min_zoom = self.native_zoom - 2 if min_zoom is None else int(min_zoom)
        self.max_zoom = max(self.native_zoom + 3, self.min_zoom)
        self.precomputed = None if precomputed is None else self._check_precomputed(precomputed)
        self.model_id = model_id or secrets.token_hex(8)
        self._identity = self._source_identity()
        self._cache: SizedLRU[tuple[int, int], Unit] = SizedLRU(int(cache_mb * 2**20), lambda u: u.nbytes)
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, int], _Pending] = {}
        self._jobs: list[_Job] = []
        self._cond = threading.Condition(self._lock)
        self._seq = itertools.count()
        self._closed = False
        self._warm_up()
        self._worker = threading.Thread(target=self._work, name="lc-infer", daemon=True)
        self._worker.start()
        self._pool = cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="lc-tile")
        self._zoom_in: bytes | None = None

    def _warm_up(self) -> None:
        """Build the session and run it once per batch size it will see, uncounted: ONNX Runtime's first call of a
        shape allocates (measured ~0.6 s here), which would otherwise land on the first tile a user asks for."""
        self._backend.prepare(mean_subtracted=self.tiling.subtracts_block_means)
        side = self.tiling.window
        for n in sorted({1, self.tiling.windows_per_call}):
            self._backend.inner.run(np.zeros((n, self.predictor.model_config.in_bands, side, side), np.float32),
                                    mean_subtracted=self.tiling.subtracts_block_means)

    # ------------------------------------------------------------------ public API
    def request(self, layer: str, z: int, x: int, y: int) -> TileRequest:
        """Start making tile ``z/x/y`` of ``layer``; returns at once.

        Args:
            layer: ``naip``, ``soft`` or ``hard``.
            z: zoom.
            x: tile column.
            y: tile row.

        Raises:
            WindowError: an unknown layer or a tile that does not exist at that zoom.
        """
        if layer not in LAYERS:
            raise WindowError(f"layer: {layer!r} is not one of {', '.join(LAYERS)}")
        if not 0 <= z <= 30 or not (0 <= x < 2**z and 0 <= y < 2**z):
            raise WindowError(f"tile {z}/{x}/{y} does not exist")
        req = TileRequest(self, layer, z, x, y)
        window = self._tile_window(z, x, y)
        if window is None:
            req.future.set_result(None)
            return req
        from_file = layer == "naip" or (layer == "hard" and self.precomputed is not None)
        lowest = self.native_zoom - PRECOMPUTED_MIN_ZOOM_STEPS if from_file else self.min_zoom
        if z < lowest:
            req.future.set_result(self.zoom_in_tile())
            return req
        if from_file:
            self._submit_render(req, window)
            return req
        keys = self._keys(window)
        if len(keys) * self.unit**2 > MAX_TILE_PIXELS:
            req.future.set_result(self.zoom_in_tile())
            return req
        self._await_units(req, keys, lambda: self._submit_render(req, window))
        return req

    def tile(self, layer: str, z: int, x: int, y: int, *, timeout: float | None = None) -> bytes | None:
        """PNG bytes of a tile (``None`` outside the raster); blocks until it is made.

        Args:
            layer: ``naip``, ``soft`` or ``hard``.
            z: zoom.
            x: tile column.
            y: tile row.
            timeout: seconds to wait.
        """
        return self.request(layer, z, x, y).result(timeout)

    def etag(self, layer: str, z: int, x: int, y: int) -> str:
        """A strong ETag for a tile: model, source, mode, layer and position.

        Args:
            layer: the layer.
            z: zoom.
            x: tile column.
            y: tile row.
        """
        text = f"{__version__}|{self.model_id}|{self._identity}|{self.mode}|{layer}|{z}/{x}/{y}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def describe(self) -> dict[str, Any]:
        """What ``/api/info`` returns: bounds, centre, zooms, classes, model, mode."""
        w, s, e, n = self.bounds
        return {
            "source": _public_name(self.source),
            "bounds": [w, s, e, n],
            "center": [(s + n) / 2, (w + e) / 2],
            "native_zoom": self.native_zoom,
            "min_zoom": self.min_zoom,
            "max_zoom": self.max_zoom,
            "mode": self.mode,
            "model": self.model_id,
            "unit": self.unit,
            "size": [self.info.height, self.info.width],
            "cell_size": abs(self.info.transform.a),
            "classes": [{"id": c.id, "name": c.name, "color": "#{:02x}{:02x}{:02x}".format(*c.color)}
                        for c in self.scheme.classes],
        }

    def point(self, lon: float, lat: float, *, timeout: float | None = None) -> dict[str, Any]:
        """Class probabilities of the pixel at a longitude/latitude (computing its unit if needed).

        Args:
            lon: longitude (WGS84).
            lat: latitude (WGS84).
            timeout: seconds to wait for the unit.

        Raises:
            CoordinateError: the point is outside the raster.
        """
        row, col = self._pixel(lon, lat)
        key = (row // self.unit, col // self.unit)
        unit = self.units([key], timeout=timeout)[key]
        r, c = row - key[0] * self.unit, col - key[1] * self.unit
        probs = unit.probabilities[:, r, c].astype(np.float64)
        probs /= probs.sum()
        return {"lon": lon, "lat": lat, "row": row, "col": col, "valid": bool(unit.valid[r, c]),
                "class": int(unit.classes[r, c]),
                "probabilities": {c.name: round(float(p), 5) for c, p in zip(self.scheme.classes, probs, strict=True)}}

    def stats_in(self, bbox: Sequence[float], *, compute: bool = False,
                 timeout: float | None = None) -> dict[str, Any]:
        """Class shares over a WGS84 box, from the units already computed (or all of them with ``compute``).

        Args:
            bbox: ``(min lon, min lat, max lon, max lat)``.
            compute: compute the units not yet cached (capped like an export).
            timeout: seconds to wait when computing.
        """
        window = self._bbox_window(bbox)
        counts = np.zeros(self.scheme.num_classes, dtype=np.int64)
        covered = 0
        keys = self._keys(window)
        if compute:
            self._check_export(window)
            units = self.units(keys, timeout=timeout)
        else:
            with self._lock:
                units = {k: u for k in keys if (u := self._cache.get(k)) is not None}
        for key, unit in units.items():
            overlap = self._overlap(key, unit, window)
            if overlap is None:
                continue
            _, (sr, sc) = overlap
            classes = unit.classes[sr, sc]
            counts += np.bincount(classes[unit.valid[sr, sc]], minlength=self.scheme.num_classes)
            covered += classes.size
        total = int(counts.sum())
        cell = abs(self.info.transform.a * self.info.transform.e)
        return {"pixels": window.height * window.width, "coverage": covered / max(1, window.height * window.width),
                "classes": [{"id": c.id, "name": c.name, "share": (int(n) / total) if total else 0.0,
                             "area_m2": float(n) * cell} for c, n in zip(self.scheme.classes, counts, strict=True)]}

    def export(self, bbox: Sequence[float], *, timeout: float | None = None) -> bytes:
        """A paletted class COG (bytes) of the native pixels a WGS84 box covers.

        Args:
            bbox: ``(min lon, min lat, max lon, max lat)``.
            timeout: seconds to wait for the computation.

        Raises:
            WindowError: the box is outside the raster or larger than :data:`MAX_EXPORT_PIXELS`.
        """
        window = self._bbox_window(bbox)
        self._check_export(window)
        classes, _ = self._assemble(window, self.units(self._keys(window), timeout=timeout))
        transform = self.info.transform @ Affine.translation(window.col, window.row)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "classes.tif"
            write_raster(path, classes[None], crs=self.info.crs, transform=transform, colormap=self.scheme.colormap,
                         band_descriptions=["class"], tags={"LANDCOVER_MODE": self.mode})
            return path.read_bytes()

    def units(self, keys: Iterable[tuple[int, int]], *, timeout: float | None = None) -> dict[tuple[int, int], Unit]:
        """The units with these keys (row, column on the unit grid), computed if needed; blocks.

        Args:
            keys: unit grid positions.
            timeout: seconds to wait.
        """
        wanted = list(dict.fromkeys(keys))
        req = TileRequest(self, "units", 0, 0, 0)
        self._await_units(req, wanted, lambda: req.future.set_result(None) if not req.future.done() else None)
        try:
            req.future.result(timeout)
        finally:
            self._release(req)
        return self._units_for(wanted)

    def metrics(self) -> dict[str, Any]:
        """Windows evaluated, units computed and cached, cache hits and misses, queue, latency percentiles."""
        with self._lock:
            queue = sum(1 for p in self._pending.values() if not p.future.done())
            cached, cached_bytes = len(self._cache), self._cache.bytes
        with self.stats.lock:
            counters = {"windows_evaluated": self._backend.windows, "units_computed": self.stats.units_computed,
                        "cache_hits": self.stats.hits, "cache_misses": self.stats.misses,
                        "units_dropped": self.stats.dropped}
        return {**counters, "units_cached": cached, "cache_bytes": cached_bytes,
                "cache_limit_bytes": self._cache.limit, "queue": queue, "latency": self.stats.percentiles()}

    def record_latency(self, layer: str, seconds: float) -> None:
        """Add one served tile's latency to :meth:`metrics`.

        Args:
            layer: the layer.
            seconds: request to response.
        """
        self.stats.record(layer, seconds)

    def zoom_in_tile(self) -> bytes:
        """The tile served below the minimum zoom: transparent, with a "zoom in" hint."""
        if self._zoom_in is None:
            image = Image.new("RGBA", (TILE, TILE), (255, 255, 255, 0))
            pen = ImageDraw.Draw(image)
            pen.rectangle((78, 114, 178, 142), fill=(255, 255, 255, 170))
            pen.text((128, 128), "zoom in", fill=(60, 60, 60, 255), anchor="mm")
            self._zoom_in = _png(image)
        return self._zoom_in

    def close(self) -> None:
        """Stop the inference thread and the tile pool."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ geometry
    def _open_info(self) -> RasterInfo:
        name = _public_name(self.source)
        try:
            with self._gdal_env():
                info = self.predictor.check_source(self._path)
        except InvalidRasterError as exc:  # name the source as given, never its query string (SAS tokens)
            raise InvalidRasterError(name, _strip_queries(exc.problem)) from None
        if info.crs is None:
            raise DataError(f"{name}: no coordinate reference system; map tiles need one")
        return info

    def _gdal_env(self) -> rasterio.Env:
        return rasterio.Env(**REMOTE_GDAL) if self._remote else rasterio.Env()

    def _source_identity(self) -> str:
        if self._remote:
            return self.source
        stat = os.stat(self._path)
        return f"{Path(self._path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}"

    def _native_bounds(self) -> tuple[float, float, float, float]:
        t, h, w = self.info.transform, self.info.height, self.info.width
        return t.c, t.f + t.e * h, t.c + t.a * w, t.f

    def _tile_window(self, z: int, x: int, y: int) -> PixelWindow | None:
        b = _TMS.xy_bounds(morecantile.Tile(x, y, z))
        w, s, e, n = self._mercator_bounds
        if b.left >= e or b.right <= w or b.bottom >= n or b.top <= s:
            return None  # answered without any projection: tiles off the raster cost nothing
        return self._window_of(_densified_bounds(self._from_mercator, (b.left, b.bottom, b.right, b.top)), grow=2)

    def _window_of(self, bounds: Sequence[float], grow: int = 0) -> PixelWindow | None:
        t = self.info.transform
        left, bottom, right, top = bounds
        if not all(math.isfinite(v) for v in bounds):
            return None
        c0 = math.floor((left - t.c) / t.a) - grow
        c1 = math.ceil((right - t.c) / t.a) + grow
        r0 = math.floor((top - t.f) / t.e) - grow
        r1 = math.ceil((bottom - t.f) / t.e) + grow
        return PixelWindow(r0, c0, max(0, r1 - r0), max(0, c1 - c0)).intersect(self.info.height, self.info.width)

    def _bbox_window(self, bbox: Sequence[float]) -> PixelWindow:
        if len(bbox) != 4 or not all(math.isfinite(v) for v in bbox) or bbox[0] >= bbox[2] or bbox[1] >= bbox[3]:
            raise WindowError(f"bbox: {list(bbox)} is not min lon, min lat, max lon, max lat")
        window = self._window_of(_densified_bounds(self._from_wgs84, tuple(bbox)))
        if window is None:
            raise WindowError(f"bbox: {list(bbox)} does not overlap the raster")
        return window

    def _check_export(self, window: PixelWindow) -> None:
        if window.height * window.width > MAX_EXPORT_PIXELS:
            raise WindowError(f"bbox: {window.height}x{window.width} pixels; at most {MAX_EXPORT_PIXELS:,} "
                              "(zoom in or export a smaller view)")

    def _pixel(self, lon: float, lat: float) -> tuple[int, int]:
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise CoordinateError(f"lon/lat: ({lon}, {lat}) is not a WGS84 position")
        x, y = self._from_wgs84.transform(lon, lat)
        t = self.info.transform
        if not (math.isfinite(x) and math.isfinite(y)):
            raise CoordinateError(f"lon/lat: ({lon}, {lat}) is outside the raster")
        r, c = math.floor((y - t.f) / t.e), math.floor((x - t.c) / t.a)
        if not (0 <= r < self.info.height and 0 <= c < self.info.width):
            raise CoordinateError(f"lon/lat: ({lon}, {lat}) is outside the raster")
        return r, c

    def _keys(self, window: PixelWindow) -> list[tuple[int, int]]:
        u = self.unit
        return [(i, j) for i in range(window.row // u, (window.row_stop - 1) // u + 1)
                for j in range(window.col // u, (window.col_stop - 1) // u + 1)]

    # ------------------------------------------------------------------ units: cache, single flight, worker
    def _await_units(self, req: TileRequest, keys: list[tuple[int, int]], then: Callable[[], None]) -> None:
        """Call ``then`` once every unit in ``keys`` is available (now, or when computed)."""
        futures: list[cf.Future[Unit]] = []
        with self._cond:
            hits = 0
            for key in keys:
                if self._cache.get(key) is not None:
                    hits += 1
                    continue
                pending = self._pending.get(key)
                if pending is None:
                    pending = self._pending[key] = _Pending(cf.Future())
                pending.interest += 1
                req._keys.append(key)
                futures.append(pending.future)
            with self.stats.lock:
                self.stats.hits += hits
                self.stats.misses += len(futures)
            if req._keys:
                heapq.heappush(self._jobs, _Job(-next(self._seq), list(req._keys)))
                self._cond.notify()
        if not futures:
            then()
            return
        remaining = [len(futures)]
        lock = threading.Lock()

        def one_done(f: cf.Future[Unit]) -> None:
            if f.cancelled() or req.future.cancelled():
                return
            exc = f.exception()
            if exc is not None:
                if not req.future.done():
                    req.future.set_exception(exc)
                return
            with lock:
                remaining[0] -= 1
                last = remaining[0] == 0
            if last:
                then()

        for f in futures:
            f.add_done_callback(one_done)

    def _release(self, req: TileRequest) -> None:
        if req._released:
            return
        req._released = True
        with self._cond:
            for key in req._keys:
                pending = self._pending.get(key)
                if pending is None:
                    continue
                pending.interest -= 1
                if pending.interest <= 0 and not pending.started and not pending.future.done():
                    del self._pending[key]
                    pending.future.cancel()
                    with self.stats.lock:
                        self.stats.dropped += 1

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = heapq.heappop(self._jobs)
            for run in self._runs(job.keys):
                with self._cond:
                    todo = [k for k in run if (p := self._pending.get(k)) is not None and p.interest > 0
                            and not p.started and not p.future.done()]
                    for k in todo:
                        self._pending[k].started = True
                if not todo:
                    continue
                try:
                    computed = self._compute(todo)
                except Exception as exc:  # a read or model failure fails these units' requests, not the server
                    error = self._source_error(exc)
                    log.warning("computing %d unit(s) failed: %s", len(todo), error)
                    with self._cond:
                        for k in todo:
                            p = self._pending.pop(k, None)
                            if p is not None:
                                p.future.set_exception(error)
                    continue
                with self._cond:
                    waiting = []
                    for k, unit in computed.items():
                        self._cache.put(k, unit)
                        p = self._pending.pop(k, None)
                        if p is not None:
                            waiting.append((p.future, unit))
                    with self.stats.lock:
                        self.stats.units_computed += len(computed)
                for future, unit in waiting:
                    future.set_result(unit)

    def _source_error(self, exc: Exception) -> LandcoverError:
        """What a request that failed while reading or computing is told (no query strings: SAS tokens)."""
        if isinstance(exc, LandcoverError) and not isinstance(exc, InvalidRasterError):
            return exc
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        detail = _strip_queries(detail)[:300]
        return SourceError(f"{_public_name(self.source)}: cannot read the imagery ({detail})")

    def _runs(self, keys: Iterable[tuple[int, int]]) -> list[list[tuple[int, int]]]:
        """Units computed together. Exact: a row run in one call (a core's scores depend on its window only).
        Fast: one by one — the batch predictor's fast blocks extend each block's mean field into its halo,
        so a block's answer would change with its neighbours in the same call."""
        return row_runs(keys) if self.mode == "exact" else [[k] for k in sorted(set(keys))]

    def _dataset(self) -> Any:
        """This thread's handle on the source (rasterio handles are not shared between threads)."""
        ds = getattr(self._local, "ds", None)
        if ds is None:
            opener = open_raster(self._path)
            with self._gdal_env():
                ds = opener.__enter__()
            self._local.opener, self._local.ds = opener, ds  # the opener closes the handle when it goes
        return ds

    def _compute(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], Unit]:
        """Units of one run (see :meth:`_runs`), in one network call, exactly as the batch predictor computes them."""
        u, h, w = self.unit, self.info.height, self.info.width
        i, j0, j1 = keys[0][0], keys[0][1], keys[-1][1]
        area = PixelWindow(i * u, j0 * u, u, (j1 - j0 + 1) * u).intersect(h, w)
        assert area is not None
        read = area.grow(self.tiling.aligned_margin).intersect(h, w)
        assert read is not None
        bands = list(range(1, self.predictor.model_config.in_bands + 1))
        with self._gdal_env():
            ds = self._dataset()
            canvas = read_window(ds, read, bands=bands, source=_public_name(self.source))
            own = canvas[:, area.row - read.row : area.row_stop - read.row,
                         area.col - read.col : area.col_stop - read.col]
            valid = valid_mask(ds, area, own, bands)
        out: dict[tuple[int, int], Unit] = {}
        scores = self.predictor.predict_area(canvas, area, origin=(read.row, read.col), raster_shape=(h, w),
                                             mode=self.mode)
        classes = scores.argmax(axis=0).astype(np.uint8)
        nodata = self.scheme.nodata_class
        if self.predictor.config.nodata_to_class0 and nodata is not None:
            classes[~valid] = nodata
        probs = softmax(scores, axis=0).astype(np.float16)
        for i_, j in keys:
            c0 = j * u - area.col
            c1 = min(c0 + u, area.width)
            out[(i_, j)] = Unit(np.ascontiguousarray(classes[:, c0:c1]), np.ascontiguousarray(valid[:, c0:c1]),
                                np.ascontiguousarray(probs[:, :, c0:c1]))
        return out

    # ------------------------------------------------------------------ rendering
    def _submit_render(self, req: TileRequest, window: PixelWindow) -> None:
        if req.future.done():
            return

        def render() -> None:
            if req.future.done():
                return
            try:
                data = self._render(req.layer, req.z, req.x, req.y, window)
            except Exception as exc:
                err = self._source_error(exc)
                log.warning("tile %s/%d/%d/%d failed: %s", req.layer, req.z, req.x, req.y, err)
                if not req.future.done():
                    req.future.set_exception(err)
                return
            finally:
                self._release(req)
            if not req.future.done():
                req.future.set_result(data)
                self.stats.record(req.layer, time.perf_counter() - req._t0)

        try:
            self._pool.submit(render)
        except RuntimeError:  # shut down
            req.future.cancel()

    def _overlap(self, key: tuple[int, int], unit: Unit, window: PixelWindow) -> tuple[
            tuple[slice, slice], tuple[slice, slice]] | None:
        """Where a unit and ``window`` overlap: ``(slices in the window, slices in the unit)``, or ``None``."""
        r0, c0 = key[0] * self.unit, key[1] * self.unit
        inter = PixelWindow(r0, c0, *unit.classes.shape).overlap(window)
        if inter is None:
            return None
        return ((slice(inter.row - window.row, inter.row_stop - window.row),
                 slice(inter.col - window.col, inter.col_stop - window.col)),
                (slice(inter.row - r0, inter.row_stop - r0), slice(inter.col - c0, inter.col_stop - c0)))

    def _assemble(self, window: PixelWindow, units: dict[tuple[int, int], Unit], *,
                  probabilities: bool = False) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
        """Class ids (or probabilities) and validity of ``window`` from its units."""
        shape = (window.height, window.width)
        valid = np.zeros(shape, dtype=bool)
        out: npt.NDArray[Any] = (np.zeros((self.scheme.num_classes, *shape), np.float32) if probabilities
                                 else np.zeros(shape, np.uint8))
        for key, unit in units.items():
            overlap = self._overlap(key, unit, window)
            if overlap is None:
                continue
            (dr, dc), (sr, sc) = overlap
            valid[dr, dc] = unit.valid[sr, sc]
            if probabilities:
                out[:, dr, dc] = unit.probabilities[:, sr, sc]
            else:
                out[dr, dc] = unit.classes[sr, sc]
        return out, valid

    def _units_for(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], Unit]:
        with self._lock:
            found = {k: u for k in keys if (u := self._cache.get(k)) is not None}
        missing = [k for k in keys if k not in found]
        if missing:  # evicted between computation and rendering (a cache smaller than one view)
            found.update(self._compute_now(missing))
        return found

    def _compute_now(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], Unit]:
        out: dict[tuple[int, int], Unit] = {}
        for run in self._runs(keys):
            out.update(self._compute(run))
        return out

    def _check_precomputed(self, path: str | Path) -> str:
        """A class COG on exactly this imagery's grid (as ``landcover predict`` writes it), or an error naming it."""
        local = gdal_path(path)
        with self._gdal_env():
            info = read_info(local)
        differs = [what for what, a, b in (("size", (info.height, info.width), (self.info.height, self.info.width)),
                                           ("CRS", info.crs, self.info.crs),
                                           ("transform", info.transform, self.info.transform)) if a != b]
        if differs:
            verb = "differ" if len(differs) > 1 else "differs"
            raise DataError(f"{_public_name(str(path))}: the precomputed classes are not on the imagery's grid "
                            f"({' and '.join(differs)} {verb}); predict the whole image with `landcover predict`")
        if info.count != 1 or info.dtypes[0] != "uint8":
            raise DataError(f"{_public_name(str(path))}: not a class raster (one uint8 band)")
        return local

    def _precomputed_dataset(self) -> Any:
        ds = getattr(self._local, "cog", None)
        if ds is None:
            assert self.precomputed is not None
            opener = open_raster(self.precomputed)
            with self._gdal_env():
                ds = opener.__enter__()
            self._local.cog_opener, self._local.cog = opener, ds
        return ds

    def _read_scaled(self, ds: Any, window: PixelWindow, bands: int | list[int], z: int,
                     resampling: Resampling) -> tuple[npt.NDArray[Any], Affine]:
        """``window`` read at about twice the tile's resolution (GDAL uses overviews), and its transform."""
        factor = 2 ** max(0, self.native_zoom - z - 1)
        h, w = max(1, math.ceil(window.height / factor)), max(1, math.ceil(window.width / factor))
        shape = (h, w) if isinstance(bands, int) else (len(bands), h, w)
        data = ds.read(bands, window=window.to_rasterio(), out_shape=shape, resampling=resampling)
        transform = (self.info.transform @ Affine.translation(window.col, window.row)
                     @ Affine.scale(window.width / w, window.height / h))
        return np.asarray(data), transform

    def _hard_png(self, classes: npt.NDArray[np.uint8]) -> bytes:
        """Class ids as a palette PNG in the scheme's colours, the no-data class transparent."""
        image = Image.fromarray(np.ascontiguousarray(classes, dtype=np.uint8), "P")
        palette = np.zeros((256, 3), np.uint8)
        palette[: self.scheme.num_classes] = self.scheme.colors
        image.putpalette(palette.tobytes())
        image.info["transparency"] = 0 if self.scheme.nodata_class == 0 else 255
        return _png(image)

    def _render(self, layer: str, z: int, x: int, y: int, window: PixelWindow) -> bytes:
        b = _TMS.xy_bounds(morecantile.Tile(x, y, z))
        dst_transform = rasterio.transform.from_bounds(b.left, b.bottom, b.right, b.top, TILE, TILE)
        src_transform = self.info.transform @ Affine.translation(window.col, window.row)
        coarse = z < self.native_zoom

        def warp(array: npt.NDArray[Any], resampling: Resampling, fill: float = 0) -> npt.NDArray[Any]:
            bands = array if array.ndim == 3 else array[None]
            dst = np.full((bands.shape[0], TILE, TILE), fill, dtype=bands.dtype)
            # tolerance 0: the exact transformer, so neighbouring tiles sample the native grid identically
            reproject(bands, dst, src_transform=src_transform, src_crs=self.info.crs, dst_transform=dst_transform,
                      dst_crs=WEB_MERCATOR, resampling=resampling, tolerance=0)
            return dst if array.ndim == 3 else dst[0]

        if layer == "naip":
            with self._gdal_env():
                ds = self._dataset()
                if coarse:  # decimated read: GDAL takes the overviews, and a z-8 tile is not 60k² pixels
                    rgbn, src_transform = self._read_scaled(ds, window, [1, 2, 3, 4], z, Resampling.average)
                    valid = np.ones(rgbn.shape[1:], bool) if ds.nodata is None else (rgbn != ds.nodata).any(axis=0)
                else:
                    rgbn = read_window(ds, window, bands=[1, 2, 3, 4], source=_public_name(self.source))
                    valid = valid_mask(ds, window, rgbn, [1, 2, 3, 4])
            rgb = warp(np.ascontiguousarray(rgbn[:3]), Resampling.average if coarse else Resampling.bilinear)
            alpha = warp(valid.astype(np.uint8), Resampling.nearest) * 255
            return _png(Image.fromarray(np.dstack([*rgb, alpha]).astype(np.uint8), "RGBA"))
        if layer == "hard" and self.precomputed is not None:
            with self._gdal_env():
                cog = self._precomputed_dataset()
                if coarse:
                    classes, src_transform = self._read_scaled(cog, window, 1, z, Resampling.mode)
                else:
                    classes = read_window(cog, window, bands=1, source=str(self.precomputed))
            return self._hard_png(warp(classes, Resampling.mode if coarse else Resampling.nearest))
        units = self._units_for(self._keys(window))
        if layer == "hard":
            classes, valid = self._assemble(window, units)
            return self._hard_png(warp(classes, Resampling.mode if coarse else Resampling.nearest))
        probs, valid = self._assemble(window, units, probabilities=True)
        warped = warp(probs, Resampling.average if coarse else Resampling.bilinear)
        rgb = soft_labels(warped, self.scheme)
        alpha = warp(valid.astype(np.uint8), Resampling.nearest) * 255
        return _png(Image.fromarray(np.dstack([rgb, alpha]).astype(np.uint8), "RGBA"))


def _densified_bounds(transformer: Transformer, bounds: Sequence[float], points: int = 21) -> tuple[
        float, float, float, float]:
    """The bounds of a box after projection, from ``points`` points along each edge (as ``transform_bounds``
    with ``densify_pts``, but with a transformer built once: 0.1 ms instead of 20)."""
    left, bottom, right, top = bounds
    t = np.linspace(0.0, 1.0, points + 2)
    xs = np.concatenate([left + (right - left) * t, np.full_like(t, right), right - (right - left) * t,
                         np.full_like(t, left)])
    ys = np.concatenate([np.full_like(t, bottom), bottom + (top - bottom) * t, np.full_like(t, top),
                         top - (top - bottom) * t])
    px, py = transformer.transform(xs, ys)
    px, py = np.asarray(px), np.asarray(py)
    ok = np.isfinite(px) & np.isfinite(py)
    if not ok.any():
        return (math.inf, math.inf, -math.inf, -math.inf)
    return float(px[ok].min()), float(py[ok].min()), float(px[ok].max()), float(py[ok].max())


def _native_zoom(cell_size: float, lat: float) -> int:
    """The smallest Web-Mercator zoom whose ground pixel is no larger than the raster's cell."""
    ground_z0 = 2 * math.pi * 6378137.0 / TILE * math.cos(math.radians(lat))
    return max(0, min(24, math.ceil(math.log2(ground_z0 / cell_size))))


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _strip_queries(text: str) -> str:
    """``text`` with every URL query string replaced by ``?...`` (SAS tokens live there)."""
    return re.sub(r"\?[^\s)'\"]*", "?...", text)


def _public_name(source: str) -> str:
    """A source name safe to show: no query string (SAS tokens live there)."""
    return source.split("?", 1)[0]
