"""The grid-unit mechanism (inference.units), classify, the shared predictor, and serve's scheduler on its own."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landcover_sdk import Predictor
from landcover_sdk.config.schemes import ClassScheme
from landcover_sdk.data.windows import PixelWindow
from landcover_sdk.errors import DataError
from landcover_sdk.inference import soft_labels, softmax
from landcover_sdk.inference.render import classify
from landcover_sdk.inference.shared import model_identity, shared_predictor
from landcover_sdk.inference.units import (
    FAST_TILING,
    REALTIME_FAST_SETTINGS,
    UnitCache,
    UnitGrid,
    compute_units,
    unit_side,
)
from landcover_sdk.models.file import sha256_file
from landcover_sdk.serve.scheduler import Scheduler

TINY = Path(__file__).parent / "data" / "cntk" / "tiny.model"
_IMAGE = np.random.default_rng(11).integers(0, 256, size=(4, 300, 330), dtype=np.uint8)


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_file(TINY)


def _windows(rows: int, cols: int) -> st.SearchStrategy[PixelWindow]:
    return st.tuples(st.integers(0, rows - 1), st.integers(0, cols - 1), st.integers(1, 400),
                     st.integers(1, 400)).map(lambda t: PixelWindow(t[0], t[1], min(t[2], rows - t[0]),
                                                                    min(t[3], cols - t[1])))


# ---------------------------------------------------------------------------------------------- the grid
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=st.tuples(st.integers(1, 700), st.integers(1, 700)), data=st.data(),
       sides=st.sampled_from([1, 2, 3]), mode=st.sampled_from(["exact", "fast"]))
def test_units_tile_any_window_without_gap_or_overlap_and_runs_cover_exactly_the_keys(
        predictor: Predictor, shape: tuple[int, int], data: st.DataObject, sides: int, mode: str) -> None:
    tiling = predictor.tiling(mode)  # type: ignore[arg-type]
    grid = UnitGrid(tiling, shape, sides * tiling.model_core)
    window = data.draw(_windows(*shape))
    keys = grid.keys(window)
    assert len(set(keys)) == len(keys)
    count = np.zeros((window.height, window.width), np.int32)
    for key in keys:
        overlap = grid.overlap(key, window)
        assert overlap is not None  # every key touches the window
        (dr, dc), (sr, sc) = overlap
        count[dr, dc] += 1
        unit = grid.window(key)
        assert sr.stop <= unit.height and sc.stop <= unit.width
        assert unit.row >= 0 and unit.row_stop <= shape[0] and unit.col_stop <= shape[1]
    assert (count == 1).all()
    runs = grid.runs(keys + keys[:3])  # repeats ignored
    assert sorted(k for run in runs for k in run) == sorted(keys)
    for run in runs:
        if mode == "fast":
            assert len(run) == 1
        assert all(a[0] == b[0] and a[1] + 1 == b[1] for a, b in itertools.pairwise(run))
        area, read = grid.area(run), grid.read_window(run)
        assert area.row == run[0][0] * grid.side and area.col == run[0][1] * grid.side
        assert read.overlap(area) == area


def test_unit_side_and_the_named_fast_settings(predictor: Predictor) -> None:
    assert unit_side(predictor.tiling("exact")) == predictor.tiling("exact").model_core == 32  # the tiny model
    fast = Predictor.from_file(TINY, mode="fast", **REALTIME_FAST_SETTINGS).tiling("fast")
    assert unit_side(fast) == 128 and fast.window == 192
    assert FAST_TILING["serve"] is REALTIME_FAST_SETTINGS and FAST_TILING["predict"] == FAST_TILING["arcgis"] == {}
    with pytest.raises(DataError, match="multiple"):
        UnitGrid(predictor.tiling("exact"), (10, 10), 100)  # not a multiple of 32
    with pytest.raises(DataError, match="outside"):
        UnitGrid(predictor.tiling("exact"), (10, 10)).window((1, 0))


def _assembled(predictor: Predictor, grid: UnitGrid, window: PixelWindow) -> np.ndarray:
    units = {}
    for run in grid.runs(grid.keys(window)):
        read = grid.read_window(run)
        canvas = _IMAGE[:, read.row : read.row_stop, read.col : read.col_stop]
        got = compute_units(predictor, grid, canvas, (read.row, read.col), run)
        assert sorted(got) == sorted(run)
        units.update(got)
    return grid.assemble(window, units)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(window=_windows(300, 330))
def test_a_window_assembled_from_computed_units_equals_the_whole_prediction_bitwise(
        predictor: Predictor, window: PixelWindow) -> None:
    whole = predictor.predict_array(_IMAGE)
    grid = UnitGrid(predictor.tiling("exact"), (300, 330))
    got = _assembled(predictor, grid, window)
    assert got.dtype == np.float32
    assert np.array_equal(got, whole[:, window.row : window.row_stop, window.col : window.col_stop])


def test_units_equal_predict_raster_and_predict_area(predictor: Predictor, tmp_path: Path) -> None:
    src = tmp_path / "img.tif"
    profile = {"driver": "GTiff", "height": 300, "width": 330, "count": 4, "dtype": "uint8", "crs": "EPSG:26918",
               "transform": rasterio.transform.from_origin(400000, 4300000, 1, 1)}
    with rasterio.open(src, "w", **profile) as ds:
        ds.write(_IMAGE)
    predictor.predict_raster(src, tmp_path / "classes.tif", progress=False)
    with rasterio.open(tmp_path / "classes.tif") as ds:
        classes = ds.read(1)
    grid = UnitGrid(predictor.tiling("exact"), (300, 330))
    window = PixelWindow(37, 101, 200, 229)
    scores = _assembled(predictor, grid, window)
    valid = np.ones(scores.shape[1:], bool)
    made = classify(scores, valid, predictor.scheme, nodata_class=None)
    assert np.array_equal(made.classes, classes[37:237, 101:330])
    area = predictor.predict_area(_IMAGE, window, raster_shape=(300, 330))
    assert np.array_equal(scores, area)


def test_assemble_takes_a_field_and_fills_what_no_unit_covers(predictor: Predictor) -> None:
    grid = UnitGrid(predictor.tiling("exact"), (200, 200), 128)
    units = {(0, 0): {"v": np.full((128, 128), 3, np.uint8)}}
    out = grid.assemble(PixelWindow(100, 100, 50, 50), units, lambda u: u["v"])
    assert out.shape == (50, 50) and (out[:28, :28] == 3).all() and (out[28:, :] == 0).all()
    with pytest.raises(DataError, match="no units"):
        grid.assemble(PixelWindow(0, 0, 5, 5), {})


# ---------------------------------------------------------------------------------------------- the cache
def test_unit_cache_counts_bytes_drops_the_least_recent_and_is_thread_safe() -> None:
    cache: UnitCache[int, np.ndarray] = UnitCache(10 * 100, lambda a: int(a.nbytes))
    cache.put_many({i: np.zeros(100, np.uint8) for i in range(5)})
    assert len(cache) == 5 and cache.bytes == 500 and cache.limit == 1000
    assert cache.get(0) is not None  # 0 is now the most recent
    cache.put_many({i: np.zeros(100, np.uint8) for i in range(5, 11)})
    assert 1 not in cache and 0 in cache and cache.bytes == 1000
    assert set(cache.get_many([0, 1, 10])) == {0, 10}

    big: UnitCache[int, np.ndarray] = UnitCache(10**9, lambda a: int(a.nbytes))

    def fill(start: int) -> None:
        for i in range(start, start + 500):
            big.put_many({i: np.zeros(8, np.uint8)})
            big.get_many([i, i - 1])

    threads = [threading.Thread(target=fill, args=(k * 500,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(big) == 2000 and big.bytes == 2000 * 8


# ---------------------------------------------------------------------------------------------- classify
def test_classify_makes_the_no_data_choice_explicit() -> None:
    scheme = ClassScheme.tutorial()
    scores = np.random.default_rng(3).normal(size=(scheme.num_classes, 6, 7)).astype(np.float32)
    valid = np.ones((6, 7), bool)
    valid[0, :] = False
    keep = classify(scores, valid, scheme, nodata_class=None)
    assert keep.probabilities is None and keep.soft is None
    assert np.array_equal(keep.classes, scores.argmax(axis=0))
    marked = classify(scores, valid, scheme, nodata_class=0, probabilities=True, soft=True)
    assert marked.classes is not None and (marked.classes[0] == 0).all()
    assert np.array_equal(marked.classes[1:], keep.classes[1:])  # type: ignore[index]
    assert np.array_equal(marked.probabilities, softmax(scores, axis=0))
    assert np.array_equal(marked.soft, soft_labels(softmax(scores, axis=0), scheme))
    only = classify(scores, valid, scheme, nodata_class=0, classes=False, soft=True)
    assert only.classes is None and only.probabilities is None and only.soft is not None


# ---------------------------------------------------------------------------------------------- shared predictor
def test_shared_predictors_are_keyed_by_the_model_files_hash(tmp_path: Path) -> None:
    copy = tmp_path / "same.model"
    shutil.copy(TINY, copy)
    assert model_identity(copy) == model_identity(TINY) == sha256_file(TINY)
    assert model_identity("az://c/m.onnx") == model_identity("az://c/m.onnx") != model_identity("az://c/n.onnx")
    a = shared_predictor(TINY, "exact", 1)
    assert shared_predictor(copy, "exact", 1) is a  # one identity, one session
    assert shared_predictor(TINY, "fast", 1) is not a
    with pytest.raises(Exception, match="file not found"):
        shared_predictor(tmp_path / "missing.model", "exact", 1)


# ---------------------------------------------------------------------------------------------- the scheduler
class _Recorder:
    def __init__(self, delay: float = 0.0, fail: set[int] | None = None) -> None:
        self.calls: list[list[int]] = []
        self.delay, self.fail = delay, fail or set()
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, keys: list[int]) -> dict[int, str]:
        self.gate.wait()
        self.calls.append(list(keys))
        time.sleep(self.delay)
        if set(keys) & self.fail:
            raise OSError("cannot read")
        return {k: f"v{k}" for k in keys}


def _singles(keys: Iterable[int]) -> list[list[int]]:
    return [[k] for k in sorted(set(keys))]


def _scheduler(recorder: _Recorder) -> Scheduler[int, str]:
    return Scheduler(UnitCache(10**6, lambda v: len(v)), recorder, _singles,
                     on_error=lambda e: DataError(f"wrapped: {e}"))


def test_scheduler_computes_each_key_once_however_many_wait() -> None:
    rec = _Recorder(delay=0.01)
    s = _scheduler(rec)
    try:
        tickets = [s.submit([1, 2, 3]) for _ in range(5)]
        for t in tickets:
            t.future.result(5)
        assert sorted(k for call in rec.calls for k in call) == [1, 2, 3]
        assert s.get([2, 3, 4], timeout=5) == {2: "v2", 3: "v3", 4: "v4"}
        assert s.computed == 4 and s.hits >= 2 and s.queued() == 0
        done = s.submit([1])
        assert done.future.done()  # cached: nothing to wait for
    finally:
        s.close()


def test_scheduler_serves_the_newest_first_and_drops_released_keys() -> None:
    rec = _Recorder()
    rec.gate.clear()  # hold the worker on its first key
    s = _scheduler(rec)
    try:
        first = s.submit([0])
        time.sleep(0.05)
        old = s.submit([10, 11])
        abandoned = s.submit([20])
        newest = s.submit([30])
        s.release(abandoned)
        rec.gate.set()
        for t in (first, old, newest):
            t.future.result(5)
        order = [call[0] for call in rec.calls]
        assert order == [0, 30, 10, 11]  # the newest ticket before the older one; 20 never computed
        assert s.dropped == 1 and abandoned.future.done() is False
    finally:
        s.close()


def test_scheduler_failures_reach_their_tickets_and_the_worker_goes_on() -> None:
    rec = _Recorder(fail={7})
    s = _scheduler(rec)
    try:
        bad = s.submit([6, 7])
        with pytest.raises(DataError, match="wrapped: cannot read"):
            bad.future.result(5)
        assert s.get([8], timeout=5) == {8: "v8"}
    finally:
        s.close()
