"""Inference: compute backends (ONNX Runtime without torch, or PyTorch), the predictor, metrics, renderings."""

from .backends import Backend, OnnxBackend, TorchBackend, load_backend
from .metrics import ConfusionAccumulator, EvaluationReport, evaluate, softmax
from .predictor import PredictionResult, Predictor
from .region import Region, resolve_region
from .render import comparison_figure, hard_labels, naip_rgb, overlay, save_comparison, save_png, soft_labels

__all__ = [
    "Backend",
    "ConfusionAccumulator",
    "EvaluationReport",
    "OnnxBackend",
    "PredictionResult",
    "Predictor",
    "Region",
    "TorchBackend",
    "comparison_figure",
    "evaluate",
    "hard_labels",
    "load_backend",
    "naip_rgb",
    "overlay",
    "resolve_region",
    "save_comparison",
    "save_png",
    "soft_labels",
    "softmax",
]
