"""Models: the tutorial network (``UNetModel``, needs torch), model files, CNTK import, ONNX.

``ModelFile``, the CNTK importer and the ONNX builder need only numpy, safetensors and onnx;
``UNetModel`` is imported lazily so that prediction works without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .cntk import import_cntk
from .file import ModelFile, Provenance
from .onnx_export import build_onnx, save_onnx
from .shapes import macs_per_window, parameter_shapes, trainable_count

if TYPE_CHECKING:
    from .unet import UNetModel


def __dir__() -> list[str]:
    return sorted(__all__)


def __getattr__(name: str) -> Any:
    if name == "UNetModel":
        from .unet import UNetModel

        return UNetModel
    raise AttributeError(f"module 'landcover_sdk.models' has no attribute {name!r}")


__all__ = [
    "ModelFile",
    "Provenance",
    "UNetModel",
    "build_onnx",
    "import_cntk",
    "macs_per_window",
    "parameter_shapes",
    "save_onnx",
    "trainable_count",
]
