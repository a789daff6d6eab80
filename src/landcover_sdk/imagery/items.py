"""NAIP items as the imagery code needs them, read from STAC Item JSON of any provenance.

Planetary Computer, Earth Search and home-made catalogs spell the same facts differently:
``naip:year`` is a string on the Planetary Computer and may be an integer or absent elsewhere
(then the acquisition date's year counts); the CRS is ``proj:code`` (projection extension 2),
``proj:epsg`` (1.x) or only in the file's header. :meth:`NaipItem.from_stac` reads them all and
keeps the asset's href **unsigned**: signing happens just before a read, never here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from ..errors import CatalogError

#: The asset holding the 4-band COG on the Planetary Computer and Earth Search.
DEFAULT_ASSET = "image"


@dataclass(frozen=True)
class NaipItem:
    """One NAIP image as a catalog describes it (nothing here is read from the image itself).

    Attributes:
        id: the STAC item id, e.g. ``va_m_3707864_ne_17_060_20180825``.
        year: the NAIP year (``naip:year``, else the acquisition date's year).
        state: the two-letter state (``naip:state``), if given.
        gsd: ground sample distance in metres, if given.
        crs: ``EPSG:…`` from ``proj:code``/``proj:epsg``, or ``None`` (the header decides).
        footprint: the item's geometry (GeoJSON, WGS84).
        href: the asset's URL or path, unsigned.
        bands: bands the metadata declares (``eo:bands``/``raster:bands``), or ``None`` if it declares none.
        datetime: the acquisition time (ISO 8601), if given.
        self_href: where the item's JSON lives (for links in outputs), if known.
        collection: the collection id, if given.
    """

    id: str
    year: int
    state: str | None
    gsd: float | None
    crs: str | None
    footprint: dict[str, Any]
    href: str
    bands: int | None
    datetime: str | None
    self_href: str | None = None
    collection: str | None = None

    @classmethod
    def from_stac(cls, item: Mapping[str, Any], *, asset: str = DEFAULT_ASSET,
                  base_href: str | None = None) -> NaipItem:
        """Read a STAC Item (a GeoJSON Feature mapping).

        Args:
            item: the item's JSON.
            asset: the key of the 4-band image asset.
            base_href: where the item came from, for relative asset hrefs (static catalogs).

        Raises:
            CatalogError: the item has no id, geometry, year or ``asset`` (naming the asset keys it has).
        """
        item_id = item.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise CatalogError(f"a catalog returned an item without an id: {str(dict(item))[:120]}")
        props = item.get("properties")
        if not isinstance(props, Mapping):
            raise CatalogError(f"item {item_id}: no properties")
        geometry = item.get("geometry")
        if not isinstance(geometry, Mapping) or "type" not in geometry:
            raise CatalogError(f"item {item_id}: no footprint geometry")
        assets = item.get("assets")
        if not isinstance(assets, Mapping) or asset not in assets:
            keys = ", ".join(sorted(assets)) if isinstance(assets, Mapping) and assets else "none"
            raise CatalogError(f"item {item_id}: no {asset!r} asset (assets: {keys})")
        entry = assets[asset]
        href = entry.get("href") if isinstance(entry, Mapping) else None
        if not isinstance(href, str) or not href:
            raise CatalogError(f"item {item_id}: asset {asset!r} has no href")
        self_href = _self_href(item) or base_href
        if "://" not in href and not href.startswith("/") and self_href:
            href = urljoin(self_href, href)
        return cls(
            id=item_id,
            year=_year(item_id, props),
            state=str(props["naip:state"]) if props.get("naip:state") else None,
            gsd=float(props["gsd"]) if isinstance(props.get("gsd"), (int, float)) else None,
            crs=_crs(props, entry),
            footprint=dict(geometry),
            href=href,
            bands=_band_count(entry, props),
            datetime=props.get("datetime") if isinstance(props.get("datetime"), str) else None,
            self_href=self_href,
            collection=item.get("collection") if isinstance(item.get("collection"), str) else None,
        )

    def shape(self) -> Any:
        """The footprint as a shapely geometry (WGS84)."""
        import shapely.geometry

        return shapely.geometry.shape(self.footprint)

    def describe(self) -> str:
        """``id (year, gsd, CRS)`` for tables and logs."""
        gsd = f"{self.gsd:g} m" if self.gsd is not None else "? m"
        return f"{self.id} ({self.year}, {gsd}, {self.crs or 'CRS in header'})"


def _self_href(item: Mapping[str, Any]) -> str | None:
    for link in item.get("links") or ():
        if isinstance(link, Mapping) and link.get("rel") == "self" and isinstance(link.get("href"), str):
            return str(link["href"])
    return None


def _year(item_id: str, props: Mapping[str, Any]) -> int:
    value = props.get("naip:year")
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    for key in ("datetime", "start_datetime"):
        text = props.get(key)
        if isinstance(text, str) and text:
            try:
                return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).year
            except ValueError:
                continue
    raise CatalogError(f"item {item_id}: no year (naip:year, datetime or start_datetime)")


def _crs(props: Mapping[str, Any], asset: Mapping[str, Any]) -> str | None:
    for source in (asset, props):
        code = source.get("proj:code")
        if isinstance(code, str) and code:
            return code
        epsg = source.get("proj:epsg")
        if isinstance(epsg, int) and not isinstance(epsg, bool):
            return f"EPSG:{epsg}"
    return None


def _band_count(asset: Mapping[str, Any], props: Mapping[str, Any]) -> int | None:
    for source in (asset, props):
        for key in ("eo:bands", "raster:bands", "bands"):
            bands = source.get(key)
            if isinstance(bands, list) and bands:
                return len(bands)
    return None
