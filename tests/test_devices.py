"""Where the network runs: torch autocast (fp16/bf16) on the CPU, GPU requests refused clearly without a GPU,
and the same predictions on CUDA when a GPU is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import rasterio
import torch

from landcover_sdk import ConfigError, Predictor, samples
from landcover_sdk.cli import main
from landcover_sdk.inference import load_backend
from landcover_sdk.inference.backends import OnnxBackend, load_model_file
from landcover_sdk.inference.quantize import quantize_model
from landcover_sdk.models.builtin import resolve_model

MODEL = "builtin:tutorial-250epochs"
ORT_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()
TORCH_CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def naip() -> np.ndarray:
    with rasterio.open(samples.chesapeake_2014_pairs()[2].image) as ds:
        return ds.read()


@pytest.mark.parametrize("autocast", ["bf16", "fp16"])
def test_torch_autocast_keeps_the_answers_and_is_labelled_approximate(autocast: str, naip: np.ndarray,
                                                                      tmp_path: Path) -> None:
    fp32 = Predictor.from_file(MODEL, backend="torch", mode="fast").predict_classes(naip)
    half = Predictor.from_file(MODEL, backend="torch", autocast=autocast, mode="fast")
    assert half.precision == autocast and f"precision='{autocast}'" in repr(half)
    assert (half.predict_classes(naip) == fp32).mean() >= 0.99
    res = half.predict_raster(samples.chesapeake_2014_pairs()[2].image, tmp_path / "c.tif", progress=False)
    assert res.mode == f"fast tiling, {autocast} (approximate)"
    with rasterio.open(res.classes) as ds:
        assert ds.tags()["LANDCOVER_MODE"] == res.mode


def test_autocast_needs_the_torch_backend_and_int8_stays_on_the_cpu(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="autocast: fp16 needs backend 'torch'"):
        Predictor.from_file(MODEL, autocast="fp16")
    with pytest.raises(ConfigError, match="autocast: bf16 needs backend 'torch'"):
        load_backend(resolve_model(MODEL), autocast="bf16")
    with pytest.raises(ConfigError, match=r"device: 'gpu' is not 'cpu', 'cuda' or 'cuda:N'"):
        Predictor.from_file(MODEL, device="gpu")
    pair = samples.chesapeake_2014_pairs()[0]
    int8 = quantize_model(MODEL, tmp_path / "int8.onnx", [pair.image], windows=1)
    with pytest.raises(ConfigError, match="int8 model for CPUs"):
        Predictor.from_file(int8, device="cuda")


@pytest.mark.skipif(ORT_CUDA and TORCH_CUDA, reason="a GPU is present")
@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_a_gpu_request_without_a_gpu_is_one_line(backend: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    if (backend == "onnxruntime" and ORT_CUDA) or (backend == "torch" and TORCH_CUDA):
        pytest.skip("this backend has a GPU here")
    pair = samples.chesapeake_2014_pairs()[0]
    out = tmp_path / "c.tif"
    assert main(["predict", MODEL, str(pair.image), str(out), "--backend", backend, "--device", "cuda"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "device: cuda" in err[0] and "Traceback" not in err[0]
    assert not out.exists()


@pytest.mark.skipif(ORT_CUDA, reason="onnxruntime-gpu is installed")
@pytest.mark.filterwarnings("ignore:Specified provider")
def test_onnxruntime_falling_back_to_the_cpu_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on a machine with onnxruntime-gpu but no usable CUDA libraries: the provider is listed, the
    # session starts on the CPU without an error of its own.
    listed = ort.get_available_providers()
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *listed])
    backend = OnnxBackend(load_model_file(resolve_model(MODEL)), device="cuda:0")
    with pytest.raises(ConfigError, match="could not start its CUDA execution provider"):
        backend.prepare()


@pytest.mark.skipif(not (ORT_CUDA or TORCH_CUDA), reason="needs a CUDA GPU")
def test_cuda_predictions_match_the_cpu(naip: np.ndarray) -> None:
    cpu = Predictor.from_file(MODEL).predict_array(naip, mode="exact")
    runs = []
    if ORT_CUDA:
        runs.append(Predictor.from_file(MODEL, device="cuda"))
    if TORCH_CUDA:
        runs.append(Predictor.from_file(MODEL, backend="torch", device="cuda"))
        runs.append(Predictor.from_file(MODEL, backend="torch", device="cuda", autocast="fp16"))
    for p in runs:
        scores = p.predict_array(naip, mode="exact")
        agree = (scores.argmax(0) == cpu.argmax(0)).mean()
        assert agree >= (0.99 if p.precision != "fp32" else 0.999), p
        if p.precision == "fp32":
            np.testing.assert_allclose(scores, cpu, atol=1e-3)
