"""Where a raster prediction goes: small sinks that each take the predicted blocks and publish one kind of output.

:meth:`~landcover_sdk.inference.Predictor.predict_raster` builds the sinks a call asks for (which
checks their paths, before any pixel is computed), enters them, hands each predicted block to
every sink, and leaves them: on success each publishes its output atomically, on failure none
leaves anything under a final name.

* :class:`ClassRaster` — a COG of class ids with the scheme's colour map and class names;
* :class:`ProbabilityRaster` — a COG of per-class probabilities (uint8, softmax × 255);
* :class:`Metrics` — the tutorial's evaluation, accumulated block by block (JSON report);
* :class:`Pictures` — a decimated preview PNG and the NAIP | prediction | soft | truth figure.

Softmax is computed only when a sink's :attr:`~Sink.needs_probabilities` asks for it.

What a call writes is a list of small output specs (:class:`Output`): :class:`ClassesOutput`,
:class:`ProbabilitiesOutput`, :class:`PreviewOutput`, :class:`ReportOutput`, :class:`FigureOutput`, or
your own (subclass :class:`FileOutput` and implement :meth:`~Output.build`). Each names its path,
its key in :attr:`~landcover_sdk.inference.PredictionResult.outputs`, its STAC asset, and builds its
sink. Kinds are registered in :data:`OUTPUTS` (entry-point group ``landcover_sdk.outputs``), so job
files and the CLI can name them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.crs import CRS

from .._atomic import check_output_path
from .._registry import Registry
from ..config.schemes import ClassScheme
from ..data.raster import GeoTiffWriter, class_tags
from ..data.windows import PixelWindow
from .metrics import ConfusionAccumulator, EvaluationReport
from .reader import Block
from .render import hard_labels, naip_rgb, save_comparison, save_png, soft_labels
from .stac import preview_asset, probabilities_asset


@dataclass
class BlockPrediction:
    """One predicted block, as the sinks receive it.

    Attributes:
        block: the block read (position, imagery, valid pixels, labels).
        window: the block's pixels relative to the region's top-left corner.
        classes: ``(h, w)`` class ids (no-data class where the input has no data).
        probabilities: ``(classes, h, w)`` softmax, or ``None`` when no sink needs it.
    """

    block: Block
    window: PixelWindow
    classes: npt.NDArray[np.uint8]
    probabilities: npt.NDArray[np.float32] | None


class Sink(Protocol):
    """An output of a raster prediction (a context manager: entering opens it, leaving publishes it)."""

    #: Whether :meth:`add` needs :attr:`BlockPrediction.probabilities`.
    needs_probabilities: bool
    #: Whether :meth:`add` writes files (then it runs on the writer thread, overlapping the next block).
    writes_files: bool

    def __enter__(self) -> object:
        """Open the output (temporary files only)."""
        ...

    def add(self, prediction: BlockPrediction) -> None:
        """Take one predicted block."""
        ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """Publish the output on success; discard it on failure."""
        ...


@dataclass(frozen=True)
class RasterGrid:
    """The georeferencing every raster output of one call shares.

    Attributes:
        width: columns of the region.
        height: rows of the region.
        crs: the source's CRS.
        transform: the region's geotransform.
        inputs: paths no output may overwrite.
    """

    width: int
    height: int
    crs: CRS | None
    transform: Affine
    inputs: tuple[str | Path, ...]

    def writer(self, path: str | Path, *, count: int, nodata: float | None = None,
               colormap: dict[int, tuple[int, int, int, int]] | None = None, tags: dict[str, str],
               band_descriptions: list[str]) -> GeoTiffWriter:
        """A uint8 COG writer on this grid (checks ``path`` now; creates nothing until entered).

        Args:
            path: final path of the COG.
            count: bands.
            nodata: the no-data value, if any.
            colormap: colour map of band 1.
            tags: GeoTIFF metadata tags.
            band_descriptions: one description per band.
        """
        return GeoTiffWriter(path, width=self.width, height=self.height, count=count, dtype="uint8", crs=self.crs,
                             transform=self.transform, nodata=nodata, colormap=colormap, tags=tags,
                             band_descriptions=band_descriptions, inputs=self.inputs, blocksize=512)


def prediction_tags(scheme: ClassScheme, mode: str) -> dict[str, str]:
    """Metadata tags of a prediction raster: class names, scheme and mode."""
    return {**class_tags(scheme.names, scheme.name), "LANDCOVER_MODE": mode}


class _RasterSink:
    writes_files = True

    def __init__(self, writer: GeoTiffWriter) -> None:
        self.writer = writer

    def __enter__(self) -> _RasterSink:
        self.writer.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.writer.__exit__(exc_type, exc, tb)


class ClassRaster(_RasterSink):
    """Class ids (uint8) with the scheme's colour map, class names and the no-data class as nodata.

    Args:
        path: the COG to write.
        grid: its georeferencing.
        scheme: the class scheme (colours, names, no-data class).
        mode: the prediction mode, recorded in the metadata.
    """

    needs_probabilities = False

    def __init__(self, path: str | Path, grid: RasterGrid, scheme: ClassScheme, mode: str) -> None:
        super().__init__(grid.writer(path, count=1, nodata=scheme.nodata_class, colormap=scheme.colormap,
                                     tags=prediction_tags(scheme, mode), band_descriptions=["class"]))

    def add(self, prediction: BlockPrediction) -> None:
        """Write the block's class ids."""
        self.writer.write(prediction.classes, prediction.window)


class ProbabilityRaster(_RasterSink):
    """One uint8 band per class: softmax × 255, 0 where the input has no data.

    Args:
        path: the COG to write.
        grid: its georeferencing.
        scheme: the class scheme (band names).
        mode: the prediction mode, recorded in the metadata.
    """

    needs_probabilities = True

    def __init__(self, path: str | Path, grid: RasterGrid, scheme: ClassScheme, mode: str) -> None:
        super().__init__(grid.writer(path, count=scheme.num_classes, tags=prediction_tags(scheme, mode),
                                     band_descriptions=[f"p({n})" for n in scheme.names]))

    def add(self, prediction: BlockPrediction) -> None:
        """Write the block's probabilities."""
        assert prediction.probabilities is not None
        p8 = np.rint(prediction.probabilities * 255.0).astype(np.uint8)
        p8[:, ~prediction.block.valid] = 0
        self.writer.write(p8, prediction.window)


class Metrics:
    """The tutorial's evaluation (and more), streamed block by block; optionally saved as JSON.

    Args:
        scheme: the class scheme.
        report: a JSON file to write the report to.
        inputs: paths the report must not overwrite.
    """

    needs_probabilities = True
    writes_files = False

    def __init__(self, scheme: ClassScheme, report: str | Path | None = None, *,
                 inputs: tuple[str | Path, ...] = ()) -> None:
        self.path = check_output_path(report, inputs=inputs) if report is not None else None
        self.accumulator = ConfusionAccumulator(scheme)
        self.report: EvaluationReport | None = None

    def __enter__(self) -> Metrics:
        return self

    def add(self, prediction: BlockPrediction) -> None:
        """Count the block's pixels."""
        labels = prediction.block.labels
        assert labels is not None, "Metrics needs blocks read with labels"
        self.accumulator.update(labels, prediction.classes, probabilities=prediction.probabilities)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.report = self.accumulator.report()
            if self.path is not None:
                self.report.save_json(self.path)


class _Decimated:
    """Decimated copies of a region for pictures: memory bounded by ``max_side``²."""

    def __init__(self, region: PixelWindow, max_side: int = 1024) -> None:
        self.step = max(1, math.ceil(max(region.height, region.width) / max_side))
        self.shape = (math.ceil(region.height / self.step), math.ceil(region.width / self.step))
        self.arrays: dict[str, npt.NDArray[Any]] = {}

    def add(self, name: str, window: PixelWindow, array: npt.NDArray[Any]) -> None:
        """Store the part of ``array`` (…, h, w) for ``window`` (region-relative) on the decimated grid."""
        s = self.step
        first_r, first_c = (-window.row) % s, (-window.col) % s
        part = array[..., first_r::s, first_c::s]
        dst = self.arrays.get(name)
        if dst is None:
            dst = self.arrays[name] = np.zeros((*array.shape[:-2], *self.shape), dtype=array.dtype)
        rr, cc = (window.row + first_r) // s, (window.col + first_c) // s
        dst[..., rr : rr + part.shape[-2], cc : cc + part.shape[-1]] = part


class Pictures:
    """A preview PNG of the hard labels and/or the comparison figure (NAIP | prediction | soft | truth).

    Both are drawn from copies decimated to at most ``max_side`` pixels a side, so any region fits
    in memory. The figure needs labels; with ``metrics`` its title gives the headline numbers.

    Args:
        scheme: the class scheme (colours, legend).
        region: the predicted region (raster pixels).
        preview: PNG of the hard labels.
        figure: PNG of the comparison figure.
        metrics: the evaluation, for the figure's title.
        max_side: the pictures' largest side in pixels.
        inputs: paths the pictures must not overwrite.
    """

    writes_files = False

    def __init__(self, scheme: ClassScheme, region: PixelWindow, *, preview: str | Path | None = None,
                 figure: str | Path | None = None, metrics: Metrics | None = None, max_side: int = 1024,
                 inputs: tuple[str | Path, ...] = ()) -> None:
        self.scheme = scheme
        self.preview = check_output_path(preview, inputs=inputs) if preview is not None else None
        self.figure = check_output_path(figure, inputs=inputs) if figure is not None else None
        self.needs_probabilities = figure is not None
        self.metrics = metrics
        self._copies = _Decimated(region, max_side)

    def __enter__(self) -> Pictures:
        return self

    def add(self, prediction: BlockPrediction) -> None:
        """Keep the decimated block."""
        w = prediction.window
        self._copies.add("classes", w, prediction.classes)
        if self.figure is not None:
            assert prediction.probabilities is not None and prediction.block.labels is not None
            self._copies.add("rgb", w, prediction.block.imagery[:3])
            self._copies.add("probs", w, prediction.probabilities)
            self._copies.add("labels", w, prediction.block.labels)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None:
            return
        arrays = self._copies.arrays
        if self.preview is not None:
            save_png(hard_labels(arrays["classes"], self.scheme), self.preview)
        if self.figure is not None:
            panels = [("NAIP (RGB)", naip_rgb(arrays["rgb"])),
                      ("prediction", hard_labels(arrays["classes"], self.scheme)),
                      ("soft prediction", soft_labels(arrays["probs"], self.scheme)),
                      ("truth", hard_labels(arrays["labels"], self.scheme))]
            title = None
            if self.metrics is not None:
                ev = self.metrics.accumulator.report()
                title = (f"pixel accuracy {ev.accuracy:.1%}, mean true-label probability "
                         f"{(ev.mean_true_probability or 0):.1%}")
            save_comparison(self.figure, panels, self.scheme, title=title)


class _SaveReport:
    """Writes the evaluation a :class:`Metrics` sink accumulates as JSON (the metrics stay one sink)."""

    needs_probabilities = False
    writes_files = False

    def __init__(self, metrics: Metrics, path: str | Path, inputs: tuple[str | Path, ...]) -> None:
        self.metrics = metrics
        self.path = check_output_path(path, inputs=inputs)

    def __enter__(self) -> _SaveReport:
        return self

    def add(self, prediction: BlockPrediction) -> None:
        """Nothing to do per block: the metrics sink counts."""

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.metrics.accumulator.report().save_json(self.path)


# ---------------------------------------------------------------------------------------------- output specs
@dataclass(frozen=True)
class OutputContext:
    """What every output of one :meth:`~landcover_sdk.inference.Predictor.predict_raster` call shares.

    Attributes:
        grid: the georeferencing of the region (raster outputs).
        scheme: the class scheme.
        mode: the mode label recorded in metadata (``exact``, ``fast``, ...).
        region: the predicted region, in raster pixels.
        metrics: the evaluation being accumulated, when labels were given.
        inputs: paths no output may overwrite.
    """

    grid: RasterGrid
    scheme: ClassScheme
    mode: str
    region: PixelWindow
    metrics: Metrics | None
    inputs: tuple[str | Path, ...]


@runtime_checkable
class Output(Protocol):
    """One thing a raster prediction writes: the contract of a user-defined output.

    Attributes:
        kind: the registered name of the kind (``"classes"``, ``"pixel-counts"``).
        path: where it goes (a local path or a storage URL; remote outputs are staged and uploaded).
        result_key: its key in :attr:`PredictionResult.outputs` and in the STAC Item's assets.
        needs_labels: whether it can only be written when labels are given.
    """

    @property
    def kind(self) -> str:
        """The registered name of the kind."""
        ...

    @property
    def path(self) -> str | Path:
        """Where it goes."""
        ...

    @property
    def result_key(self) -> str:
        """Its key in the result and the STAC Item."""
        ...

    @property
    def needs_labels(self) -> bool:
        """Whether it needs labels."""
        ...

    def build(self, ctx: OutputContext) -> Sink:
        """The sink that writes this output to :attr:`path` (checks the path now; creates nothing until entered).

        Args:
            ctx: what the call's outputs share.
        """
        ...

    def stac_asset(self, href: str, scheme: ClassScheme, resolution: float) -> dict[str, Any] | None:
        """This output's asset in the class COG's STAC Item, or ``None`` for none.

        Args:
            href: the asset's relative href (``./name``).
            scheme: the class scheme.
            resolution: the pixel size in CRS units.
        """
        ...

    def with_path(self, path: str | Path) -> Output:
        """A copy writing to ``path`` (how a remote output is staged locally).

        Args:
            path: the new path.
        """
        ...


@dataclass(frozen=True)
class FileOutput:
    """Base of the built-in outputs: a frozen dataclass holding the path. Subclass it and implement :meth:`build`.

    Args:
        path: where the output goes (path or storage URL).
    """

    kind: ClassVar[str] = ""
    needs_labels: ClassVar[bool] = False
    path: str | Path

    @property
    def result_key(self) -> str:
        """The key in :attr:`PredictionResult.outputs` (default: the kind)."""
        return self.kind

    def build(self, ctx: OutputContext) -> Sink:
        """The sink writing this output.

        Args:
            ctx: what the call's outputs share.
        """
        raise NotImplementedError(f"{type(self).__name__}.build")

    def stac_asset(self, href: str, scheme: ClassScheme, resolution: float) -> dict[str, Any] | None:
        """No STAC asset by default.

        Args:
            href: the asset's relative href.
            scheme: the class scheme.
            resolution: the pixel size.
        """
        return None

    def with_path(self, path: str | Path) -> FileOutput:
        """A copy writing to ``path``.

        Args:
            path: the new path.
        """
        return dataclasses.replace(self, path=path)


@dataclass(frozen=True)
class ClassesOutput(FileOutput):
    """The class COG (it carries the STAC Item, ``<stem>.stac.json``).

    Args:
        path: the COG.
    """

    kind: ClassVar[str] = "classes"

    def build(self, ctx: OutputContext) -> Sink:
        """A :class:`ClassRaster`.

        Args:
            ctx: what the call's outputs share.
        """
        return ClassRaster(self.path, ctx.grid, ctx.scheme, ctx.mode)


@dataclass(frozen=True)
class ProbabilitiesOutput(FileOutput):
    """The probability COG (uint8 softmax × 255, one band per class).

    Args:
        path: the COG.
    """

    kind: ClassVar[str] = "probabilities"

    def build(self, ctx: OutputContext) -> Sink:
        """A :class:`ProbabilityRaster`.

        Args:
            ctx: what the call's outputs share.
        """
        return ProbabilityRaster(self.path, ctx.grid, ctx.scheme, ctx.mode)

    def stac_asset(self, href: str, scheme: ClassScheme, resolution: float) -> dict[str, Any] | None:
        """The probabilities asset.

        Args:
            href: the asset's relative href.
            scheme: the class scheme (band names).
            resolution: the pixel size.
        """
        return probabilities_asset(href, scheme, resolution)


@dataclass(frozen=True)
class PreviewOutput(FileOutput):
    """A PNG of the hard labels, decimated to at most 1024 pixels a side.

    Args:
        path: the PNG.
    """

    kind: ClassVar[str] = "preview"

    def build(self, ctx: OutputContext) -> Sink:
        """A :class:`Pictures` drawing the preview.

        Args:
            ctx: what the call's outputs share.
        """
        return Pictures(ctx.scheme, ctx.region, preview=self.path, inputs=ctx.inputs)

    def stac_asset(self, href: str, scheme: ClassScheme, resolution: float) -> dict[str, Any] | None:
        """The preview asset.

        Args:
            href: the asset's relative href.
            scheme: the class scheme.
            resolution: the pixel size.
        """
        return preview_asset(href)


@dataclass(frozen=True)
class ReportOutput(FileOutput):
    """The evaluation as JSON (needs labels).

    Args:
        path: the JSON file.
    """

    kind: ClassVar[str] = "report"
    needs_labels: ClassVar[bool] = True

    def build(self, ctx: OutputContext) -> Sink:
        """A sink saving the call's metrics.

        Args:
            ctx: what the call's outputs share (its ``metrics`` is set when labels are given).
        """
        assert ctx.metrics is not None
        return _SaveReport(ctx.metrics, self.path, ctx.inputs)


@dataclass(frozen=True)
class FigureOutput(FileOutput):
    """The NAIP | prediction | soft prediction | truth PNG (needs labels).

    Args:
        path: the PNG.
    """

    kind: ClassVar[str] = "figure"
    needs_labels: ClassVar[bool] = True

    def build(self, ctx: OutputContext) -> Sink:
        """A :class:`Pictures` drawing the figure.

        Args:
            ctx: what the call's outputs share.
        """
        return Pictures(ctx.scheme, ctx.region, figure=self.path, metrics=ctx.metrics, inputs=ctx.inputs)


#: Output kinds by name: a class taking the path. Plugins register under the ``landcover_sdk.outputs`` entry points.
OUTPUTS: Registry[type[Output]] = Registry("output kind", "landcover_sdk.outputs")
for _kind in (ClassesOutput, ProbabilitiesOutput, PreviewOutput, ReportOutput, FigureOutput):
    OUTPUTS.register(_kind.kind, _kind)


def output(kind: str, path: str | Path) -> Output:
    """The output of a registered kind, by name (how job files and the CLI name outputs).

    Args:
        kind: a name in :data:`OUTPUTS` (``"classes"``, ``"probabilities"``, ...).
        path: where it goes.

    Raises:
        ConfigError: an unknown kind.
    """
    return OUTPUTS.get(kind)(path)  # type: ignore[call-arg]


def outputs_from_keywords(dst: str | Path | None = None, *, probabilities: str | Path | None = None,
                          preview: str | Path | None = None, report: str | Path | None = None,
                          figure: str | Path | None = None, outputs: Sequence[Output] = ()) -> list[Output]:
    """The output list of :meth:`~landcover_sdk.inference.Predictor.predict_raster`'s keywords, then ``outputs``.

    Args:
        dst: the class COG.
        probabilities: the probability COG.
        preview: the preview PNG.
        report: the evaluation JSON.
        figure: the comparison PNG.
        outputs: further outputs, in order.
    """
    named: list[tuple[type[FileOutput], str | Path | None]] = [
        (ClassesOutput, dst), (ProbabilitiesOutput, probabilities), (PreviewOutput, preview),
        (ReportOutput, report), (FigureOutput, figure)]
    return [kind(path) for kind, path in named if path is not None] + list(outputs)
