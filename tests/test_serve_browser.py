"""The ``landcover serve`` page in a real headless Chromium (the distribution's package, driven by Playwright).

CI installs Chromium and sets ``LANDCOVER_REQUIRE_BROWSER=1``, so a missing browser fails there; elsewhere
the test is skipped with the reason.
"""

from __future__ import annotations

import io
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import morecantile
import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.enums import Resampling
from rasterio.warp import reproject

from landcover_sdk import Predictor
from landcover_sdk.data.synthetic import write_scenes

from .conftest import required_tool

uvicorn = pytest.importorskip("uvicorn")
playwright_api = pytest.importorskip("playwright.sync_api")

from landcover_sdk.serve import TileService  # noqa: E402
from landcover_sdk.serve.app import create_app  # noqa: E402

TINY = Path(__file__).parent / "data" / "cntk" / "tiny.model"
TMS = morecantile.tms.get("WebMercatorQuad")
BACKGROUND = (0xDC, 0xDC, 0xD8)  # .map's CSS background



def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "chromium-headless-shell"):
        path = shutil.which(name)
        if path:
            return path
    return required_tool(None, require_env="LANDCOVER_REQUIRE_BROWSER",
                         missing="no Chromium found (apt-get install chromium)")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    browser_path = _chromium()
    folder = tmp_path_factory.mktemp("browser")
    scene = write_scenes(folder, tiles=1, size=1024, seed=4)[0].image
    predictor = Predictor.from_file(TINY)
    classes_path = folder / "classes.tif"
    predictor.predict_raster(scene, classes_path, progress=False)
    service = TileService(predictor, scene, model_id="tiny")
    server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield {"url": f"http://127.0.0.1:{port}", "service": service, "classes": classes_path, "browser": browser_path,
           "out": folder}
    server.should_exit = True
    thread.join(10)
    service.close()


def _tiles_on_screen(page: Any, pane: str) -> list[dict[str, Any]]:
    """Each loaded tile image of a pane: its URL and where it sits in the map's box."""
    return page.evaluate("""(pane) => {
        const box = document.getElementById(`map-${pane}`).getBoundingClientRect();
        return [...document.querySelectorAll(`#map-${pane} .leaflet-tile-pane img.leaflet-tile-loaded`)].map((img) => {
            const r = img.getBoundingClientRect();
            return {src: img.src, x: r.left - box.left, y: r.top - box.top, w: r.width, h: r.height};
        });
    }""", pane)


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as r:
        return bytes(r.read())


def _screenshot(page: Any, pane: str) -> np.ndarray:
    """The pane's map as shown, cropped to its whole pixels (a fractional height rounds up into the border)."""
    png = page.locator(f"#map-{pane}").screenshot()
    h, w = page.evaluate(f"(() => {{ const r = document.getElementById('map-{pane}').getBoundingClientRect(); "
                         "return [Math.floor(r.height), Math.floor(r.width)]; })()")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))[:h, :w]


def _wait_loaded(page: Any) -> None:
    page.wait_for_function(
        "window.lcReady && Object.values(window.lcStatus).every(s => s.pending === 0 && s.loaded > 0)",
        timeout=120_000)


def test_three_synced_panes_in_chromium(served: dict[str, Any]) -> None:
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=served["browser"], args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(served["url"] + "/")
        _wait_loaded(page)
        page.screenshot(path=str(served["out"] / "serve.png"))
        status = page.evaluate("window.lcStatus")
        assert all(s["errors"] == 0 and s["loaded"] > 0 for s in status.values()), status
        legend = page.locator("#legend li")
        assert legend.count() == 5
        assert "water" in legend.nth(1).inner_text()
        page.add_style_tag(content=".leaflet-control-container { display: none; }")

        # Imagery pane: exactly the server's tiles, where Leaflet put them.
        shot = _screenshot(page, "naip")
        expected = np.empty_like(shot)
        expected[:] = BACKGROUND
        canvas = Image.fromarray(expected)
        for t in _tiles_on_screen(page, "naip"):
            assert t["w"] == 256 and t["h"] == 256 and float(t["x"]).is_integer()
            tile = Image.open(io.BytesIO(_fetch(t["src"]))).convert("RGBA")
            canvas.paste(tile, (int(t["x"]), int(t["y"])), tile)
        differ = (np.asarray(canvas) != shot).any(axis=2)
        if differ.any():
            Image.fromarray(shot).save(served["out"] / "naip-shot.png")
            canvas.save(served["out"] / "naip-expected.png")
            rows, cols = np.nonzero(differ)
            raise AssertionError(f"{differ.sum()} pixels differ, rows {rows.min()}-{rows.max()}, "
                                 f"cols {cols.min()}-{cols.max()} of {shot.shape}")

        # Classification pane: the colours on screen are the offline prediction's classes.
        zoom = page.evaluate("window.lcMaps.hard.getZoom()")
        colours = served["service"].scheme.colors.astype(int)
        shot = _screenshot(page, "hard").astype(int)
        seen = np.full(shot.shape[:2], -1)
        for k, c in enumerate(colours):
            seen[(shot == c).all(axis=2)] = k
        want = np.full(shot.shape[:2], -1)
        with rasterio.open(served["classes"]) as ds:
            classes, transform, crs = ds.read(1), ds.transform, ds.crs
        for t in _tiles_on_screen(page, "hard"):
            z, x, y = (int(v) for v in t["src"].rsplit(".", 1)[0].split("/")[-3:])
            assert z == zoom
            b = TMS.xy_bounds(morecantile.Tile(x, y, z))
            tile = np.zeros((256, 256), np.uint8)
            reproject(classes, tile, src_transform=transform, src_crs=crs, dst_crs="EPSG:3857",
                      dst_transform=rasterio.transform.from_bounds(b.left, b.bottom, b.right, b.top, 256, 256),
                      resampling=Resampling.nearest, tolerance=0)
            x0, y0 = int(t["x"]), int(t["y"])
            xs, ys = max(0, x0), max(0, y0)
            xe, ye = min(shot.shape[1], x0 + 256), min(shot.shape[0], y0 + 256)
            if xs < xe and ys < ye:
                want[ys:ye, xs:xe] = tile[ys - y0 : ye - y0, xs - x0 : xe - x0]
        predicted = want > 0  # class 0 (no data) is transparent
        assert predicted.sum() > 50_000
        assert (seen[predicted] == want[predicted]).mean() >= 0.995

        # Drag the soft pane: every pane follows, to the same centre and zoom.
        box = page.locator("#map-soft").bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + 60, cy + 20, steps=5)
        page.mouse.move(cx + 123, cy + 45, steps=5)
        page.mouse.up()
        page.wait_for_function("""() => {
            const [a, b, c] = ['naip', 'soft', 'hard'].map((p) => window.lcMaps[p]);
            // the same zoom, centres within about a pixel (Leaflet rounds each map's pixel origin by its size)
            const same = (m) => m.getZoom() === a.getZoom()
                && m.project(m.getCenter()).distanceTo(a.project(a.getCenter())) < 1.5;
            return same(b) && same(c) && window.location.hash.length > 3;
        }""", timeout=10_000)
        _wait_loaded(page)
        moved = page.evaluate("window.lcMaps.soft.getCenter()")
        centre = served["service"].describe()["center"]
        assert abs(moved["lng"] - centre[1]) > 1e-5  # it did move
        page.screenshot(path=str(served["out"] / "serve-dragged.png"))
        browser.close()
    assert not errors, errors
