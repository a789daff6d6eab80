"""Window samplers: the tutorial's random training windows and tile sharding (evaluation tiles with the predictor).

The random sampler is counter-based: window ``i`` of rank ``r`` is a pure function of
``(seed, rank, epoch-free index i)``, so a sampler's whole state is one integer position. That is
what makes exact resume after a kill possible without pickling random generator objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import EmptyDatasetError, WindowError
from .dataset import TileDataset
from .windows import PixelWindow, check_size


@dataclass(frozen=True)
class WindowSample:
    """One sampled training window: tile index and its pixel window."""

    tile: int
    window: PixelWindow


def shard_tiles(
    n_tiles: int, rank: int, world_size: int, *, max_per_worker: int | None = 5, seed: int = 0
) -> list[int]:
    """The tiles worker ``rank`` of ``world_size`` trains on, split as the tutorial split them.

    Tiles (in sorted order) are divided into ``world_size`` contiguous, nearly equal parts
    (``numpy.array_split``), each cut to ``max_per_worker`` tiles; with more workers than tiles
    each worker draws 2 tiles at random (seeded by ``seed`` and ``rank``).

    Args:
        n_tiles: tiles in the dataset.
        rank: this worker.
        world_size: workers in all.
        max_per_worker: the most tiles one worker takes (``None``: its whole share).
        seed: seed of the random draw when workers outnumber tiles.
    """
    if n_tiles <= 0:
        raise EmptyDatasetError("no tiles to shard")
    world_size = check_size(world_size, "world_size")
    if not 0 <= rank < world_size:
        raise WindowError(f"rank: {rank} outside 0..{world_size - 1}")
    if world_size > n_tiles:
        rng = np.random.default_rng([seed, rank, 0x5A4D])
        return sorted(int(i) for i in rng.integers(0, n_tiles, size=2))
    part = np.array_split(np.arange(n_tiles), world_size)[rank]
    if max_per_worker is not None:
        part = part[:max_per_worker]
    return [int(i) for i in part]


class RandomWindowSampler:
    """The tutorial's minibatch source: random windows with a rare-class rule, tile by tile.

    Minibatches of ``minibatch_size`` windows are drawn from one tile for
    ``minibatches_per_image`` minibatches, then from the next tile of this worker's shard. A
    candidate window is kept when classes ``rare_classes`` (tutorial: water and barren) cover more
    than ``rare_fraction`` of it, otherwise with probability ``keep_probability``.

    Args:
        dataset: the tiles.
        window: side of each window.
        minibatch_size: windows per minibatch, over all workers.
        minibatches_per_image: minibatches drawn from one tile before the next.
        rare_classes: classes whose presence keeps a window.
        rare_fraction: share of rare classes above which a window is always kept.
        keep_probability: chance of keeping any other window.
        seed: the sampler's seed.
        rank: this worker.
        world_size: workers in all.
        max_tiles_per_worker: tiles per worker (see :func:`shard_tiles`).
        max_tries: candidate windows tried per kept window before giving up.
    """

    def __init__(
        self,
        dataset: TileDataset,
        *,
        window: int = 256,
        minibatch_size: int = 10,
        minibatches_per_image: int = 160,
        rare_classes: Sequence[int] = (1, 4),
        rare_fraction: float = 0.003,
        keep_probability: float = 0.5,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        max_tiles_per_worker: int | None = 5,
        max_tries: int = 1000,
    ) -> None:
        self.dataset = dataset
        self.window = check_size(window, "window")
        self.minibatch_size = check_size(minibatch_size, "minibatch_size")
        self.minibatches_per_image = check_size(minibatches_per_image, "minibatches_per_image")
        self.rare_classes = np.array(sorted(set(rare_classes)), dtype=np.int64)
        self.rare_fraction = rare_fraction
        self.keep_probability = keep_probability
        self.seed = seed
        self.rank = rank
        self.max_tries = check_size(max_tries, "max_tries")
        self.tiles = shard_tiles(len(dataset), rank, world_size, max_per_worker=max_tiles_per_worker, seed=seed)
        for i in self.tiles:
            t = dataset.tiles[i]
            if t.height < self.window or t.width < self.window:
                raise WindowError(
                    f"{t.pair.image}: tile is {t.height}x{t.width}, smaller than the {self.window}-pixel window"
                )

    def tile_for(self, index: int) -> int:
        """The tile window ``index`` is drawn from."""
        minibatch = index // self.minibatch_size
        return self.tiles[(minibatch // self.minibatches_per_image) % len(self.tiles)]

    def sample(self, index: int) -> WindowSample:
        """Window number ``index`` of this worker's stream (deterministic)."""
        if index < 0:
            raise WindowError(f"sample index must be >= 0, got {index}")
        tile = self.tile_for(index)
        t = self.dataset.tiles[tile]
        rng = np.random.default_rng([self.seed, self.rank, index])
        size = self.window
        win = PixelWindow(0, 0, size, size)
        for _ in range(self.max_tries):
            row = int(rng.integers(0, t.height - size + 1))
            col = int(rng.integers(0, t.width - size + 1))
            win = PixelWindow(row, col, size, size)
            if self._interesting(self.dataset.read_labels(tile, win)) or rng.random() < self.keep_probability:
                break
        return WindowSample(tile, win)

    def _interesting(self, labels: npt.NDArray[np.uint8]) -> bool:
        if self.rare_classes.size == 0:
            return False
        rare = int(np.isin(labels, self.rare_classes).sum())
        return rare > self.rare_fraction * labels.size

    def minibatch(self, number: int) -> list[WindowSample]:
        """The windows of minibatch ``number``."""
        start = number * self.minibatch_size
        return [self.sample(i) for i in range(start, start + self.minibatch_size)]

    def iter_samples(self, start: int = 0, stop: int | None = None) -> Iterator[WindowSample]:
        """Windows ``start, start+1, ...`` (endless when ``stop`` is ``None``)."""
        i = start
        while stop is None or i < stop:
            yield self.sample(i)
            i += 1

    def load(self, sample: WindowSample) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Image and label arrays of a sample."""
        return self.dataset.read(sample.tile, sample.window)

    def load_minibatch(self, number: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Stacked ``(N, bands, w, w)`` images and ``(N, w, w)`` labels of minibatch ``number``."""
        pairs = [self.load(s) for s in self.minibatch(number)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
