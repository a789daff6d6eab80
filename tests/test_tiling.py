"""Tiling geometry (property-based) and fast mode's correctness against exact mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st

from landcover_sdk import ConfigError, ModelConfig, PredictConfig, Predictor, Region, import_cntk
from landcover_sdk.data import PixelWindow, write_scenes
from landcover_sdk.inference import OnnxBackend, Tiling

from .conftest import cntk_fixtures, real_fixtures

MODEL = ModelConfig()


@settings(max_examples=200, deadline=None)
@given(mode=st.sampled_from(["exact", "fast"]), height=st.integers(1, 1500), width=st.integers(1, 1500),
       halo=st.sampled_from([0, 16, 32, 64, 96]), cores=st.integers(1, 6), block=st.integers(1, 3000))
def test_cells_cover_every_pixel_once_and_reads_stay_in_the_padded_input(
        mode: str, height: int, width: int, halo: int, cores: int, block: int) -> None:
    cfg = PredictConfig(fast_window=128 * cores + 2 * halo, fast_halo=halo, block_size=block)
    tiling = Tiling.for_mode(MODEL, cfg, mode)
    area = tiling.for_area(height, width)
    assert area.core % tiling.model_core == 0 and area.core <= tiling.core
    assert area.window == area.core + 2 * area.halo
    ph, pw = tiling.padded_shape(height, width)
    p = tiling.input_margin
    assert p >= MODEL.margin and p >= area.halo
    covered = np.zeros((height, width), np.int32)
    for cell in tiling.cells(height, width):
        assert cell.read.row >= 0 and cell.read.col >= 0
        assert cell.read.row_stop <= ph and cell.read.col_stop <= pw
        assert cell.read.height == area.window
        covered[cell.out.row - p : cell.out.row_stop - p, cell.out.col - p : cell.out.col_stop - p] += 1
    assert (covered == 1).all()


@settings(max_examples=100, deadline=None)
@given(row=st.integers(0, 500), col=st.integers(0, 500), height=st.integers(1, 2500), width=st.integers(1, 2500),
       block=st.integers(1, 3000), mode=st.sampled_from(["exact", "fast"]))
def test_blocks_partition_a_region_on_the_core_grid(row: int, col: int, height: int, width: int, block: int,
                                                    mode: str) -> None:
    tiling = Tiling.for_mode(MODEL, PredictConfig(block_size=block), mode)
    assert tiling.block_side % tiling.core == 0
    region = PixelWindow(row, col, height, width)
    blocks = list(tiling.blocks(region))
    assert sum(b.height * b.width for b in blocks) == height * width
    for b in blocks:
        assert b.intersect(row + height, col + width) == b and b.row >= row and b.col >= col
        assert (b.row - row) % tiling.block_side == 0 and (b.col - col) % tiling.block_side == 0
        read = tiling.read_window(b)
        assert read.row == b.row - tiling.input_margin and read.height >= b.height + 2 * tiling.input_margin


def test_exact_tiling_is_the_tutorials() -> None:
    t = Tiling.for_mode(MODEL, PredictConfig(), "exact")
    assert (t.window, t.halo, t.core, t.input_margin, t.block_side) == (256, 64, 128, 64, 1024)
    assert not t.subtracts_block_means and t.windows_per_call == 2
    assert t.for_area(5, 5) is t
    f = Tiling.for_mode(MODEL, PredictConfig(), "fast")
    assert (f.window, f.halo, f.core, f.input_margin, f.block_side) == (576, 32, 512, 64, 1024)
    assert f.subtracts_block_means and f.for_area(300, 200).core == 384


def test_bad_modes_and_fast_windows_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="mode: 'quick' is not 'exact' or 'fast'"):
        Tiling.for_mode(MODEL, PredictConfig(), "quick")
    with pytest.raises(ConfigError, match=r"fast_window/fast_halo: .*multiple of the model's core"):
        Tiling.for_mode(MODEL, PredictConfig(fast_window=600, fast_halo=32), "fast")


# ---------------------------------------------------------------------------- fast vs exact
@pytest.fixture(scope="module")
def trained_small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """The quick configuration, narrowed, trained for a few seconds on synthetic scenes (train extra)."""
    pytest.importorskip("torch")
    from landcover_sdk import TrainConfig, Trainer
    from landcover_sdk.resources import load_resource_config

    d = tmp_path_factory.mktemp("fast-vs-exact")
    pairs = write_scenes(d / "data", tiles=3, size=640, seed=5)
    raw = load_resource_config("quick")
    raw["data"] = {**raw["data"], "root": None, "pairs": [[p.image, p.label] for p in pairs[1:]]}
    raw["model"] = {**raw["model"], "channels": [16, 16, 16, 16]}
    raw.update(output_dir=str(d / "out"), epochs=2, epoch_size=160)
    result = Trainer(TrainConfig.from_dict(raw)).fit(progress=False)
    assert result.model_path is not None
    return result.model_path, [Path(pairs[0].image)]


def test_fast_mode_agrees_with_exact_on_a_trained_model(trained_small: tuple[Path, list[Path]],
                                                        tmp_path: Path) -> None:
    model, (image,) = trained_small
    p = Predictor.from_file(model)
    with rasterio.open(image) as ds:
        naip = ds.read()
    exact = p.predict_classes(naip, mode="exact")
    fast = p.predict_classes(naip, mode="fast")
    assert (exact == fast).mean() >= 0.99
    # the whole-raster pipeline gives the array API's answer in both modes (one 640-px block here)
    for mode, expected in (("exact", exact), ("fast", fast)):
        out = p.predict_raster(image, tmp_path / f"{mode}.tif", mode=mode, progress=False).classes
        with rasterio.open(out) as ds:
            classes = ds.read(1)
        nodata = (naip == 0).all(axis=0)
        assert ((classes == expected) | nodata).all(), mode


def test_exact_raster_is_the_same_whatever_the_block_size(trained_small: tuple[Path, list[Path]],
                                                          tmp_path: Path) -> None:
    model, (image,) = trained_small
    region = Region.from_window((37, 51, 500, 413))
    outs = []
    for block in (128, 256, 4096):
        res = Predictor.from_file(model, block_size=block).predict_raster(
            image, tmp_path / f"b{block}.tif", probabilities=tmp_path / f"p{block}.tif", region=region,
            progress=False)
        with rasterio.open(res.classes) as c, rasterio.open(res.probabilities) as pr:
            outs.append((c.read(), pr.read()))
    for classes, probs in outs[1:]:
        assert np.array_equal(classes, outs[0][0]) and np.array_equal(probs, outs[0][1])


def test_fast_mode_agrees_with_exact_on_real_imagery() -> None:
    folder = real_fixtures() / "chesapeake-2014"
    p = Predictor(OnnxBackend(import_cntk(cntk_fixtures() / "250epochs.model")))
    same = total = 0
    for img in sorted(folder.glob("*_NAIP.tif")):
        with rasterio.open(img) as ds:
            naip = ds.read()
        exact, fast = p.predict_classes(naip, mode="exact"), p.predict_classes(naip, mode="fast")
        same += int((exact == fast).sum())
        total += exact.size
    assert total == 8 * 256 * 256
    assert same / total >= 0.99
