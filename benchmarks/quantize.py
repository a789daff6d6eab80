"""int8 against fp32: speed on the same CPU, and the answers on real imagery the calibration never saw.

1. Speed (medians of --repeats, all measured in this run): fp32 exact, fp32 fast and int8 fast on square
   synthetic areas (--sizes; fp32 exact only up to --exact-max). Target: int8 fast >= 1.5x fp32 fast.
2. Answers: the model is quantized on four of the eight real Chesapeake 2014 sample pairs and scored on the
   other four, then the other way round. Reported: argmax agreement of int8 fast with fp32 exact over the
   held-out pairs (target >= 99 %), and pixel accuracy against the labels on their 128x128 cores for fp32
   exact and int8 fast (target: within 0.5 points).

Models: the built-in tutorial model, plus any --model FILE (e.g. the one `landcover demo` trains,
demo-output/training/model.safetensors).

usage: python benchmarks/quantize.py [--model M ...] [--sizes 1024 4096] [--exact-max 1024] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import rasterio
from _common import median_time

from landcover_sdk import Predictor, Region, samples
from landcover_sdk.data import generate_scene
from landcover_sdk.inference.quantize import quantize_model


def speed(model: str, work: Path, sizes: list[int], exact_max: int, repeats: int) -> None:
    pairs = samples.chesapeake_2014_pairs()
    int8 = quantize_model(model, work / "speed-int8.onnx", [p.image for p in pairs])
    fp32, q = Predictor.from_file(model), Predictor.from_file(int8)
    for side in sizes:
        area = generate_scene(side, 5).image
        t_fast = median_time(lambda a=area: fp32.predict_array(a, mode="fast"), repeats)
        t_int8 = median_time(lambda a=area: q.predict_array(a, mode="fast"), repeats)
        line = (f"   {side}^2: fp32 fast {side * side / t_fast / 1e6:.3f} Mpx/s, int8 fast "
                f"{side * side / t_int8 / 1e6:.3f} Mpx/s -> int8/fp32 fast = {t_fast / t_int8:.2f}x (target >= 1.5x)")
        if side <= exact_max:
            t_exact = median_time(lambda a=area: fp32.predict_array(a, mode="exact"), repeats)
            line += (f"; fp32 exact {side * side / t_exact / 1e6:.3f} Mpx/s -> int8 fast / fp32 exact = "
                     f"{t_exact / t_int8:.2f}x")
        print(line, flush=True)


def answers(model: str, work: Path) -> None:
    pairs = samples.chesapeake_2014_pairs()
    fp32 = Predictor.from_file(model)
    core = Region.from_window((64, 64, 128, 128))
    for name, cal, held in (("calibrate 0-3, score 4-7", pairs[:4], pairs[4:]),
                            ("calibrate 4-7, score 0-3", pairs[4:], pairs[:4])):
        q = Predictor.from_file(quantize_model(model, work / "int8.onnx", [p.image for p in cal]))
        same = total = 0
        acc32, acc8 = [], []
        for p in held:
            with rasterio.open(p.image) as ds:
                naip = ds.read()
            e, f = fp32.predict_classes(naip, mode="exact"), q.predict_classes(naip, mode="fast")
            same += int((e == f).sum())
            total += e.size
            acc32.append(fp32.evaluate_raster(p.image, p.label, region=core, mode="exact", progress=False).accuracy)
            acc8.append(q.evaluate_raster(p.image, p.label, region=core, mode="fast", progress=False).accuracy)
        a32, a8 = 100 * float(np.mean(acc32)), 100 * float(np.mean(acc8))
        print(f"   {name}: int8 fast vs fp32 exact argmax agreement {100 * same / total:.2f} % (target >= 99 %); "
              f"pixel accuracy fp32 exact {a32:.2f} %, int8 fast {a8:.2f} % -> {a8 - a32:+.2f} points "
              "(target within 0.5)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", default=[], help="also measure this model (repeatable)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--exact-max", type=int, default=1024, help="largest area also timed in fp32 exact mode")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lc-bench-int8-"))
    print(f"{os.cpu_count()} CPU thread(s); speed with the built-in tutorial model")
    if not args.skip_speed:
        print(f"1. speed (medians of {args.repeats})")
        speed("builtin:tutorial-250epochs", work, args.sizes, args.exact_max, args.repeats)
    print("2. answers on held-out real imagery")
    for model in ["builtin:tutorial-250epochs", *args.model]:
        print(f"  model {model}")
        answers(model, work)


if __name__ == "__main__":
    main()
