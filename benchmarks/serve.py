"""``landcover serve`` latency on this machine, with the tutorial's 250-epoch network, against the batch predictor.

Measured in one run on a synthetic --size² 1 m scene at the tutorial's point:

1. batch: ``predict_raster`` of the scene (exact and fast), as seconds per 128² core — the baseline;
2. cold prediction tiles at the native zoom (tiles two apart, so no core is shared): p50 per mode, and the
   ratio to the batch's cost of the same cores;
3. warm tiles (all units cached; reprojection + PNG only): p95; tiles outside the raster: p95;
4. memory: resident set after the cache is filled, against the cache limit;
5. in Chromium (when installed): the three-pane page at 1280x900 until every tile is loaded, exact and fast;
   panning away and back to a seen view (seconds, windows evaluated).

Targets (issue #14): warm p95 <= 60 ms; cold exact p50 <= 1.3 s; cold fast p50 <= 0.8 s; outside <= 20 ms;
page <= 6 s exact / <= 3 s fast; pan back <= 0.5 s with 0 windows.

usage: python benchmarks/serve.py [--size 2048] [--tiles 9] [--no-browser]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import psutil

from landcover_sdk import Predictor
from landcover_sdk.data import write_scenes
from landcover_sdk.inference.units import REALTIME_FAST_SETTINGS as FAST_SETTINGS
from landcover_sdk.serve import TileService

MODEL = "builtin:tutorial-250epochs"
TMS = morecantile.tms.get("WebMercatorQuad")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def cold_tiles(service: TileService, n: int) -> list[morecantile.Tile]:
    w, s, e, n_ = service.bounds
    tiles = list(TMS.tiles(w, s, e, n_, zooms=[service.native_zoom]))
    xs = sorted({t.x for t in tiles})[1:-1:2]
    ys = sorted({t.y for t in tiles})[1:-1:2]
    return [morecantile.Tile(x, y, service.native_zoom) for y in ys for x in xs][:n]


def measure_tiles(predictor: Predictor, scene: str, mode: str, n: int) -> dict[str, Any]:
    service = TileService(predictor, scene, mode=mode, model_id="bench")
    try:
        tiles = cold_tiles(service, n)
        cold, windows = [], []
        for t in tiles:
            before = service.metrics()["windows_evaluated"]
            t0 = time.perf_counter()
            service.tile("hard", t.z, t.x, t.y)
            cold.append(time.perf_counter() - t0)
            windows.append(service.metrics()["windows_evaluated"] - before)
        warm = []
        for _ in range(3):
            for t in tiles:
                for layer in ("hard", "soft", "naip"):
                    t0 = time.perf_counter()
                    service.tile(layer, t.z, t.x, t.y)
                    warm.append(time.perf_counter() - t0)
        outside = []
        for k in range(30):
            t0 = time.perf_counter()
            assert service.tile("hard", service.native_zoom, k, k) is None
            outside.append(time.perf_counter() - t0)
        rss = psutil.Process().memory_info().rss
        return {"cold": cold, "windows": windows, "warm": warm, "outside": outside, "rss": rss,
                "cache": service.metrics()["cache_bytes"]}
    finally:
        service.close()


def page_timings(predictor: Predictor, scene: str, mode: str) -> dict[str, float] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-headless-shell")
    if browser is None:
        return None
    import uvicorn
    from playwright.sync_api import sync_playwright

    from landcover_sdk.serve.app import create_app

    service = TileService(predictor, scene, mode=mode, model_id="bench")
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    loaded = "window.lcReady && Object.values(window.lcStatus).every(s => s.pending === 0 && s.loaded > 0)"
    out: dict[str, float] = {}
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=browser, args=["--no-sandbox"])
            page = b.new_page(viewport={"width": 1280, "height": 900})
            t0 = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function(loaded, timeout=300_000)
            out["first view s"] = time.perf_counter() - t0
            home = page.evaluate("window.location.hash") or None
            c = service.describe()["center"]
            z = service.native_zoom
            page.evaluate(f"window.lcMaps.naip.setView([{c[0]} + 0.004, {c[1]} + 0.004], {z}, {{animate: false}})")
            page.wait_for_function(loaded, timeout=300_000)
            before = service.metrics()["windows_evaluated"]
            t0 = time.perf_counter()
            page.evaluate(f"window.lcMaps.naip.setView([{c[0]}, {c[1]}], {z}, {{animate: false}})")
            page.wait_for_function(loaded, timeout=300_000)
            out["pan back s"] = time.perf_counter() - t0
            out["pan back windows"] = service.metrics()["windows_evaluated"] - before
            del home
            b.close()
    finally:
        server.should_exit = True
        service.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--tiles", type=int, default=9)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        scene = write_scenes(tmp, tiles=1, size=args.size, seed=9)[0].image
        predictor = Predictor.from_file(MODEL)
        cores = math.ceil(args.size / 128) ** 2
        per_core: dict[str, float] = {}
        for mode in ("exact", "fast"):
            p = Predictor.from_file(MODEL, mode=mode, **(FAST_SETTINGS if mode == "fast" else {}))
            t0 = time.perf_counter()
            p.predict_raster(scene, Path(tmp) / f"{mode}.tif", progress=False)
            per_core[mode] = (time.perf_counter() - t0) / cores
        print(f"scene {args.size}^2 (1 m), {MODEL}, {os.cpu_count()} CPUs")
        print(f"  batch predict_raster: exact {per_core['exact'] * 1e3:.0f} ms per 128^2 core, "
              f"fast {per_core['fast'] * 1e3:.0f} ms per 128^2 of output")
        for mode in ("exact", "fast"):
            r = measure_tiles(predictor, scene, mode, args.tiles)
            cold_p50 = statistics.median(r["cold"])
            batch_cost = per_core[mode] * statistics.median(r["windows"])  # a unit is one 128² core in both modes
            print(f"  {mode}: cold tile p50 {cold_p50 * 1e3:.0f} ms (n={len(r['cold'])}, "
                  f"{statistics.mean(r['windows']):.1f} windows per tile; "
                  f"x{cold_p50 / batch_cost:.2f} of the batch's cost of the same units), "
                  f"warm tile p95 {percentile(r['warm'], 95) * 1e3:.0f} ms, "
                  f"outside p95 {percentile(r['outside'], 95) * 1e3:.1f} ms, "
                  f"RSS {r['rss'] / 2**20:.0f} MiB with {r['cache'] / 2**20:.0f} MiB cached")
        if not args.no_browser:
            for mode in ("exact", "fast"):
                timings = page_timings(predictor, scene, mode)
                if timings is None:
                    print("  page: no Chromium installed (apt-get install chromium)")
                    break
                print(f"  page, {mode}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                                      for k, v in timings.items()))


if __name__ == "__main__":
    main()
