"""``Predictor``: a land-cover model applied to arrays and to rasters of any size.

The predictor is the front door; the work is split by job:

* :mod:`~landcover_sdk.inference.tiling` — how each mode (``exact``: the tutorial's windows,
  bit for bit; ``fast``: larger windows with each block's exact-mode mean subtracted) cuts an
  area into network windows;
* :mod:`~landcover_sdk.inference.reader` — reading a region block by block with its margins,
  ahead of the computation;
* :mod:`~landcover_sdk.inference.outputs` — the sinks that publish class and probability COGs,
  metrics and pictures;
* :mod:`~landcover_sdk.inference.backends` — ONNX Runtime (no torch) or PyTorch.

Beyond the raster's edges the margin is filled by reflection (``edge_mode``), so pixels next to
the edge are predicted too. Whole rasters are processed block by block with reading, computing
and writing overlapped, so memory does not grow with the raster.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import logging
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import rasterio

from .._atomic import check_output_path
from .._redact import public_url
from .._util import is_remote, local_path, progress_bar
from ..config.models import PredictConfig
from ..config.region import Region
from ..config.schemes import ClassScheme
from ..data.dataset import TileDataset
from ..data.raster import (
    RasterInfo,
    edge_indices,
    gdal_path,
    open_raster,
    pad_array,
    read_info,
    read_window,
    validate_image,
)
from ..data.region import RasterRegion, resolve_region
from ..data.windows import PixelWindow
from ..errors import ConfigError, DataError, InvalidRasterError, LabelValueError, StorageError
from ..models.locate import local_model
from ..storage.staging import StagedSink, check_remote, publish_text, stage_path
from .backends import Backend, BackendName, check_batch, load_backend
from .metrics import EvaluationReport
from .outputs import BlockPrediction, Metrics, Output, OutputContext, RasterGrid, Sink, outputs_from_keywords
from .reader import Block, pad_mode, read_blocks
from .render import classify
from .stac import COG_TYPE, SourceLink, class_item, item_path
from .tiling import Mode, Tiling, score_area

if TYPE_CHECKING:  # pragma: no cover
    from ..imagery import ImageryScene, NaipSource

log = logging.getLogger(__name__)

#: Fast-mode tiling of int8 models unless ``fast_window``/``fast_halo`` are set: int8 spends part of its
#: speed on the tutorial's full 64-pixel context, which keeps its classes >= 99 % equal to fp32 exact
#: on held-out real imagery where the 32-pixel halo did not (docs/performance.md).
INT8_FAST_TILING: dict[str, int] = {"fast_window": 640, "fast_halo": 64}

RegionLike = Region | Mapping[str, Any] | None


@dataclass(frozen=True)
class PredictionResult:
    """What :meth:`Predictor.predict_raster` wrote and how fast.

    Attributes:
        outputs: every output written, by :attr:`~landcover_sdk.inference.outputs.Output.result_key`
            (``classes``, ``probabilities``, ``preview``, ``report``, ``figure``, ``stac_item``, your own):
            the local path, or the storage URL it was uploaded to.
        window: the region predicted, in raster pixels.
        mode: ``"exact"`` or ``"fast"``; for an int8 model e.g. ``"exact tiling, int8 (approximate)"``.
        seconds: wall-clock time of the call.
        evaluation: the metrics, when labels were given.
    """

    outputs: dict[str, str | Path]
    window: PixelWindow
    mode: str
    seconds: float
    evaluation: EvaluationReport | None = None

    @property
    def classes(self) -> str | Path | None:
        """The class COG, if asked for."""
        return self.outputs.get("classes")

    @property
    def probabilities(self) -> str | Path | None:
        """The probability COG, if asked for."""
        return self.outputs.get("probabilities")

    @property
    def preview(self) -> str | Path | None:
        """The preview PNG, if asked for."""
        return self.outputs.get("preview")

    @property
    def stac_item(self) -> str | Path | None:
        """The STAC Item written beside the class COG (``<name>.stac.json``), if any."""
        return self.outputs.get("stac_item")

    @property
    def megapixels_per_second(self) -> float:
        """Output megapixels per second."""
        return self.window.height * self.window.width / max(self.seconds, 1e-9) / 1e6


class Predictor:
    """Apply a land-cover model to arrays and rasters.

    Build one with :meth:`from_file` (``.safetensors`` or ``.onnx``; ONNX Runtime by default, so
    only the core install is needed) or from a backend. :meth:`predict_array` serves apps;
    :meth:`predict_raster` and :meth:`evaluate_raster` serve whole GeoTIFFs, local or remote.

    Example:
        >>> from landcover_sdk import Predictor, Region
        >>> predictor = Predictor.from_file("model.safetensors", mode="fast")  # doctest: +SKIP
        >>> result = predictor.predict_raster(  # doctest: +SKIP
        ...     "tile_NAIP.tif", "classes.tif", probabilities="probabilities.tif",
        ...     region=Region.around(37.055522, -78.638640, size=1024))
        >>> result.megapixels_per_second  # doctest: +SKIP
        0.33

    Args:
        backend: the network (:func:`~landcover_sdk.inference.load_backend`).
        config: how to tile and compute (default :class:`~landcover_sdk.PredictConfig`).
    """

    def __init__(self, backend: Backend, config: PredictConfig | None = None) -> None:
        self.backend = backend
        self.config = config or PredictConfig()
        if self.precision == "int8" and not self.config.model_fields_set & INT8_FAST_TILING.keys():
            self.config = self.config.updated(**INT8_FAST_TILING)
        self.model_config = backend.config
        self.scheme: ClassScheme = backend.scheme
        self.input_scale = backend.input_scale
        #: The model file's path or URL, when loaded with :meth:`from_file` (linked from output STAC Items).
        self.model_source: str | None = None
        self.tiling("fast")  # a fast window that does not fit the model is a configuration error, raised now

    @classmethod
    def from_file(cls, path: str | Path, *, config: PredictConfig | None = None, backend: BackendName | None = None,
                  threads: int | None = None, **overrides: Any) -> Predictor:
        """Load a model file (local or a storage URL) into a predictor.

        Args:
            path: ``.safetensors``, ``.onnx`` or tutorial CNTK ``.model`` file, a storage URL of one, or a
                built-in model (``builtin:tutorial-250epochs``, the tutorial's own trained network).
            config: prediction settings to start from (default :class:`~landcover_sdk.PredictConfig`).
            backend: ``"onnxruntime"`` (default, core install) or ``"torch"``.
            threads: compute threads (default: every CPU).
            **overrides: other :class:`~landcover_sdk.PredictConfig` fields, e.g. ``mode="fast"``;
                an unknown name or a bad value raises :class:`~landcover_sdk.ConfigError`.
        """
        cfg = (config or PredictConfig()).updated(backend=backend, threads=threads, **overrides)
        local = local_model(path)
        predictor = cls(load_backend(local, backend=cfg.backend, threads=cfg.threads, memory_arena=cfg.memory_arena,
                                     device=cfg.device, autocast=cfg.autocast), cfg)
        predictor.model_source = str(path)
        return predictor

    def __repr__(self) -> str:
        precision = "" if self.precision == "fp32" else f", precision={self.precision!r}"
        return (f"Predictor(mode={self.config.mode!r}, backend={type(self.backend).__name__}{precision}, "
                f"classes={self.scheme.names})")

    @property
    def precision(self) -> str:
        """``"fp32"``; ``"int8"`` for a quantized model, ``"fp16"``/``"bf16"`` under torch autocast (approximations)."""
        return str(getattr(self.backend, "precision", "fp32"))

    def mode_label(self, mode: Mode | str | None = None) -> str:
        """How results of ``mode`` are labelled: ``exact`` only for a float model run on the tutorial's windows."""
        name = self.tiling(mode).mode
        return name if self.precision == "fp32" else f"{name} tiling, {self.precision} (approximate)"

    def tiling(self, mode: Mode | str | None = None) -> Tiling:
        """The :class:`~landcover_sdk.inference.tiling.Tiling` of ``mode`` (default: the configured mode)."""
        return Tiling.for_mode(self.model_config, self.config, mode)

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

    def predict_array(self, image: npt.NDArray[Any], *, mode: Mode | None = None) -> npt.NDArray[np.float32]:
        """Class scores ``(C, H, W)`` float32 for an image ``(bands, H, W)``.

        Args:
            image: uint8 imagery (scaled by the model's input scale, 1/256) or floats already scaled.
            mode: ``"exact"`` or ``"fast"`` (default: the configured mode).

        Margins beyond the image are filled by the configured ``edge_mode``.
        """
        tiling = self.tiling(mode)
        x = self._as_float(image)
        check_batch(x[None], self.model_config.in_bands)
        _, h, w = x.shape
        ph, pw = tiling.padded_shape(h, w)
        m = tiling.input_margin
        padded = pad_array(x, ((m, ph - h - m), (m, pw - w - m)), pad_mode(self.config.edge_mode, h, w))
        return score_area(self.backend, tiling, padded, h, w)

    def predict_classes(self, image: npt.NDArray[Any], *, mode: Mode | None = None) -> npt.NDArray[np.uint8]:
        """Class ids ``(H, W)`` of an image ``(bands, H, W)`` (argmax of :meth:`predict_array`)."""
        classes: npt.NDArray[np.uint8] = self.predict_array(image, mode=mode).argmax(axis=0).astype(np.uint8)
        return classes

    # ------------------------------------------------------------------ rasters
    def check_source(self, src: str | Path) -> RasterInfo:
        """The header of imagery this model can read: enough bands, an accepted data type; else an error naming it.

        Args:
            src: a GeoTIFF path or a GDAL path.
        """
        info = read_info(src)
        bands = self._bands()
        if info.count < len(bands):
            raise InvalidRasterError(src, f"imagery has {info.count} band(s); the model needs {len(bands)}")
        validate_image(info, bands)
        return info

    def _bands(self) -> list[int]:
        return list(range(1, self.model_config.in_bands + 1))

    def predict_region_scores(self, src: str | Path, region: RegionLike = None, *,
                              mode: Mode | None = None) -> npt.NDArray[np.float32]:
        """Scores ``(C, h, w)`` of a region of a raster, held in memory.

        Margins come from the raster where it has pixels and from ``edge_mode`` beyond it, so a
        region read with the tutorial's 64-pixel margin gives exactly the tutorial's numbers.
        Use :meth:`predict_raster` for large areas.

        Args:
            src: a GeoTIFF path or storage URL.
            region: the region (:class:`~landcover_sdk.Region` or its mapping); default the whole raster.
            mode: ``"exact"`` or ``"fast"`` (default: the configured mode).
        """
        tiling = self.tiling(mode)
        reg = Region.coerce(region)
        src_local = _local_raster(src)
        info = self.check_source(src_local)
        win = resolve_region(info, reg, margin=self.model_config.margin).window
        with open_raster(src_local) as ds:
            data = read_window(ds, tiling.read_window(win), bands=self._bands(),
                               pad_mode=pad_mode(self.config.edge_mode, info.height, info.width), source=str(src))
        return score_area(self.backend, tiling, data.astype(np.float32) * np.float32(self.input_scale), win.height,
                          win.width)

    def predict_area(self, canvas: npt.NDArray[Any], area: PixelWindow, *, origin: tuple[int, int] = (0, 0),
                     raster_shape: tuple[int, int] | None = None, mode: Mode | None = None) -> npt.NDArray[np.float32]:
        """Scores ``(C, h, w)`` of ``area`` from imagery the caller already holds (a GIS pixel block, a map tile's
        neighbourhood).

        With ``raster_shape`` the windows sit on the grid anchored at the raster's top-left pixel and
        positions beyond the raster are filled by ``edge_mode`` about the raster's own edges, exactly as
        :meth:`predict_raster` fills them: in exact mode the scores equal the whole-raster prediction
        pixel for pixel, wherever ``area`` lies. Without it the canvas is taken as the whole raster and
        the grid is anchored at ``area``'s top-left. Pixels the canvas lacks are taken from its nearest
        pixel; in exact mode a canvas holding the model's margin plus one core less one pixel
        (:attr:`Tiling.aligned_margin`, 191) around ``area`` lacks none.

        Args:
            canvas: ``(bands, H, W)`` uint8 imagery (or floats already scaled by the input scale).
            area: the pixels to score, in raster coordinates.
            origin: the raster pixel (row, col) of ``canvas[:, 0, 0]``.
            raster_shape: the raster's (rows, cols), when the canvas's place in it is known.
            mode: ``"exact"`` or ``"fast"`` (default: the configured mode).
        """
        tiling = self.tiling(mode)
        x = self._as_float(canvas)
        _, ch, cw = x.shape
        if ch == 0 or cw == 0 or area.height <= 0 or area.width <= 0:
            raise DataError(f"predict_area: empty canvas {x.shape} or area {area}")
        if raster_shape is None:
            top, left, (rows, cols), anchor = origin[0], origin[1], (ch, cw), (area.row, area.col)
        else:
            top, left, (rows, cols), anchor = 0, 0, raster_shape, (0, 0)
        core = tiling.model_core
        r0 = anchor[0] + (area.row - anchor[0]) // core * core
        c0 = anchor[1] + (area.col - anchor[1]) // core * core
        h = -(-(area.row_stop - r0) // core) * core
        w = -(-(area.col_stop - c0) // core) * core
        read = tiling.read_window(PixelWindow(r0, c0, h, w))
        mode_ = pad_mode(self.config.edge_mode, rows, cols)
        ri = edge_indices(read.row - top, read.height, rows, mode_)
        ci = edge_indices(read.col - left, read.width, cols, mode_)
        rows_in = np.clip(ri + top - origin[0], 0, ch - 1)
        cols_in = np.clip(ci + left - origin[1], 0, cw - 1)
        padded = x[:, rows_in[:, None], cols_in[None, :]]
        if mode_ == "constant":
            padded[:, (ri < 0)[:, None] | (ci < 0)[None, :]] = 0
        scores = score_area(self.backend, tiling, padded, h, w)
        dr, dc = area.row - r0, area.col - c0
        out: npt.NDArray[np.float32] = np.ascontiguousarray(scores[:, dr : dr + area.height, dc : dc + area.width])
        return out

    def _predict_block(self, block: Block, tiling: Tiling, probabilities: bool) -> tuple[
            npt.NDArray[np.uint8], npt.NDArray[np.float32] | None]:
        x = block.data.astype(np.float32) * np.float32(self.input_scale)
        scores = score_area(self.backend, tiling, x, block.out.height, block.out.width)
        nodata = self.scheme.nodata_class if self.config.nodata_to_class0 else None
        out = classify(scores, block.valid, self.scheme, nodata_class=nodata, probabilities=probabilities)
        assert out.classes is not None
        return out.classes, out.probabilities

    def predict_raster(
        self,
        src: str | Path | ImageryScene | NaipSource,
        dst: str | Path | None = None,
        *,
        outputs: Sequence[Output] = (),
        probabilities: str | Path | None = None,
        preview: str | Path | None = None,
        labels: str | Path | None = None,
        report: str | Path | None = None,
        figure: str | Path | None = None,
        region: RegionLike = None,
        mode: Mode | None = None,
        progress: bool = True,
    ) -> PredictionResult:
        """Predict a GeoTIFF (or a region of it) into a tiled COG of class ids, and whatever else is asked.

        Every input and output is checked, and the model's session built, before any pixel is
        computed; outputs are written under temporary names and renamed only when complete. Any
        path may be a storage URL (``az://container/path``): it is written locally and uploaded
        when complete. The class COG gets a STAC Item beside it (``<name>.stac.json``: grid,
        classes and colours, the imagery and model it came from).

        Args:
            src: 4-band uint8 GeoTIFF (path or storage URL); or NAIP from a STAC catalog for
                ``region``: a ``naip:`` source name (``naip:planetary-computer``, ``naip:<STAC API
                URL>``, ...), a :class:`~landcover_sdk.imagery.NaipSource`, or an
                :class:`~landcover_sdk.imagery.ImageryScene` already fetched.
            dst: COG of class ids (uint8) with the scheme's colour map and class names, the source
                CRS and the region's transform; input no-data pixels become the no-data class (0).
                ``None`` to write no class raster.
            outputs: further outputs (:class:`~landcover_sdk.inference.outputs.Output`): built-in
                specs such as ``ProbabilitiesOutput("p.tif")`` or your own; each keyword below is
                shorthand for one.
            probabilities: COG with one uint8 band per class (softmax × 255).
            preview: PNG of the hard labels (decimated to at most 1024 pixels a side).
            labels: an aligned label raster: the region is also evaluated, block by block, into
                the result's ``evaluation``.
            report: the evaluation as JSON (needs ``labels``).
            figure: the NAIP | prediction | soft prediction | truth PNG (needs ``labels``).
            region: what to predict (:class:`~landcover_sdk.Region` or its mapping, e.g.
                ``{"center_lat": 37.06, "center_lon": -78.64, "region_size": 1024}``); default
                the whole raster (an :class:`~landcover_sdk.imagery.ImageryScene`: its region).
            mode: ``"exact"`` or ``"fast"`` (default: the configured mode).
            progress: show a progress bar on a terminal.
        """
        t0 = time.perf_counter()
        specs = outputs_from_keywords(dst, probabilities=probabilities, preview=preview, report=report,
                                      figure=figure, outputs=outputs)
        reg = Region.coerce(region)
        tiling = self.tiling(mode)
        _check_outputs(specs, labels)  # before any imagery is fetched
        src, reg, sources = self._source(src, reg, progress)
        src_local = _local_raster(src)
        info = self.check_source(src_local)
        label_ds = self._check_labels(src_local, labels) if labels is not None else None
        area = resolve_region(info, reg, margin=self.model_config.margin)
        win = area.window
        inputs = (src,) + ((labels,) if labels is not None else ())
        grid = RasterGrid(win.width, win.height, info.crs, area.transform(info), inputs)
        label = self.mode_label(tiling.mode)
        metrics = Metrics(self.scheme, inputs=inputs) if label_ds is not None else None
        ctx = OutputContext(grid, self.scheme, label, win, metrics, inputs)
        with tempfile.TemporaryDirectory(prefix="lc-stage-") as stage:
            sinks: list[Sink] = [_build(spec, ctx, Path(stage), i) for i, spec in enumerate(specs)]
            if metrics is not None:
                sinks.insert(0, metrics)
            self.backend.prepare(mean_subtracted=tiling.subtracts_block_means)
            n_blocks = math.ceil(win.height / tiling.block_side) * math.ceil(win.width / tiling.block_side)
            log.info("predicting %dx%d px (%s) of %s in %s mode (%d block(s))", win.height, win.width,
                     reg.describe(), src, label, n_blocks)
            self._run_blocks(src_local, info, area, tiling, label_ds, sinks, n_blocks, progress)
        written: dict[str, str | Path] = {spec.result_key: _as_result(spec.path) for spec in specs}
        classes = next((spec for spec in specs if spec.kind == "classes"), None)
        if classes is not None:
            resolution = abs(grid.transform.a)
            assets = {}
            for spec in specs:
                if spec is not classes:
                    asset = spec.stac_asset(f"./{_name(spec.path)}", self.scheme, resolution)
                    if asset is not None:
                        assets[spec.result_key] = asset
            item = class_item(classes=classes.path, crs=info.crs, transform=grid.transform, height=win.height,
                              width=win.width, scheme=self.scheme, mode=label,
                              sources=sources or [_file_link(src)], model=self.model_source, extra_assets=assets)
            written["stac_item"] = publish_text(item_path(classes.path), json.dumps(item, indent=2) + "\n")
        seconds = time.perf_counter() - t0
        result = PredictionResult(written, win, label, seconds, metrics.report if metrics is not None else None)
        log.info("predicted %.2f Mpx in %.1fs (%.3f Mpx/s)", win.height * win.width / 1e6, seconds,
                 result.megapixels_per_second)
        return result

    def _source(self, src: str | Path | ImageryScene | NaipSource, region: Region,
                progress: bool) -> tuple[str | Path, Region, list[SourceLink]]:
        """The raster to read, the region in it, and the imagery it holds (NAIP sources fetched here)."""
        from ..imagery import ImageryScene, NaipSource, is_source_name

        if isinstance(src, NaipSource) or is_source_name(src):
            source = src if isinstance(src, NaipSource) else NaipSource.from_name(str(src))
            if region.kind in ("whole", "window"):
                raise ConfigError("region: NAIP from a catalog needs a place: center_lat/center_lon (+ region_size), "
                                  "bounds or a geometry")
            src = source.for_region(region, progress=progress)
            region = src.region  # bounds/geometry without a CRS are WGS84 for a catalog: now explicit
        if isinstance(src, ImageryScene):
            links = [SourceLink(i.self_href or i.href, f"NAIP {i.id}",
                                "application/geo+json" if i.self_href else COG_TYPE, i.datetime) for i in src.items]
            return src.path, (region if region.kind != "whole" else src.region), links
        return src, region, []

    def _run_blocks(self, src: str, info: RasterInfo, area: RasterRegion, tiling: Tiling, labels: TileDataset | None,
                    sinks: list[Sink], n_blocks: int, progress: bool) -> None:
        """Read → compute → hand to the sinks, with file writes one block behind on their own thread."""
        need_probs = any(s.needs_probabilities for s in sinks)
        file_sinks = [s for s in sinks if s.writes_files]
        memory_sinks = [s for s in sinks if not s.writes_files]
        win = area.window
        with contextlib.ExitStack() as stack:
            stack.enter_context(rasterio.Env(GDAL_CACHEMAX=256))
            for sink in sinks:
                stack.enter_context(sink)
            writer = stack.enter_context(cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lc-write"))
            bar = stack.enter_context(progress_bar(n_blocks, enabled=progress, desc="predict", unit="block"))
            pending: cf.Future[None] | None = None
            for block in read_blocks(src, info, area, tiling, bands=self._bands(), edge_mode=self.config.edge_mode,
                                     labels=labels, read_ahead=self.config.queue_size):
                classes, probs = self._predict_block(block, tiling, need_probs)
                prediction = BlockPrediction(block, block.out.shift(-win.row, -win.col), classes, probs)
                for sink in memory_sinks:
                    sink.add(prediction)
                if pending is not None:
                    pending.result()
                if file_sinks:
                    pending = writer.submit(_add_all, file_sinks, prediction)
                bar.update(1)
            if pending is not None:
                pending.result()

    def evaluate_raster(self, src: str | Path, labels: str | Path, *, report: str | Path | None = None,
                        figure: str | Path | None = None, region: RegionLike = None, mode: Mode | None = None,
                        progress: bool = True) -> EvaluationReport:
        """Predict a region and compare it with an aligned label raster (the tutorial's evaluation).

        Args:
            src: 4-band uint8 GeoTIFF (path or storage URL).
            labels: aligned label raster (the tutorial's codes, Chesapeake codes, or the scheme's).
            report: write the metrics as JSON.
            figure: write the NAIP | prediction | soft prediction | truth PNG.
            region: what to evaluate (default: the whole raster); see :meth:`predict_raster`.
            mode: ``"exact"`` or ``"fast"`` (default: the configured mode).
            progress: show a progress bar on a terminal.
        """
        result = self.predict_raster(src, None, labels=labels, report=report, figure=figure, region=region,
                                     mode=mode, progress=progress)
        assert result.evaluation is not None
        return result.evaluation

    def _check_labels(self, src: str | Path, labels: str | Path) -> TileDataset:
        ds = TileDataset([(str(src), str(_local_raster(labels)))], bands=self._bands(), cache="windowed")
        if not ds.scheme.same_classes(self.scheme):
            raise LabelValueError(labels, f"labels use classes {ds.scheme.names}; the model predicts "
                                          f"{self.scheme.names}")
        return ds


def _add_all(sinks: list[Sink], prediction: BlockPrediction) -> None:
    for sink in sinks:
        sink.add(prediction)


def _file_link(src: str | Path) -> SourceLink:
    text = public_url(str(src))
    return SourceLink(text, f"imagery {Path(text).name}")


def _check_outputs(specs: Sequence[Output], labels: str | Path | None) -> None:
    """Every output checked before any work: something asked, distinct paths, writable places, labels if needed."""
    if not specs and labels is None:
        raise StorageError("no output requested (give dst, probabilities, preview, labels, report or figure)")
    names = [str(spec.path) for spec in specs]
    keys = [spec.result_key for spec in specs]
    resolved = [n if is_remote(n) else str(Path(n).resolve()) for n in names]
    if len(set(resolved)) != len(resolved):
        raise StorageError(f"output paths must differ: {', '.join(names)}")
    if len(set(keys)) != len(keys):
        raise ConfigError(f"outputs must have distinct result keys: {', '.join(keys)}")
    for spec in specs:
        if is_remote(spec.path):
            check_remote(str(spec.path))
        else:
            check_output_path(spec.path)
    if labels is None and any(spec.needs_labels for spec in specs):
        needing = sorted({spec.kind for spec in specs if spec.needs_labels} - {"report", "figure"})
        raise StorageError(f"{', '.join(needing)} need labels" if needing else "report and figure need labels")


def _build(spec: Output, ctx: OutputContext, stage: Path, index: int) -> Sink:
    """The sink of one output; a remote one writes a local stand-in that is uploaded when complete."""
    if not is_remote(spec.path):
        return spec.build(ctx)
    url = str(spec.path)
    local = stage_path(stage, index, url)
    return StagedSink(spec.with_path(local).build(ctx), local, url)


def _as_result(path: str | Path) -> str | Path:
    return path if is_remote(path) else Path(path)


def _name(path: str | Path) -> str:
    return str(path).rsplit("/", 1)[-1] if is_remote(path) else Path(path).name


def _local_raster(path: str | Path) -> str:
    return gdal_path(path) if is_remote(path) else str(local_path(path))

