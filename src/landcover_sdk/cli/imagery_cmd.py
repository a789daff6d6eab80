"""``landcover imagery search|fetch``: NAIP from STAC catalogs for a place."""

from __future__ import annotations

import argparse
import json

from .._redact import public_url
from ..errors import LandcoverError
from .options import place_args, place_from_args, read_geometry, source_from_args, source_help_text, year_args

__all__ = ["place_args", "place_from_args", "read_geometry", "register", "source_from_args",
           "source_help_text", "year_args"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``imagery search`` and ``imagery fetch``."""
    im = sub.add_parser("imagery", help="NAIP for any place in the US, from STAC catalogs")
    isub = im.add_subparsers(dest="imagery_command", metavar="SUBCOMMAND")

    se = isub.add_parser("search", help="list the NAIP items at a place and which ones a fetch would use")
    se.add_argument("--source", default=None, help=source_help_text())
    place_args(se)
    year_args(se)
    se.add_argument("--json", action="store_true", help="print the items as JSON")
    se.set_defaults(handler=_search)

    fe = isub.add_parser("fetch", help="a 4-band scene of a place on the tutorial's grid (cached), copied to OUT")
    fe.add_argument("out", help="the GeoTIFF to write, path or storage URL (a <stem>.scene.json is written beside it)")
    fe.add_argument("--source", default=None, help=source_help_text())
    place_args(fe)
    year_args(fe)
    fe.add_argument("--resolution", type=float, default=None, help="output pixel size in metres (default 1)")
    fe.add_argument("--resampling", choices=["average", "bilinear", "cubic", "nearest", "lanczos"], default=None,
                    help="default: average from finer sources, bilinear across UTM zones")
    fe.add_argument("--refresh", action="store_true", help="fetch again even if cached")
    fe.add_argument("--no-progress", action="store_true", help="no progress bar")
    fe.set_defaults(handler=_fetch)


def _search(args: argparse.Namespace) -> int:
    region = place_from_args(args)
    source = source_from_args(args.source, args)
    from ..imagery.source import wgs84_default

    region = wgs84_default(region)
    place = source.locate(region)
    items = source.search(region)
    try:
        order = [i.id for i in source.select(region, items).items]
        problem = None
    except LandcoverError as exc:
        order, problem = [], str(exc)
    chosen = set(order)
    rank = {item_id: n for n, item_id in enumerate(order)}
    rows = []
    for item in sorted(items, key=lambda i: (rank.get(i.id, len(rank)), -i.year, i.id)):  # the mosaic's order first
        share = place.from_wgs84(item.shape()).intersection(place.area).area / max(place.area.area, 1e-9)
        rows.append({"id": item.id, "year": item.year, "state": item.state, "gsd": item.gsd, "crs": item.crs,
                     "bands": item.bands, "coverage": round(float(share), 4), "used": item.id in chosen,
                     "href": public_url(item.href)})
    if args.json:
        print(json.dumps({"place": region.model_dump(mode="json"), "items": rows, "problem": problem}, indent=2))
        return 0
    print(f"{len(rows)} NAIP item(s) at {region.describe()} from {source.name}")
    if rows:
        print(f"  {'':1} {'id':44} {'year':>4} {'st':2} {'gsd':>5} {'crs':11} {'covers':>7}")
    for r in rows:
        gsd = f"{r['gsd']:.1f}" if r["gsd"] is not None else "?"
        print(f"  {'*' if r['used'] else ' '} {r['id']:44} {r['year']:>4} {r['state'] or '':2} {gsd:>5} "
              f"{r['crs'] or '(header)':11} {r['coverage']:>7.1%}")
    print("a fetch would use the items marked *, in this order" if chosen else f"a fetch would fail: {problem}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from ..imagery.source import scene_json_name

    region = place_from_args(args)
    source = source_from_args(args.source, args)
    scene = source.fetch(region, args.out, refresh=args.refresh, progress=not args.no_progress)
    meta = scene.provenance
    years = ", ".join(f"{y} ({f:.0%})" for y, f in meta["years"].items())
    print(f"wrote {args.out} ({meta['grid']['height']}x{meta['grid']['width']} px, {meta['grid']['crs']}, "
          f"NAIP {years}; region at rows {scene.window.row}..{scene.window.row_stop}, "
          f"cols {scene.window.col}..{scene.window.col_stop})")
    print(f"wrote {scene_json_name(args.out)}")
    return 0


def __getattr__(name: str) -> str:
    if name == "SOURCE_HELP":  # the constant before the table existed: built on demand (the table can grow)
        return source_help_text()
    raise AttributeError(name)
