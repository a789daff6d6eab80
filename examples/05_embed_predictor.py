"""05 — Real-time land cover inside your own app: ``TileService``, no web framework, no torch.

The tutorial's last step ran the model "in real time" as the user panned a map. ``TileService``
is that engine as a library: ask for a Web-Mercator map tile of the imagery, the soft or the hard
classification, or for the class probabilities at a point, from any app (a desktop GIS plug-in, a
notebook, your own web server). It predicts on the raster's own grid, exactly as ``landcover
predict`` does, caches what it computed and computes each place once. ``landcover serve`` is the
same service behind a web page.

    pip install "landcover-sdk[serve]"                 # numpy, rasterio, onnxruntime + morecantile
    python examples/05_embed_predictor.py --image x_NAIP.tif [--model model.safetensors]
    python examples/05_embed_predictor.py --quick      # a synthetic scene, in seconds (CI smoke test)
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from pathlib import Path

import morecantile
from PIL import Image

from landcover_sdk import Predictor
from landcover_sdk.data import write_scenes
from landcover_sdk.serve import TileService

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="builtin:tutorial-250epochs", help="model file or builtin:NAME")
    ap.add_argument("--image", default=None, help="4-band NAIP GeoTIFF (default: a synthetic scene)")
    ap.add_argument("--out", type=Path, default=Path("runs/example-embed"))
    ap.add_argument("--quick", action="store_true", help="a small synthetic scene")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    image = args.image or write_scenes(args.out / "data", tiles=1, size=512, seed=6)[0].image

    service = TileService(Predictor.from_file(args.model), image)  # ONNX Runtime only
    info = service.describe()
    lat, lon = info["center"]
    tile = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, info["native_zoom"])
    for layer in ("naip", "soft", "hard"):
        png = service.tile(layer, tile.z, tile.x, tile.y)
        assert png is not None
        (args.out / f"{layer}.png").write_bytes(png)
        with Image.open(io.BytesIO(png)) as im:
            print(f"tile {layer}/{tile.z}/{tile.x}/{tile.y}: PNG {im.size[0]}x{im.size[1]} {im.mode}")
    point = service.point(lon, lat)
    best = max(point["probabilities"], key=point["probabilities"].get)
    print(f"at ({lat:.5f}, {lon:.5f}): {best} ({point['probabilities'][best]:.0%})")
    metrics = service.metrics()
    print(f"{metrics['windows_evaluated']} network windows for three tiles and a point "
          f"(soft and hard share them); tiles in {args.out}")
    print(f"torch imported: {'torch' in sys.modules}")
    service.close()


if __name__ == "__main__":
    main()
