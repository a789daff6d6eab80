"""Inference: the predictor, its tiling, block reader and output sinks, compute backends, metrics, renderings.

Where each concern lives:

* :mod:`.predictor` — :class:`Predictor`, the entry point (arrays, raster regions, whole rasters);
* :mod:`.tiling` — how exact and fast mode cut an area into network windows;
* :mod:`.reader` — reading a region block by block with margins;
* :mod:`.outputs` — what a prediction writes: output specs (:class:`Output`, registered in
  :data:`OUTPUTS`) and the sinks they build;
* :mod:`.backends` — ONNX Runtime (core install) and PyTorch;
* :mod:`.metrics` — the tutorial's evaluation, streamed; :mod:`.render` — hard/soft renderings and
  :func:`classify` (scores → classes, the one place every surface does it);
* :mod:`.units` — predicting on the raster's own grid unit by unit (the tile service, the ArcGIS function);
* :mod:`.shared` — predictors shared across a process, keyed by the model file's hash.
"""

from .backends import Backend, OnnxBackend, TorchBackend, load_backend
from .metrics import ConfusionAccumulator, EvaluationReport, evaluate, softmax
from .outputs import (
    OUTPUTS,
    BlockPrediction,
    ClassesOutput,
    FigureOutput,
    FileOutput,
    Output,
    OutputContext,
    PreviewOutput,
    ProbabilitiesOutput,
    ReportOutput,
    Sink,
)
from .predictor import PredictionResult, Predictor
from .render import (
    Classified,
    classify,
    comparison_figure,
    hard_labels,
    naip_rgb,
    overlay,
    save_comparison,
    save_png,
    soft_labels,
)
from .shared import model_identity, shared_predictor
from .tiling import Mode, Tiling
from .units import UnitCache, UnitGrid, compute_units

__all__ = [
    "OUTPUTS",
    "Backend",
    "BlockPrediction",
    "ClassesOutput",
    "Classified",
    "ConfusionAccumulator",
    "EvaluationReport",
    "FigureOutput",
    "FileOutput",
    "Mode",
    "OnnxBackend",
    "Output",
    "OutputContext",
    "PredictionResult",
    "Predictor",
    "PreviewOutput",
    "ProbabilitiesOutput",
    "ReportOutput",
    "Sink",
    "Tiling",
    "TorchBackend",
    "UnitCache",
    "UnitGrid",
    "classify",
    "comparison_figure",
    "compute_units",
    "evaluate",
    "hard_labels",
    "load_backend",
    "model_identity",
    "naip_rgb",
    "overlay",
    "save_comparison",
    "save_png",
    "shared_predictor",
    "soft_labels",
    "softmax",
]
