"""Reading a model file whatever its format: ``.safetensors``, an SDK-exported ``.onnx`` (float or int8) or the
tutorial's CNTK ``.model``; the format is picked by the suffix. ONNX and CNTK readers are imported on demand."""

from __future__ import annotations

from pathlib import Path

from ..errors import ModelFormatError
from .file import ModelFile

__all__ = ["is_int8_model", "load_model_file"]


def is_int8_model(path: str | Path) -> bool:
    """Whether ``path`` is an int8 model written by :func:`~landcover_sdk.inference.quantize.quantize_model`.

    Args:
        path: a model file.
    """
    from .onnx_export import onnx_precision, read_onnx

    p = Path(path)
    return p.suffix.lower() == ".onnx" and p.is_file() and onnx_precision(read_onnx(p)) == "int8"


def load_model_file(path: str | Path) -> ModelFile:
    """Read a ``.safetensors`` model file, an ``.onnx`` model exported by the SDK, or a tutorial CNTK ``.model``.

    A CNTK file is converted in memory on every load (about a second for the tutorial's model);
    ``landcover model import-cntk`` converts it once.

    Args:
        path: the model file (its suffix picks the format).

    Raises:
        ModelFormatError: an unknown suffix or an unreadable file.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".onnx":
        from .onnx_export import load_onnx_model_file

        return load_onnx_model_file(p)
    if suffix == ".model":
        from .cntk import import_cntk

        return import_cntk(p)
    if suffix != ".safetensors":
        raise ModelFormatError(f"{p}: unknown model file type {suffix or '(none)'} (use .safetensors, .onnx or the "
                               "tutorial's CNTK .model)")
    return ModelFile.load(p)
