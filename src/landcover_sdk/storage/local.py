"""Local disk storage: plain paths and ``file://`` URLs, atomic writes by rename."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .._atomic import atomic_output
from ..errors import StorageError
from .base import StorageURL


def _path(url: str | Path) -> Path:
    parsed = StorageURL.parse(url)
    if parsed.scheme != "file":
        raise StorageError(f"{url}: not a local path")
    return Path(parsed.key)


class LocalStorage:
    """The :class:`~landcover_sdk.storage.Storage` backend for local files.

    Like an object store, writing creates missing parent folders.
    """

    scheme = "file"

    def __repr__(self) -> str:
        return "LocalStorage()"

    def exists(self, url: str) -> bool:
        """Whether a file exists at ``url``."""
        return _path(url).is_file()

    def read_bytes(self, url: str) -> bytes:
        """The file's bytes."""
        try:
            return _path(url).read_bytes()
        except FileNotFoundError:
            raise StorageError(f"{url}: file not found") from None
        except OSError as exc:
            raise StorageError(f"{url}: cannot read ({exc.strerror})") from exc

    def write_bytes(self, url: str, data: bytes) -> None:
        """Write ``data`` atomically (temporary name, then rename)."""
        with self.open_write(url) as fh:
            fh.write(data)

    def open_read(self, url: str) -> IO[bytes]:
        """The file opened for binary reading."""
        try:
            return _path(url).open("rb")
        except FileNotFoundError:
            raise StorageError(f"{url}: file not found") from None

    @contextlib.contextmanager
    def open_write(self, url: str) -> Iterator[IO[bytes]]:
        """A file under a temporary name, renamed to ``url`` when the block exits cleanly."""
        target = _path(url)
        _make_parents(target)
        with atomic_output(target) as tmp, tmp.open("wb") as fh:
            yield fh

    def list(self, prefix: str) -> list[str]:
        """Files whose path starts with ``prefix`` (a folder lists recursively)."""
        base = _path(prefix)
        if base.is_dir():
            return sorted(str(p) for p in base.rglob("*") if p.is_file())
        parent = base.parent
        if not parent.is_dir():
            return []
        return sorted(str(p) for p in parent.rglob("*") if p.is_file() and str(p).startswith(str(base)))

    def delete(self, url: str) -> None:
        """Remove the file (no error when missing)."""
        with contextlib.suppress(FileNotFoundError):
            _path(url).unlink()

    def upload(self, local: Path, url: str) -> None:
        """Copy a local file to ``url`` atomically."""
        dst = _path(url)
        if Path(local).resolve() == dst.resolve():
            return
        _make_parents(dst)
        with atomic_output(dst) as tmp:
            shutil.copyfile(local, tmp)

    def download(self, url: str, local: Path) -> Path:
        """Copy the file at ``url`` to ``local`` atomically."""
        src = _path(url)
        if not src.is_file():
            raise StorageError(f"{url}: file not found")
        if src.resolve() != Path(local).resolve():
            _make_parents(Path(local))
            with atomic_output(local) as tmp:
                shutil.copyfile(src, tmp)
        return Path(local)

    def gdal_path(self, url: str) -> str:
        """The file's path."""
        return str(_path(url))

    def local_path(self, url: str) -> Path | None:
        """The file's path."""
        return _path(url)

    def check_container(self, url: str) -> None:
        """Raise unless a file could be written at ``url`` (its nearest existing folder is writable)."""
        parent = _path(url).absolute().parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise StorageError(f"{url}: {parent} is not a folder")
        if not os.access(parent, os.W_OK):
            raise StorageError(f"{url}: folder {parent} is not writable")


def _make_parents(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"{path}: cannot create folder {path.parent} ({exc.strerror})") from exc
