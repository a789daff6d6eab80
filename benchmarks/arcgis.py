"""The ArcGIS raster function against the batch predictor, on the same CPU in the same run.

ArcGIS asks for a view block by block. Measured (medians of --repeats), exact mode, built-in tutorial model:

1. batch: ``Predictor.predict_raster`` of a --size² scene to a class COG (the baseline);
2. first view: every block of a --block grid that starts outside the raster, replayed through
   ``ArcGISReplay`` on a fresh function object (every 128-px core computed once, then reused);
3. pan back: the same blocks again on the same object (every core from its cache);
4. one block: a single --block request on a fresh object (what the first block of a pan costs).

Printed: seconds, Mpx/s, and ratios against the batch measured in this run; plus the model windows each
path evaluated (batch: one per core).

usage: python benchmarks/arcgis.py [--size 1024] [--block 256 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import rasterio
from _common import median_time

from landcover_sdk import Predictor
from landcover_sdk.arcgis import ClassifyLandcover
from landcover_sdk.data import PixelWindow, generate_scene, write_raster
from landcover_sdk.testing.arcgis import ArcGISReplay

MODEL = "builtin:tutorial-250epochs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--block", type=int, nargs=2, default=(256, 256))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    block = (args.block[0], args.block[1])
    offset = (-block[0] // 3, -block[1] // 5)
    with tempfile.TemporaryDirectory() as tmp:
        scene = Path(tmp) / "scene.tif"
        image = generate_scene(args.size, 21, nodata_border=False).image
        with rasterio.open(samples_image()) as ref:
            write_raster(scene, image, crs=ref.crs, transform=ref.transform)
        predictor = Predictor.from_file(MODEL)
        out = Path(tmp) / "classes.tif"
        t_batch = median_time(lambda: predictor.predict_raster(scene, out, progress=False), args.repeats)

        def first_view() -> ArcGISReplay:
            replay = ArcGISReplay(ClassifyLandcover, scene, {"output": "Hard"})
            replay.run(block=block, offset=offset)
            return replay

        t_first = median_time(first_view, args.repeats)
        warm = first_view()
        windows = warm.function.windows_evaluated
        t_pan = median_time(lambda: warm.run(block=block, offset=offset), args.repeats)
        fresh = ArcGISReplay(ClassifyLandcover, scene, {"output": "Hard"})
        fresh.prepare()
        t0 = time.perf_counter()
        fresh.update_pixels(PixelWindow(300, 300, *block))
        t_one = time.perf_counter() - t0
    mpx = args.size**2 / 1e6
    n_blocks = len(list(warm.blocks(block, offset)))
    cores = (-(-args.size // 128)) ** 2
    print(f"scene {args.size}^2, blocks {block[0]}x{block[1]} ({n_blocks}), exact mode, {MODEL}")
    print(f"  batch predict_raster      {t_batch:7.2f} s  {mpx / t_batch:6.3f} Mpx/s  {cores} windows")
    print(f"  raster function, 1st view {t_first:7.2f} s  {mpx / t_first:6.3f} Mpx/s  {windows} windows  "
          f"x{t_batch / t_first:.2f} of batch speed")
    print(f"  raster function, pan back {t_pan:7.2f} s  {mpx / t_pan:6.3f} Mpx/s  0 windows  "
          f"x{t_batch / t_pan:.1f} of batch speed")
    print(f"  one {block[0]}x{block[1]} block, cold  {t_one:7.3f} s  ({fresh.function.windows_evaluated} windows)")


def samples_image() -> str:
    from landcover_sdk import samples

    return str(samples.chesapeake_2014_pairs()[0].image)


if __name__ == "__main__":
    main()
