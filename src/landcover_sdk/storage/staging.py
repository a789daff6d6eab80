"""Staging outputs for remote storage: written locally under a temporary name, uploaded when complete.

:func:`staged_outputs` stages a mapping of paths for a block of code; :class:`StagedSink` wraps a
prediction sink writing a local stand-in and uploads it when the sink publishes; :func:`publish_text`
writes a small text file (a STAC Item) to a path or a storage URL. Nothing is uploaded on failure.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from .._atomic import atomic_write_text
from .._util import is_remote
from .base import StorageURL, get_storage

log = logging.getLogger(__name__)


@contextlib.contextmanager
def staged_outputs(outputs: Mapping[str, str | Path | None]) -> Iterator[dict[str, str | Path | None]]:
    """Local stand-ins for output URLs, uploaded when the block exits cleanly.

    Local paths pass through unchanged. For each remote URL the container is checked before
    the block runs (so a typo fails before any work), a temporary local path is yielded in its
    place, and the finished file is uploaded atomically afterwards. Nothing is uploaded when
    the block raises.

    Args:
        outputs: output paths or URLs by key (``None`` entries pass through).
    """
    remote = {k: str(v) for k, v in outputs.items() if v is not None and is_remote(v)}
    for url in remote.values():
        get_storage(url).check_container(url)
    with tempfile.TemporaryDirectory(prefix="lc-stage-") as tmp:
        mapping: dict[str, str | Path | None] = dict(outputs)
        for i, (key, url) in enumerate(remote.items()):
            mapping[key] = Path(tmp) / f"{i}-{StorageURL.parse(url).name}"
        yield mapping
        for key, url in remote.items():
            staged = Path(str(mapping[key]))
            if staged.exists():
                log.info("uploading %s", url)
                get_storage(url).upload(staged, url)


def check_remote(url: str) -> None:
    """Check that a remote output's container exists (before any work is done).

    Args:
        url: the storage URL.
    """
    get_storage(url).check_container(url)


def stage_path(folder: Path, index: int, url: str) -> Path:
    """The local stand-in of a remote output inside a staging folder.

    Args:
        folder: the staging folder (temporary).
        index: the output's position (keeps equal names apart).
        url: the storage URL.
    """
    return folder / f"{index}-{StorageURL.parse(url).name}"


class StagedSink:
    """A sink writing a local stand-in, uploaded to ``url`` once the inner sink has published it.

    Args:
        sink: the sink writing ``local`` (a :class:`~landcover_sdk.inference.outputs.Sink`).
        local: the stand-in file.
        url: the storage URL to upload to.
    """

    def __init__(self, sink: Any, local: Path, url: str) -> None:
        self.sink = sink
        self.local = local
        self.url = url
        self.needs_probabilities: bool = sink.needs_probabilities
        self.writes_files: bool = sink.writes_files

    def __enter__(self) -> StagedSink:
        self.sink.__enter__()
        return self

    def add(self, prediction: Any) -> None:
        """Hand the block to the inner sink.

        Args:
            prediction: the predicted block.
        """
        self.sink.add(prediction)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.sink.__exit__(exc_type, exc, tb)
        if exc_type is None and self.local.exists():
            log.info("uploading %s", self.url)
            get_storage(self.url).upload(self.local, self.url)


def publish_text(target: str | Path, text: str) -> str | Path:
    """Write ``text`` to a local path (atomically) or upload it to a storage URL; returns where it went.

    Args:
        target: a path or storage URL.
        text: the content.
    """
    if not is_remote(target):
        return atomic_write_text(target, text)
    with tempfile.TemporaryDirectory(prefix="lc-text-") as tmp:
        local = Path(tmp) / StorageURL.parse(str(target)).name
        local.write_text(text)
        get_storage(str(target)).upload(local, str(target))
    return str(target)


__all__ = ["StagedSink", "check_remote", "publish_text", "stage_path", "staged_outputs"]
