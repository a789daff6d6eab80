"""``landcover model import-cntk | export-onnx | info``; every path may be a storage URL."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..inference.backends import QuantizedBackend
from ..models.builtin import BUILTIN_MODELS
from ..models.cntk import import_cntk
from ..models.formats import is_int8_model, load_model_file
from ..models.locate import local_model
from ..models.onnx_export import build_onnx
from ..models.shapes import macs_per_window, trainable_count
from ..storage import get_storage


def _write(dest: str, data: bytes) -> None:
    get_storage(dest).write_bytes(dest, data)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``model`` command group."""
    model = sub.add_parser("model", help="import, export and inspect model files")
    msub = model.add_subparsers(dest="model_command", metavar="SUBCOMMAND", required=True)
    imp = msub.add_parser("import-cntk", help="convert a tutorial CNTK .model file to .safetensors (no CNTK needed)")
    imp.add_argument("src", help="the tutorial's CNTK .model file (path or storage URL)")
    imp.add_argument("out", help=".safetensors file to write (path or storage URL)")
    imp.set_defaults(handler=_import)
    exp = msub.add_parser("export-onnx", help="export a .safetensors model to ONNX (opset 17, dynamic batch)")
    exp.add_argument("model", help=".safetensors model file (path or storage URL)")
    exp.add_argument("out", help=".onnx file to write (path or storage URL)")
    exp.add_argument("--full", action="store_true", help="output every pixel's scores, not just each window's core")
    exp.set_defaults(handler=_export)
    info = msub.add_parser("info", help="print a model file's architecture, classes and provenance")
    info.add_argument("model", help=".safetensors or .onnx model file (path, storage URL or builtin:NAME)")
    info.set_defaults(handler=_info)
    qz = msub.add_parser("quantize", help="write an int8 ONNX model calibrated on your imagery (~2x faster fast mode)")
    qz.add_argument("model", help=".safetensors model file, storage URL or builtin:NAME")
    qz.add_argument("out", help="int8 .onnx file to write (path or storage URL)")
    qz.add_argument("--calibrate", nargs="+", required=True, metavar="TILES_OR_FOLDER",
                    help="4-band uint8 GeoTIFFs (or folders of them) like the imagery you will predict")
    qz.add_argument("--windows", type=int, default=32, help="network windows to calibrate on (default 32)")
    qz.add_argument("--seed", type=int, default=0, help="seed of the calibration areas")
    qz.set_defaults(handler=_quantize)
    lst = msub.add_parser("list", help="the built-in models (builtin:NAME works wherever a model path does)")
    lst.set_defaults(handler=_list)


def _import(args: argparse.Namespace) -> int:
    mf = import_cntk(local_model(args.src))
    _write(args.out, mf.to_bytes())
    print(f"imported {args.src} -> {args.out} ({trainable_count(mf.config):,} parameters, "
          f"sha256 {mf.provenance.details.get('cntk_sha256', '?')[:12]}...)")
    return 0


def _export(args: argparse.Namespace) -> int:
    mf = load_model_file(local_model(args.model))
    _write(args.out, build_onnx(mf, full=args.full).SerializeToString())
    print(f"exported {args.model} -> {args.out}")
    return 0


def _info(args: argparse.Namespace) -> int:
    local = local_model(args.model)
    if is_int8_model(local):
        q = QuantizedBackend(local)
        print(json.dumps({"precision": "int8", "model_config": q.config.to_dict(), "classes": q.scheme.names,
                          "class_scheme": q.scheme.name, "quantization": q.record}, indent=2))
        return 0
    mf = load_model_file(local)
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


def _list(args: argparse.Namespace) -> int:
    for m in BUILTIN_MODELS.values():
        print(m.url)
        for label, value in (("what", m.description), ("classes", m.classes), ("trained on", m.training_data),
                             ("licence", f"{m.licence}; text: {m.licence_path}"), ("source", m.citation),
                             ("measured", m.accuracy)):
            print(f"  {label + ':':<12} {value}")
    return 0


def _quantize(args: argparse.Namespace) -> int:
    import tempfile

    from ..inference.quantize import quantize_model

    calibration = [str(local_model(c)) if "://" in c else c for c in args.calibrate]
    with tempfile.TemporaryDirectory(prefix="lc-int8-") as tmp:
        model = local_model(args.model) if "://" in args.model else args.model
        local = quantize_model(model, Path(tmp) / "int8.onnx", calibration, windows=args.windows, seed=args.seed)
        _write(args.out, local.read_bytes())
    print(f"wrote {args.out} (int8, calibrated on {args.windows} window(s) of {len(calibration)} source(s))")
    return 0
