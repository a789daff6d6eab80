"""NAIP for any place in the US: STAC catalogs searched, imagery mosaicked on the tutorial's grid, cached.

:class:`NaipSource` finds NAIP items for a region in a STAC catalog (the Planetary Computer,
Earth Search, any STAC API, or a static catalog), applies a year policy, reads only the windows
it needs (range requests) and returns an :class:`ImageryScene`: a local 4-band COG in the centre
item's CRS at 1 m, the region plus the model's margin, with ``scene.json`` recording the items,
years and hashes. Reading STAC needs the ``stac`` extra (``pip install "landcover-sdk[stac]"``).

Named sources (``naip:planetary-computer``, ``naip:earth-search``, ...) live in one table,
:data:`SOURCES`; :func:`register_source` adds one (a :class:`Catalog` plus an :class:`Access`).
"""

from __future__ import annotations

from .access import Access, AnonymousAccess, PlanetaryComputerSas, RequesterPaysS3
from .catalog import Catalog, StacApiCatalog, StaticCatalog
from .items import NaipItem
from .names import SOURCE_PREFIX, SOURCES, NamedSource, is_source_name, parse_source_name, register_source
from .plan import NAIP_EXTENT, Selection
from .source import (
    EARTH_SEARCH_STAC,
    PLANETARY_COMPUTER_STAC,
    FetchOptions,
    ImageryScene,
    NaipSource,
    is_spec,
    parse_spec,
)

__all__ = [
    "EARTH_SEARCH_STAC",
    "NAIP_EXTENT",
    "PLANETARY_COMPUTER_STAC",
    "Access",
    "AnonymousAccess",
    "Catalog",
    "FetchOptions",
    "ImageryScene",
    "NaipItem",
    "NaipSource",
    "NamedSource",
    "PlanetaryComputerSas",
    "RequesterPaysS3",
    "SOURCES",
    "SOURCE_PREFIX",
    "Selection",
    "StacApiCatalog",
    "StaticCatalog",
    "is_source_name",
    "is_spec",
    "parse_source_name",
    "parse_spec",
    "register_source",
]
