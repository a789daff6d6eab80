"""``landcover model import-cntk | export-onnx | info``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..models.cntk.importer import import_cntk
from ..models.file import ModelFile
from ..models.onnx_export import save_onnx
from ..models.spec import macs_per_window, trainable_count


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``model`` command group."""
    model = sub.add_parser("model", help="import, export and inspect model files")
    msub = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND", required=True)
    imp = msub.add_parser("import-cntk", help="convert a tutorial CNTK .model file to .safetensors (no CNTK needed)")
    imp.add_argument("src", type=Path)
    imp.add_argument("out", type=Path)
    imp.set_defaults(handler=_import)
    exp = msub.add_parser("export-onnx", help="export a .safetensors model to ONNX (opset 17, dynamic batch)")
    exp.add_argument("model", type=Path)
    exp.add_argument("out", type=Path)
    exp.add_argument("--full", action="store_true", help="output every pixel's scores, not just the centre")
    exp.set_defaults(handler=_export)
    info = msub.add_parser("info", help="print a model file's architecture, classes and provenance")
    info.add_argument("model", type=Path)
    info.set_defaults(handler=_info)


def _import(args: argparse.Namespace) -> int:
    mf = import_cntk(args.src)
    mf.save(args.out)
    print(f"imported {args.src} -> {args.out} ({trainable_count(mf.config):,} parameters, "
          f"sha256 {mf.provenance.details.get('cntk_sha256', '?')[:12]}...)")
    return 0


def _export(args: argparse.Namespace) -> int:
    mf = ModelFile.load(args.model)
    save_onnx(mf, args.out, full=args.full)
    print(f"exported {args.model} -> {args.out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    mf = ModelFile.load(args.model)
    print(json.dumps({
        "model_config": mf.config.to_dict(),
        "classes": mf.scheme.names,
        "class_scheme": mf.scheme.name,
        "input_scale": mf.input_scale,
        "band_order": list(mf.band_order),
        "parameters": trainable_count(mf.config),
        "gmac_per_window": round(macs_per_window(mf.config) / 1e9, 3),
        "provenance": {"source": mf.provenance.source, **mf.provenance.details},
    }, indent=2))
    return 0
