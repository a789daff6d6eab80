"""A named imagery catalog of your own: a folder of 4-band GeoTIFFs, used as ``naip:<name>`` everywhere.

One file, one registration. A catalog is anything with ``location``, ``collection`` and
``items(polygon, limit)`` returning STAC Item JSON; :class:`~landcover_sdk.imagery.NaipSource` does the
rest (year policy, windowed reads, mosaicking on the tutorial's grid, the scene cache). Registering a
name makes it an image argument of ``predict_raster``, job files and the CLI::

    register_folder("county-ortho", "/data/ortho", year=2021)
    predictor.predict_raster("naip:county-ortho", "classes.tif", region=Region.around(37.06, -78.64, 512))
    # landcover predict MODEL naip:county-ortho classes.tif --center-lat 37.06 --center-lon -78.64

A static STAC catalog needs no code at all (``naip:/path/catalog.json``); a folder without one is what this
example adds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rasterio
import shapely.geometry
from rasterio.warp import transform_geom

from landcover_sdk.imagery import AnonymousAccess, FetchOptions, NaipSource, register_source


class FolderCatalog:
    """Every ``*.tif`` under a folder as a STAC item (footprint from the file's own bounds and CRS)."""

    def __init__(self, folder: str | Path, *, year: int, collection: str = "naip") -> None:
        self.folder = Path(folder)
        self.location = str(self.folder)
        self.collection = collection
        self.year = year

    def items(self, polygon: dict[str, Any], *, limit: int) -> list[dict[str, Any]]:
        """The files whose footprint meets ``polygon`` (GeoJSON, WGS84); at most ``limit``."""
        wanted = shapely.geometry.shape(polygon)
        found = []
        for path in sorted(self.folder.rglob("*.tif")):
            with rasterio.open(path) as ds:
                left, bottom, right, top = ds.bounds
                ring = [[left, bottom], [right, bottom], [right, top], [left, top], [left, bottom]]
                footprint = transform_geom(ds.crs, "EPSG:4326", {"type": "Polygon", "coordinates": [ring]})
                epsg = ds.crs.to_epsg()
            if shapely.geometry.shape(footprint).intersects(wanted):
                found.append({
                    "type": "Feature", "stac_version": "1.0.0", "id": path.stem, "collection": self.collection,
                    "geometry": footprint, "links": [],
                    "properties": {"datetime": f"{self.year}-07-01T00:00:00Z", "naip:year": str(self.year),
                                   "proj:epsg": epsg},
                    "assets": {"image": {"href": str(path.resolve()), "roles": ["data"]}},
                })
        return found[:limit]


def register_folder(name: str, folder: str | Path, *, year: int, cache: str | Path | None = None) -> None:
    """Make ``naip:<name>`` mean the GeoTIFFs under ``folder``.

    Args:
        name: the source name.
        folder: the folder of 4-band uint8 GeoTIFFs.
        year: their acquisition year.
        cache: the scene cache folder (default the SDK's).
    """

    def build(year: int | None = None, collection: str = "naip", **options: Any) -> NaipSource:
        catalog = FolderCatalog(folder, year=year or default_year, collection=collection)
        return NaipSource(catalog, AnonymousAccess(), name=name, options=FetchOptions(year=year, **options),
                          extent=None, cache=cache)

    default_year = year
    register_source(name, build, f"the GeoTIFFs under {folder}")
