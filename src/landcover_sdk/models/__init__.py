"""Models: the tutorial network (``UNetModel``, needs torch), model files, CNTK import, ONNX.

``ModelFile``, the CNTK importer and the ONNX builder need only numpy, safetensors and onnx;
``UNetModel`` is imported lazily so that prediction works without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .file import ModelFile, Provenance
from .spec import macs_per_window, parameter_shapes, trainable_count

if TYPE_CHECKING:
    from .unet import UNetModel


def __getattr__(name: str) -> Any:
    if name == "UNetModel":
        from .unet import UNetModel

        return UNetModel
    raise AttributeError(f"module 'landcover_sdk.models' has no attribute {name!r}")


__all__ = ["ModelFile", "Provenance", "UNetModel", "macs_per_window", "parameter_shapes", "trainable_count"]
