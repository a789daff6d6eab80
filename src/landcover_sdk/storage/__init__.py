"""Storage: where rasters, models and outputs live — local disk or Azure Blob, chosen by URL.

``get_storage(url)`` returns the backend for a URL's scheme: plain paths and ``file://`` →
:class:`LocalStorage`; ``az://container/path`` → :class:`AzureBlobStorage` (credentials from
the environment unless configured with :func:`configure_storage`); other schemes from plugins
registered under the ``landcover_sdk.storage`` entry point group (name = scheme, value = a
zero-argument factory returning a :class:`Storage`).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from .._util import cache_dir, redact
from ..errors import MissingPartnerError, StorageError
from .azure_blob import AzureBlobStorage
from .base import (
    ENTRY_POINT_GROUP,
    Storage,
    StorageURL,
    configure_storage,
    get_storage,
    known_schemes,
    register_backend,
    reset_storage,
)
from .local import LocalStorage
from .staging import StagedSink, publish_text, staged_outputs

log = logging.getLogger(__name__)

register_backend("file", LocalStorage)
register_backend("az", AzureBlobStorage)


def gdal_path_for(url: str) -> str:
    """The path GDAL/rasterio opens for a storage URL (``/vsiaz/...`` for Blob)."""
    return get_storage(url).gdal_path(url)


def discover_remote_pairs(url: str, *, image_suffix: str, label_suffix: str) -> list[tuple[str, str, str]]:
    """``(name, image URL, label URL)`` for every tile pair under a storage URL prefix.

    Args:
        url: the storage URL prefix.
        image_suffix: what imagery object names end with.
        label_suffix: what label object names end with.
    """
    store = get_storage(url)
    prefix = url if url.endswith("/") else url + "/"
    store.check_container(prefix)
    objects = store.list(prefix)
    images = {u[: -len(image_suffix)]: u for u in objects if u.endswith(image_suffix)}
    labels = {u[: -len(label_suffix)]: u for u in objects if u.endswith(label_suffix)}
    for stem in sorted(set(images) - set(labels)):
        raise MissingPartnerError(images[stem], f"no label partner {stem}{label_suffix} under {url}")
    for stem in sorted(set(labels) - set(images)):
        raise MissingPartnerError(labels[stem], f"no imagery partner {stem}{image_suffix} under {url}")
    return [(stem.rsplit("/", 1)[-1], images[stem], labels[stem]) for stem in sorted(images)]


def fetch_to_cache(url: str) -> Path:
    """A local copy of the object at ``url`` (local paths are returned as they are)."""
    store = get_storage(url)
    local = store.local_path(url)
    if local is not None:
        if not local.is_file():
            raise StorageError(f"{url}: file not found")
        return local
    parsed = StorageURL.parse(url)
    digest = hashlib.sha256(str(parsed).encode()).hexdigest()[:16]
    target = cache_dir() / "objects" / digest / parsed.name
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("downloading %s", url)
    return store.download(url, target)


__all__ = [
    "ENTRY_POINT_GROUP",
    "AzureBlobStorage",
    "LocalStorage",
    "Storage",
    "StagedSink",
    "StorageURL",
    "cache_dir",
    "configure_storage",
    "discover_remote_pairs",
    "fetch_to_cache",
    "gdal_path_for",
    "get_storage",
    "known_schemes",
    "publish_text",
    "redact",
    "register_backend",
    "reset_storage",
    "staged_outputs",
]
