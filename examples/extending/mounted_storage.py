"""A storage backend for shares mounted on this machine: ``mnt://SHARE/path`` → ``$LANDCOVER_MNT_ROOT/SHARE/path``.

One file, one registration. Teams that mount a network share (blobfuse, NFS, SMB) on every machine can write job
files with ``mnt://`` URLs that mean the same data everywhere, whatever the mount point. Register it in code::

    from landcover_sdk.storage import register_backend
    register_backend("mnt", MountedStorage)

or, from your own package, with an entry point (no import needed; ``landcover`` finds it)::

    [project.entry-points."landcover_sdk.storage"]
    mnt = "my_package.mounted_storage:MountedStorage"
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO

from landcover_sdk import StorageError
from landcover_sdk.storage import LocalStorage, StorageURL


class MountedStorage:
    """``mnt://SHARE/key`` read and written in place under a mount root (``LANDCOVER_MNT_ROOT``)."""

    scheme = "mnt"

    def __init__(self, root: str | Path | None = None) -> None:
        root = root or os.environ.get("LANDCOVER_MNT_ROOT")
        if not root:
            raise StorageError("mnt:// URLs need LANDCOVER_MNT_ROOT (the folder the shares are mounted under)")
        self.root = Path(root)
        self._disk = LocalStorage()  # every operation is a local one once the URL is translated

    def _local(self, url: str) -> str:
        parsed = StorageURL.parse(url)
        if parsed.scheme != self.scheme:
            raise StorageError(f"{url}: not an mnt:// URL")
        return str(self.root / parsed.bucket / parsed.key)

    def _url(self, path: str) -> str:
        return f"mnt://{Path(path).relative_to(self.root).as_posix()}"

    def exists(self, url: str) -> bool:
        """Whether a file exists at ``url``."""
        return self._disk.exists(self._local(url))

    def read_bytes(self, url: str) -> bytes:
        """The file's bytes."""
        return self._disk.read_bytes(self._local(url))

    def write_bytes(self, url: str, data: bytes) -> None:
        """Write ``data`` atomically."""
        self._disk.write_bytes(self._local(url), data)

    def open_read(self, url: str) -> IO[bytes]:
        """The file opened for reading."""
        return self._disk.open_read(self._local(url))

    def open_write(self, url: str) -> AbstractContextManager[IO[bytes]]:
        """A stream that appears at ``url`` only when the block exits cleanly."""
        return self._disk.open_write(self._local(url))

    def list(self, prefix: str) -> list[str]:
        """``mnt://`` URLs of the files under ``prefix``."""
        return [self._url(p) for p in self._disk.list(self._local(prefix))]

    def delete(self, url: str) -> None:
        """Remove the file."""
        self._disk.delete(self._local(url))

    def upload(self, local: Path, url: str) -> None:
        """Copy a local file to ``url`` atomically."""
        self._disk.upload(local, self._local(url))

    def download(self, url: str, local: Path) -> Path:
        """Copy the file at ``url`` to ``local``."""
        return self._disk.download(self._local(url), local)

    def gdal_path(self, url: str) -> str:
        """The mounted file itself: GDAL reads it in place, windowed."""
        return self._local(url)

    def local_path(self, url: str) -> Path | None:
        """The mounted file (so nothing is ever downloaded to a cache)."""
        return Path(self._local(url))

    def check_container(self, url: str) -> None:
        """Raise unless the share is mounted and writable."""
        share = self.root / StorageURL.parse(url).bucket
        if not share.is_dir():
            raise StorageError(f"{url}: share {share} is not mounted")
        self._disk.check_container(self._local(url))

    def iter_shares(self) -> Iterator[str]:
        """The mounted shares, as ``mnt://SHARE/`` URLs."""
        return (f"mnt://{p.name}/" for p in sorted(self.root.iterdir()) if p.is_dir())
