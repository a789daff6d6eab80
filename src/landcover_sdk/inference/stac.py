"""A STAC Item beside every class COG: what STAC browsers, catalogs and QGIS's STAC tools read.

The item is plain JSON (no pystac in the core install), STAC 1.0 with the projection (v2), raster,
classification and processing extensions: the grid, the band's type and no-data value, every
class's value, name and colour, the imagery it was computed from (``derived_from`` links: NAIP
STAC items or files) and the model. Asset hrefs are relative, so the item can move with its COG.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from affine import Affine
from rasterio.crs import CRS

from .._version import __version__
from ..config.schemes import ClassScheme

STAC_VERSION = "1.0.0"
EXTENSIONS = (
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/classification/v2.0.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
)
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
ITEM_SUFFIX = ".stac.json"


@dataclass(frozen=True)
class SourceLink:
    """An input the prediction was computed from.

    Attributes:
        href: where it is (a STAC item's URL, or the raster's path/URL without any query string).
        title: what it is, for people.
        media_type: its media type.
        datetime: its acquisition time (ISO 8601), if known.
    """

    href: str
    title: str
    media_type: str = COG_TYPE
    datetime: str | None = None


def item_path(classes: str | Path) -> str:
    """Where the item of a class COG goes: ``classes.tif`` → ``classes.stac.json`` (paths or storage URLs).

    Args:
        classes: the class COG's path or URL.
    """
    text = str(classes)
    for suffix in (".tiff", ".tif", ".TIF", ".TIFF"):
        if text.endswith(suffix):
            return text[: -len(suffix)] + ITEM_SUFFIX
    return text + ITEM_SUFFIX


def class_item(*, classes: str | Path, crs: CRS | None, transform: Affine, height: int, width: int,
               scheme: ClassScheme, mode: str, sources: Sequence[SourceLink] = (), model: str | None = None,
               probabilities: str | Path | None = None, preview: str | Path | None = None,
               created: dt.datetime | None = None,
               extra_assets: Mapping[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The STAC Item of a class COG.

    Args:
        classes: the class COG (its name becomes the item id and the relative asset href).
        crs: its CRS (``None``: not georeferenced; the item then has no geometry).
        transform: its geotransform.
        height: rows.
        width: columns.
        scheme: the class scheme (values, names, colours, no-data class).
        mode: how it was computed (``exact``, ``fast``, ...).
        sources: the imagery it was computed from.
        model: the model file's path or URL.
        probabilities: the probability COG beside it, if written.
        preview: the PNG preview beside it, if written.
        created: when it was computed (default now).
        extra_assets: further assets by key (other outputs' :meth:`~landcover_sdk.inference.outputs.Output.stac_asset`).
    """
    now = (created or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds").replace("+00:00", "Z")
    name = Path(str(classes)).name
    left, top = transform.c, transform.f
    right, bottom = transform.c + transform.a * width, transform.f + transform.e * height
    bbox_native = [min(left, right), min(top, bottom), max(left, right), max(top, bottom)]
    geometry, bbox = _footprint(crs, bbox_native)
    acquired = sorted({s.datetime for s in sources if s.datetime})
    props: dict[str, Any] = {
        "datetime": acquired[0] if len(acquired) == 1 else (None if acquired else now),
        "created": now,
        "proj:shape": [height, width],
        "proj:transform": [transform.a, transform.b, transform.c, transform.d, transform.e, transform.f],
        "proj:bbox": bbox_native,
        "processing:software": {"landcover-sdk": __version__},
        "processing:lineage": f"land-cover classes predicted in {mode} mode by the model {model or '(in memory)'}",
        "landcover:mode": mode,
        "landcover:scheme": scheme.name,
    }
    if len(acquired) > 1:
        props["start_datetime"], props["end_datetime"] = acquired[0], acquired[-1]
    if crs is not None:
        epsg = crs.to_epsg()
        if epsg is not None:
            props["proj:code"] = f"EPSG:{epsg}"
        else:
            props["proj:wkt2"] = crs.to_wkt()
    resolution = abs(transform.a)
    assets: dict[str, Any] = {
        "classes": {
            "href": f"./{name}", "type": COG_TYPE, "roles": ["data"], "title": f"{scheme.name} land-cover classes",
            "raster:bands": [{"data_type": "uint8", "spatial_resolution": resolution,
                              **({"nodata": scheme.nodata_class} if scheme.nodata_class is not None else {})}],
            "classification:classes": [_class(c.id, c.name, c.color, c.id == scheme.nodata_class)
                                       for c in scheme.classes],
        },
    }
    if probabilities is not None:
        assets["probabilities"] = probabilities_asset(f"./{Path(str(probabilities)).name}", scheme, resolution)
    if preview is not None:
        assets["preview"] = preview_asset(f"./{Path(str(preview)).name}")
    assets.update(extra_assets or {})
    here = Path(item_path(classes)).resolve().parent if "://" not in str(classes) else None
    links = [{"rel": "derived_from", "href": _relative(s.href, here), "type": s.media_type, "title": s.title}
             for s in sources]
    if model is not None:
        links.append({"rel": "derived_from", "href": _relative(model, here), "title": "land-cover model",
                      "type": "application/octet-stream"})
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": list(EXTENSIONS),
        "id": Path(name).stem,
        "geometry": geometry,
        **({"bbox": bbox} if bbox is not None else {}),
        "properties": props,
        "assets": assets,
        "links": links,
    }


def probabilities_asset(href: str, scheme: ClassScheme, resolution: float) -> dict[str, Any]:
    """The STAC asset of a probability COG.

    Args:
        href: its relative href.
        scheme: the class scheme (band names).
        resolution: the pixel size.
    """
    return {
        "href": href, "type": COG_TYPE, "roles": ["data"],
        "title": "class probabilities (softmax × 255), one band per class",
        "raster:bands": [{"name": c.name, "data_type": "uint8", "scale": 1 / 255, "offset": 0,
                          "spatial_resolution": resolution} for c in scheme.classes],
    }


def preview_asset(href: str) -> dict[str, Any]:
    """The STAC asset of a preview PNG.

    Args:
        href: its relative href.
    """
    return {"href": href, "type": "image/png", "roles": ["overview"], "title": "preview of the classes"}


def _relative(href: str, here: Path | None) -> str:
    """A local file's href relative to the item's folder (STAC resolves relative links against the item)."""
    if here is None or ":" in href.split("/", 1)[0]:  # URLs, storage URLs, builtin:NAME stay as they are
        return href
    try:
        return os.path.relpath(Path(href).resolve(), here)
    except ValueError:  # another drive (Windows)
        return Path(href).resolve().as_uri()


def _class(value: int, name: str, color: Sequence[int], nodata: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": value, "name": name.lower().replace(" ", "_").replace("/", "_"),
                             "description": name, "color_hint": "".join(f"{c:02X}" for c in color[:3])}
    if nodata:
        entry["nodata"] = True
    return entry


def _footprint(crs: CRS | None, bbox: list[float]) -> tuple[dict[str, Any] | None, list[float] | None]:
    if crs is None:
        return None, None
    import shapely
    import shapely.geometry

    from ..data.geo import reproject_geometry

    wgs84 = reproject_geometry(shapely.geometry.box(*bbox), crs, CRS.from_epsg(4326))
    geom: dict[str, Any] = json.loads(shapely.to_geojson(wgs84))
    return geom, [float(v) for v in wgs84.bounds]
