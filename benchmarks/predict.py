"""Prediction speed and memory.

1. exact mode output Mpx/s on a 1024x1024 region (median of several runs), and the tutorial's own
   loop (one window per call) run by CNTK 2.7 through ../shared/tools/cntk-reference/time_eval.py
   in the same run when that environment exists. Target: exact >= 4x the CNTK loop.
2. fast mode / exact mode speed on the same region and their argmax agreement on synthetic scenes.
   Target: >= 2.5x at >= 99 % agreement.
3. peak resident memory (subprocess each) predicting a 4096^2 and a 16384^2 synthetic raster.
   Target: <= 1.5 GB and the larger <= 1.2x the smaller.

The model: --model FILE (.safetensors/.onnx); default the tutorial's imported 250epochs.model when
LANDCOVER_CNTK_FIXTURES is set, otherwise a freshly initialised network.

usage: python benchmarks/predict.py [--model M] [--repeats 3] [--memory-sizes 4096 16384]
       [--memory-mode fast] [--skip-cntk] [--skip-memory] [--workdir DIR]
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
from _cntk import number, run_tool
from _common import median_time

from landcover_sdk import Predictor
from landcover_sdk.data import generate_scene
from landcover_sdk.data.synthetic import write_large_pair
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fast-sizes", type=int, nargs="*", default=[2048],
                    help="extra square areas on which to time fast vs exact (besides 1024)")
    ap.add_argument("--memory-sizes", type=int, nargs=2, default=[4096, 16384])
    ap.add_argument("--memory-mode", choices=["exact", "fast"], default="fast")
    ap.add_argument("--skip-cntk", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--workdir", type=Path)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="lc-bench-predict-"))
    work.mkdir(parents=True, exist_ok=True)
    model, label = (args.model, str(args.model)) if args.model else default_model(work)
    predictor = Predictor.from_file(model)
    print(f"model: {label}; {os.cpu_count()} CPU thread(s)")

    scene = generate_scene(1024 + 128, 1)
    region = scene.image[:, 64:-64, 64:-64]
    t_exact = median_time(lambda: predictor.predict_array(region, mode="exact"), args.repeats)
    t_fast = median_time(lambda: predictor.predict_array(region, mode="fast"), args.repeats)
    exact_rate, fast_rate = 1024 * 1024 / t_exact / 1e6, 1024 * 1024 / t_fast / 1e6
    print(f"1. exact mode, 1024^2 region: {t_exact:.2f}s -> {exact_rate:.4f} output Mpx/s (median of {args.repeats})")
    cntk_rate = None
    if not args.skip_cntk and ModelFile.load(model).config.window == 256:
        fixtures = os.environ.get("LANDCOVER_CNTK_FIXTURES")
        cntk_model = Path(fixtures) / "250epochs.model" if fixtures else None
        if cntk_model is not None and cntk_model.exists():
            out = run_tool("time_eval.py", str(cntk_model), "1024", "1", str(args.repeats))
            cntk_rate = number(r"->\s*([0-9.]+) output Mpx/s", out)
    if cntk_rate:
        print(f"   CNTK 2.7 tutorial loop (one window per call): {cntk_rate:.4f} Mpx/s -> exact mode is "
              f"{exact_rate / cntk_rate:.1f}x (target >= 4x)")
    else:
        print("   CNTK baseline skipped (--skip-cntk, or no reference environment or 250epochs.model); "
              "a CPU run of it on this kind of machine gave 0.018 Mpx/s")

    agreements = []
    for seed in (11, 12, 13):
        s = generate_scene(1024, seed)
        e = predictor.predict_array(s.image, mode="exact").argmax(0)
        f = predictor.predict_array(s.image, mode="fast").argmax(0)
        agreements.append(float((e == f).mean()))
    print(f"2. fast mode, 1024^2 region: {t_fast:.2f}s -> {fast_rate:.4f} Mpx/s; fast/exact = "
          f"{t_exact / t_fast:.2f}x (target >= 2.5x); argmax agreement on 3 synthetic scenes "
          f"{100 * np.mean(agreements):.2f} % (min {100 * min(agreements):.2f} %, target >= 99 %)")
    for side in args.fast_sizes:
        area = generate_scene(side, 21).image
        te = median_time(lambda area=area: predictor.predict_array(area, mode="exact"), max(1, args.repeats - 1))
        tf = median_time(lambda area=area: predictor.predict_array(area, mode="fast"), max(1, args.repeats - 1))
        print(f"   {side}^2 area: exact {side * side / te / 1e6:.4f} Mpx/s, fast {side * side / tf / 1e6:.4f} Mpx/s "
              f"-> fast/exact = {te / tf:.2f}x")
    big = predictor.tiling("fast").window
    print(f"   (fast windows: up to {big}^2 with a {predictor.config.fast_halo}-px halo; MACs per output pixel "
          f"{(big / (big - 2 * predictor.config.fast_halo)) ** 2:.2f}x vs exact 4.00x on large rasters)")

    if args.skip_memory:
        return
    peaks = []
    for size in args.memory_sizes:
        pair = work / f"mem{size}" / f"m{size}_NAIP.tif"
        if not pair.exists():
            print(f"   writing a {size}^2 synthetic raster ...", flush=True)
            write_large_pair(pair.parent, f"m{size}", size, seed=3, labels=False)
        out = work / f"mem{size}" / "classes.tif"
        proc = subprocess.run([sys.executable, "-c", PEAK, str(model), str(pair), str(out), args.memory_mode],
                              capture_output=True, text=True, check=True)
        peak, secs = (float(v) for v in proc.stdout.split()[-2:])
        peaks.append(peak)
        print(f"3. {args.memory_mode} mode, {size}^2 raster: peak RSS {peak:.0f} MB, {secs:.0f}s "
              f"({size * size / secs / 1e6:.3f} Mpx/s)")
    print(f"   larger / smaller peak = {peaks[1] / peaks[0]:.2f} (target <= 1.2); max {max(peaks):.0f} MB "
          f"(target <= 1536 MB)")


if __name__ == "__main__":
    main()
