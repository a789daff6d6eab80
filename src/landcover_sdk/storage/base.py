"""The storage protocol, storage URLs and the registry that picks a backend by URL scheme."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from .._registry import Registry
from ..errors import StorageError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "landcover_sdk.storage"

# RFC 3986 scheme: a letter, then letters, digits, '+', '-', '.'
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# Windows drive letters ("C:\\...") are paths, not schemes; we only treat "name://" as a URL.


@dataclass(frozen=True)
class StorageURL:
    """A parsed storage URL: ``scheme://bucket/key`` (``bucket`` is the container for ``az``).

    Plain paths and ``file://`` URLs have scheme ``file``, an empty bucket and the path as key.

    Attributes:
        scheme: ``file``, ``az``, or a plugin's scheme.
        bucket: the container (empty for local paths).
        key: the path inside the container, or the local path.
    """

    scheme: str
    bucket: str
    key: str

    @classmethod
    def parse(cls, url: str | Path) -> StorageURL:
        """Parse ``url``; malformed URLs raise :class:`StorageError` naming the URL."""
        text = str(url)
        if not text:
            raise StorageError("empty storage URL")
        m = _SCHEME.match(text)
        if m is None:
            if "://" in text:
                raise StorageError(f"{text}: malformed storage URL (expected scheme://container/path)")
            return cls("file", "", text)
        scheme = m.group(1).lower()
        rest = text[m.end():]
        if scheme == "file":
            if not rest:
                raise StorageError(f"{text}: file:// URL without a path")
            return cls("file", "", rest)
        bucket, _, key = rest.partition("/")
        if not bucket:
            raise StorageError(f"{text}: storage URL has no container (expected {scheme}://container/path)")
        if "\\" in rest or "//" in key:
            raise StorageError(f"{text}: malformed storage URL (backslash or empty path segment)")
        return cls(scheme, bucket, key)

    def join(self, *parts: str) -> StorageURL:
        """This URL with ``parts`` appended as path segments."""
        key = "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/"))
        if self.scheme == "file":
            return StorageURL("file", "", str(Path(self.key, *parts)))
        return StorageURL(self.scheme, self.bucket, key)

    @property
    def name(self) -> str:
        """The last path segment."""
        return self.key.rstrip("/").rsplit("/", 1)[-1]

    def __str__(self) -> str:
        if self.scheme == "file":
            return self.key
        return f"{self.scheme}://{self.bucket}/{self.key}"


@runtime_checkable
class Storage(Protocol):
    """What every storage backend offers. Every method takes full URLs (``az://c/k``, paths).

    Writes are atomic: a reader sees the old object or the complete new one, never a partial
    object under its final name.
    """

    scheme: str

    def exists(self, url: str) -> bool:
        """Whether an object (file or blob) exists at ``url``."""
        ...

    def read_bytes(self, url: str) -> bytes:
        """The whole object at ``url``; a missing object raises :class:`StorageError`."""
        ...

    def write_bytes(self, url: str, data: bytes) -> None:
        """Store ``data`` at ``url`` atomically."""
        ...

    def open_read(self, url: str) -> IO[bytes]:
        """A readable binary stream for ``url``."""
        ...

    def open_write(self, url: str) -> AbstractContextManager[IO[bytes]]:
        """A writable binary stream; the object appears at ``url`` only when the block exits cleanly."""
        ...

    def list(self, prefix: str) -> list[str]:
        """Full URLs of every object whose URL starts with ``prefix`` (sorted; recursive)."""
        ...

    def delete(self, url: str) -> None:
        """Remove the object at ``url`` (no error when it is already gone)."""
        ...

    def upload(self, local: Path, url: str) -> None:
        """Put a complete local file at ``url`` atomically."""
        ...

    def download(self, url: str, local: Path) -> Path:
        """Copy the object at ``url`` to ``local`` (atomically) and return ``local``."""
        ...

    def gdal_path(self, url: str) -> str:
        """The path GDAL/rasterio opens to read ``url`` in place (windowed, without a download)."""
        ...

    def local_path(self, url: str) -> Path | None:
        """The object's local file, when the backend is local disk; otherwise ``None``."""
        ...

    def check_container(self, url: str) -> None:
        """Raise :class:`StorageError` unless the folder/container holding ``url`` exists."""
        ...


BackendFactory = Callable[[], Storage]

#: Factories by URL scheme, built-in and from the ``landcover_sdk.storage`` entry-point group.
BACKENDS: Registry[BackendFactory] = Registry("storage backend", ENTRY_POINT_GROUP, StorageError)
_instances: dict[str, Storage] = {}
_lock = threading.Lock()


def register_backend(scheme: str, factory: BackendFactory) -> None:
    """Register a factory building the backend for ``scheme`` (replaces a cached instance).

    Args:
        scheme: the URL scheme (``az``, ``s3``...), case-insensitive.
        factory: a zero-argument callable returning the :class:`Storage`.
    """
    BACKENDS.register(scheme, factory)
    with _lock:
        _instances.pop(scheme.lower(), None)


def configure_storage(backend: Storage) -> Storage:
    """Use ``backend`` (an instance) for its scheme from now on, e.g. with explicit credentials."""
    with _lock:
        _instances[backend.scheme.lower()] = backend
    return backend


def reset_storage() -> None:
    """Forget configured backend instances (factories stay registered)."""
    with _lock:
        _instances.clear()


def known_schemes() -> list[str]:
    """Every scheme a backend is registered for (built-in and plugins)."""
    return BACKENDS.names()


def get_storage(url: str | Path) -> Storage:
    """The backend for ``url``'s scheme (built once, then reused)."""
    scheme = StorageURL.parse(url).scheme
    with _lock:
        inst = _instances.get(scheme)
    if inst is not None:
        return inst
    if scheme not in BACKENDS:
        raise StorageError(f"{url}: no storage backend for scheme {scheme!r} "
                           f"(known: {', '.join(BACKENDS.names())})")
    inst = BACKENDS.get(scheme)()
    with _lock:
        return _instances.setdefault(scheme, inst)
