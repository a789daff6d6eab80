"""Real imagery that ships with the package: eight 256×256 pairs of 1 m NAIP 2014 and Chesapeake land cover.

Enough to see what a model does on real imagery with no download (``landcover demo`` shows the
tutorial's built-in model on them), to fine-tune from it, and to test against. Licences: land
cover CC0-1.0 (Chesapeake Land Cover, Robinson et al., CVPR 2019), imagery public domain (USDA NAIP);
see :data:`ATTRIBUTION` and the ``README.md`` beside the files.

Example:
    >>> from landcover_sdk import samples
    >>> ds = samples.chesapeake_2014()
    >>> len(ds), ds.scheme.name
    (8, 'chesapeake-grouped')
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from ..data.dataset import TileDataset, TilePair, discover_pairs

#: The licence and attribution of the samples (also in ``README.md`` beside them).
ATTRIBUTION = (
    "Land cover: Chesapeake Land Cover (C. Robinson et al., 'Large Scale High-Resolution Land Cover Mapping with "
    "Multi-Resolution Data', CVPR 2019; Chesapeake Conservancy), CC0-1.0. Imagery: USDA FSA NAIP 2014, public "
    "domain."
)


def chesapeake_2014_folder() -> Path:
    """The folder holding the eight ``*_NAIP.tif`` / ``*_LandCover.tif`` pairs and their README."""
    return Path(str(files(__package__).joinpath("chesapeake_2014")))


def chesapeake_2014_pairs() -> list[TilePair]:
    """The eight pairs' paths, sorted by name."""
    return discover_pairs(chesapeake_2014_folder())


def chesapeake_2014(**kwargs: Any) -> TileDataset:
    """The eight real pairs as a validated :class:`~landcover_sdk.TileDataset`, labels in the tutorial's classes.

    Args:
        **kwargs: other :class:`~landcover_sdk.TileDataset` arguments (``cache``, ``bands``, ...).
    """
    kwargs.setdefault("class_scheme", "chesapeake-grouped")
    return TileDataset(chesapeake_2014_pairs(), **kwargs)


__all__ = ["ATTRIBUTION", "chesapeake_2014", "chesapeake_2014_folder", "chesapeake_2014_pairs"]
