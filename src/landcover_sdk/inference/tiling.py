"""How a prediction cuts an area into network windows: the geometry of both modes, and fast mode's mean field.

* ``exact`` — the tutorial's tiling: 256×256 windows at stride 128, each window's 128×128 core
  kept. The network subtracts each window's own mean from red, green and blue, so only the same
  windows give the same numbers; this mode evaluates exactly those windows.
* ``fast`` — larger windows (``fast_window``, default 576) keeping all but a ``fast_halo``
  (default 32) border: 1.27× the multiply-accumulates per output pixel instead of exact mode's
  4×. Each 128×128 block has the mean of *its own* exact-mode window subtracted beforehand
  (:meth:`Tiling.subtract_block_means`), which keeps the argmax within ~0.1 % of exact mode.

Every grid is anchored on the area's top-left pixel, so a raster's blocks (whole multiples of
the 128-pixel core) tile it on the same 128-pixel grid as one big prediction would.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..config.models import ModelConfig, PredictConfig
from ..data.raster import iter_blocks
from ..data.windows import GridCell, PixelWindow, grid_cells
from ..errors import ConfigError
from .backends import Backend

Mode = Literal["exact", "fast"]

#: ``batch_size`` counts windows of this side; larger windows go fewer per call (ONNX Runtime's
#: working memory grows with the pixels of a call).
BATCH_UNIT = 256


@dataclass(frozen=True)
class Tiling:
    """The tiling of one prediction mode, worked out once per call.

    Attributes:
        mode: ``"exact"`` or ``"fast"``.
        window: side of each window given to the network.
        halo: context cropped from every side of a window's scores (exact: the model's margin).
        core: output pixels kept per window (``window - 2 * halo``).
        input_margin: pixels of imagery read around an area (fast mode reads at least the
            model's margin, for the mean field, even with a smaller halo).
        block_side: side of the blocks a raster is processed in (whole cores).
        batch_size: windows per network call, counted in 256×256 windows.
        model_window: the model's own window (256), which defines each block's mean.
        model_margin: the model's margin (64).
        mean_bands: 0-based bands whose mean is subtracted (red, green, blue).
    """

    mode: Mode
    window: int
    halo: int
    core: int
    input_margin: int
    block_side: int
    batch_size: int
    model_window: int
    model_margin: int
    mean_bands: tuple[int, ...]

    @classmethod
    def for_mode(cls, model: ModelConfig, config: PredictConfig, mode: str | None = None) -> Tiling:
        """The tiling of ``mode`` (default ``config.mode``) for a model and a prediction configuration.

        Args:
            model: the network's geometry (window, margin, bands whose mean is subtracted).
            config: the prediction settings (fast window and halo, block and batch sizes).
            mode: ``"exact"`` or ``"fast"``; ``None`` takes ``config.mode``.

        Raises:
            ConfigError: an unknown mode, or a fast window whose core is not a whole number of
                the model's cores.
        """
        mode = mode or config.mode
        model_core = model.window - 2 * model.margin

        def make(mode: Mode, window: int, halo: int, core: int, input_margin: int) -> Tiling:
            return cls(mode, window, halo, core, input_margin, _block_side(config.block_size, core),
                       config.batch_size, model.window, model.margin, tuple(model.centred_bands))

        if mode == "exact":
            return make("exact", model.window, model.margin, model_core, model.margin)
        if mode != "fast":
            raise ConfigError(f"mode: {mode!r} is not 'exact' or 'fast'")
        halo = config.fast_halo
        core = config.fast_window - 2 * halo
        if core % model_core:
            raise ConfigError(
                f"fast_window/fast_halo: fast mode needs fast_window - 2*fast_halo to be a multiple of the model's "
                f"core ({model_core}); got fast_window {config.fast_window}, fast_halo {halo}")
        return make("fast", config.fast_window, halo, core, max(model.margin, halo))

    @property
    def model_core(self) -> int:
        """The model's own core (128): the grid every mode is aligned to."""
        return self.model_window - 2 * self.model_margin

    @property
    def aligned_margin(self) -> int:
        """Context an area at any position needs for its windows to sit on a grid anchored elsewhere.

        The area's first pixel may be the last of a core, so the cores covering it start up to
        ``model_core - 1`` pixels before it, and their windows :attr:`input_margin` before that
        (exact mode: 64 + 127 = 191).
        """
        return self.input_margin + self.model_core - 1

    @property
    def subtracts_block_means(self) -> bool:
        """Whether means are subtracted before the network (fast) rather than inside it (exact)."""
        return self.mode == "fast"

    @property
    def windows_per_call(self) -> int:
        """Windows stacked into one network call."""
        return max(1, self.batch_size * BATCH_UNIT**2 // self.window**2)

    def for_area(self, height: int, width: int) -> Tiling:
        """This tiling for an area of ``height`` × ``width`` pixels.

        Fast mode shrinks its core to the smallest multiple of the model's core that still needs
        the same number of windows, so a small area is not padded to a whole large window. Exact
        mode is the same for every area.
        """
        if self.mode == "exact":
            return self
        n = math.ceil(max(height, width) / self.core)
        core = min(self.core, math.ceil(max(height, width) / n / self.model_core) * self.model_core)
        if core == self.core:
            return self
        return dataclasses.replace(self, core=core, window=core + 2 * self.halo)

    def padded_shape(self, height: int, width: int) -> tuple[int, int]:
        """Size of the input needed to predict ``height`` × ``width`` pixels (margins included)."""
        core = self.for_area(height, width).core
        p = self.input_margin
        return math.ceil(height / core) * core + 2 * p, math.ceil(width / core) * core + 2 * p

    def read_window(self, out: PixelWindow) -> PixelWindow:
        """The imagery to read (in raster pixels) to predict the pixels of ``out``."""
        ph, pw = self.padded_shape(out.height, out.width)
        return PixelWindow(out.row - self.input_margin, out.col - self.input_margin, ph, pw)

    def blocks(self, area: PixelWindow) -> Iterator[PixelWindow]:
        """The blocks (raster pixels) an area is processed in, row-major."""
        for b in iter_blocks(area.height, area.width, self.block_side):
            yield b.shift(area.row, area.col)

    def cells(self, height: int, width: int) -> Iterator[GridCell]:
        """The network windows of an area, in the coordinates of its padded input."""
        t = self.for_area(height, width)
        p = self.input_margin
        return grid_cells(height, width, t.core, t.halo, origin=(p, p))

    def subtract_block_means(self, padded: npt.NDArray[np.float32], height: int,
                             width: int) -> npt.NDArray[np.float32]:
        """Subtract from each 128² block of an area the mean of its own tutorial window (256²).

        In exact mode every 128×128 output block is predicted from a 256×256 window whose own
        mean the network subtracts. Fast mode runs larger windows on input from which each
        block's exact-mode mean was already subtracted, so each block sees the same offset as in
        exact mode; only the context beyond the 256×256 window differs. The field is extended by
        its edge values into the margins. ``padded`` is the area with :attr:`input_margin`
        pixels around it.

        Args:
            padded: ``(bands, H, W)`` scaled imagery of the area with its margins.
            height: rows of the area.
            width: columns of the area.
        """
        ec, mm, w = self.model_core, self.model_margin, self.model_window
        bands = list(self.mean_bands)
        nr, nc = math.ceil(height / ec), math.ceil(width / ec)
        off = self.input_margin - mm
        sub = padded[bands, off : off + nr * ec + 2 * mm, off : off + nc * ec + 2 * mm].astype(np.float64)
        integral = np.zeros((len(bands), sub.shape[1] + 1, sub.shape[2] + 1))
        integral[:, 1:, 1:] = sub.cumsum(axis=1).cumsum(axis=2)
        r0 = np.arange(nr) * ec
        c0 = np.arange(nc) * ec
        sums = (integral[:, r0[:, None] + w, c0[None, :] + w] - integral[:, r0[:, None], c0[None, :] + w]
                - integral[:, r0[:, None] + w, c0[None, :]] + integral[:, r0[:, None], c0[None, :]])
        means = (sums / (w * w)).astype(np.float32)
        field = np.repeat(np.repeat(means, ec, axis=1), ec, axis=2)
        ph, pw = padded.shape[1:]
        m = self.input_margin
        field = np.pad(field, ((0, 0), (m, ph - m - field.shape[1]), (m, pw - m - field.shape[2])), mode="edge")
        out: npt.NDArray[np.float32] = padded.copy()
        out[bands] -= field
        return out


def _block_side(block_size: int, core: int) -> int:
    return max(core, (block_size // core) * core)


def score_area(backend: Backend, tiling: Tiling, padded: npt.NDArray[np.float32], height: int,
               width: int) -> npt.NDArray[np.float32]:
    """Scores ``(classes, height, width)`` of an area from its scaled, padded imagery.

    Args:
        backend: the network.
        tiling: the mode's tiling.
        padded: ``(bands, *tiling.padded_shape(height, width))`` float32 imagery (× input scale).
        height: rows of the area.
        width: columns of the area.
    """
    t = tiling.for_area(height, width)
    x = t.subtract_block_means(padded, height, width) if t.subtracts_block_means else padded
    out: npt.NDArray[np.float32] = np.empty((backend.scheme.num_classes, height, width), dtype=np.float32)
    cells = list(t.cells(height, width))
    win, halo, p, per_call = t.window, t.halo, t.input_margin, t.windows_per_call
    for start in range(0, len(cells), per_call):
        chunk = cells[start : start + per_call]
        stack = np.stack([x[:, c.read.row : c.read.row + win, c.read.col : c.read.col + win] for c in chunk])
        scores = backend.run(stack, mean_subtracted=t.subtracts_block_means)
        for c, sc in zip(chunk, scores, strict=True):
            r, q, h, w = c.out.row - p, c.out.col - p, c.out.height, c.out.width
            out[:, r : r + h, q : q + w] = sc[:, halo : halo + h, halo : halo + w]
    return out


def row_runs(cells: Iterable[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Grid cells ``(row, col)`` grouped into runs of consecutive columns along a row, each run sorted.

    A run of cores is predicted in one network call (:meth:`Predictor.predict_area` over the run) with the
    same windows as one by one.

    Args:
        cells: grid positions (any order, no repeats).
    """
    runs: list[list[tuple[int, int]]] = []
    for cell in sorted(cells):
        if runs and runs[-1][-1][0] == cell[0] and runs[-1][-1][1] + 1 == cell[1]:
            runs[-1].append(cell)
        else:
            runs.append([cell])
    return runs
