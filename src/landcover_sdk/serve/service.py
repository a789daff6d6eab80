"""``TileService``: land cover as Web-Mercator map tiles, predicted on the raster's own grid, cached.

Framework-free: an app embeds it directly (``service.tile("hard", 17, x, y)``); the web server in
:mod:`.app` is a thin layer over it. The service is a facade over three jobs:

1. :mod:`landcover_sdk.inference.units` — the tile's native window is covered by *units* on the grid
   anchored at the raster's top-left pixel (exact mode: the tutorial's 128-pixel cores; fast mode:
   128-pixel blocks with :data:`~landcover_sdk.inference.units.REALTIME_FAST_SETTINGS`), each computed
   exactly as ``Predictor.predict_raster`` computes it, so a served tile equals the batch COG whatever
   the pan, zoom or request order; computed units (class ids, validity, float16 probabilities) stay
   in a bounded LRU;
2. :mod:`.scheduler` — missing units are computed once even when several tiles wait for them, by
   one inference thread, newest request first; a unit whose every requester has gone (the browser
   aborted the tile) is dropped before it is computed;
3. :mod:`.tiles` — the tile's Web-Mercator bounds are taken to the native pixel window they cover
   (plus two pixels for resampling), and that window is reprojected to the 256² tile: hard labels
   nearest (a palette PNG comparable pixel for pixel with the COG), soft labels from bilinear
   probabilities, imagery bilinear. Below the native zoom, average/mode; below ``min_zoom`` a "zoom
   in" tile: the network never sees resampled imagery.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import logging
import os
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine

from .._redact import first_line, public_url, strip_queries
from .._version import __version__
from ..data.raster import RasterInfo, gdal_path, read_window, valid_mask, write_raster
from ..data.windows import PixelWindow
from ..errors import ConfigError, DataError, InvalidRasterError, LandcoverError, SourceError, WindowError
from ..inference import Mode, Predictor, classify
from ..inference import units as grid_units
from .scheduler import Scheduler, Ticket
from .tiles import (
    PRECOMPUTED_MIN_ZOOM_STEPS,
    TILE,
    WEB_MERCATOR,
    TileGeometry,
    TileRenderer,
    check_precomputed,
    zoom_in_png,
)

log = logging.getLogger(__name__)

Layer = Literal["naip", "soft", "hard"]
LAYERS: tuple[Layer, ...] = ("naip", "soft", "hard")
#: Native pixels of units one prediction tile may need before it is served as "zoom in" (64 of the
#: tutorial's 128² cores: a tile two zooms below native at 1 m).
MAX_TILE_PIXELS = 64 * 128 * 128
#: Largest export, in native pixels.
MAX_EXPORT_PIXELS = 4096 * 4096
#: Fast mode's unit (the name before it moved to :mod:`landcover_sdk.inference.units`).
FAST_SETTINGS = grid_units.REALTIME_FAST_SETTINGS
#: GDAL settings for remote COGs: no directory listing, merged range requests, a read cache.
REMOTE_GDAL = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
               "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES", "VSI_CACHE": "TRUE", "GDAL_HTTP_MAX_RETRY": "2"}

__all__ = ["FAST_SETTINGS", "LAYERS", "MAX_EXPORT_PIXELS", "MAX_TILE_PIXELS", "PRECOMPUTED_MIN_ZOOM_STEPS",
           "REMOTE_GDAL", "TILE", "WEB_MERCATOR", "SourceError", "TileRequest", "TileResult", "TileService", "Unit"]


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


@dataclass(frozen=True)
class TileResult:
    """What a tile request made.

    Attributes:
        kind: ``"png"`` (a tile), ``"zoom_in"`` (the "zoom in" tile: too far out to predict) or ``"outside"``
            (the tile does not overlap the raster; no bytes).
        data: the PNG bytes (``None`` outside).
    """

    kind: Literal["png", "zoom_in", "outside"]
    data: bytes | None = None


class _Latency:
    """Latencies per layer for ``/metrics``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
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
    """One tile being made; :meth:`result` waits for it, :meth:`cancel` gives it up.

    Made by :meth:`TileService.request`, not directly.

    Args:
        service: the service making it.
        layer: ``naip``, ``soft`` or ``hard``.
        z: zoom.
        x: tile column.
        y: tile row.

    Attributes:
        future: resolves to the :class:`TileResult`.
    """

    def __init__(self, service: TileService, layer: str, z: int, x: int, y: int) -> None:
        self.layer, self.z, self.x, self.y = layer, z, x, y
        self.future: cf.Future[TileResult] = cf.Future()
        self._service = service
        self._ticket: Ticket[grid_units.Key] | None = None
        self._t0 = time.perf_counter()

    def result(self, timeout: float | None = None) -> TileResult:
        """The tile: its PNG, the "zoom in" tile, or "outside the raster".

        Args:
            timeout: seconds to wait (``None``: as long as it takes).
        """
        return self.future.result(timeout)

    def cancel(self) -> None:
        """Give the tile up: units no other request waits for are not computed."""
        self.future.cancel()
        self._release()

    def _release(self) -> None:
        if self._ticket is not None:
            self._service._scheduler.release(self._ticket)


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

    Raises:
        ConfigError: an unknown mode.
    """

    def __init__(self, predictor: Predictor, source: str | Path, *, mode: Mode | str = "exact",
                 cache_mb: float = 512, min_zoom: int | None = None, model_id: str | None = None,
                 precomputed: str | Path | None = None) -> None:
        if mode not in ("exact", "fast"):
            raise ConfigError(f"mode: {mode!r} is not 'exact' or 'fast'")
        self.mode: Mode = "exact" if mode == "exact" else "fast"
        self.source = str(source)
        self.latency = _Latency()
        config = predictor.config.updated(mode=mode, **(grid_units.FAST_TILING["serve"] if mode == "fast" else {}))
        self.predictor, self._backend = grid_units.counting_predictor(predictor, config)
        self.scheme = self.predictor.scheme
        self.tiling = self.predictor.tiling(mode)
        self._path = gdal_path(self.source)
        self._remote = self._path.startswith("/vsi")
        self.info = self._open_info()
        self.grid = grid_units.UnitGrid(self.tiling, (self.info.height, self.info.width))
        self.unit = self.grid.side
        self.geometry = TileGeometry(self.info, self.source)
        self.bounds = self.geometry.bounds
        self.native_zoom = self.geometry.native_zoom
        self.min_zoom = self.native_zoom - 2 if min_zoom is None else int(min_zoom)
        self.max_zoom = max(self.native_zoom + 3, self.min_zoom)
        self.precomputed = None if precomputed is None else check_precomputed(precomputed, self.info,
                                                                               self._gdal_env)
        self.renderer = TileRenderer(self.geometry, self.scheme, self._path, public_url(self.source),
                                     self._gdal_env, self.precomputed)
        self.model_id = model_id or secrets.token_hex(8)
        self._identity = self._source_identity()
        self._cache: grid_units.UnitCache[grid_units.Key, Unit] = grid_units.UnitCache(
            int(cache_mb * 2**20), lambda u: u.nbytes)
        self._warm_up()
        self._scheduler: Scheduler[grid_units.Key, Unit] = Scheduler(self._cache, self._compute, self.grid.runs,
                                                                     on_error=self._source_error)
        self._pool = cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="lc-tile")

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
        self.check_tile(layer, z, x, y)
        req = TileRequest(self, layer, z, x, y)
        window = self.geometry.tile_window(z, x, y)
        if window is None:
            req.future.set_result(TileResult("outside"))
            return req
        from_file = layer == "naip" or (layer == "hard" and self.precomputed is not None)
        lowest = self.native_zoom - PRECOMPUTED_MIN_ZOOM_STEPS if from_file else self.min_zoom
        if z < lowest:
            req.future.set_result(TileResult("zoom_in", zoom_in_png()))
            return req
        if from_file:
            self._submit_render(req, window)
            return req
        keys = self.grid.keys(window)
        if len(keys) * self.unit**2 > MAX_TILE_PIXELS:
            req.future.set_result(TileResult("zoom_in", zoom_in_png()))
            return req
        req._ticket = ticket = self._scheduler.submit(keys)

        def ready(f: cf.Future[None]) -> None:
            exc = None if f.cancelled() else f.exception()
            if exc is not None:
                if not req.future.done():
                    req.future.set_exception(exc)
            elif not f.cancelled():
                self._submit_render(req, window)

        ticket.future.add_done_callback(ready)
        return req

    @staticmethod
    def check_tile(layer: str, z: int, x: int, y: int) -> None:
        """Raise unless ``layer`` is a layer and ``z/x/y`` a Web-Mercator tile.

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

    def tile(self, layer: str, z: int, x: int, y: int, *, timeout: float | None = None) -> bytes | None:
        """PNG bytes of a tile (``None`` outside the raster); blocks until it is made.

        Args:
            layer: ``naip``, ``soft`` or ``hard``.
            z: zoom.
            x: tile column.
            y: tile row.
            timeout: seconds to wait.
        """
        return self.request(layer, z, x, y).result(timeout).data

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
            "source": public_url(self.source),
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
        row, col = self.geometry.pixel(lon, lat)
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
        window = self.geometry.bbox_window(bbox)
        counts = np.zeros(self.scheme.num_classes, dtype=np.int64)
        covered = 0
        keys = self.grid.keys(window)
        if compute:
            self._check_export(window)
            units = self.units(keys, timeout=timeout)
        else:
            units = self._cache.get_many(keys)
        for key, unit in units.items():
            overlap = self.grid.overlap(key, window)
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
        window = self.geometry.bbox_window(bbox)
        self._check_export(window)
        classes = self.grid.assemble(window, self.units(self.grid.keys(window), timeout=timeout),
                                     lambda u: u.classes)
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
        return self._scheduler.get(keys, timeout=timeout)

    def metrics(self) -> dict[str, Any]:
        """Windows evaluated, units computed and cached, cache hits and misses, queue, latency percentiles."""
        s = self._scheduler
        return {"windows_evaluated": self._backend.windows, "units_computed": s.computed, "cache_hits": s.hits,
                "cache_misses": s.misses, "units_dropped": s.dropped, "units_cached": len(self._cache),
                "cache_bytes": self._cache.bytes, "cache_limit_bytes": self._cache.limit, "queue": s.queued(),
                "latency": self.latency.percentiles()}

    def record_latency(self, layer: str, seconds: float) -> None:
        """Add one served tile's latency to :meth:`metrics`.

        Args:
            layer: the layer.
            seconds: request to response.
        """
        self.latency.record(layer, seconds)

    def zoom_in_tile(self) -> bytes:
        """The tile served below the minimum zoom: transparent, with a "zoom in" hint."""
        return zoom_in_png()

    def close(self) -> None:
        """Stop the inference thread and the tile pool."""
        self._scheduler.close()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ the source
    def _open_info(self) -> RasterInfo:
        name = public_url(self.source)
        try:
            with self._gdal_env():
                info = self.predictor.check_source(self._path)
        except InvalidRasterError as exc:  # name the source as given, never its query string (SAS tokens)
            raise InvalidRasterError(name, strip_queries(exc.problem)) from None
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

    def _source_error(self, exc: Exception) -> LandcoverError:
        """What a request that failed while reading or computing is told (no query strings: SAS tokens)."""
        if isinstance(exc, LandcoverError) and not isinstance(exc, InvalidRasterError):
            return exc
        detail = strip_queries(first_line(exc, None))[:300]
        return SourceError(f"{public_url(self.source)}: cannot read the imagery ({detail})")

    def _check_export(self, window: PixelWindow) -> None:
        if window.height * window.width > MAX_EXPORT_PIXELS:
            raise WindowError(f"bbox: {window.height}x{window.width} pixels; at most {MAX_EXPORT_PIXELS:,} "
                              "(zoom in or export a smaller view)")

    def _tile_window(self, z: int, x: int, y: int) -> PixelWindow | None:
        return self.geometry.tile_window(z, x, y)

    def _keys(self, window: PixelWindow) -> list[grid_units.Key]:
        return self.grid.keys(window)

    # ------------------------------------------------------------------ units and rendering
    def _compute(self, run: list[grid_units.Key]) -> dict[grid_units.Key, Unit]:
        """Units of one run (:meth:`UnitGrid.runs`), in one network call, exactly as the batch predictor computes
        them."""
        area, read = self.grid.area(run), self.grid.read_window(run)
        bands = list(range(1, self.predictor.model_config.in_bands + 1))
        with self._gdal_env():
            ds = self.renderer.dataset()
            canvas = read_window(ds, read, bands=bands, source=public_url(self.source))
            own = canvas[:, area.row - read.row : area.row_stop - read.row,
                         area.col - read.col : area.col_stop - read.col]
            valid = valid_mask(ds, area, own, bands)
        scores = grid_units.compute_units(self.predictor, self.grid, canvas, (read.row, read.col), run)
        nodata = self.scheme.nodata_class if self.predictor.config.nodata_to_class0 else None
        out: dict[grid_units.Key, Unit] = {}
        for key, unit_scores in scores.items():
            win = self.grid.window(key)
            c0 = win.col - area.col
            made = classify(unit_scores, valid[:, c0 : c0 + win.width], self.scheme, nodata_class=nodata,
                            probabilities=True)
            assert made.classes is not None and made.probabilities is not None
            out[key] = Unit(made.classes, np.ascontiguousarray(valid[:, c0 : c0 + win.width]),
                            made.probabilities.astype(np.float16))
        return out

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
                req._release()
            if not req.future.done():
                req.future.set_result(TileResult("png", data))
                self.latency.record(req.layer, time.perf_counter() - req._t0)

        try:
            self._pool.submit(render)
        except RuntimeError:  # shut down
            req.future.cancel()

    def _render(self, layer: str, z: int, x: int, y: int, window: PixelWindow) -> bytes:
        if layer == "naip":
            return self.renderer.naip(z, x, y, window)
        if layer == "hard" and self.precomputed is not None:
            return self.renderer.precomputed_hard(z, x, y, window)
        keys = self.grid.keys(window)
        units = self._scheduler.held(keys)
        if layer == "hard":
            return self.renderer.hard(z, x, y, window, self.grid.assemble(window, units, lambda u: u.classes))
        probs = self.grid.assemble(window, units, lambda u: u.probabilities.astype(np.float32))
        valid = self.grid.assemble(window, units, lambda u: u.valid)
        return self.renderer.soft(z, x, y, window, probs, valid)

