"""Where a model is and what it is: the local file behind a model name, and the identity of that file.

A model is named by a path, a ``file://`` URL, a storage URL (fetched once into the cache) or
``builtin:NAME`` (a file packaged with the SDK). Every command and surface resolves names here, so they
all accept the same names and fail the same way on unknown built-ins.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from .._util import is_remote, local_path, sha256_file
from ..storage import fetch_to_cache
from .builtin import resolve_model

__all__ = ["local_model", "model_identity", "sha256_file"]

_lock = threading.Lock()
_hashes: dict[tuple[str, int, int], str] = {}


def local_model(path: str | Path) -> Path:
    """The local file of a model: a built-in's packaged file, a storage URL's cached copy, else the path itself.

    Args:
        path: a model path, ``file://`` URL, storage URL or ``builtin:NAME``.

    Raises:
        ModelFormatError: an unknown ``builtin:`` name.
        StorageError: a storage URL that cannot be fetched.
    """
    resolved = resolve_model(path)
    if is_remote(resolved):
        return fetch_to_cache(str(resolved))
    return local_path(resolved)


def model_identity(model: str | Path) -> str:
    """The identity of a model: the hex SHA-256 of its local file (a built-in name resolved), or of the name itself
    when it is not a local file (a storage URL).

    A file's hash is remembered while its size and modification time stay the same.

    Args:
        model: a model path, ``builtin:NAME`` or a URL.
    """
    path = Path(str(resolve_model(model)))
    if not path.is_file():
        return hashlib.sha256(str(model).encode()).hexdigest()
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _lock:
        known = _hashes.get(key)
    if known is None:
        known = sha256_file(path)
        with _lock:
            _hashes[key] = known
    return known
