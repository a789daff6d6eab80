"""``landcover predict`` and ``landcover evaluate``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import WindowError
from ..inference.predictor import Predictor


def _region_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("region of interest (default: the whole raster)")
    g.add_argument("--center-lat", type=float, help="latitude of the region centre (WGS84)")
    g.add_argument("--center-lon", type=float, help="longitude of the region centre (WGS84)")
    g.add_argument("--region-size", type=int, default=1024, help="region side in pixels, multiple of 128")
    g.add_argument("--window", type=int, nargs=4, metavar=("ROW", "COL", "HEIGHT", "WIDTH"))
    g.add_argument("--bounds", type=float, nargs=4, metavar=("MINX", "MINY", "MAXX", "MAXY"))
    g.add_argument("--bounds-crs", default=None, help="CRS of --bounds (default: the raster's)")


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=["exact", "fast"], default="exact")
    p.add_argument("--backend", choices=["onnxruntime", "torch"], default="onnxruntime")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=2, help="256x256 windows per call")
    p.add_argument("--no-progress", action="store_true")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``predict`` and ``evaluate``."""
    pr = sub.add_parser("predict", help="classify a GeoTIFF into a COG of class ids")
    pr.add_argument("model", type=str, help=".safetensors or .onnx model file")
    pr.add_argument("image", type=str, help="4-band uint8 GeoTIFF (path or storage URL)")
    pr.add_argument("out", type=Path, help="output COG of class ids")
    pr.add_argument("--probabilities", type=Path, help="also write per-class probabilities (uint8, 0-255)")
    pr.add_argument("--preview", type=Path, help="also write a PNG of the hard labels")
    _region_args(pr)
    _engine_args(pr)
    pr.set_defaults(handler=_predict)

    ev = sub.add_parser("evaluate", help="predict a region and compare it with labels (the tutorial's metrics)")
    ev.add_argument("model", type=str)
    ev.add_argument("image", type=str)
    ev.add_argument("labels", type=str)
    ev.add_argument("--report", type=Path, help="write the metrics as JSON")
    ev.add_argument("--figure", type=Path, help="write the NAIP | prediction | truth comparison PNG")
    _region_args(ev)
    _engine_args(ev)
    ev.set_defaults(handler=_evaluate)


def region_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Region keywords for the predictor from parsed CLI arguments."""
    if (args.center_lat is None) != (args.center_lon is None):
        raise WindowError("give both --center-lat and --center-lon")
    if args.center_lat is not None:
        return {"center": (args.center_lat, args.center_lon), "region_size": args.region_size}
    if args.window:
        return {"window": tuple(args.window)}
    if args.bounds:
        return {"bounds": tuple(args.bounds), "crs": args.bounds_crs}
    return {}


def _predictor(args: argparse.Namespace) -> Predictor:
    return Predictor.from_file(args.model, backend=args.backend, threads=args.threads, mode=args.mode,
                               batch_size=args.batch_size)


def _predict(args: argparse.Namespace) -> int:
    result = _predictor(args).predict_raster(
        args.image, args.out, probabilities=args.probabilities, preview=args.preview,
        progress=not args.no_progress, **region_kwargs(args))
    print(f"wrote {result.classes} ({result.window.height}x{result.window.width} px, {result.mode} mode, "
          f"{result.seconds:.1f}s, {result.megapixels_per_second:.3f} Mpx/s)")
    for extra in (result.probabilities, result.preview):
        if extra is not None:
            print(f"wrote {extra}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    report = _predictor(args).evaluate_raster(
        args.image, args.labels, report=args.report, figure=args.figure, progress=not args.no_progress,
        **region_kwargs(args))
    print(report.table())
    for extra in (args.report, args.figure):
        if extra is not None:
            print(f"wrote {extra}")
    return 0
