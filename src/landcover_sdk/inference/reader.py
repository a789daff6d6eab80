"""Reading a region block by block, with its margins, ahead of the computation on a background thread."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rasterio.io import DatasetReader

from ..data.dataset import TileDataset
from ..data.raster import PadMode, RasterInfo, open_raster, read_window, valid_mask
from ..data.region import RasterRegion
from ..data.windows import PixelWindow
from .tiling import Tiling


@dataclass
class Block:
    """One block of a region: where it is, its padded imagery, and which pixels hold data.

    Attributes:
        out: the block's output pixels, in raster coordinates.
        data: ``(bands, padded h, padded w)`` uint8 imagery with ``margin`` pixels around ``out``.
        valid: ``(h, w)``, ``False`` where the input has no data or lies outside the region's geometry.
        margin: pixels of context around ``out`` in ``data``.
        labels: ``(h, w)`` class ids when the region is evaluated against labels.
    """

    out: PixelWindow
    data: npt.NDArray[np.uint8]
    valid: npt.NDArray[np.bool_]
    margin: int
    labels: npt.NDArray[np.uint8] | None = None

    @property
    def imagery(self) -> npt.NDArray[np.uint8]:
        """The block's own pixels ``(bands, h, w)``, without the margin."""
        m = self.margin
        return self.data[:, m : m + self.out.height, m : m + self.out.width]


def pad_mode(mode: PadMode, height: int, width: int) -> PadMode:
    """``mode`` for a ``height`` × ``width`` raster (reflection needs two pixels; one can only be extended).

    Args:
        mode: the configured pad mode.
        height: the raster's rows.
        width: the raster's columns.
    """
    if mode in ("reflect", "symmetric") and min(height, width) < 2:
        return "edge"
    return mode


def read_blocks(src: str | Path, info: RasterInfo, region: RasterRegion, tiling: Tiling, *, bands: Sequence[int],
                edge_mode: PadMode, labels: TileDataset | None = None, read_ahead: int = 2) -> Iterator[Block]:
    """The blocks of a region with their padded imagery, read ``read_ahead`` blocks ahead on a thread.

    Args:
        src: the raster to read (local path or GDAL path).
        info: its header.
        region: the region, resolved against this raster.
        tiling: gives the block side and the margins to read.
        bands: 1-based bands to read.
        edge_mode: how margins beyond the raster's edges are filled.
        labels: an aligned label raster (tile 0 of the dataset) to read with each block.
        read_ahead: blocks read before they are needed (bounds memory).
    """
    local: dict[str, Any] = {}
    mode = pad_mode(edge_mode, info.height, info.width)

    def dataset() -> DatasetReader:
        ds: DatasetReader | None = local.get("ds")
        if ds is None:
            stack = local.setdefault("stack", contextlib.ExitStack())
            ds = local["ds"] = stack.enter_context(open_raster(src))
        return ds

    def read(out: PixelWindow) -> Block:
        ds = dataset()
        data = read_window(ds, tiling.read_window(out), bands=bands, pad_mode=mode, source=str(src))
        m = tiling.input_margin
        valid = valid_mask(ds, out, data[:, m : m + out.height, m : m + out.width], bands)
        outside = region.outside(info, out)
        if outside is not None:
            valid &= ~outside
        return Block(out, data, valid, m, labels.read_labels(0, out) if labels is not None else None)

    # rasterio handles belong to the thread that opened them: the reader thread opens and closes its own.
    with cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lc-read") as pool:
        pending: deque[cf.Future[Block]] = deque()
        it = tiling.blocks(region.window)
        try:
            for w in it:
                pending.append(pool.submit(read, w))
                if len(pending) >= read_ahead:
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
