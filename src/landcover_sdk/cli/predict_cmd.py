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
from .options import place_args, place_from_args, source_from_args, year_args

if TYPE_CHECKING:
    from ..inference.outputs import Output
    from ..inference.predictor import Predictor


def _region_args(p: argparse.ArgumentParser) -> None:
    place_args(p, title="region of interest (default: the whole raster)")
    p.add_argument("--window", type=int, nargs=4, metavar=("ROW", "COL", "HEIGHT", "WIDTH"),
                   help="pixel window, row first")


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
    from ..imagery.names import source_help

    pr.add_argument("image", help="4-band uint8 GeoTIFF (path or storage URL), or naip:[SOURCE] for NAIP of the "
                                  f"place from a STAC catalog ({source_help(prefixed=True)})")
    pr.add_argument("out", help="output COG of class ids (path or storage URL); a <stem>.stac.json STAC Item is "
                                "written beside it")
    pr.add_argument("--probabilities", help="also write per-class probabilities (uint8, 0-255)")
    pr.add_argument("--preview", help="also write a PNG of the hard labels")
    pr.add_argument("--output", action="append", default=[], metavar="KIND=PATH",
                    help="also write an output of a registered kind (landcover_sdk.inference.OUTPUTS: classes, "
                         "probabilities, preview or a plugin's); repeatable")
    _region_args(pr)
    year_args(pr)
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
    return place_from_args(args, allow_window=True)


def _image(args: argparse.Namespace, region: Region) -> Any:
    """The image argument: a raster path/URL, or a NAIP source for ``naip:…`` (checked before any model is loaded)."""
    from ..imagery import is_source_name

    naip_flags = args.year is not None or args.allow_mixed_years or args.allow_partial
    if not is_source_name(args.image):
        if naip_flags:
            raise ConfigError("--year, --allow-mixed-years and --allow-partial are for naip: images")
        return args.image
    source = source_from_args(args.image, args)
    if region.kind in ("whole", "window"):
        raise ConfigError("naip: needs a place: --center-lat/--center-lon (+ --region-size), --bounds or --geometry "
                          "(pixel windows have no meaning before the scene exists)")
    source.locate(region)  # outside NAIP: refused before the model loads
    return source


def _predictor(args: argparse.Namespace) -> Predictor:
    from ..inference.predictor import Predictor

    return Predictor.from_file(args.model, backend=args.backend, threads=args.threads, mode=args.mode,
                               batch_size=args.batch_size, device=args.device, autocast=args.autocast)


def _outputs(args: argparse.Namespace) -> list[Output]:
    """The outputs the flags name, as output specs (``--output KIND=PATH`` for any registered kind)."""
    from ..inference.outputs import output

    named = [("classes", args.out), ("probabilities", args.probabilities), ("preview", args.preview)]
    for text in args.output:
        kind, sep, path = text.partition("=")
        if not sep or not kind or not path:
            raise ConfigError(f"--output {text!r}: give KIND=PATH")
        named.append((kind, path))
    return [output(kind, path) for kind, path in named if path is not None]


def _predict(args: argparse.Namespace) -> int:
    region = region_from_args(args)
    outputs = _outputs(args)  # an unknown kind fails before the model loads
    image = _image(args, region)
    result = _predictor(args).predict_raster(image, outputs=outputs, region=region, progress=not args.no_progress)
    print(f"wrote {result.classes} ({result.window.height}x{result.window.width} px, {result.mode} mode, "
          f"{result.seconds:.1f}s, {result.megapixels_per_second:.3f} Mpx/s)")
    for key, extra in result.outputs.items():
        if key != "classes":
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
