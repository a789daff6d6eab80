"""The options several commands share: the place (point and size, bounds, geometry), the NAIP year policy and
the NAIP source, and turning them into a :class:`~landcover_sdk.config.region.Region` or a source."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config.region import Region
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..imagery import NaipSource


def source_help_text() -> str:
    """The ``--source`` help: every named source from the imagery table (``landcover_sdk.imagery.SOURCES``)."""
    from ..imagery.names import source_help

    return f"where NAIP comes from: {source_help()} (a naip: prefix is optional)"


def __getattr__(name: str) -> str:
    if name == "SOURCE_HELP":  # the constant before the table existed: built on demand (the table can grow)
        return source_help_text()
    raise AttributeError(name)


def place_args(p: argparse.ArgumentParser, *, title: str = "the place") -> None:
    """The place options: a point and size, bounds, or a GeoJSON geometry file.

    Args:
        p: the parser.
        title: the group's title.
    """
    g = p.add_argument_group(title)
    g.add_argument("--center-lat", type=float, help="latitude of the region centre (WGS84)")
    g.add_argument("--center-lon", type=float, help="longitude of the region centre (WGS84)")
    g.add_argument("--region-size", type=int, default=None,
                   help="side in pixels of the square around the centre, a multiple of 128 (default 1024)")
    g.add_argument("--bounds", type=float, nargs=4, metavar=("MINX", "MINY", "MAXX", "MAXY"),
                   help="bounds in --bounds-crs")
    g.add_argument("--geometry", help="GeoJSON file (geometry, Feature or FeatureCollection) in --bounds-crs; "
                                      "pixels outside it become class 0")
    g.add_argument("--bounds-crs", default=None, help="CRS of --bounds / --geometry (default: the raster's; for NAIP "
                                                      "from a catalog WGS84)")


def year_args(p: argparse.ArgumentParser) -> None:
    """The year policy options.

    Args:
        p: the parser.
    """
    g = p.add_argument_group("NAIP year (for naip: sources)")
    g.add_argument("--year", type=int, default=None, help="the NAIP year (default: the newest that fully covers)")
    g.add_argument("--allow-mixed-years", action="store_true",
                   help="combine years, newest first per pixel, when no single year covers the place")
    g.add_argument("--allow-partial", action="store_true",
                   help="accept a place only partly covered (the rest is no data, class 0)")


def read_geometry(path: str) -> dict[str, Any]:
    """The geometry in a GeoJSON file (a FeatureCollection's features are merged).

    Args:
        path: the file.
    """
    import shapely
    import shapely.geometry

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--geometry: {path}: not a readable GeoJSON file ({type(exc).__name__})") from None
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection":
        shapes = [shapely.geometry.shape(f["geometry"]) for f in data.get("features", []) if f.get("geometry")]
        if not shapes:
            raise ConfigError(f"--geometry: {path}: no features with a geometry")
        geometry: dict[str, Any] = json.loads(shapely.to_geojson(shapely.union_all(shapes)))
        return geometry
    if kind == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict) or "type" not in data:
        raise ConfigError(f"--geometry: {path}: not a GeoJSON geometry, Feature or FeatureCollection")
    return data


def place_from_args(args: argparse.Namespace, *, allow_window: bool = False) -> Region:
    """The region the place options name (checked before any model is loaded or request made).

    Args:
        args: the parsed arguments.
        allow_window: accept ``--window`` (local rasters only).
    """
    given: dict[str, Any] = {}
    if args.center_lat is not None or args.center_lon is not None:
        if args.center_lat is None or args.center_lon is None:
            raise ConfigError("give both --center-lat and --center-lon")
        given.update(center_lat=args.center_lat, center_lon=args.center_lon)
        if args.region_size is not None:
            given["region_size"] = args.region_size
    elif args.region_size is not None:
        raise ConfigError("--region-size: only with --center-lat and --center-lon")
    if allow_window and getattr(args, "window", None):
        given["window"] = tuple(args.window)
    if args.bounds:
        given["bounds"] = tuple(args.bounds)
    if args.geometry:
        given["geometry"] = read_geometry(args.geometry)
    if args.bounds_crs is not None:
        given["crs"] = args.bounds_crs
    return Region.from_dict(given)


def source_from_args(spec: str | None, args: argparse.Namespace) -> NaipSource:
    """The NAIP source named by ``spec`` (``naip:`` optional) with the year options applied.

    Args:
        spec: the source text (``None``: the Planetary Computer).
        args: the parsed arguments.
    """
    from ..imagery import NaipSource

    text = spec or "planetary-computer"
    if not text.startswith("naip:"):
        text = "naip:" + text
    return NaipSource.from_name(text, year=args.year, allow_mixed_years=args.allow_mixed_years or None,
                                allow_partial=args.allow_partial or None,
                                **({"resolution": args.resolution} if getattr(args, "resolution", None) else {}),
                                **({"resampling": args.resampling} if getattr(args, "resampling", None) else {}))
