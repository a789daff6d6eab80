"""07 — The tutorial's ArcGIS Pro step: the model as a raster function and a deep-learning package.

The tutorial's notebook 04 copied a "ClassifyCNTK" raster function into ArcGIS Pro and showed three
synced windows as the user panned: NAIP, "AI Mixed Probabilities" (soft) and "AI Classification"
(hard). This example writes the SDK's replacement (no CNTK, no torch, no arcpy), loads it from the
installed folder the way ArcGIS does, and replays ArcGIS's calls block by block on real NAIP with
the shipped ``ArcGISReplay`` harness — odd-sized blocks that start outside the raster, as ArcGIS
may ask for them. The stitched result equals ``landcover predict`` pixel for pixel.

    python examples/07_arcgis_pro.py            # writes runs/example-arcgis/{arcgis/, *.dlpk, arcgis_panes.png}
    python examples/07_arcgis_pro.py --quick    # the same (it takes seconds)
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image, ImageDraw

from landcover_sdk import Predictor, samples
from landcover_sdk.arcgis import export_dlpk, install_function
from landcover_sdk.inference import comparison_figure, naip_rgb
from landcover_sdk.testing.arcgis import ArcGISReplay

MODEL = "builtin:tutorial-250epochs"
BLOCK = (96, 80)  # deliberately not a multiple of the model's 128-pixel core
OFFSET = (-40, -23)  # the first block starts outside the raster


def load_installed(folder: Path) -> type:
    """Import ClassifyLandcover.py from the installed folder, as ArcGIS's Python adapter does."""
    spec = importlib.util.spec_from_file_location("ClassifyLandcover", folder / "ClassifyLandcover.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls: type = module.ClassifyLandcover
    return cls


def draw_blocks(rgb: np.ndarray) -> np.ndarray:
    """The imagery with the replayed blocks outlined, to show where ArcGIS cut it."""
    image = Image.fromarray(rgb)
    pen = ImageDraw.Draw(image)
    h, w = rgb.shape[:2]
    for r in range(OFFSET[0], h, BLOCK[0]):
        pen.line([(0, r), (w, r)], fill=(255, 255, 0), width=1)
    for c in range(OFFSET[1], w, BLOCK[1]):
        pen.line([(c, 0), (c, h)], fill=(255, 255, 0), width=1)
    return np.asarray(image)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/example-arcgis"))
    ap.add_argument("--quick", action="store_true", help="accepted for the examples' smoke test (already quick)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    (args.out / "arcgis").mkdir(parents=True, exist_ok=True)

    folder = install_function(args.out / "arcgis", model=MODEL)
    dlpk = export_dlpk(MODEL, args.out)
    print(f"raster function: {folder} (copy it to ...\\Raster\\Functions\\Custom); package: {dlpk.name}")

    function = load_installed(folder)
    image = samples.chesapeake_2014_pairs()[3].image
    soft = ArcGISReplay(function, image, {"output": "Soft"}).run(block=BLOCK, offset=OFFSET)
    hard_replay = ArcGISReplay(function, image, {"output": "Hard"})
    hard = hard_replay.run(block=BLOCK, offset=OFFSET)
    blocks = len(list(hard_replay.blocks(BLOCK, OFFSET)))
    print(f"replayed {blocks} blocks of {BLOCK[0]}x{BLOCK[1]} px; "
          f"{hard_replay.function.windows_evaluated} model windows (each 128-px core once)")

    batch = args.out / "classes.tif"
    Predictor.from_file(MODEL).predict_raster(image, batch, progress=False)
    with rasterio.open(batch) as ds:
        same = bool(np.array_equal(ds.read(1), hard.pixels[0]))
    print(f"Hard output identical to landcover predict: {same}")

    with rasterio.open(image) as ds:
        rgb = naip_rgb(ds.read())
    colours = hard_replay.output_info["colormap"] if hard_replay.output_info else None
    assert colours is not None
    lut = np.stack(colours[1:], axis=1)
    figure = comparison_figure([
        ("NAIP, with ArcGIS's blocks", draw_blocks(rgb)),
        ("AI Mixed Probabilities (Soft)", np.ascontiguousarray(soft.pixels.transpose(1, 2, 0))),
        ("AI Classification (Hard)", lut[hard.pixels[0]]),
    ], title="ClassifyLandcover replayed as ArcGIS Pro calls it (builtin:tutorial-250epochs)")
    figure.save(args.out / "arcgis_panes.png")
    print(f"wrote {args.out / 'arcgis_panes.png'}")
    if not same:
        raise SystemExit("the raster function and landcover predict disagree")


if __name__ == "__main__":
    main()
