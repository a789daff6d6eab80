"""Prediction speed and memory: fp32 exact, fp32 fast and int8 fast, on the CPU and (when present) a GPU.

1. Speed table (medians of --repeats, all measured in this run) on square synthetic areas (--sizes, default
   1024 and 4096): fp32 exact (up to --exact-max), fp32 fast and int8 fast, each as output Mpx/s and as a
   ratio against the tutorial's own loop (one window per call) run by CNTK 2.7 through
   ../shared/tools/cntk-reference/time_eval.py in the same run when that environment exists; int8 fast
   against fp32 fast. Targets: exact >= 4x CNTK, int8 fast >= 1.5x fp32 fast.
2. fast mode / exact mode argmax agreement on synthetic scenes (target >= 99 %).
3. Whole rasters: Mpx/s and peak resident memory (a fresh process each) predicting --memory-sizes synthetic
   rasters (default 4096^2 and 16384^2) in fast mode with each of --memory-precisions (fp32, int8).
   Targets: <= 1.5 GB and the larger <= 1.2x the smaller.
4. GPU (--device cuda): ONNX Runtime's CUDA execution provider (fp32 exact and fast) and torch (fast, fp32 and
   fp16/bf16 autocast) on the same areas, against the CPU's fp32 fast from section 1. Without a GPU the
   section says why it was skipped.

The model: --model FILE (.safetensors/.onnx); default the tutorial's imported 250epochs.model when
LANDCOVER_CNTK_FIXTURES is set, otherwise a freshly initialised network. The int8 model is quantized in this
run from it, calibrated on the eight real Chesapeake sample pairs (--int8 FILE to use another).

usage: python benchmarks/predict.py [--model M] [--int8 FILE] [--sizes 1024 4096] [--exact-max 4096]
       [--repeats 3] [--memory-sizes 4096 16384] [--memory-precisions fp32 int8] [--device cuda]
       [--skip-cntk] [--skip-memory] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import rasterio
from _cntk import number, run_tool
from _common import median_time

from landcover_sdk import Predictor, samples
from landcover_sdk.data import generate_scene
from landcover_sdk.data.synthetic import write_large_pair
from landcover_sdk.inference.quantize import quantize_model
from landcover_sdk.models import ModelFile, UNetModel

PEAK = textwrap.dedent(
    """
    import sys, time
    from landcover_sdk import Predictor
    t = time.perf_counter()
    r = Predictor.from_file(sys.argv[1], mode=sys.argv[4]).predict_raster(sys.argv[2], sys.argv[3], progress=False)
    # VmHWM belongs to this address space; ru_maxrss would include the forking parent's peak.
    hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
    print(int(hwm.split()[1]) / 1024, time.perf_counter() - t)
    """
)


def default_model(work: Path) -> tuple[Path, str]:
    fixtures = os.environ.get("LANDCOVER_CNTK_FIXTURES")
    path = work / "model.safetensors"
    if fixtures and (Path(fixtures) / "250epochs.model").exists():
        if not path.exists():
            UNetModel.from_cntk(Path(fixtures) / "250epochs.model").save(path)
        return path, "tutorial 250epochs.model (imported)"
    if not path.exists():
        UNetModel(seed=0).save(path)
    return path, "freshly initialised network"


def cntk_rate(model: Path, repeats: int, skip: bool) -> float | None:
    if skip or ModelFile.load(model).config.window != 256:
        return None
    fixtures = os.environ.get("LANDCOVER_CNTK_FIXTURES")
    cntk_model = Path(fixtures) / "250epochs.model" if fixtures else None
    if cntk_model is None or not cntk_model.exists():
        return None
    return number(r"->\s*([0-9.]+) output Mpx/s", run_tool("time_eval.py", str(cntk_model), "1024", "1", str(repeats)))


def read_raster(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


def rate(side: int, seconds: float) -> float:
    return side * side / seconds / 1e6


def speed_table(fp32: Predictor, int8: Predictor, sizes: list[int], exact_max: int, repeats: int,
                cntk: float | None) -> dict[int, float]:
    """Section 1; returns fp32 fast Mpx/s per size (the GPU section's baseline)."""
    vs = (lambda r: f" = {r / cntk:.1f}x CNTK") if cntk else (lambda r: "")
    fast_rates = {}
    for side in sizes:
        area = generate_scene(side, 5).image
        row = [f"   {side}^2:"]
        if side <= exact_max:
            r_exact = rate(side, median_time(lambda a=area: fp32.predict_array(a, mode="exact"), repeats))
            row.append(f"fp32 exact {r_exact:.3f} Mpx/s{vs(r_exact)};")
        r_fast = rate(side, median_time(lambda a=area: fp32.predict_array(a, mode="fast"), repeats))
        r_int8 = rate(side, median_time(lambda a=area: int8.predict_array(a, mode="fast"), repeats))
        fast_rates[side] = r_fast
        row.append(f"fp32 fast {r_fast:.3f} Mpx/s{vs(r_fast)}; int8 fast {r_int8:.3f} Mpx/s{vs(r_int8)} -> "
                   f"int8/fp32 fast = {r_int8 / r_fast:.2f}x (target >= 1.5x)")
        print(" ".join(row), flush=True)
    return fast_rates


def memory(models: dict[str, Path], sizes: list[int], work: Path) -> None:
    for precision, model in models.items():
        peaks = []
        for size in sizes:
            pair = work / f"mem{size}" / f"m{size}_NAIP.tif"
            if not pair.exists():
                print(f"   writing a {size}^2 synthetic raster ...", flush=True)
                write_large_pair(pair.parent, f"m{size}", size, seed=3, labels=False)
            out = work / f"mem{size}" / f"classes-{precision}.tif"
            proc = subprocess.run([sys.executable, "-c", PEAK, str(model), str(pair), str(out), "fast"],
                                  capture_output=True, text=True, check=True)
            peak, secs = (float(v) for v in proc.stdout.split()[-2:])
            peaks.append(peak)
            print(f"   {precision} fast, {size}^2 raster: peak RSS {peak:.0f} MB, {secs:.0f}s "
                  f"({rate(size, secs):.3f} Mpx/s)", flush=True)
        if len(peaks) > 1:
            print(f"   {precision}: larger / smaller peak = {peaks[-1] / peaks[0]:.2f} (target <= 1.2); max "
                  f"{max(peaks):.0f} MB (target <= 1536 MB)")


def gpu(model: Path, device: str, sizes: list[int], repeats: int, cpu_fast: dict[int, float]) -> None:
    import onnxruntime as ort

    runs: list[tuple[str, dict[str, object], list[str]]] = []
    if "CUDAExecutionProvider" in ort.get_available_providers():
        runs.append(("onnxruntime CUDA fp32", {"device": device}, ["exact", "fast"]))
    else:
        print(f"   onnxruntime: no CUDA execution provider here ({', '.join(ort.get_available_providers())}); "
              "install onnxruntime-gpu for these rows")
    try:
        import torch

        has_torch_gpu = torch.cuda.is_available()
    except ImportError:
        has_torch_gpu = False
    if has_torch_gpu:
        runs += [(f"torch CUDA {p}", {"device": device, "backend": "torch", "autocast": a}, ["fast"])
                 for p, a in (("fp32", None), ("fp16 autocast", "fp16"), ("bf16 autocast", "bf16"))]
    else:
        print("   torch: no CUDA device (or no torch); torch rows skipped")
    for label, options, modes in runs:
        predictor = Predictor.from_file(model, batch_size=8, **options)
        for side in sizes:
            area = generate_scene(side, 5).image
            parts = []
            for mode in modes:
                r = rate(side, median_time(lambda a=area, m=mode, p=predictor: p.predict_array(a, mode=m), repeats))
                parts.append(f"{mode} {r:.3f} Mpx/s ({r / cpu_fast[side]:.1f}x CPU fp32 fast)")
            print(f"   {label}, {side}^2: " + ", ".join(parts), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--int8", type=Path, help="int8 model to time (default: quantize --model in this run)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096])
    ap.add_argument("--exact-max", type=int, default=4096, help="largest area also timed in fp32 exact mode")
    ap.add_argument("--memory-sizes", type=int, nargs="+", default=[4096, 16384])
    ap.add_argument("--memory-precisions", nargs="+", choices=["fp32", "int8"], default=["fp32", "int8"])
    ap.add_argument("--device", default=None, help="also time this GPU (e.g. cuda, cuda:1)")
    ap.add_argument("--skip-cntk", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="lc-bench-predict-"))
    work.mkdir(parents=True, exist_ok=True)
    model, label = (args.model, str(args.model)) if args.model else default_model(work)
    int8_path = args.int8 or quantize_model(model, work / "int8.onnx",
                                            [p.image for p in samples.chesapeake_2014_pairs()])
    fp32, int8 = Predictor.from_file(model), Predictor.from_file(int8_path)
    print(f"model: {label}; {os.cpu_count()} CPU thread(s); int8: {int8_path} (fast tiling "
          f"{int8.config.fast_window}/{int8.config.fast_halo}, fp32 {fp32.config.fast_window}/"
          f"{fp32.config.fast_halo})")

    cntk = cntk_rate(model, args.repeats, args.skip_cntk)
    print(f"1. speed, medians of {args.repeats}; CNTK 2.7 tutorial loop (one window per call): " +
          (f"{cntk:.4f} Mpx/s, measured in this run" if cntk else
           "not measured (--skip-cntk, or no reference environment or 250epochs.model); a CPU run of it on this "
           "kind of machine gave 0.018 Mpx/s"), flush=True)
    fast_rates = speed_table(fp32, int8, args.sizes, args.exact_max, args.repeats, cntk)

    synthetic = [generate_scene(1024, seed).image for seed in (11, 12, 13)]
    real = [read_raster(pair.image) for pair in samples.chesapeake_2014_pairs()]
    parts = []
    for name, images in (("3 synthetic 1024^2 scenes", synthetic), ("the 8 real 256^2 Chesapeake pairs", real)):
        agree = [float((fp32.predict_array(a, mode="exact").argmax(0) == fp32.predict_array(a, mode="fast").argmax(0))
                       .mean()) for a in images]
        parts.append(f"{name} {100 * np.mean(agree):.2f} % (min {100 * min(agree):.2f} %)")
    print("2. fp32 fast vs exact argmax agreement (target >= 99 % in the model's domain; near-ties out of it flip): "
          + "; ".join(parts) + ". int8 against fp32 exact on held-out real imagery: benchmarks/quantize.py")

    if not args.skip_memory:
        print("3. whole rasters, fast mode, a fresh process each")
        models = {"fp32": model, "int8": int8_path}
        memory({p: models[p] for p in args.memory_precisions}, args.memory_sizes, work)
    if args.device:
        print(f"4. GPU ({args.device})")
        gpu(model, args.device, args.sizes, args.repeats, fast_rates)
    else:
        print("4. GPU: not asked for (--device cuda)")


if __name__ == "__main__":
    main()
