"""Predicting on the raster's own grid, unit by unit: the one mechanism every real-time surface uses.

A real-time surface (the tile service, the ArcGIS raster function, a future QGIS provider) is asked
for arbitrary windows of a raster, in any order, and must answer exactly as
:meth:`~landcover_sdk.inference.Predictor.predict_raster` would. It does so by cutting the raster
into *units* on a grid anchored at the raster's top-left pixel, computing each unit once with
:meth:`~landcover_sdk.inference.Predictor.predict_area` (which places its windows on that grid) and
keeping computed units in a byte-bounded cache:

* :class:`UnitGrid` — unit keys covering a window, a key's pixels, which keys go to the network
  together (:meth:`UnitGrid.runs`), the imagery a run needs, and a window assembled from its units;
* :class:`UnitCache` — a thread-safe, byte-bounded LRU of computed units;
* :func:`compute_units` — the scores of one run, split into its units;
* :func:`counting_predictor` — the surface's own predictor on a shared session, counting the network
  windows it evaluates (for its metrics and tests).

What a unit is in each mode — and so what "fast" means on each surface — is decided here
(:data:`REALTIME_FAST_SETTINGS`, :func:`unit_side`); ``docs/serve.md`` and ``docs/arcgis.md`` carry
the table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from .._lru import SizedLRU
from ..config.models import PredictConfig
from ..data.windows import PixelWindow
from ..errors import DataError
from .backends import CountingBackend
from .predictor import Predictor
from .tiling import Tiling, row_runs

__all__ = ["FAST_TILING", "REALTIME_FAST_SETTINGS", "CountingBackend", "Key", "UnitCache", "UnitGrid",
           "compute_units", "counting_predictor", "unit_side"]

Key = tuple[int, int]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: Fast mode on a real-time surface that caches units (the tile service): the batch predictor's fast
#: tiling with one 192² window per 128² block — the same 32-pixel context as the batch default (576²
#: windows for 512² blocks), but a cold map tile needs about 9 such units instead of 4 of 512², less
#: than a third of the work. Surfaces that do not cache fast units (``predict_raster``, the ArcGIS
#: function, which tiles each block with ``PredictConfig``'s fast window) keep their own settings;
#: see :data:`FAST_TILING`.
REALTIME_FAST_SETTINGS: dict[str, int] = {"fast_window": 192, "fast_halo": 32, "block_size": 128}

#: What "fast" means on each surface, in one place: the settings each applies over ``PredictConfig``.
#: ``predict`` and ``arcgis`` use ``PredictConfig``'s fast window and halo (576/32 by default) over their
#: own blocks (``block_size`` for ``predict``, the block ArcGIS asks for); ``serve`` uses
#: :data:`REALTIME_FAST_SETTINGS` on 128-pixel units.
FAST_TILING: dict[str, dict[str, int]] = {"predict": {}, "arcgis": {}, "serve": REALTIME_FAST_SETTINGS}


def unit_side(tiling: Tiling) -> int:
    """The side of a cached unit: the model's core (128) in exact mode, the block side in fast mode.

    Exact-mode scores of a core depend on its own window only, so cores are the natural unit; fast
    mode's blocks extend their mean field into the halo, so a fast unit is a whole block.

    Args:
        tiling: the surface's tiling.
    """
    return tiling.model_core if tiling.mode == "exact" else tiling.block_side


@dataclass(frozen=True)
class UnitGrid:
    """Units of side ``side`` on the grid anchored at the raster's top-left pixel.

    Args:
        tiling: the tiling the units are computed with (its mode decides :meth:`runs`).
        raster_shape: the raster's ``(rows, cols)``.
        side: the unit side (default: :func:`unit_side` of ``tiling``).
    """

    tiling: Tiling
    raster_shape: tuple[int, int]
    side: int = 0

    def __post_init__(self) -> None:
        if self.side <= 0:
            object.__setattr__(self, "side", unit_side(self.tiling))
        if self.side % self.tiling.model_core:
            raise DataError(f"unit side {self.side} is not a multiple of the model's core {self.tiling.model_core}")

    def keys(self, window: PixelWindow) -> list[Key]:
        """The keys ``(row, col)`` of the units covering ``window`` (raster pixels), row-major.

        Args:
            window: a window inside the raster.
        """
        if window.height <= 0 or window.width <= 0:
            return []
        u = self.side
        return [(i, j) for i in range(window.row // u, (window.row_stop - 1) // u + 1)
                for j in range(window.col // u, (window.col_stop - 1) // u + 1)]

    def window(self, key: Key) -> PixelWindow:
        """The raster pixels of unit ``key`` (cut at the raster's edge).

        Args:
            key: a unit's ``(row, col)`` on the grid.

        Raises:
            DataError: the unit lies outside the raster.
        """
        u = self.side
        win = PixelWindow(key[0] * u, key[1] * u, u, u).intersect(*self.raster_shape)
        if win is None:
            raise DataError(f"unit {key} lies outside the raster {self.raster_shape}")
        return win

    def runs(self, keys: Iterable[Key]) -> list[list[Key]]:
        """Units computed together in one network call.

        Exact: runs along a row (a core's scores depend on its window only, so a run gives the
        same numbers as one by one). Fast: one by one — fast blocks extend each block's mean field
        into its halo, so a block's answer would change with its neighbours in the same call.

        Args:
            keys: unit keys (repeats ignored).
        """
        unique = sorted(set(keys))
        return row_runs(unique) if self.tiling.mode == "exact" else [[k] for k in unique]

    def area(self, run: list[Key]) -> PixelWindow:
        """The raster pixels of a run (one row of consecutive units).

        Args:
            run: keys from :meth:`runs`.
        """
        u = self.side
        i, j0, j1 = run[0][0], run[0][1], run[-1][1]
        area = PixelWindow(i * u, j0 * u, u, (j1 - j0 + 1) * u).intersect(*self.raster_shape)
        if area is None:
            raise DataError(f"units {run} lie outside the raster {self.raster_shape}")
        return area

    def read_window(self, run: list[Key]) -> PixelWindow:
        """The imagery a run needs: its area grown by the aligned margin, cut at the raster's edge.

        Args:
            run: keys from :meth:`runs`.
        """
        read = self.area(run).grow(self.tiling.aligned_margin).intersect(*self.raster_shape)
        assert read is not None  # the area is inside the raster
        return read

    def overlap(self, key: Key, window: PixelWindow) -> tuple[tuple[slice, slice], tuple[slice, slice]] | None:
        """Where unit ``key`` and ``window`` overlap: ``(slices in the window, slices in the unit)``, or ``None``.

        Args:
            key: a unit key.
            window: raster pixels.
        """
        unit = self.window(key)
        inter = unit.overlap(window)
        if inter is None:
            return None
        return ((slice(inter.row - window.row, inter.row_stop - window.row),
                 slice(inter.col - window.col, inter.col_stop - window.col)),
                (slice(inter.row - unit.row, inter.row_stop - unit.row),
                 slice(inter.col - unit.col, inter.col_stop - unit.col)))

    def assemble(self, window: PixelWindow, units: Mapping[Key, V],
                 field: Callable[[V], npt.NDArray[Any]] | None = None) -> npt.NDArray[Any]:
        """``window`` filled from its units' arrays (``(..., h, w)``); pixels no unit covers are zero.

        Args:
            window: raster pixels.
            units: computed units by key.
            field: the array of a unit to assemble (default: the unit itself is the array).
        """
        get: Callable[[V], npt.NDArray[Any]] = field if field is not None else (lambda v: np.asarray(v))
        out: npt.NDArray[Any] | None = None
        for key, unit in units.items():
            array = get(unit)
            if out is None:
                out = np.zeros((*array.shape[:-2], window.height, window.width), dtype=array.dtype)
            overlap = self.overlap(key, window)
            if overlap is None:
                continue
            (dr, dc), (sr, sc) = overlap
            out[..., dr, dc] = array[..., sr, sc]
        if out is None:
            raise DataError(f"no units to assemble {window} from")
        return out


class UnitCache(Generic[K, V]):
    """Computed units by key, least recently used dropped beyond ``limit`` bytes; safe across threads.

    Args:
        limit: bytes to hold at most (the newest unit always stays).
        size: the bytes of one unit.
    """

    def __init__(self, limit: int, size: Callable[[V], int]) -> None:
        self._lru: SizedLRU[K, V] = SizedLRU(limit, size)
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        """Bytes held at most."""
        return self._lru.limit

    @property
    def bytes(self) -> int:
        """Bytes held now."""
        with self._lock:
            return self._lru.bytes

    def get(self, key: K) -> V | None:
        """One unit (marked as just used), or ``None``.

        Args:
            key: the unit's key.
        """
        with self._lock:
            return self._lru.get(key)

    def get_many(self, keys: Iterable[K]) -> dict[K, V]:
        """The units held among ``keys`` (each marked as just used).

        Args:
            keys: unit keys.
        """
        with self._lock:
            return {k: v for k in keys if (v := self._lru.get(k)) is not None}

    def put_many(self, units: Mapping[K, V]) -> None:
        """Keep computed units (a key already held keeps its first value).

        Args:
            units: units by key.
        """
        with self._lock:
            for k, v in units.items():
                self._lru.put(k, v)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._lru

    def __len__(self) -> int:
        with self._lock:
            return len(self._lru)


def compute_units(predictor: Predictor, grid: UnitGrid, canvas: npt.NDArray[Any], origin: tuple[int, int],
                  run: list[Key]) -> dict[Key, npt.NDArray[np.float32]]:
    """Scores ``(C, h, w)`` of each unit of ``run``, in one network call, exactly as ``predict_raster`` computes them.

    Args:
        predictor: the model.
        grid: the unit grid (its tiling's mode is the mode predicted in).
        canvas: ``(bands, H, W)`` imagery holding at least :meth:`UnitGrid.read_window` of the run.
        origin: the raster pixel ``(row, col)`` of ``canvas[:, 0, 0]``.
        run: keys from :meth:`UnitGrid.runs`.
    """
    area = grid.area(run)
    scores = predictor.predict_area(canvas, area, origin=origin, raster_shape=grid.raster_shape,
                                    mode=grid.tiling.mode)
    out: dict[Key, npt.NDArray[np.float32]] = {}
    for key in run:
        unit = grid.window(key)
        c0 = unit.col - area.col
        out[key] = np.ascontiguousarray(scores[:, :, c0 : c0 + unit.width])
    return out


def counting_predictor(predictor: Predictor, config: PredictConfig | None = None) -> tuple[
        Predictor, CountingBackend]:
    """A predictor on ``predictor``'s session (shared, not rebuilt) that counts the network windows it evaluates.

    Args:
        predictor: the model, whose session is reused.
        config: the surface's prediction settings (default: ``predictor``'s).
    """
    backend = CountingBackend(predictor.backend)
    return Predictor(backend, config or predictor.config), backend
