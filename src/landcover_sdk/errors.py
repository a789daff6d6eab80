"""The exception hierarchy of landcover-sdk.

Every error the library raises on purpose derives from :class:`LandcoverError`, so an
application can catch one type. Each message names what is at fault: the file, band,
field or coordinate. Where a third-party error (rasterio, ONNX Runtime, safetensors, the OS) is
translated, it is kept as ``__cause__``; errors from Azure and from configuration validation
are not chained, because their text can carry credentials.

The tree (built-in bases in brackets)::

    LandcoverError
    ├── ConfigError [ValueError]          a configuration value, file or field (names the field path)
    ├── InvalidRasterError                unreadable or truncated raster, wrong bands or dtype
    │   ├── RasterMismatchError           imagery and labels disagree (CRS, transform, size, georeferencing)
    │   ├── LabelValueError               label codes outside the class scheme
    │   └── MissingPartnerError           an image without labels or labels without an image
    ├── EmptyDatasetError                 no usable tile pairs
    ├── WindowError [ValueError]          a window or size outside a raster
    │   └── CoordinateError               a coordinate outside a raster or its margin
    │       └── NoCoverageError           no imagery in a catalog covers a place (lists the years there)
    ├── ModelFormatError                  a malformed model file, or another architecture
    ├── StorageError                      a storage URL or operation
    │   └── ImageryAccessError            remote imagery refused (expired SAS, missing credentials)
    ├── CatalogError                      a STAC catalog unreachable, failing or malformed
    ├── RunnerError                       an impossible or failed job
    └── DataError [ValueError]            array input (shape, dtype, NaN)

``landcover_sdk.WindowError`` is not ``rasterio.errors.WindowError``; it never wraps it.
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


class NoCoverageError(CoordinateError):
    """No imagery in a catalog covers a place (or not for the year asked); the message lists what exists there."""


class ImageryAccessError(StorageError):
    """Remote imagery could not be read: a refused or expired signature, missing credentials."""


class CatalogError(LandcoverError):
    """A STAC catalog is unreachable, keeps failing, or returns something that is not usable STAC."""


class RunnerError(LandcoverError):
    """A job description is impossible or a job failed to run."""


class DataError(LandcoverError, ValueError):
    """Array input to the API is invalid (shape, dtype, NaN or infinite values)."""


class SourceError(LandcoverError):
    """The imagery could not be read while serving (the server keeps serving other requests)."""


__all__ = [
    "CatalogError",
    "ConfigError",
    "CoordinateError",
    "DataError",
    "EmptyDatasetError",
    "ImageryAccessError",
    "InvalidRasterError",
    "LabelValueError",
    "LandcoverError",
    "MissingPartnerError",
    "ModelFormatError",
    "NoCoverageError",
    "RasterMismatchError",
    "RunnerError",
    "SourceError",
    "StorageError",
    "WindowError",
]
