"""05 — Embed the predictor in an app, with only the core install (ONNX Runtime, no torch).

The tutorial's last step ran the model "in real time" inside a desktop GIS: the user pans, the
app asks for the land cover of the window on screen. This is the same idea as a tiny web service:
``GET /classify?row=R&col=C&size=S`` returns a PNG of the predicted classes of that window of a
raster, and ``classify_window()`` is the function behind it, ready to call from any app.

    pip install landcover-sdk                         # core install: numpy, rasterio, onnxruntime
    python examples/05_embed_predictor.py --model demo-output/training/model.safetensors --image x_NAIP.tif
    # then open http://127.0.0.1:8000/classify?row=0&col=0&size=512
    python examples/05_embed_predictor.py --quick     # start, fetch one PNG, stop (CI smoke test)
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from PIL import Image

from landcover_sdk import LandcoverError, Predictor, Region, import_cntk
from landcover_sdk.data import write_scenes
from landcover_sdk.inference import hard_labels

REPO = Path(__file__).resolve().parents[1]


def classify_window(predictor: Predictor, raster: str, row: int, col: int, size: int) -> bytes:
    """PNG bytes of the predicted classes of the ``size``² window at (row, col) of ``raster``."""
    scores = predictor.predict_region_scores(raster, Region.from_window((row, col, size, size)))
    rgb = hard_labels(scores.argmax(0), predictor.scheme)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def make_server(predictor: Predictor, raster: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server answering ``/classify?row=&col=&size=`` with a PNG."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path != "/classify":
                self.send_error(404, "try /classify?row=0&col=0&size=256")
                return
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            try:
                png = classify_window(predictor, raster, int(q.get("row", 0)), int(q.get("col", 0)),
                                      int(q.get("size", 256)))
            except (ValueError, LandcoverError) as exc:  # bad numbers or a window off the raster
                self.send_error(400, str(exc)[:200])
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, fmt: str, *args: object) -> None:
            logging.getLogger("example.http").info(fmt, *args)

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def default_model(out: Path) -> Path:
    """The demo's trained model if it exists, else a small CNTK test model imported without CNTK or torch."""
    demo = Path("demo-output/training/model.safetensors")
    if demo.exists():
        return demo
    print("no --model and no demo-output: using the small untrained test model (classes are meaningless)")
    return import_cntk(REPO / "tests" / "data" / "cntk" / "tiny.model").save(out / "tiny.safetensors")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--image", default=None, help="4-band NAIP GeoTIFF (default: a synthetic scene)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--out", type=Path, default=Path("runs/example-embed"))
    ap.add_argument("--quick", action="store_true", help="serve one request on a free port and exit")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    image = args.image or write_scenes(args.out / "data", tiles=1, size=512, seed=6)[0].image
    predictor = Predictor.from_file(args.model or default_model(args.out))  # ONNX Runtime by default
    server = make_server(predictor, image, 0 if args.quick else args.port)
    port = server.server_address[1]
    if not args.quick:
        print(f"serving http://127.0.0.1:{port}/classify?row=0&col=0&size=256 (Ctrl-C to stop)")
        server.serve_forever()
        return
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/classify?row=64&col=32&size=256", timeout=60) as r:
        png = r.read()
    server.shutdown()
    with Image.open(io.BytesIO(png)) as im:
        print(f"GET /classify -> {len(png)} bytes, PNG {im.size[0]}x{im.size[1]} {im.mode}")
    (args.out / "window.png").write_bytes(png)
    print(f"torch imported: {'torch' in sys.modules}")


if __name__ == "__main__":
    main()
