"""landcover-sdk: pixel-level land-cover classification of 4-band aerial imagery.

A modern, typed re-creation of the pixel-level land classification tutorial: the tutorial's
U-Net-style network (PyTorch, ONNX Runtime), its data conventions, training recipe and
evaluation, with CNTK model import, tiled prediction to Cloud-Optimised GeoTIFFs, and runners
for this machine and Azure Batch.

Everything a user needs is importable from here (``from landcover_sdk import Predictor``); the
sub-packages hold one concern each and are layered, lowest first: ``config``, ``storage``, ``data``,
``imagery`` and ``models``, ``inference`` and ``training``, ``serve``, ``arcgis``, ``samples`` and ``testing``,
``runners``, ``cli``; each imports only from its own layer and those below (``docs/concepts.md``).
Names that need the optional ``train`` extra (torch), and the heavier ones, are imported lazily on
first use; ``dir(landcover_sdk)`` lists them all.

Errors form one tree rooted at :class:`LandcoverError` (see :mod:`landcover_sdk.errors`).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .config import (
    ClassScheme,
    DataConfig,
    ModelConfig,
    PredictConfig,
    Region,
    RunnerConfig,
    TrainConfig,
    load_config,
)
from .data import TileDataset, TilePair
from .errors import (
    CatalogError,
    ConfigError,
    CoordinateError,
    DataError,
    EmptyDatasetError,
    ImageryAccessError,
    InvalidRasterError,
    LabelValueError,
    LandcoverError,
    MissingPartnerError,
    ModelFormatError,
    NoCoverageError,
    RasterMismatchError,
    RunnerError,
    StorageError,
    WindowError,
)

if TYPE_CHECKING:  # pragma: no cover
    from .imagery import ImageryScene, NaipSource
    from .inference import EvaluationReport, PredictionResult, Predictor
    from .models import ModelFile, UNetModel, import_cntk
    from .runners import BatchAIRunner, JobResult, JobSpec, LocalRunner
    from .storage import AzureBlobStorage, LocalStorage, Storage, get_storage
    from .training import Trainer

# Imported on first use: torch (UNetModel, Trainer) is an optional extra, and the rest keeps
# `import landcover_sdk` fast.
_LAZY: dict[str, str] = {
    "NaipSource": ".imagery",
    "ImageryScene": ".imagery",
    "Predictor": ".inference",
    "PredictionResult": ".inference",
    "EvaluationReport": ".inference",
    "ModelFile": ".models",
    "import_cntk": ".models",
    "UNetModel": ".models",
    "Trainer": ".training",
    "JobSpec": ".runners",
    "JobResult": ".runners",
    "LocalRunner": ".runners",
    "BatchAIRunner": ".runners",
    "Storage": ".storage",
    "LocalStorage": ".storage",
    "AzureBlobStorage": ".storage",
    "get_storage": ".storage",
}


def __dir__() -> list[str]:
    return sorted(__all__)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'landcover_sdk' has no attribute {name!r}")
    return getattr(import_module(module, __name__), name)


__all__ = [
    "AzureBlobStorage",
    "BatchAIRunner",
    "CatalogError",
    "ClassScheme",
    "ConfigError",
    "CoordinateError",
    "DataConfig",
    "DataError",
    "EmptyDatasetError",
    "EvaluationReport",
    "ImageryAccessError",
    "ImageryScene",
    "InvalidRasterError",
    "JobResult",
    "JobSpec",
    "LabelValueError",
    "LandcoverError",
    "LocalRunner",
    "LocalStorage",
    "MissingPartnerError",
    "ModelConfig",
    "ModelFile",
    "ModelFormatError",
    "NaipSource",
    "NoCoverageError",
    "PredictConfig",
    "PredictionResult",
    "Predictor",
    "RasterMismatchError",
    "Region",
    "RunnerConfig",
    "RunnerError",
    "Storage",
    "StorageError",
    "TileDataset",
    "TilePair",
    "TrainConfig",
    "Trainer",
    "UNetModel",
    "WindowError",
    "__version__",
    "get_storage",
    "import_cntk",
    "load_config",
]
