"""The exception hierarchy of landcover-sdk.

Every error the library raises on purpose derives from :class:`LandcoverError`, so an
application can catch one type. Each message names what is at fault: the file, band,
field or coordinate.
"""

from __future__ import annotations

from pathlib import Path


class LandcoverError(Exception):
    """Root of every error raised by landcover-sdk on purpose."""


class ConfigError(LandcoverError, ValueError):
    """A configuration value, file or field is invalid (the message names the field path)."""


class InvalidRasterError(LandcoverError):
    """A raster is unreadable, truncated, or has the wrong bands, dtype or values."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class RasterMismatchError(InvalidRasterError):
    """An image and its label raster disagree (CRS, transform or size)."""


class LabelValueError(InvalidRasterError):
    """A label raster holds values outside the configured class scheme."""


class MissingPartnerError(InvalidRasterError):
    """An imagery file has no label partner, or a label file no imagery partner."""


class EmptyDatasetError(LandcoverError):
    """A folder or list holds no usable tile pairs."""


class WindowError(LandcoverError, ValueError):
    """A window, size or region falls outside a raster or is not a valid size."""


class CoordinateError(WindowError):
    """A geographic coordinate falls outside a raster (or its required margin)."""


class ModelFormatError(LandcoverError):
    """A model file (CNTK, safetensors or ONNX) is malformed or of another architecture."""


class StorageError(LandcoverError):
    """A storage URL is malformed or a storage operation failed."""


class RunnerError(LandcoverError):
    """A job description is impossible or a job failed to run."""


class DataError(LandcoverError, ValueError):
    """Array input to the API is invalid (shape, dtype, NaN or infinite values)."""


__all__ = [
    "ConfigError",
    "CoordinateError",
    "DataError",
    "EmptyDatasetError",
    "InvalidRasterError",
    "LabelValueError",
    "LandcoverError",
    "MissingPartnerError",
    "ModelFormatError",
    "RasterMismatchError",
    "RunnerError",
    "StorageError",
    "WindowError",
]
