"""``landcover arcgis install-function | export-dlpk``: the model in ArcGIS Pro."""

from __future__ import annotations

import argparse

# arcgis.function.OUTPUTS, spelled out so that building the parser does not import the arcgis surface (and
# inference with it); tests/test_layering.py checks the two agree.
OUTPUTS = ("Soft", "Hard", "Probabilities", "Classes")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``arcgis`` command group."""
    arc = sub.add_parser("arcgis", help="use the model in ArcGIS Pro (raster function, deep-learning package)")
    asub = arc.add_subparsers(dest="arcgis_command", metavar="SUBCOMMAND", required=True)
    inst = asub.add_parser("install-function",
                           help="write the ClassifyLandcover raster function folder (copy it to Pro's Custom folder)")
    inst.add_argument("dest", help="existing folder to write ClassifyLandcover/ into")
    inst.add_argument("--model", help="model the function selects by default, as a path on the ArcGIS machine "
                                      "(default: builtin:tutorial-250epochs)")
    inst.add_argument("--output", choices=OUTPUTS, help="default output (default: Soft)")
    inst.set_defaults(handler=_install)
    dl = asub.add_parser("export-dlpk", help="write ONNX + .emd + .dlpk for Classify Pixels Using Deep Learning")
    dl.add_argument("model", help=".safetensors/.onnx/CNTK .model file, storage URL or builtin:NAME")
    dl.add_argument("dest", help="existing folder to write the package into")
    dl.add_argument("--name", help="package name (default: the model file's name)")
    dl.set_defaults(handler=_export)


def _install(args: argparse.Namespace) -> int:
    from ..arcgis import install_function

    folder = install_function(args.dest, model=args.model, output=args.output)
    print(f"wrote {folder} (ClassifyLandcover.py, ClassifyLandcover.rft.xml, README.txt); "
          f"install steps in {folder / 'README.txt'}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..arcgis import export_dlpk

    dlpk = export_dlpk(args.model, args.dest, name=args.name)
    print(f"wrote {dlpk} (with {dlpk.with_suffix('.emd').name}, {dlpk.with_suffix('.onnx').name}, "
          f"ClassifyLandcover.py beside it)")
    return 0
