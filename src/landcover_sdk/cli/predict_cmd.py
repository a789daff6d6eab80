"""``landcover predict`` and ``landcover evaluate``.

Every path argument is kept as text, so storage URLs (``az://container/out.tif``) reach the
library intact (``pathlib.Path`` would fold ``az://`` into ``az:/``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, get_args

from ..config.models import PredictConfig
from ..config.region import Region
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..inference.predictor import Predictor


def _region_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("region of interest (default: the whole raster)")
    g.add_argument("--center-lat", type=float, help="latitude of the region centre (WGS84)")
    g.add_argument("--center-lon", type=float, help="longitude of the region centre (WGS84)")
    g.add_argument("--region-size", type=int, default=None,
                   help="side in pixels of the square around the centre, a multiple of 128 (default 1024)")
    g.add_argument("--window", type=int, nargs=4, metavar=("ROW", "COL", "HEIGHT", "WIDTH"),
                   help="pixel window, row first")
    g.add_argument("--bounds", type=float, nargs=4, metavar=("MINX", "MINY", "MAXX", "MAXY"),
                   help="bounds in --bounds-crs")
    g.add_argument("--bounds-crs", default=None, help="CRS of --bounds (default: the raster's)")


def _choices(field: str) -> list[str]:
    return [str(v) for v in get_args(PredictConfig.model_fields[field].annotation)]


def _help(field: str) -> str:
    return (PredictConfig.model_fields[field].description or "").replace("%", "%%")  # argparse formats help with %


def _engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=_choices("mode"), default=None, help=_help("mode") + " (default exact)")
    p.add_argument("--backend", choices=_choices("backend"), default=None, help=_help("backend"))
    p.add_argument("--threads", type=int, default=None, help=_help("threads"))
    p.add_argument("--device", default=None, help=_help("device"))
    p.add_argument("--autocast", choices=["fp16", "bf16"], default=None, help=_help("autocast"))
    p.add_argument("--batch-size", type=int, default=None, help=_help("batch_size"))
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``predict`` and ``evaluate``."""
    pr = sub.add_parser("predict", help="classify a GeoTIFF into a COG of class ids")
    pr.add_argument("model", help=".safetensors or .onnx model file (path or storage URL)")
    pr.add_argument("image", help="4-band uint8 GeoTIFF (path or storage URL)")
    pr.add_argument("out", help="output COG of class ids (path or storage URL)")
    pr.add_argument("--probabilities", help="also write per-class probabilities (uint8, 0-255)")
    pr.add_argument("--preview", help="also write a PNG of the hard labels")
    _region_args(pr)
    _engine_args(pr)
    pr.set_defaults(handler=_predict)

    ev = sub.add_parser("evaluate", help="predict a region and compare it with labels (the tutorial's metrics)")
    ev.add_argument("model", help=".safetensors or .onnx model file (path or storage URL)")
    ev.add_argument("image", help="4-band uint8 GeoTIFF (path or storage URL)")
    ev.add_argument("labels", help="aligned label raster (path or storage URL)")
    ev.add_argument("--report", help="write the metrics as JSON")
    ev.add_argument("--figure", help="write the NAIP | prediction | truth comparison PNG")
    _region_args(ev)
    _engine_args(ev)
    ev.set_defaults(handler=_evaluate)


def region_from_args(args: argparse.Namespace) -> Region:
    """The :class:`~landcover_sdk.Region` named by the region options (checked before any model is loaded)."""
    given: dict[str, Any] = {}
    if args.center_lat is not None or args.center_lon is not None:
        if args.center_lat is None or args.center_lon is None:
            raise ConfigError("give both --center-lat and --center-lon")
        given.update(center_lat=args.center_lat, center_lon=args.center_lon)
        if args.region_size is not None:
            given["region_size"] = args.region_size
    elif args.region_size is not None:
        raise ConfigError("--region-size: only with --center-lat and --center-lon")
    if args.window:
        given["window"] = tuple(args.window)
    if args.bounds:
        given["bounds"] = tuple(args.bounds)
    if args.bounds_crs is not None:
        given["crs"] = args.bounds_crs
    return Region.from_dict(given)


def _predictor(args: argparse.Namespace) -> Predictor:
    from ..inference.predictor import Predictor

    return Predictor.from_file(args.model, backend=args.backend, threads=args.threads, mode=args.mode,
                               batch_size=args.batch_size, device=args.device, autocast=args.autocast)


def _predict(args: argparse.Namespace) -> int:
    region = region_from_args(args)
    result = _predictor(args).predict_raster(
        args.image, args.out, probabilities=args.probabilities, preview=args.preview, region=region,
        progress=not args.no_progress)
    print(f"wrote {result.classes} ({result.window.height}x{result.window.width} px, {result.mode} mode, "
          f"{result.seconds:.1f}s, {result.megapixels_per_second:.3f} Mpx/s)")
    for extra in (result.probabilities, result.preview):
        if extra is not None:
            print(f"wrote {extra}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    region = region_from_args(args)
    report = _predictor(args).evaluate_raster(
        args.image, args.labels, report=args.report, figure=args.figure, region=region,
        progress=not args.no_progress)
    print(report.table())
    for extra in (args.report, args.figure):
        if extra is not None:
            print(f"wrote {extra}")
    return 0
