"""``Predictor``: tiled inference on arrays and on rasters of any size.

Two modes:

* ``exact`` — the tutorial's tiling: 256×256 windows at stride 128, each window's 128×128
  centre kept. Because the network centres red/green/blue on each window's mean, only the same
  windows give the same numbers; this mode evaluates exactly those windows.
* ``fast`` — larger windows (``fast_window``, default 576) keeping all but a ``fast_halo``
  (default 32) border: 1.27× the multiply-accumulates per output pixel instead of exact mode's 4×,
  each 128×128 block centred on its exact-mode window mean, which is what keeps the argmax within
  ~0.1 % of exact mode (agreement and speed measured by ``benchmarks/predict.py``).

Beyond the raster's edges the margin is filled by reflection (``edge_mode``), so pixels next to
the edge are predicted too. Whole rasters are processed block by block with reading, computing
and writing overlapped through bounded queues, so memory does not grow with the raster.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import rasterio

from .._atomic import check_output_path
from .._util import is_remote, local_path, progress_bar
from ..config.models import PredictConfig
from ..config.schemes import ClassScheme
from ..data.dataset import TileDataset
from ..data.raster import (
    GeoTiffWriter,
    RasterInfo,
    class_tags,
    gdal_path,
    open_raster,
    pad_array,
    read_info,
    read_window,
    valid_mask,
    validate_image,
)
from ..data.windows import PixelWindow, grid_cells
from ..errors import DataError, InvalidRasterError, LabelValueError, StorageError
from .backends import Backend, BackendName, check_batch, load_backend
from .metrics import ConfusionAccumulator, EvaluationReport, softmax
from .region import Region, resolve_region
from .render import hard_labels, save_comparison, save_png, soft_labels

log = logging.getLogger(__name__)

Mode = Literal["exact", "fast"]


@dataclass(frozen=True)
class PredictionResult:
    """What :meth:`Predictor.predict_raster` wrote and how fast."""

    classes: str | Path | None  # local path, or the storage URL it was uploaded to
    probabilities: str | Path | None
    preview: str | Path | None
    window: PixelWindow
    mode: str
    seconds: float
    evaluation: EvaluationReport | None = None

    @property
    def megapixels_per_second(self) -> float:
        """Output megapixels per second."""
        return self.window.height * self.window.width / max(self.seconds, 1e-9) / 1e6


@dataclass
class _Block:
    out: PixelWindow  # in raster pixels
    data: npt.NDArray[np.uint8]  # (bands, padded h, padded w)
    valid: npt.NDArray[np.bool_]  # (h, w) False where the input has no data
    labels: npt.NDArray[np.uint8] | None = None


class _Preview:
    """Decimated copies of a region for pictures: memory bounded by ``max_side``²."""

    def __init__(self, region: PixelWindow, max_side: int = 1024) -> None:
        self.region = region
        self.step = max(1, math.ceil(max(region.height, region.width) / max_side))
        self.shape = (math.ceil(region.height / self.step), math.ceil(region.width / self.step))
        self.arrays: dict[str, npt.NDArray[Any]] = {}

    def add(self, name: str, block: PixelWindow, array: npt.NDArray[Any]) -> None:
        """Store the part of ``array`` (… , h, w) for ``block`` on the decimated grid."""
        s = self.step
        r0, c0 = block.row - self.region.row, block.col - self.region.col
        first_r, first_c = (-r0) % s, (-c0) % s
        part = array[..., first_r::s, first_c::s]
        dst = self.arrays.get(name)
        if dst is None:
            dst = self.arrays[name] = np.zeros((*array.shape[:-2], *self.shape), dtype=array.dtype)
        rr, cc = (r0 + first_r) // s, (c0 + first_c) // s
        dst[..., rr : rr + part.shape[-2], cc : cc + part.shape[-1]] = part


class Predictor:
    """Apply a land-cover model to arrays and rasters.

    Build one with :meth:`from_file` (``.safetensors`` or ``.onnx``; ONNX Runtime by default, so
    only the core install is needed) or from a backend. ``predict_array`` serves apps;
    ``predict_raster`` and ``evaluate_raster`` serve whole GeoTIFFs.
    """

    def __init__(self, backend: Backend, config: PredictConfig | None = None) -> None:
        self.backend = backend
        self.config = config or PredictConfig()
        self.model_config = backend.config
        self.scheme: ClassScheme = backend.scheme
        self.input_scale = backend.input_scale
        mc = self.model_config
        core = mc.window - 2 * mc.margin
        fast_core = self.config.fast_window - 2 * self.config.fast_halo
        if fast_core % core:
            raise DataError(
                f"fast mode needs fast_window - 2*fast_halo to be a multiple of the model's core ({core}); got "
                f"fast_window {self.config.fast_window}, fast_halo {self.config.fast_halo}"
            )

    @classmethod
    def from_file(cls, path: str | Path, *, config: PredictConfig | None = None, backend: BackendName | None = None,
                  threads: int | None = None, **overrides: Any) -> Predictor:
        """Load a model file; ``overrides`` set :class:`PredictConfig` fields (e.g. ``mode="fast"``)."""
        cfg = config or PredictConfig()
        updates = {**overrides, **({"backend": backend} if backend else {})}
        if threads:
            updates["threads"] = threads
        if updates:
            cfg = PredictConfig.from_dict({**cfg.model_dump(), **updates})
        local = _local_model(path)
        return cls(load_backend(local, backend=cfg.backend, threads=cfg.threads, memory_arena=cfg.memory_arena), cfg)

    def __repr__(self) -> str:
        return (f"Predictor(mode={self.config.mode!r}, backend={type(self.backend).__name__}, "
                f"classes={self.scheme.names})")

    # ------------------------------------------------------------------ geometry
    def tiling(self, mode: Mode | None = None, height: int = 0, width: int = 0) -> tuple[int, int, int]:
        """``(window, margin, core)`` of a mode for an area of ``height`` × ``width`` pixels.

        Exact: the model's window (256), margin (64) and core (128). Fast: at most
        ``fast_window`` with ``fast_halo``; the core is shrunk to the smallest multiple of the
        exact core that still needs the same number of windows, so small areas are not padded
        to a whole large window.
        """
        mode = mode or self.config.mode
        mc = self.model_config
        exact_core = mc.window - 2 * mc.margin
        if mode == "exact":
            return mc.window, mc.margin, exact_core
        if mode != "fast":
            raise DataError(f"mode: {mode!r} is not 'exact' or 'fast'")
        h = self.config.fast_halo
        core = self.config.fast_window - 2 * h
        side = max(height, width)
        if side:
            n = math.ceil(side / core)
            core = min(core, math.ceil(side / n / exact_core) * exact_core)
        return core + 2 * h, h, core

    def block_side(self, mode: Mode | None = None) -> int:
        """Side of the blocks a raster is processed in: ``block_size`` rounded down to whole cores."""
        core = self.tiling(mode)[2]
        return max(core, (self.config.block_size // core) * core)

    def input_margin(self, mode: Mode | None = None) -> int:
        """Pixels of context read around an area: the model's margin (64), or a larger fast-mode halo.

        Fast mode reads at least the model's margin even with a smaller halo, because each block
        is centred with the mean of its own tutorial-size window (see :meth:`_centre_locally`).
        """
        mode = mode or self.config.mode
        margin = self.model_config.margin
        return margin if mode == "exact" else max(margin, self.config.fast_halo)

    def padded_shape(self, height: int, width: int, mode: Mode | None = None) -> tuple[int, int]:
        """Size of the input needed to predict ``height`` × ``width`` pixels (margins included)."""
        _, _, core = self.tiling(mode, height, width)
        p = self.input_margin(mode)
        return math.ceil(height / core) * core + 2 * p, math.ceil(width / core) * core + 2 * p

    # ------------------------------------------------------------------ arrays
    def _as_float(self, image: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        arr = np.asarray(image)
        bands = self.model_config.in_bands
        if arr.ndim != 3 or arr.shape[0] != bands:
            raise DataError(f"image must be ({bands}, H, W), got shape {arr.shape}")
        if arr.dtype == np.uint8:
            scaled: npt.NDArray[np.float32] = arr.astype(np.float32) * np.float32(self.input_scale)
            return scaled
        if not np.issubdtype(arr.dtype, np.floating):
            raise DataError(f"image dtype {arr.dtype}: give uint8 imagery or floats already scaled by "
                            f"{self.input_scale}")
        out: npt.NDArray[np.float32] = arr.astype(np.float32, copy=False)
        if not np.isfinite(out).all():
            raise DataError("image holds NaN or infinite values")
        return out

    def _scores_from_padded(self, padded: npt.NDArray[np.float32], height: int, width: int,
                            mode: Mode | None) -> npt.NDArray[np.float32]:
        """Scores ``(C, height, width)`` from an input already padded by :meth:`padded_shape`."""
        mode = mode or self.config.mode
        win, m, core = self.tiling(mode, height, width)
        p = self.input_margin(mode)
        fast = mode == "fast"
        x = self._centre_locally(padded, height, width, p) if fast else padded
        out: npt.NDArray[np.float32] = np.empty((self.scheme.num_classes, height, width), dtype=np.float32)
        cells = list(grid_cells(height, width, core, m, origin=(p, p)))
        # batch_size counts 256x256 windows: ONNX Runtime's working memory grows with pixels per call
        batch = max(1, self.config.batch_size * 256**2 // win**2)
        for start in range(0, len(cells), batch):
            chunk = cells[start : start + batch]
            stack = np.stack([x[:, c.read.row : c.read.row + win, c.read.col : c.read.col + win] for c in chunk])
            scores = self.backend.run(stack, centred=fast)
            for c, sc in zip(chunk, scores, strict=True):
                r, q, h, w = c.out.row - p, c.out.col - p, c.out.height, c.out.width
                out[:, r : r + h, q : q + w] = sc[:, m : m + h, m : m + w]
        return out

    def _centre_locally(self, padded: npt.NDArray[np.float32], height: int, width: int,
                        margin: int) -> npt.NDArray[np.float32]:
        """Subtract from each exact-mode block (128²) the mean of its own tutorial window (256²).

        In exact mode every 128×128 output block is predicted from a 256×256 window centred on
        its own mean. Fast mode runs larger windows on input centred block by block with exactly
        those means, so each block is centred as in exact mode; only the context beyond the
        256×256 window differs. The field is extended by its edge values into the margins.
        """
        mc = self.model_config
        ec, mm = mc.window - 2 * mc.margin, mc.margin
        bands = list(mc.centred_bands)
        nr, nc = math.ceil(height / ec), math.ceil(width / ec)
        off = margin - mm
        sub = padded[bands, off : off + nr * ec + 2 * mm, off : off + nc * ec + 2 * mm].astype(np.float64)
        integral = np.zeros((len(bands), sub.shape[1] + 1, sub.shape[2] + 1))
        integral[:, 1:, 1:] = sub.cumsum(axis=1).cumsum(axis=2)
        r0 = np.arange(nr) * ec
        c0 = np.arange(nc) * ec
        w = mc.window
        sums = (integral[:, r0[:, None] + w, c0[None, :] + w] - integral[:, r0[:, None], c0[None, :] + w]
                - integral[:, r0[:, None] + w, c0[None, :]] + integral[:, r0[:, None], c0[None, :]])
        means = (sums / (w * w)).astype(np.float32)
        field = np.repeat(np.repeat(means, ec, axis=1), ec, axis=2)
        ph, pw = padded.shape[1:]
        field = np.pad(field, ((0, 0), (margin, ph - margin - field.shape[1]), (margin, pw - margin - field.shape[2])),
                       mode="edge")
        out: npt.NDArray[np.float32] = padded.copy()
        out[bands] -= field
        return out

    def predict_array(self, image: npt.NDArray[Any], *, mode: Mode | None = None) -> npt.NDArray[np.float32]:
        """Class scores ``(C, H, W)`` float32 for an image ``(bands, H, W)``.

        ``image`` is uint8 imagery (scaled by the model's input scale, 1/256) or floats already
        scaled. Margins beyond the image are filled by the configured ``edge_mode``.
        """
        x = self._as_float(image)
        check_batch(x[None], self.model_config.in_bands)
        _, h, w = x.shape
        ph, pw = self.padded_shape(h, w, mode)
        m = self.input_margin(mode)
        padded = pad_array(x, ((m, ph - h - m), (m, pw - w - m)), _pad_mode(self.config.edge_mode, h, w))
        return self._scores_from_padded(padded, h, w, mode)

    def predict_classes(self, image: npt.NDArray[Any], *, mode: Mode | None = None) -> npt.NDArray[np.uint8]:
        """Class ids ``(H, W)`` (argmax of :meth:`predict_array`)."""
        classes: npt.NDArray[np.uint8] = self.predict_array(image, mode=mode).argmax(axis=0).astype(np.uint8)
        return classes

    # ------------------------------------------------------------------ rasters
    def _check_source(self, src: str | Path) -> RasterInfo:
        info = read_info(src)
        bands = list(range(1, self.model_config.in_bands + 1))
        if info.count < len(bands):
            raise InvalidRasterError(src, f"imagery has {info.count} band(s); the model needs {len(bands)}")
        validate_image(info, bands)
        return info

    def _blocks(self, src: str | Path, info: RasterInfo, region: Region, mode: Mode | None,
                labels: TileDataset | None) -> Iterator[_Block]:
        """Blocks of the region with their padded imagery, read ahead in a background thread."""
        m = self.input_margin(mode)
        size = self.block_side(mode)
        reg = region.window
        windows = [PixelWindow(reg.row + r, reg.col + c, min(size, reg.height - r), min(size, reg.width - c))
                   for r in range(0, reg.height, size) for c in range(0, reg.width, size)]
        bands = list(range(1, self.model_config.in_bands + 1))
        edge = self.config.edge_mode
        local: dict[str, Any] = {}

        def read(out: PixelWindow) -> _Block:
            ds = local.get("ds")
            if ds is None:
                ds = local["ds"] = local.setdefault("stack", contextlib.ExitStack()).enter_context(open_raster(src))
            ph, pw = self.padded_shape(out.height, out.width, mode)
            read_win = PixelWindow(out.row - m, out.col - m, ph, pw)
            data = read_window(ds, read_win, bands=bands, pad_mode=_pad_mode(edge, info.height, info.width),
                               source=str(src))
            inner = data[:, m : m + out.height, m : m + out.width]
            valid = valid_mask(ds, out, inner, bands)
            outside = region.mask(info, out)
            if outside is not None:
                valid &= ~outside
            lab = labels.read_labels(0, out) if labels is not None else None
            return _Block(out, data, valid, lab)

        depth = self.config.queue_size
        with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lc-read") as pool:
            pending: deque[cf.Future[_Block]] = deque()
            it = iter(windows)
            try:
                for w in it:
                    pending.append(pool.submit(read, w))
                    if len(pending) >= depth:
                        break
                while pending:
                    block = pending.popleft().result()
                    nxt = next(it, None)
                    if nxt is not None:
                        pending.append(pool.submit(read, nxt))
                    yield block
            finally:
                for f in pending:
                    f.cancel()
                stack = local.get("stack")
                if stack is not None:
                    pool.submit(stack.close).result()

    def predict_scores(self, src: str | Path, *, mode: Mode | None = None, **region: Any) -> npt.NDArray[np.float32]:
        """Scores ``(C, h, w)`` of a region of a raster (region keywords as in :meth:`predict_raster`).

        Margins come from the raster where it has pixels and from ``edge_mode`` beyond it, so a
        region read with the tutorial's 64-pixel margin gives exactly the tutorial's numbers.
        Holds the whole region in memory: use :meth:`predict_raster` for large areas.
        """
        src_local = _local_raster(src)
        info = self._check_source(src_local)
        win = resolve_region(info, margin=self.model_config.margin, **region).window
        m = self.input_margin(mode)
        ph, pw = self.padded_shape(win.height, win.width, mode)
        with open_raster(src_local) as ds:
            data = read_window(ds, PixelWindow(win.row - m, win.col - m, ph, pw),
                               bands=list(range(1, self.model_config.in_bands + 1)),
                               pad_mode=_pad_mode(self.config.edge_mode, info.height, info.width), source=str(src))
        return self._scores_from_padded(data.astype(np.float32) * np.float32(self.input_scale), win.height,
                                        win.width, mode)

    def _compute(self, block: _Block, mode: Mode | None) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8]]:
        x = block.data.astype(np.float32) * np.float32(self.input_scale)
        scores = self._scores_from_padded(x, block.out.height, block.out.width, mode)
        probs = softmax(scores, axis=0)
        classes = scores.argmax(axis=0).astype(np.uint8)
        nodata = self.scheme.nodata_class
        if self.config.nodata_to_class0 and nodata is not None:
            classes[~block.valid] = nodata
        return probs, classes

    def predict_raster(
        self,
        src: str | Path,
        dst: str | Path | None,
        *,
        probabilities: str | Path | None = None,
        preview: str | Path | None = None,
        labels: str | Path | None = None,
        report: str | Path | None = None,
        figure: str | Path | None = None,
        mode: Mode | None = None,
        progress: bool = True,
        **region: Any,
    ) -> PredictionResult:
        """Predict a GeoTIFF (or a region of it) into a tiled COG of class ids.

        ``dst`` gets class ids (uint8) with the scheme's colour map and class names, the source
        CRS and the region's transform; input no-data pixels become the no-data class (0).
        ``probabilities`` gets one uint8 band per class (softmax × 255). ``preview`` gets a PNG
        of the hard labels. With ``labels`` (an aligned label raster) the region is also
        evaluated: metrics stream block by block into the returned result, ``report`` gets them
        as JSON and ``figure`` the NAIP | prediction | truth comparison. Region keywords are those
        of :func:`~landcover_sdk.inference.region.resolve_region` (``window``, ``bounds``,
        ``geometry`` + ``crs``, ``center`` + ``region_size``).

        Every input and output is checked before any pixel is computed; outputs are written
        under temporary names and renamed only when complete.
        """
        requested = dict(dst=dst, probabilities=probabilities, preview=preview, report=report, figure=figure)
        if any(v is not None and is_remote(v) for v in requested.values()):
            from ..storage import staged_outputs

            urls = [str(v) for v in requested.values() if v is not None]
            if len(set(urls)) != len(urls):
                raise StorageError(f"output paths must differ: {', '.join(urls)}")
            with staged_outputs(requested) as local:
                result = self.predict_raster(src, local["dst"], probabilities=local["probabilities"],
                                             preview=local["preview"], labels=labels, report=local["report"],
                                             figure=local["figure"], mode=mode, progress=progress, **region)
            return dataclasses.replace(result, classes=dst, probabilities=probabilities, preview=preview)
        t0 = time.perf_counter()
        mode = mode or self.config.mode
        self.tiling(mode)
        src_local = _local_raster(src)
        info = self._check_source(src_local)
        outputs = [p for p in (dst, probabilities, preview, report, figure) if p is not None]
        if not outputs and labels is None:
            raise StorageError("no output requested (give dst, probabilities, preview, labels, report or figure)")
        resolved = [Path(p).resolve() for p in outputs]
        if len(set(resolved)) != len(resolved):
            raise StorageError(f"output paths must differ: {', '.join(map(str, outputs))}")
        for p in outputs:
            check_output_path(p, inputs=(src,) + ((labels,) if labels is not None else ()))
        label_ds = self._check_labels(src_local, labels) if labels is not None else None
        if (report is not None or figure is not None) and label_ds is None:
            raise StorageError("report and figure need labels")
        reg = resolve_region(info, margin=self.model_config.margin, **region)
        win = reg.window
        transform = reg.transform(info)
        tags = {**class_tags(self.scheme.names, self.scheme.name), "LANDCOVER_MODE": mode}
        shared: dict[str, Any] = dict(width=win.width, height=win.height, crs=info.crs, transform=transform,
                      inputs=(src,), blocksize=512)
        accumulator = ConfusionAccumulator(self.scheme) if label_ds is not None else None
        pv = _Preview(win) if (preview is not None or figure is not None) else None
        margin = self.input_margin(mode)
        block = self.block_side(mode)
        n_blocks = math.ceil(win.height / block) * math.ceil(win.width / block)
        log.info("predicting %dx%d px of %s in %s mode (%d block(s))", win.height, win.width, src, mode, n_blocks)
        with contextlib.ExitStack() as stack:
            stack.enter_context(rasterio.Env(GDAL_CACHEMAX=256))
            cls_w = prob_w = None
            if dst is not None:
                cls_w = stack.enter_context(GeoTiffWriter(
                    dst, count=1, dtype="uint8", nodata=self.scheme.nodata_class, colormap=self.scheme.colormap,
                    tags=tags, band_descriptions=["class"], **shared))
            if probabilities is not None:
                prob_w = stack.enter_context(GeoTiffWriter(
                    probabilities, count=self.scheme.num_classes, dtype="uint8", tags=tags,
                    band_descriptions=[f"p({n})" for n in self.scheme.names], **shared))
            writer = stack.enter_context(cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lc-write"))
            bar = stack.enter_context(progress_bar(n_blocks, enabled=progress, desc="predict", unit="block"))
            pending_write: cf.Future[None] | None = None
            for blk in self._blocks(src_local, info, reg, mode, label_ds):
                probs, classes = self._compute(blk, mode)
                out = blk.out
                rel = PixelWindow(out.row - win.row, out.col - win.col, out.height, out.width)
                if accumulator is not None and blk.labels is not None:
                    accumulator.update(blk.labels, probabilities=probs)
                if pv is not None:
                    pv.add("rgb", out, blk.data[:3, margin : margin + out.height, margin : margin + out.width])
                    pv.add("classes", out, classes)
                    pv.add("probs", out, probs)
                    if blk.labels is not None:
                        pv.add("labels", out, blk.labels)
                if pending_write is not None:
                    pending_write.result()
                if cls_w is not None or prob_w is not None:
                    pending_write = writer.submit(_write_block, cls_w, prob_w, classes, probs, blk.valid, rel)
                bar.update(1)
            if pending_write is not None:
                pending_write.result()
        evaluation = accumulator.report() if accumulator is not None else None
        if evaluation is not None and report is not None:
            evaluation.save_json(report)
        if pv is not None:
            if preview is not None:
                save_png(hard_labels(pv.arrays["classes"], self.scheme), preview)
            if figure is not None:
                rgb = pv.arrays["rgb"].transpose(1, 2, 0)
                panels = [("NAIP (RGB)", rgb), ("prediction", hard_labels(pv.arrays["classes"], self.scheme)),
                          ("soft prediction", soft_labels(pv.arrays["probs"], self.scheme)),
                          ("truth", hard_labels(pv.arrays["labels"], self.scheme))]
                title = None
                if evaluation is not None:
                    title = (f"pixel accuracy {evaluation.accuracy:.1%}, mean true-label probability "
                             f"{(evaluation.mean_true_probability or 0):.1%}")
                save_comparison(figure, panels, self.scheme, title=title)
        seconds = time.perf_counter() - t0
        result = PredictionResult(Path(dst) if dst else None, Path(probabilities) if probabilities else None,
                                  Path(preview) if preview else None, win, mode, seconds, evaluation)
        log.info("predicted %.2f Mpx in %.1fs (%.3f Mpx/s)", win.height * win.width / 1e6, seconds,
                 result.megapixels_per_second)
        return result

    def evaluate_raster(self, src: str | Path, labels: str | Path, *, report: str | Path | None = None,
                        figure: str | Path | None = None, mode: Mode | None = None, progress: bool = True,
                        **region: Any) -> EvaluationReport:
        """Predict a region and compare it with an aligned label raster (the tutorial's evaluation)."""
        result = self.predict_raster(src, None, labels=labels, report=report, figure=figure, mode=mode,
                                     progress=progress, **region)
        assert result.evaluation is not None
        return result.evaluation

    def _check_labels(self, src: str | Path, labels: str | Path) -> TileDataset:
        ds = TileDataset([(str(src), str(_local_raster(labels)))], bands=range(1, self.model_config.in_bands + 1),
                         cache="windowed")
        if not ds.scheme.same_classes(self.scheme):
            raise LabelValueError(labels, f"labels use classes {ds.scheme.names}; the model predicts "
                                          f"{self.scheme.names}")
        return ds


def _write_block(cls_w: GeoTiffWriter | None, prob_w: GeoTiffWriter | None, classes: npt.NDArray[np.uint8],
                 probs: npt.NDArray[np.float32], valid: npt.NDArray[np.bool_], window: PixelWindow) -> None:
    if cls_w is not None:
        cls_w.write(classes, window)
    if prob_w is not None:
        p8 = np.rint(probs * 255.0).astype(np.uint8)
        p8[:, ~valid] = 0
        prob_w.write(p8, window)


def _pad_mode(mode: str, height: int, width: int) -> Any:
    # Reflection needs at least two pixels along an axis; a 1-pixel raster can only be extended.
    if mode in ("reflect", "symmetric") and min(height, width) < 2:
        return "edge"
    return mode


def _local_model(path: str | Path) -> Path:
    if is_remote(path):
        from ..storage import fetch_to_cache

        return fetch_to_cache(str(path))
    return local_path(path)


def _local_raster(path: str | Path) -> str:
    return gdal_path(path) if is_remote(path) else str(local_path(path))

