"""Small helpers shared across sub-packages: storage-URL tests, the cache folder, redaction, progress bars."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def is_remote(path: str | Path) -> bool:
    """Whether ``path`` is a storage URL other than ``file://`` (e.g. ``az://container/key``)."""
    text = str(path)
    return "://" in text and not text.startswith("file://")


def local_path(path: str | Path) -> Path:
    """A plain path or ``file://`` URL as a :class:`Path`."""
    return Path(str(path).removeprefix("file://"))


def cache_dir() -> Path:
    """Where downloaded objects are cached (``LANDCOVER_CACHE_DIR`` or ``~/.cache/landcover-sdk``)."""
    root = os.environ.get("LANDCOVER_CACHE_DIR") or str(Path.home() / ".cache" / "landcover-sdk")
    return Path(root)


_SECRET_PATTERNS = (
    re.compile(r"(AccountKey=)[^;\s]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;\s]+", re.IGNORECASE),
    re.compile(r"([?&]sig=)[^&\s'\"]+", re.IGNORECASE),
    re.compile(r"(Authorization:?\s*'?\"?\s*(?:SharedKey|Bearer)\s+)[^\s'\"]+", re.IGNORECASE),
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with account keys, SAS signatures, bearer tokens and the given secrets masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


@contextlib.contextmanager
def progress_bar(total: int | None, *, enabled: bool, desc: str, unit: str, initial: int = 0) -> Iterator[Any]:
    """A tqdm progress bar on stderr, shown only when stderr is a terminal; always closed."""
    from tqdm import tqdm

    # disable=None: tqdm turns itself off when stderr is not a TTY (logs, pipes, CI)
    bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, disable=None if enabled else True, leave=False)
    try:
        yield bar
    finally:
        bar.close()
