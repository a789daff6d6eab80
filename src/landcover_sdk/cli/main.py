"""Entry point of the ``landcover`` command: sub-commands, logging, one-line errors."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from .._version import __version__
from ..errors import LandcoverError

log = logging.getLogger("landcover_sdk.cli")

Handler = Callable[[argparse.Namespace], int]


def _register_all(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from . import arcgis_cmd, data_cmd, demo_cmd, imagery_cmd, model_cmd, predict_cmd, run_cmd, serve_cmd, train_cmd

    demo_cmd.register(sub)
    data_cmd.register(sub)
    imagery_cmd.register(sub)
    model_cmd.register(sub)
    predict_cmd.register(sub)
    train_cmd.register(sub)
    run_cmd.register(sub)
    arcgis_cmd.register(sub)
    serve_cmd.register(sub)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``landcover`` with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="landcover",
        description="Pixel-level land-cover classification of 4-band aerial imagery (landcover-sdk).",
    )
    parser.add_argument("--version", action="version", version=f"landcover-sdk {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _register_all(sub)
    return parser


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose < 2:
        for noisy in ("azure", "matplotlib", "PIL"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        # GDAL's per-request warnings and urllib3's "Retrying" lines are the retries the library handles and
        # reports itself; -vv shows them
        for noisy in ("rasterio", "urllib3", "pystac", "pystac_client"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 1 failure, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    _setup_logging(args.verbose, args.quiet)
    try:
        return handler(args)
    except LandcoverError as exc:
        print(f"landcover: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("landcover: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
