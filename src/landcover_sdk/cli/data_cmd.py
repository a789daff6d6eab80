"""``landcover data synth`` and ``landcover data check``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config.schemes import get_scheme
from ..data.dataset import IMAGE_SUFFIX, LABEL_SUFFIX, TileDataset, discover_pairs
from ..data.raster import check_pixels
from ..data.synthetic import write_scenes
from ..errors import LandcoverError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``data`` command group."""
    data = sub.add_parser("data", help="make and check tile-pair data")
    dsub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    synth = dsub.add_parser("synth", help="write synthetic NAIP-like scenes with labels")
    synth.add_argument("out_dir", type=Path)
    synth.add_argument("--tiles", type=int, default=4)
    synth.add_argument("--size", type=int, default=1536, help="tile side in pixels (default 1536)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--label-codes", choices=["tutorial", "chesapeake"], default="tutorial")
    synth.set_defaults(handler=_synth)

    check = dsub.add_parser("check", help="validate every tile pair of a folder (headers and every pixel block) "
                                           "and print a table")
    check.add_argument("root", help="folder or storage URL holding the tile pairs")
    check.add_argument("--scheme", default="auto", help="class scheme: auto (default) or a built-in name")
    check.add_argument("--image-suffix", default=IMAGE_SUFFIX)
    check.add_argument("--label-suffix", default=LABEL_SUFFIX)
    check.set_defaults(handler=_check)


def _synth(args: argparse.Namespace) -> int:
    pairs = write_scenes(args.out_dir, tiles=args.tiles, size=args.size, seed=args.seed, label_codes=args.label_codes)
    print(f"wrote {len(pairs)} tile pair(s) of {args.size}x{args.size} px to {args.out_dir}")
    return 0


def _check(args: argparse.Namespace) -> int:
    pairs = discover_pairs(args.root, image_suffix=args.image_suffix, label_suffix=args.label_suffix)
    scheme = args.scheme if args.scheme == "auto" else get_scheme(args.scheme)
    rows: list[list[str]] = []
    bad = 0
    names: list[str] = []
    for pair in pairs:
        try:
            ds = TileDataset([pair], class_scheme=scheme, cache="windowed")
            check_pixels(pair.image)
            check_pixels(pair.label)
        except LandcoverError as exc:
            bad += 1
            rows.append([pair.name, "-", "-", "-", "-", str(exc)])
            continue
        tile = ds.tiles[0]
        crs = tile.info.crs.to_string() if tile.info.crs is not None else "none"
        hist = ds.class_histogram()
        names = ds.scheme.names
        total = max(int(hist.sum()), 1)
        shares = " ".join(f"{i}:{100 * n / total:.1f}%" for i, n in enumerate(hist.tolist()))
        rows.append([pair.name, f"{tile.width}x{tile.height}", crs, tile.scheme.name, shares, "ok"])
    header = ["tile", "size", "crs", "scheme", "class histogram", "problems"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if names:
        print("classes: " + ", ".join(f"{i} {n}" for i, n in enumerate(names)))
    print(f"{len(pairs) - bad} of {len(pairs)} pair(s) valid")
    sys.stdout.flush()
    return 1 if bad else 0
