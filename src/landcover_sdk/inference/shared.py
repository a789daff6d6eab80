"""Predictors shared across a process, keyed by one model identity (the SHA-256 of the model file).

ArcGIS builds a new raster-function object for each layer and each time a function raster is
opened, and ``landcover serve`` may serve one model under several names: the model (and its ONNX
Runtime session) is loaded once per identity and settings, and reused.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ..errors import ConfigError
from ..models.builtin import is_builtin, resolve_model
from ..models.locate import model_identity as model_identity
from .predictor import Predictor
from .tiling import Mode

log = logging.getLogger(__name__)

_lock = threading.Lock()
_predictors: dict[tuple[str, Mode, int], Predictor] = {}


def shared_predictor(model: str | Path, mode: Mode, threads: int = 0) -> Predictor:
    """The process's predictor for a local model file in ``mode`` with ``threads``, its session built and prepared.

    Args:
        model: a local model file or ``builtin:NAME``.
        mode: ``"exact"`` or ``"fast"`` (fast mode prepares the session for block means subtracted beforehand).
        threads: compute threads (0: every CPU).

    Raises:
        ConfigError: the file does not exist.
    """
    local = Path(str(resolve_model(model)))
    if not local.is_file():
        hint = " (a built-in name is builtin:NAME)" if is_builtin(model) else ""
        raise ConfigError(f"model: {model}: file not found{hint}")
    key = (model_identity(local), mode, threads)
    with _lock:
        predictor = _predictors.get(key)
        if predictor is None:
            predictor = Predictor.from_file(local, mode=mode, threads=threads or None)
            predictor.backend.prepare(mean_subtracted=predictor.tiling(mode).subtracts_block_means)
            _predictors[key] = predictor
            log.info("loaded %s for %s mode", model, mode)
        return predictor
