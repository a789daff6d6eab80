"""The backend contract: ONNX Runtime and PyTorch give the same scores, with and without mean subtraction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from landcover_sdk import ModelFile, import_cntk
from landcover_sdk.inference import Backend, OnnxBackend, TorchBackend, load_backend

DATA = Path(__file__).parent / "data" / "cntk"


def close(a: np.ndarray, b: np.ndarray, rel: float = 2e-5) -> bool:
    """Equal up to float32 rounding, relative to the scores' magnitude."""
    return float(np.abs(a - b).max()) <= rel * max(1.0, float(np.abs(b).max()))


@pytest.fixture(scope="module")
def model_file() -> ModelFile:
    return import_cntk(DATA / "tiny.model")


@pytest.fixture(scope="module", params=["onnxruntime", "torch"])
def backend(request: pytest.FixtureRequest, model_file: ModelFile) -> Backend:
    if request.param == "torch":
        pytest.importorskip("torch")
        return TorchBackend(model_file)
    return OnnxBackend(model_file, threads=1)


@pytest.fixture(scope="module")
def batch(model_file: ModelFile) -> np.ndarray:
    w = model_file.config.window
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (3, model_file.config.in_bands, w, w)) / 256.0).astype(np.float32)


def test_full_scores_have_the_contract_shape(backend: Backend, batch: np.ndarray) -> None:
    backend.prepare(mean_subtracted=False)
    out = backend.run(batch)
    assert out.shape == (3, backend.scheme.num_classes, *batch.shape[2:]) and out.dtype == np.float32
    assert np.isfinite(out).all() and (out >= 0).all()  # scores come after the final ReLU


def test_mean_subtracted_input_gives_the_same_scores(backend: Backend, batch: np.ndarray) -> None:
    bands = list(backend.config.centred_bands)
    subtracted = batch.copy()
    subtracted[:, bands] -= batch[:, bands].mean(axis=(2, 3), keepdims=True)
    assert close(backend.run(subtracted, mean_subtracted=True), backend.run(batch))
    # without the network's own subtraction, an offset on red/green/blue changes the answer
    assert not close(backend.run(batch + 0.2, mean_subtracted=True), backend.run(batch, mean_subtracted=True), 1e-3)
    # with it, the answer ignores that offset (each window's mean is removed)
    shifted = batch.copy()
    shifted[:, bands] += 0.2
    assert close(backend.run(shifted), backend.run(batch))


@pytest.mark.parametrize("mean_subtracted", [False, True])
def test_onnxruntime_and_torch_agree(model_file: ModelFile, batch: np.ndarray, mean_subtracted: bool) -> None:
    pytest.importorskip("torch")
    ort_scores = OnnxBackend(model_file, threads=1).run(batch, mean_subtracted=mean_subtracted)
    torch_scores = TorchBackend(model_file).run(batch, mean_subtracted=mean_subtracted)
    assert close(ort_scores, torch_scores, 1e-4)


def test_live_module_backend_equals_file_backend(model_file: ModelFile, batch: np.ndarray) -> None:
    pytest.importorskip("torch")
    from landcover_sdk import UNetModel

    live = TorchBackend.from_module(UNetModel.from_model_file(model_file).eval())
    assert close(live.run(batch), TorchBackend(model_file).run(batch), 1e-6)


def test_prepare_builds_the_session_up_front(model_file: ModelFile, tmp_path: Path) -> None:
    path = model_file.save(tmp_path / "tiny.safetensors")
    backend = load_backend(path)
    assert isinstance(backend, OnnxBackend) and not backend._sessions
    backend.prepare(mean_subtracted=True)
    assert list(backend._sessions) == [True]
