"""Pixel windows and the tiling grid shared by evaluation sampling and prediction.

A :class:`GridCell` pairs an *output* window (the pixels a cell is responsible for; the cells of
a grid partition the raster) with a *read* window: the output window's square of side ``core``
grown by ``margin`` on every side. Read windows may extend beyond the raster; the reader fills
that part (by reflection by default).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import WindowError

if TYPE_CHECKING:
    from rasterio.windows import Window


def check_size(value: object, name: str) -> int:
    """Return ``value`` as a positive int, or raise :class:`WindowError` naming ``name``."""
    if isinstance(value, bool):
        raise WindowError(f"{name}: must be a positive integer, got {value!r}")
    try:
        as_int = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        if isinstance(value, float) and value.is_integer():
            as_int = int(value)
        else:
            raise WindowError(f"{name}: must be a positive integer, got {value!r}") from None
    if as_int <= 0:
        raise WindowError(f"{name}: must be a positive integer, got {value!r}")
    return int(as_int)


@dataclass(frozen=True, order=True)
class PixelWindow:
    """A rectangle of pixels: top row, left column, height and width (may extend past a raster).

    Attributes:
        row: top row.
        col: left column.
        height: rows.
        width: columns.
    """

    row: int
    col: int
    height: int
    width: int

    @property
    def row_stop(self) -> int:
        """One past the last row."""
        return self.row + self.height

    @property
    def col_stop(self) -> int:
        """One past the last column."""
        return self.col + self.width

    def inside(self, height: int, width: int) -> bool:
        """Whether the window lies wholly within a ``height`` × ``width`` raster."""
        return self.row >= 0 and self.col >= 0 and self.row_stop <= height and self.col_stop <= width

    def intersect(self, height: int, width: int) -> PixelWindow | None:
        """The part of this window inside a ``height`` × ``width`` raster, or ``None``."""
        return self.overlap(PixelWindow(0, 0, height, width))

    def overlap(self, other: PixelWindow) -> PixelWindow | None:
        """The pixels this window shares with ``other``, or ``None``."""
        r0, c0 = max(self.row, other.row), max(self.col, other.col)
        r1, c1 = min(self.row_stop, other.row_stop), min(self.col_stop, other.col_stop)
        if r1 <= r0 or c1 <= c0:
            return None
        return PixelWindow(r0, c0, r1 - r0, c1 - c0)

    def grow(self, margin: int) -> PixelWindow:
        """This window grown by ``margin`` pixels on every side."""
        return PixelWindow(self.row - margin, self.col - margin, self.height + 2 * margin, self.width + 2 * margin)

    def shift(self, drow: int, dcol: int) -> PixelWindow:
        """This window moved by ``(drow, dcol)``."""
        return PixelWindow(self.row + drow, self.col + dcol, self.height, self.width)

    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices for indexing an array."""
        return slice(self.row, self.row_stop), slice(self.col, self.col_stop)

    def to_rasterio(self) -> Window:
        """The equivalent ``rasterio.windows.Window`` (column first, as rasterio orders it)."""
        from rasterio.windows import Window

        return Window(self.col, self.row, self.width, self.height)


def require_inside(window: PixelWindow, height: int, width: int, source: str) -> None:
    """Raise :class:`WindowError` naming ``source`` if ``window`` is not inside the raster.

    Args:
        window: the window to check.
        height: the raster's rows.
        width: the raster's columns.
        source: the raster's name, for the message.
    """
    check_size(window.height, "window height")
    check_size(window.width, "window width")
    if not window.inside(height, width):
        raise WindowError(
            f"{source}: window rows {window.row}..{window.row_stop}, cols {window.col}..{window.col_stop} "
            f"is outside the {height}x{width} raster"
        )


@dataclass(frozen=True)
class GridCell:
    """One cell of a tiling grid: the pixels it outputs and the window it reads.

    Attributes:
        index: position in the grid, row-major.
        out: the pixels the cell outputs.
        read: the window it reads (``out``'s core square grown by the margin).
    """

    index: int
    out: PixelWindow
    read: PixelWindow

    @property
    def offset(self) -> tuple[int, int]:
        """Position of ``out`` inside ``read`` (row, col)."""
        return self.out.row - self.read.row, self.out.col - self.read.col


def grid_cells(
    height: int, width: int, core: int, margin: int, *, origin: tuple[int, int] = (0, 0)
) -> Iterator[GridCell]:
    """Cells of side ``core`` covering ``height`` × ``width`` pixels exactly once, row-major.

    Each cell reads a square of side ``core + 2 * margin`` centred on its core square; cells on
    the last row/column output only the part of their core inside the area. ``origin`` shifts
    every window (used to tile a region of interest inside a larger raster).

    Args:
        height: rows of the area.
        width: columns of the area.
        core: side of each cell's output square.
        margin: context read around each core.
        origin: ``(row, col)`` added to every window.
    """
    height = check_size(height, "height")
    width = check_size(width, "width")
    core = check_size(core, "core")
    if margin < 0:
        raise WindowError(f"margin: must be >= 0, got {margin}")
    r0, c0 = origin
    n_rows, n_cols = math.ceil(height / core), math.ceil(width / core)
    index = 0
    for i in range(n_rows):
        for j in range(n_cols):
            row, col = i * core, j * core
            out = PixelWindow(r0 + row, c0 + col, min(core, height - row), min(core, width - col))
            read = PixelWindow(r0 + row, c0 + col, core, core).grow(margin)
            yield GridCell(index, out, read)
            index += 1


def count_cells(height: int, width: int, core: int) -> int:
    """Number of cells :func:`grid_cells` yields.

    Args:
        height: rows of the area.
        width: columns of the area.
        core: cell side.
    """
    return math.ceil(height / core) * math.ceil(width / core)
