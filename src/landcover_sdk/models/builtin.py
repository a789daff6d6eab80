"""Models that ship inside the package, addressed as ``builtin:<name>`` wherever a model path is accepted.

The core (torch-free) install includes them; nothing is downloaded. Today there is one:
``builtin:tutorial-250epochs``, the tutorial's own ``250epochs.model`` (MIT, Microsoft) converted by
this package's CNTK importer — weights identical to a fresh import of the original file.

Example:
    >>> from landcover_sdk import Predictor
    >>> from landcover_sdk.models.builtin import BUILTIN_MODELS
    >>> sorted(BUILTIN_MODELS)
    ['tutorial-250epochs']
    >>> Predictor.from_file("builtin:tutorial-250epochs")  # doctest: +ELLIPSIS
    Predictor(mode='exact', backend=OnnxBackend, classes=[...])
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from ..errors import ModelFormatError

PREFIX = "builtin:"


@dataclass(frozen=True)
class BuiltinModel:
    """A model shipped with the package, and what is known about it.

    Attributes:
        name: what follows ``builtin:``.
        filename: the ``.safetensors`` file under ``landcover_sdk/resources/models``.
        description: one line on what it is.
        classes: the classes it predicts.
        training_data: what it was trained on.
        licence: the weights' licence (its text ships beside the file).
        citation: where it comes from.
        accuracy: what this package measured it at, and on what.
    """

    name: str
    filename: str
    description: str
    classes: str
    training_data: str
    licence: str
    citation: str
    accuracy: str

    @property
    def url(self) -> str:
        """``builtin:<name>``."""
        return PREFIX + self.name

    @property
    def path(self) -> Path:
        """The packaged model file."""
        return _resource(self.filename)

    @property
    def licence_path(self) -> Path:
        """The licence text shipped beside the weights."""
        return _resource(f"LICENSE-{self.name}.txt")


BUILTIN_MODELS: dict[str, BuiltinModel] = {
    "tutorial-250epochs": BuiltinModel(
        name="tutorial-250epochs",
        filename="tutorial-250epochs.safetensors",
        description="the tutorial's sample model, trained for 250 epochs with CNTK on Azure Batch AI",
        classes="tutorial: 0 no data, 1 water, 2 trees and shrubs, 3 herbaceous, 4 barren and impervious",
        training_data="1 m NAIP (R, G, B, NIR) tiles of the Chesapeake Bay watershed with Chesapeake Conservancy "
                      "land cover grouped into the tutorial's classes",
        licence="MIT (Copyright (c) Microsoft Corporation)",
        citation="Azure/pixel_level_land_classification, sample_models/250epochs.model, imported with "
                 "landcover-sdk's CNTK importer (parity with CNTK 2.7: 1.1e-5)",
        accuracy="0.904 pixel accuracy, 0.882 mean true-label probability on the 8 real Chesapeake 2014 sample "
                 "pairs' 128x128 cores (landcover_sdk.samples.chesapeake_2014)",
    ),
}


def _resource(name: str) -> Path:
    # Wheels install package data as plain files, so the traversable is a real path.
    return Path(str(files("landcover_sdk.resources").joinpath("models").joinpath(name)))


def is_builtin(path: str | Path) -> bool:
    """Whether ``path`` names a built-in model (``builtin:<name>``)."""
    return isinstance(path, str) and path.startswith(PREFIX)


def builtin_model(name: str) -> BuiltinModel:
    """The built-in model ``name`` (with or without ``builtin:``); unknown names raise :class:`ModelFormatError`."""
    key = name.removeprefix(PREFIX)
    model = BUILTIN_MODELS.get(key)
    if model is None:
        known = ", ".join(PREFIX + n for n in sorted(BUILTIN_MODELS))
        raise ModelFormatError(f"{PREFIX}{key}: no such built-in model (built-in: {known})")
    return model


def resolve_model(path: str | Path) -> str | Path:
    """The file behind ``path``: a built-in model's packaged file, anything else unchanged."""
    return builtin_model(str(path)).path if is_builtin(path) else path
