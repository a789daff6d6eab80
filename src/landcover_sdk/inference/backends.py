"""Compute backends for prediction: ONNX Runtime (default, no torch) and PyTorch.

Both return full score maps ``(N, classes, H, W)`` for a batch of windows; the predictor crops
what it keeps. A model file becomes an ONNX Runtime session by building its graph with
:func:`~landcover_sdk.models.onnx_export.build_onnx` (numpy + onnx only, no torch); an ``.onnx``
file exported by the SDK is read back into its weights and built the same way, so both variants
(with or without the network's own per-window mean subtraction) exist for either file type.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from ..config.models import ModelConfig
from ..config.schemes import ClassScheme
from ..errors import ConfigError, DataError, ModelFormatError
from ..models.file import ModelFile
from ..models.formats import is_int8_model as is_int8_model
from ..models.formats import load_model_file as load_model_file

if TYPE_CHECKING:
    from ..models.unet import UNetModel

log = logging.getLogger(__name__)

BackendName = Literal["onnxruntime", "torch"]


class Backend(Protocol):
    """What the predictor needs from a compute backend."""

    config: ModelConfig
    scheme: ClassScheme
    input_scale: float

    def run(self, batch: npt.NDArray[np.float32], *, mean_subtracted: bool = False) -> npt.NDArray[np.float32]:
        """Full-resolution scores ``(N, C, H, W)`` of a ``(N, bands, H, W)`` float32 batch.

        ``mean_subtracted=True``: the caller already subtracted means; the network must not
        subtract each window's own mean again.
        """
        ...

    def prepare(self, *, mean_subtracted: bool = False) -> None:
        """Get ready to :meth:`run` (build sessions), so that a model that cannot run fails early."""
        ...


def _threads(threads: int | None) -> int:
    return threads if threads else max(1, os.cpu_count() or 1)


def onnx_providers(device: str) -> list[Any]:
    """ONNX Runtime execution providers for ``device`` (``"cpu"``, ``"cuda"`` or ``"cuda:N"``).

    Raises :class:`~landcover_sdk.ConfigError` when a GPU is asked for and this onnxruntime has no
    CUDA execution provider (the CPU-only wheel), before any model is built.

    Args:
        device: where the network runs.
    """
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if not device.startswith("cuda"):
        raise ConfigError(f"device: {device!r} is not 'cpu', 'cuda' or 'cuda:N'")
    import onnxruntime as ort

    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise ConfigError(f"device: {device} needs ONNX Runtime's CUDA execution provider, and this onnxruntime "
                          f"has only {', '.join(available)} (install onnxruntime-gpu, or use backend 'torch')")
    index = int(device.partition(":")[2] or 0)
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


def ort_session(graph: bytes, *, threads: int, device: str = "cpu", memory_arena: bool = True,
                what: str = "the model") -> Any:
    """An ONNX Runtime session over a serialized graph, on ``device``; a graph it cannot load is a ModelFormatError.

    ONNX Runtime falls back to the CPU without a word when the CUDA libraries cannot be loaded; a
    session that asked for a GPU and did not get one is refused here instead.

    Args:
        graph: the serialized ONNX model.
        threads: CPU compute threads.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        memory_arena: keep the CPU memory arena.
        what: how errors name the model.
    """
    import onnxruntime as ort

    providers = onnx_providers(device)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # The arena makes large (fast-mode) windows ~30 % faster; without it a 1024x1024 window needs
    # ~1.3 GB instead of ~2.4 GB. The default 576-pixel fast windows fit either way.
    opts.enable_cpu_mem_arena = memory_arena
    try:
        session = ort.InferenceSession(graph, opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelFormatError(f"ONNX Runtime cannot load {what} ({type(exc).__name__}: {exc})") from exc
    if device != "cpu" and session.get_providers()[0] != "CUDAExecutionProvider":
        raise ConfigError(f"device: {device}: ONNX Runtime could not start its CUDA execution provider (CUDA or "
                          "cuDNN libraries missing or not matching onnxruntime-gpu); it would have run on the CPU")
    return session


class OnnxBackend:
    """ONNX Runtime sessions over the network, built from the weights (core install only).

    Two graphs can be needed — with the network's own per-window mean subtraction (exact mode)
    and without it (fast mode subtracts a mean field itself) — and each session is built once,
    by :meth:`prepare` or on first use.

    Args:
        mf: the model file.
        threads: compute threads (default: every CPU).
        memory_arena: keep ONNX Runtime's CPU memory arena (faster; more memory with big windows).
        device: ``"cpu"``, or ``"cuda"`` / ``"cuda:N"`` (the CUDA execution provider of onnxruntime-gpu).
    """

    def __init__(self, mf: ModelFile, *, threads: int | None = None, memory_arena: bool = True,
                 device: str = "cpu") -> None:
        onnx_providers(device)  # a GPU this onnxruntime cannot use is refused before anything is built
        self.model_file = mf
        self.config, self.scheme, self.input_scale = mf.config, mf.scheme, mf.input_scale
        self.threads = _threads(threads)
        self.memory_arena = memory_arena
        self.device = device
        self._sessions: dict[bool, Any] = {}

    def prepare(self, *, mean_subtracted: bool = False) -> None:
        """Build the ONNX Runtime session :meth:`run` will use (so a broken model fails before any output)."""
        self._session(mean_subtracted)

    def _session(self, mean_subtracted: bool) -> Any:
        session = self._sessions.get(mean_subtracted)
        if session is None:
            from ..models.onnx_export import build_onnx

            graph = build_onnx(self.model_file, full=True, subtract_mean=not mean_subtracted).SerializeToString()
            session = ort_session(graph, threads=self.threads, device=self.device, memory_arena=self.memory_arena)
            self._sessions[mean_subtracted] = session
        return session

    def run(self, batch: npt.NDArray[np.float32], *, mean_subtracted: bool = False) -> npt.NDArray[np.float32]:
        """Scores of a batch (see :meth:`Backend.run`)."""
        out = self._session(mean_subtracted).run(None, {"image": np.ascontiguousarray(batch, dtype=np.float32)})[0]
        return np.asarray(out, dtype=np.float32)


class TorchBackend:
    """PyTorch backend over a :class:`~landcover_sdk.models.UNetModel` (needs the ``train`` extra).

    Build it from a model file (``TorchBackend(mf)``) or around a live model, e.g. one being
    trained (:meth:`from_module`).

    With ``autocast`` the network runs under :func:`torch.autocast` in half precision (``"fp16"``, or
    ``"bf16"``), the usual way to use a GPU's tensor cores; its answers approximate the float model's and
    :attr:`precision` says so.

    Args:
        mf: the model file.
        threads: torch CPU threads (default: torch's choice).
        device: torch device, e.g. ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.
        autocast: ``None`` (float32), ``"fp16"`` or ``"bf16"``.
    """

    def __init__(self, mf: ModelFile, *, threads: int | None = None, device: str = "cpu",
                 autocast: str | None = None) -> None:
        import torch

        from ..models.unet import UNetModel

        if str(device).startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device: {device} asked for, but this torch build sees no CUDA device "
                              f"(torch {torch.__version__})")
        if threads:
            torch.set_num_threads(threads)
        self._init(UNetModel.from_model_file(mf).to(device).eval(), device, mf.input_scale, autocast)

    @classmethod
    def from_module(cls, model: UNetModel, device: Any = "cpu", *, input_scale: float = 1.0 / 256.0,
                    autocast: str | None = None) -> TorchBackend:
        """A backend over a live model, used as it is (its train/eval state is the caller's).

        Args:
            model: the network (e.g. the one a :class:`~landcover_sdk.Trainer` is training).
            device: the device its parameters are on.
            input_scale: factor applied to uint8 imagery (the tutorial: 1/256).
            autocast: ``None`` (float32), ``"fp16"`` or ``"bf16"``.
        """
        backend = cls.__new__(cls)
        backend._init(model, device, input_scale, autocast)
        return backend

    def _init(self, model: UNetModel, device: Any, input_scale: float, autocast: str | None) -> None:
        import torch

        dtypes = {"fp16": torch.float16, "bf16": torch.bfloat16}
        if autocast is not None and autocast not in dtypes:
            raise ConfigError(f"autocast: {autocast!r} is not 'fp16' or 'bf16'")
        self.torch = torch
        self.model = model
        self.device = device
        self.precision = autocast or "fp32"
        self._autocast = None if autocast is None else (torch.device(device).type, dtypes[autocast])
        self.config, self.scheme, self.input_scale = model.config, model.scheme, input_scale

    def prepare(self, *, mean_subtracted: bool = False) -> None:
        """Nothing to build: the module is ready."""

    def run(self, batch: npt.NDArray[np.float32], *, mean_subtracted: bool = False) -> npt.NDArray[np.float32]:
        """Scores of a batch (see :meth:`Backend.run`)."""
        torch = self.torch
        precision = (contextlib.nullcontext() if self._autocast is None
                     else torch.autocast(device_type=self._autocast[0], dtype=self._autocast[1]))
        with torch.inference_mode(), precision:
            x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
            scores = self.model.forward_full(x, subtract_mean=not mean_subtracted)
            return np.asarray(scores.float().cpu().numpy(), dtype=np.float32)


class QuantizedBackend:
    """An int8 model written by :func:`~landcover_sdk.inference.quantize.quantize_model`, run as it is.

    Its graph has no mean subtraction of its own: with ``mean_subtracted=False`` each window's own
    mean is subtracted here (the tutorial's windows, in float32, before the int8 graph). Its answers
    are approximations of the float model's: :attr:`precision` says so, and the predictor never labels
    them exact.

    Args:
        path: the int8 ``.onnx`` file.
        threads: compute threads (default: every CPU).
        model: the file already parsed (``onnx.ModelProto``), so it is not read twice.
    """

    precision = "int8"

    def __init__(self, path: str | Path, *, threads: int | None = None, model: Any = None) -> None:
        from ..models.onnx_export import GRAPH_HASH_KEY, RECORD_KEY, graph_sha256, read_onnx

        self.path = Path(path)
        model = model if model is not None else read_onnx(self.path)
        meta = {prop.key: prop.value for prop in model.metadata_props}
        if meta.get(GRAPH_HASH_KEY) != graph_sha256(model):
            raise ModelFormatError(f"{self.path}: the int8 graph was changed after quantization (its hash does not "
                                   "match the one recorded); quantize the model again")
        try:
            self.config = ModelConfig.model_validate_json(meta["model_config"])
            self.scheme = ClassScheme.model_validate_json(meta["class_scheme"])
            self.input_scale = float(meta["input_scale"])
            self.record: dict[str, Any] = json.loads(meta[RECORD_KEY])
        except (KeyError, ValueError) as exc:
            raise ModelFormatError(f"{self.path}: bad landcover-sdk metadata in int8 model ({exc})") from exc
        self.threads = _threads(threads)
        self._bytes = model.SerializeToString()
        self._session: Any = None

    def prepare(self, *, mean_subtracted: bool = False) -> None:
        """Build the ONNX Runtime session."""
        if self._session is None:
            self._session = ort_session(self._bytes, threads=self.threads, what=f"the int8 model {self.path}")

    def run(self, batch: npt.NDArray[np.float32], *, mean_subtracted: bool = False) -> npt.NDArray[np.float32]:
        """Scores of a batch (see :meth:`Backend.run`)."""
        self.prepare()
        x = np.ascontiguousarray(batch, dtype=np.float32)
        if not mean_subtracted:
            bands = list(self.config.centred_bands)
            x = x.copy()  # the caller's batch stays as it was
            x[:, bands] -= x[:, bands].mean(axis=(2, 3), keepdims=True)
        return np.asarray(self._session.run(None, {"image": x})[0], dtype=np.float32)


class CountingBackend:
    """A backend that counts the network windows it evaluates (services report it; tests assert on it).

    Args:
        inner: the backend doing the work.
    """

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.config, self.scheme, self.input_scale = inner.config, inner.scheme, inner.input_scale
        self.precision = str(getattr(inner, "precision", "fp32"))
        self.windows = 0
        self._lock = threading.Lock()

    def run(self, batch: npt.NDArray[np.float32], *, mean_subtracted: bool = False) -> npt.NDArray[np.float32]:
        """Scores of ``batch`` from the inner backend, counted.

        Args:
            batch: ``(N, bands, H, W)`` float32.
            mean_subtracted: whether means were already subtracted.
        """
        with self._lock:
            self.windows += len(batch)
        return self.inner.run(batch, mean_subtracted=mean_subtracted)

    def prepare(self, *, mean_subtracted: bool = False) -> None:
        """Prepare the inner backend.

        Args:
            mean_subtracted: the variant to prepare.
        """
        self.inner.prepare(mean_subtracted=mean_subtracted)


def load_backend(path: str | Path, *, backend: BackendName = "onnxruntime", threads: int | None = None,
                 memory_arena: bool = True, device: str = "cpu", autocast: str | None = None) -> Backend:
    """Open a model file (``.safetensors``, ``.onnx`` or a tutorial CNTK ``.model``) on the chosen backend.

    Args:
        path: local model file.
        backend: ``"onnxruntime"`` (core install) or ``"torch"`` (``train`` extra).
        threads: compute threads (default: every CPU).
        memory_arena: ONNX Runtime only: keep its CPU memory arena; off trades ~25 % of
            fast-mode speed for less memory with very large windows.
        device: ``"cpu"``, or ``"cuda"`` / ``"cuda:N"``.
        autocast: torch only: ``"fp16"`` or ``"bf16"`` (approximate), default float32.
    """
    if autocast is not None and backend != "torch":
        raise ConfigError(f"autocast: {autocast} needs backend 'torch'")
    if Path(path).suffix.lower() == ".onnx":
        from ..models.onnx_export import model_file_from_onnx, onnx_precision, read_onnx

        model = read_onnx(path)  # parsed once: int8 files run as they are, float ones are rebuilt from weights
        if onnx_precision(model) == "int8":
            if backend == "torch":
                raise ConfigError(f"backend: {path} is an int8 ONNX model; it runs on ONNX Runtime only")
            if device != "cpu":
                raise ConfigError(f"device: {path} is an int8 model for CPUs; on {device} use the float model "
                                  "(backend 'torch' with autocast 'fp16' or 'bf16' uses a GPU's tensor cores)")
            return QuantizedBackend(path, threads=threads, model=model)
        mf = model_file_from_onnx(model, path)
    else:
        mf = load_model_file(path)
    if backend == "torch":
        return TorchBackend(mf, threads=threads, device=device, autocast=autocast)
    return OnnxBackend(mf, threads=threads, memory_arena=memory_arena, device=device)


def check_batch(batch: npt.NDArray[np.floating[Any]], bands: int) -> None:
    """Validate a float batch before it reaches a backend."""
    if batch.ndim != 4 or batch.shape[1] != bands:
        raise DataError(f"batch must be (N, {bands}, H, W), got {batch.shape}")
    if not np.isfinite(batch).all():
        raise DataError("input holds NaN or infinite values")
