"""Inference: compute backends (ONNX Runtime without torch, or PyTorch) and the predictor."""

from .backends import Backend, OnnxBackend, TorchBackend, load_backend

__all__ = ["Backend", "OnnxBackend", "TorchBackend", "load_backend"]
