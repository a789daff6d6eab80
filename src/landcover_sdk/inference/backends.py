"""Compute backends for prediction: ONNX Runtime (default, no torch) and PyTorch.

Both return *full* score maps ``(N, classes, H - 2·output_margin, W - 2·output_margin)`` for a
batch of windows; the predictor crops what it keeps. A ``.safetensors`` model becomes an ONNX
Runtime session by building its graph with :func:`~landcover_sdk.models.onnx_export.build_onnx`
(numpy + onnx only); an ``.onnx`` file written by the SDK is used as it is.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from ..config.models import ModelConfig
from ..config.schemes import ClassScheme
from ..errors import DataError, ModelFormatError
from ..models.file import ModelFile

log = logging.getLogger(__name__)

BackendName = Literal["onnxruntime", "torch"]


class Backend(Protocol):
    """What the predictor needs from a compute backend."""

    config: ModelConfig
    scheme: ClassScheme
    input_scale: float
    output_margin: int

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores of a ``(N, bands, H, W)`` float32 batch."""
        ...


def _threads(threads: int | None) -> int:
    return threads if threads else max(1, os.cpu_count() or 1)


class OnnxBackend:
    """ONNX Runtime session over the network (core install only)."""

    def __init__(self, onnx_bytes: bytes, config: ModelConfig, scheme: ClassScheme, *, input_scale: float,
                 output_margin: int, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.config, self.scheme, self.input_scale, self.output_margin = config, scheme, input_scale, output_margin
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = _threads(threads)
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelFormatError(f"ONNX Runtime cannot load the model ({type(exc).__name__}: {exc})") from None
        self.input_name = self.session.get_inputs()[0].name

    @classmethod
    def from_model_file(cls, mf: ModelFile, *, threads: int | None = None) -> OnnxBackend:
        """Build the graph from a model file's weights (no torch)."""
        from ..models.onnx_export import build_onnx

        model = build_onnx(mf, full=True)
        return cls(model.SerializeToString(), mf.config, mf.scheme, input_scale=mf.input_scale,
                   output_margin=0, threads=threads)

    @classmethod
    def from_onnx_file(cls, path: str | Path, *, threads: int | None = None) -> OnnxBackend:
        """Use an ONNX model exported by the SDK."""
        from ..models.onnx_export import read_onnx

        data, config, scheme, meta = read_onnx(path)
        margin = config.margin if meta.get("output") == "centre" else 0
        return cls(data, config, scheme, input_scale=float(meta["input_scale"]), output_margin=margin,
                   threads=threads)

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores of a batch."""
        out = self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float32)


class TorchBackend:
    """PyTorch backend (needs the ``train`` extra)."""

    output_margin = 0

    def __init__(self, mf: ModelFile, *, threads: int | None = None, device: str = "cpu") -> None:
        import torch

        from ..models.unet import UNetModel

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.model = UNetModel.from_model_file(mf).to(device).eval()
        self.device = device
        self.config, self.scheme, self.input_scale = mf.config, mf.scheme, mf.input_scale

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Scores of a batch."""
        with self.torch.inference_mode():
            x = self.torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            return np.asarray(self.model.forward_full(x).cpu().numpy(), dtype=np.float32)


def load_backend(path: str | Path, *, backend: BackendName = "onnxruntime", threads: int | None = None) -> Backend:
    """Open a model file (``.safetensors`` or ``.onnx``) on the chosen backend."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        if backend == "torch":
            raise ModelFormatError(f"{p}: an ONNX model runs on onnxruntime; use the .safetensors file for torch")
        return OnnxBackend.from_onnx_file(p, threads=threads)
    if suffix != ".safetensors":
        raise ModelFormatError(f"{p}: unknown model file type {suffix or '(none)'} (use .safetensors or .onnx; "
                               "import CNTK models with `landcover model import-cntk`)")
    mf = ModelFile.load(p)
    if backend == "torch":
        return TorchBackend(mf, threads=threads)
    return OnnxBackend.from_model_file(mf, threads=threads)


def check_batch(batch: npt.NDArray[np.floating], bands: int) -> None:
    """Validate a float batch before it reaches a backend."""
    if batch.ndim != 4 or batch.shape[1] != bands:
        raise DataError(f"batch must be (N, {bands}, H, W), got {batch.shape}")
    if not np.isfinite(batch).all():
        raise DataError("input holds NaN or infinite values")
