"""Inference: the predictor, its tiling, block reader and output sinks, compute backends, metrics, renderings.

Where each concern lives:

* :mod:`.predictor` — :class:`Predictor`, the entry point (arrays, raster regions, whole rasters);
* :mod:`.tiling` — how exact and fast mode cut an area into network windows;
* :mod:`.reader` — reading a region block by block with margins;
* :mod:`.outputs` — class/probability COGs, metrics and pictures as sinks;
* :mod:`.backends` — ONNX Runtime (core install) and PyTorch;
* :mod:`.metrics` — the tutorial's evaluation, streamed; :mod:`.render` — hard/soft renderings.
"""

from .backends import Backend, OnnxBackend, TorchBackend, load_backend
from .metrics import ConfusionAccumulator, EvaluationReport, evaluate, softmax
from .predictor import PredictionResult, Predictor
from .render import comparison_figure, hard_labels, naip_rgb, overlay, save_comparison, save_png, soft_labels
from .tiling import Tiling

__all__ = [
    "Backend",
    "ConfusionAccumulator",
    "EvaluationReport",
    "OnnxBackend",
    "PredictionResult",
    "Predictor",
    "Tiling",
    "TorchBackend",
    "comparison_figure",
    "evaluate",
    "hard_labels",
    "load_backend",
    "naip_rgb",
    "overlay",
    "save_comparison",
    "save_png",
    "soft_labels",
    "softmax",
]
