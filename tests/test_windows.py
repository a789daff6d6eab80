import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from landcover_sdk.data import grid_cells, shard_tiles
from landcover_sdk.data.windows import PixelWindow, count_cells


@settings(max_examples=200, deadline=None)
@given(h=st.integers(1, 300), w=st.integers(1, 300), core=st.integers(1, 130), margin=st.integers(0, 64))
def test_grid_covers_every_pixel_exactly_once(h: int, w: int, core: int, margin: int) -> None:
    cover = np.zeros((h, w), dtype=np.int32)
    cells = list(grid_cells(h, w, core, margin))
    assert len(cells) == count_cells(h, w, core)
    for cell in cells:
        assert cell.out.inside(h, w)
        assert cell.read.height == cell.read.width == core + 2 * margin
        r, c = cell.offset
        assert r == c == margin
        assert cell.read.row <= cell.out.row and cell.out.row_stop <= cell.read.row_stop
        rows, cols = cell.out.slices()
        cover[rows, cols] += 1
    assert (cover == 1).all()


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 60), world=st.integers(1, 60), seed=st.integers(0, 5))
def test_sharding_partitions_tiles(n: int, world: int, seed: int) -> None:
    shards = [shard_tiles(n, r, world, max_per_worker=None, seed=seed) for r in range(world)]
    if world <= n:
        flat = sorted(i for s in shards for i in s)
        assert flat == list(range(n))
        sizes = [len(s) for s in shards]
        assert max(sizes) - min(sizes) <= 1
    else:
        assert all(len(s) == 2 and all(0 <= i < n for i in s) for s in shards)
    capped = [shard_tiles(n, r, world, max_per_worker=5, seed=seed) for r in range(world)]
    if world <= n:
        flat = [i for s in capped for i in s]
        assert len(flat) == len(set(flat)) and all(len(s) <= 5 for s in capped)


def test_tutorial_split_8_tiles_2_workers() -> None:
    assert shard_tiles(8, 0, 2) == [0, 1, 2, 3]
    assert shard_tiles(8, 1, 2) == [4, 5, 6, 7]
    assert shard_tiles(740, 0, 148) == [0, 1, 2, 3, 4]
    assert shard_tiles(12, 0, 1) == [0, 1, 2, 3, 4]


@settings(max_examples=100, deadline=None)
@given(r=st.integers(-50, 50), c=st.integers(-50, 50), h=st.integers(1, 40), w=st.integers(1, 40))
def test_intersection_is_inside(r: int, c: int, h: int, w: int) -> None:
    win = PixelWindow(r, c, h, w)
    inner = win.intersect(30, 20)
    if inner is not None:
        assert inner.inside(30, 20)
        assert win.row <= inner.row and inner.row_stop <= win.row_stop
