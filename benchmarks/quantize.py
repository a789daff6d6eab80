"""int8 against fp32 on real imagery the calibration never saw (speed: benchmarks/predict.py).

The model is quantized on four of the eight real Chesapeake 2014 sample pairs and scored on the other four,
then the other way round. For fp32 fast, int8 fast with its default tiling (640-pixel windows, 64-pixel
halo), int8 fast with fp32's tiling (576/32) and int8 on the exact tiling: argmax agreement with fp32 exact over
the held-out pairs (target >= 99 %), and pixel accuracy against the labels on their 128x128 cores, as the
difference to fp32 exact (target: within 0.5 points).

Models: the built-in tutorial model, plus any --model FILE (e.g. the one `landcover demo` trains,
demo-output/training/model.safetensors).

With --demo-dir the `landcover demo` model is also scored in its own domain: calibrated on three of its synthetic
training tiles, scored on its held-out tile.

usage: python benchmarks/quantize.py [--model M ...] [--windows 32] [--demo-dir demo-output]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import rasterio

from landcover_sdk import Predictor, Region, samples
from landcover_sdk.inference.quantize import quantize_model


def answers(model: str, work: Path, windows: int) -> None:
    pairs = samples.chesapeake_2014_pairs()
    fp32 = Predictor.from_file(model)
    core = Region.from_window((64, 64, 128, 128))
    images = []
    for p in pairs:
        with rasterio.open(p.image) as ds:
            images.append(ds.read())
    exact = [fp32.predict_classes(a, mode="exact") for a in images]
    acc32 = [fp32.evaluate_raster(p.image, p.label, region=core, mode="exact", progress=False).accuracy for p in pairs]
    for name, cal, held in (("calibrate 0-3, score 4-7", range(0, 4), range(4, 8)),
                            ("calibrate 4-7, score 0-3", range(4, 8), range(0, 4))):
        int8 = quantize_model(model, work / "int8.onnx", [pairs[i].image for i in cal], windows=windows)
        q = Predictor.from_file(int8)
        variants = (("fp32 fast", fp32, "fast"),
                    (f"int8 fast {q.config.fast_window}/{q.config.fast_halo} (default)", q, "fast"),
                    ("int8 fast 576/32", Predictor.from_file(int8, fast_window=576, fast_halo=32), "fast"),
                    ("int8 exact tiling", q, "exact"))
        base = 100 * float(np.mean([acc32[i] for i in held]))
        print(f"   {name}: fp32 exact pixel accuracy {base:.2f} %", flush=True)
        for label, predictor, mode in variants:
            agree = np.mean([(predictor.predict_classes(images[i], mode=mode) == exact[i]).mean() for i in held])
            acc = 100 * float(np.mean([predictor.evaluate_raster(pairs[i].image, pairs[i].label, region=core,
                                                                 mode=mode, progress=False).accuracy for i in held]))
            ok = "ok" if agree >= 0.99 and abs(acc - base) <= 0.5 else "MISSES"
            print(f"     {label:<28} agreement with fp32 exact {100 * agree:6.2f} %, accuracy {acc:.2f} % "
                  f"({acc - base:+.2f} points) {ok}", flush=True)


def in_domain(demo: Path, work: Path, windows: int) -> None:
    """The `landcover demo` model on the scenes it was made for: calibrated on training tiles, scored on the
    held-out tile (synth_000) against fp32 exact."""
    model = demo / "training" / "model.safetensors"
    tiles = sorted((demo / "data").glob("*_NAIP.tif"))
    held, cal = tiles[0], tiles[1:4]
    q = Predictor.from_file(quantize_model(model, work / "int8-demo.onnx", cal, windows=windows))
    fp32 = Predictor.from_file(model)
    with rasterio.open(held) as ds:
        image = ds.read()
    exact = fp32.predict_classes(image, mode="exact")
    for label, predictor in (("fp32 fast", fp32), ("int8 fast", q)):
        agree = 100 * float((predictor.predict_classes(image, mode="fast") == exact).mean())
        print(f"     {label:<10} agreement with fp32 exact {agree:6.2f} % on {held.name} "
              f"({image.shape[1]}x{image.shape[2]}, held out of training and calibration)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", default=[], help="also measure this model (repeatable)")
    ap.add_argument("--windows", type=int, default=32, help="calibration windows")
    ap.add_argument("--demo-dir", type=Path, help="a `landcover demo` output folder: also score its model in domain")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lc-bench-int8-"))
    print("answers on held-out real imagery (targets: agreement >= 99 %, accuracy within 0.5 points)")
    for model in ["builtin:tutorial-250epochs", *args.model]:
        print(f"  model {model}")
        answers(model, work, args.windows)
    if args.demo_dir:
        print(f"  model {args.demo_dir}/training/model.safetensors, in its own domain (synthetic scenes)")
        in_domain(args.demo_dir, work, args.windows)


if __name__ == "__main__":
    main()
