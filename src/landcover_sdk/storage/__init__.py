"""Storage: where rasters, models and outputs live (local disk now; Azure Blob with the storage issue)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ..errors import StorageError

if TYPE_CHECKING:
    from ..data.dataset import TilePair


def _unsupported(url: str) -> StorageError:
    scheme = urlparse(url).scheme or "<none>"
    return StorageError(f"{url}: no storage backend for scheme {scheme!r} (supported: plain paths, file://)")


def gdal_path_for(url: str) -> str:
    """The path GDAL/rasterio opens for a storage URL."""
    if url.startswith("file://"):
        return url.removeprefix("file://")
    raise _unsupported(url)


def discover_remote_pairs(url: str, *, image_suffix: str, label_suffix: str) -> list[TilePair]:
    """Tile pairs under a storage URL (needs a backend for its scheme)."""
    raise _unsupported(url)


__all__ = ["discover_remote_pairs", "gdal_path_for"]


def fetch_to_cache(url: str) -> Path:
    """A local copy of the file at a storage URL (needs a backend for its scheme)."""
    raise _unsupported(url)
