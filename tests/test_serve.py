"""``landcover serve``: tiles equal to the batch prediction, order-independent, cached, cancellable; the web app."""

from __future__ import annotations

import concurrent.futures as cf
import io
import random
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
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
from landcover_sdk.errors import CoordinateError, DataError, InvalidRasterError, WindowError
from landcover_sdk.inference import soft_labels, softmax
from landcover_sdk.inference.units import REALTIME_FAST_SETTINGS as FAST_SETTINGS
from landcover_sdk.serve import TileService

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from landcover_sdk.serve.app import create_app  # noqa: E402

TINY = Path(__file__).parent / "data" / "cntk" / "tiny.model"
TMS = morecantile.tms.get("WebMercatorQuad")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic 1024² UTM scene near the tutorial's point (with its no-data border)."""
    return Path(write_scenes(tmp_path_factory.mktemp("serve"), tiles=1, size=1024, seed=4)[0].image)


def _batch(scene: Path, mode: str) -> dict[str, Any]:
    settings = FAST_SETTINGS if mode == "fast" else {}
    predictor = Predictor.from_file(TINY, mode=mode, **settings)
    out = scene.with_name(f"classes_{mode}.tif")
    probs = scene.with_name(f"probs_{mode}.tif")
    predictor.predict_raster(scene, out, probabilities=probs, progress=False)
    with rasterio.open(out) as ds:
        classes, transform, crs = ds.read(1), ds.transform, ds.crs
    with rasterio.open(probs) as ds:
        p8 = ds.read()
    scores = predictor.predict_region_scores(scene) if mode == "exact" else None
    return {"classes": classes, "transform": transform, "crs": crs, "probs8": p8,
            "probs": softmax(scores, axis=0) if scores is not None else p8.astype(np.float32) / 255}


@pytest.fixture(scope="module")
def exact_batch(scene: Path) -> dict[str, Any]:
    return _batch(scene, "exact")


@pytest.fixture(scope="module")
def fast_batch(scene: Path) -> dict[str, Any]:
    return _batch(scene, "fast")


def _service(scene: Path | str, mode: str = "exact", **kw: Any) -> TileService:
    return TileService(Predictor.from_file(TINY), scene, mode=mode, model_id="tiny", **kw)


def _tiles(service: TileService, z: int) -> list[morecantile.Tile]:
    w, s, e, n = service.bounds
    return list(TMS.tiles(w, s, e, n, zooms=[z]))


def _warp(array: np.ndarray, batch: dict[str, Any], tile: morecantile.Tile, resampling: Resampling) -> np.ndarray:
    b = TMS.xy_bounds(tile)
    dst = np.zeros((array.shape[0], 256, 256), dtype=array.dtype)
    reproject(array, dst, src_transform=batch["transform"], src_crs=batch["crs"],
              dst_transform=rasterio.transform.from_bounds(b.left, b.bottom, b.right, b.top, 256, 256),
              dst_crs="EPSG:3857", resampling=resampling, tolerance=0)
    return dst


def _decode(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png))


# ---------------------------------------------------------------------------------------------- equal to batch
@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_tiles_equal_the_batch_prediction(scene: Path, exact_batch: dict[str, Any], fast_batch: dict[str, Any],
                                          mode: str) -> None:
    batch = exact_batch if mode == "exact" else fast_batch
    service = _service(scene, mode)
    try:
        zn = service.native_zoom
        tiles = _tiles(service, zn) + _tiles(service, zn + 1)[::5]
        soft_err: list[float] = []
        mismatched = total = 0
        for t in tiles:
            hard = service.tile("hard", t.z, t.x, t.y)
            assert hard is not None
            image = _decode(hard)
            assert image.mode == "P"
            want = _warp(batch["classes"][None], batch, t, Resampling.nearest)[0]
            got = np.asarray(image)
            differ = got != want
            # The warper's float arithmetic may round a pixel centre that sits on a native pixel edge the
            # other way: allowed only where the reference's 3x3 neighbourhood is not one class.
            padded = np.pad(want, 1, mode="edge")
            mixed = np.zeros_like(differ)
            for dy in (0, 1, 2):
                for dx in (0, 1, 2):
                    mixed |= padded[dy : dy + 256, dx : dx + 256] != want
            assert not (differ & ~mixed).any(), t
            mismatched += int(differ.sum())
            total += differ.size
            soft = np.asarray(_decode(service.tile("soft", t.z, t.x, t.y) or b"").convert("RGBA"))
            probs = _warp(batch["probs"].astype(np.float32), batch, t, Resampling.bilinear)
            expected = soft_labels(probs).astype(np.float32)
            seen = soft[..., 3] == 255
            if seen.any():
                soft_err.append(float(np.abs(soft[..., :3].astype(np.float32) - expected)[seen].mean()))
        assert mismatched / total <= 0.001
        assert max(soft_err) <= 1.0
        assert service.metrics()["windows_evaluated"] == service.metrics()["units_computed"]  # one window per unit
    finally:
        service.close()


def test_point_stats_and_export_match_the_batch(scene: Path, exact_batch: dict[str, Any]) -> None:
    service = _service(scene)
    try:
        t = exact_batch["transform"]
        to_wgs = rasterio.warp.transform
        for row, col in [(10, 10), (500, 700), (1023, 1023), (300, 999)]:
            x, y = t.c + (col + 0.5) * t.a, t.f + (row + 0.5) * t.e
            lon, lat = (v[0] for v in to_wgs(exact_batch["crs"], "EPSG:4326", [x], [y]))
            p = service.point(lon, lat)
            assert (p["row"], p["col"]) == (row, col)
            probs = np.array(list(p["probabilities"].values()))
            assert abs(probs.sum() - 1) < 1e-6
            assert np.abs(probs - exact_batch["probs8"][:, row, col] / 255).max() <= 1 / 255 + 2e-3
            assert p["class"] == exact_batch["classes"][row, col]
        with pytest.raises(CoordinateError):
            service.point(0.0, 0.0)
        w, s, e, n = service.bounds
        bbox = (w + (e - w) * 0.2, s + (n - s) * 0.3, w + (e - w) * 0.6, s + (n - s) * 0.5)
        data = service.export(bbox)
        path = scene.with_name("export.tif")
        path.write_bytes(data)
        with rasterio.open(path) as ds:
            got, win = ds.read(1), rasterio.windows.from_bounds(*ds.bounds, transform=t)
            assert ds.colormap(1)[2][:3] == (0, 127, 0)
        r0, c0 = round(win.row_off), round(win.col_off)
        assert np.array_equal(got, exact_batch["classes"][r0 : r0 + got.shape[0], c0 : c0 + got.shape[1]])
        stats = service.stats_in(bbox)
        assert stats["coverage"] == pytest.approx(1.0)  # the export computed every unit in the box
        shares = {c["id"]: c["share"] for c in stats["classes"]}
        counts = np.bincount(got.ravel(), minlength=5)
        valid_counts = counts.copy()
        valid_counts[0] = 0
        assert shares[2] == pytest.approx(valid_counts[2] / valid_counts.sum(), abs=0.02)
        with pytest.raises(WindowError):
            service.export((w - 10, s - 10, w - 9, s - 9))
    finally:
        service.close()


def test_precomputed_classes_serve_hard_tiles_at_every_zoom(scene: Path, exact_batch: dict[str, Any],
                                                            tmp_path: Path) -> None:
    computed = _service(scene)
    precomputed = _service(scene, precomputed=scene.with_name("classes_exact.tif"))
    try:
        zn = computed.native_zoom
        for t in _tiles(computed, zn)[:6]:
            assert precomputed.tile("hard", t.z, t.x, t.y) == computed.tile("hard", t.z, t.x, t.y)
        assert precomputed.metrics()["windows_evaluated"] == 0
        far = _tiles(computed, zn - 5)
        assert computed.tile("hard", far[0].z, far[0].x, far[0].y) == computed.zoom_in_tile()
        coarse = precomputed.tile("hard", far[0].z, far[0].x, far[0].y)
        assert coarse is not None and coarse != computed.zoom_in_tile()
        assert np.asarray(_decode(coarse)).any()
        naip = computed.tile("naip", far[0].z, far[0].x, far[0].y)
        assert naip is not None and np.asarray(_decode(naip))[..., 3].any()
        wrong = tmp_path / "wrong.tif"
        with rasterio.open(scene) as ds:
            profile = {**ds.profile, "count": 1, "width": 100}
            with rasterio.open(wrong, "w", **profile) as out:
                out.write(np.zeros((1, ds.height, 100), np.uint8))
        with pytest.raises(DataError, match="not on the imagery's grid"):
            _service(scene, precomputed=wrong)
    finally:
        computed.close()
        precomputed.close()


# ---------------------------------------------------------------------------------------------- order, cache, abort
def test_tiles_do_not_depend_on_order_cache_or_concurrency(scene: Path) -> None:
    probe = _service(scene)
    zn = probe.native_zoom
    centre = TMS.tile(*reversed(probe.describe()["center"]), zn)  # type: ignore[arg-type]
    probe.close()
    block = [(layer, centre.x + dx, centre.y + dy) for layer in ("soft", "hard")
             for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    results = []
    for seed, workers in ((0, 1), (1, 8)):
        order = block[:]
        random.Random(seed).shuffle(order)
        service = _service(scene)
        try:
            def fetch(key: tuple[str, int, int], service: TileService = service) -> bytes | None:
                return service.tile(key[0], zn, key[1], key[2])

            with cf.ThreadPoolExecutor(workers) as pool:
                cold = dict(zip(order, pool.map(fetch, order), strict=True))
            warm = {k: service.tile(k[0], zn, k[1], k[2]) for k in reversed(order)}
        finally:
            service.close()
        assert cold == warm
        results.append(cold)
    assert results[0] == results[1]


def test_each_unit_once_and_zooming_in_reuses_them(scene: Path) -> None:
    service = _service(scene)
    try:
        zn = service.native_zoom
        tiles = _tiles(service, zn)[:6]
        with cf.ThreadPoolExecutor(6) as pool:  # soft and hard of one place at once: one computation
            list(pool.map(lambda a: service.tile(a[0], a[1].z, a[1].x, a[1].y),
                          [(layer, t) for t in tiles for layer in ("soft", "hard")]))
        touched = {k for t in tiles for k in service._keys(service._tile_window(t.z, t.x, t.y))}  # type: ignore[arg-type]
        m = service.metrics()
        assert m["windows_evaluated"] == m["units_computed"] == len(touched)
        for t in tiles[:2]:
            for child in TMS.children(t, zoom=zn + 1) + TMS.children(t, zoom=zn + 2)[:4]:
                service.tile("hard", child.z, child.x, child.y)
                service.tile("soft", child.z, child.x, child.y)
        assert service.metrics()["windows_evaluated"] == len(touched)
    finally:
        service.close()


def test_small_cache_stays_bounded_and_still_serves(scene: Path) -> None:
    service = _service(scene, cache_mb=0.5)
    try:
        for t in _tiles(service, service.native_zoom)[:8]:
            assert service.tile("hard", t.z, t.x, t.y) is not None
        m = service.metrics()
        assert m["cache_bytes"] <= m["cache_limit_bytes"] + 200_000
    finally:
        service.close()


def test_abandoned_tiles_are_not_computed(scene: Path) -> None:
    service = TileService(Predictor.from_file("builtin:tutorial-250epochs"), scene, model_id="t")
    try:
        zn = service.native_zoom
        tiles = _tiles(service, zn)
        assert len(tiles) >= 20
        requests = [service.request("hard", t.z, t.x, t.y) for t in tiles]
        for r in requests:  # the user zoomed away: the browser aborts them all
            r.cancel()
        service.units([])  # let the worker reach an idle point
        threading.Event().wait(1.0)
        assert service.metrics()["units_computed"] <= 4
        assert service.metrics()["units_dropped"] > 0
    finally:
        service.close()


# ---------------------------------------------------------------------------------------------- the web app
@pytest.fixture()
def client(scene: Path) -> Iterator[TestClient]:
    service = _service(scene)
    with TestClient(create_app(service)) as c:
        yield c
    service.close()


def test_http_routes_etags_and_errors(client: TestClient) -> None:
    info = client.get("/api/info").json()
    assert [c["name"] for c in info["classes"]][1] == "water" and info["native_zoom"] >= 15
    centre = TMS.tile(info["center"][1], info["center"][0], info["native_zoom"])
    url = f"/tiles/hard/{centre.z}/{centre.x}/{centre.y}.png"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["content-type"] == "image/png"
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert client.get("/tiles/hard/3/1/1.png").status_code == 204  # nowhere near the raster
    zoomed_out = client.get(f"/tiles/hard/{info['min_zoom'] - 1}/{centre.x // 8}/{centre.y // 8}.png")
    assert zoomed_out.headers.get("x-landcover-tile") == "zoom-in"
    assert client.get("/tiles/hard/abc/1/2.png").status_code == 422
    assert client.get("/tiles/roads/1/0/0.png").status_code == 404
    assert client.get("/tiles/hard/2/9/0.png").status_code == 400
    assert client.get("/api/point?lon=0&lat=0").status_code == 404
    assert client.get("/api/stats?bbox=1,2,3").status_code == 400
    assert "error" in client.get("/api/stats?bbox=1,2,3").json()
    assert client.get("/").text.count("leaflet.js") == 1
    assert client.get("/static/vendor/leaflet/leaflet.js").status_code == 200
    assert client.get("/favicon.ico").status_code == 200
    page = client.get("/").text + client.get("/static/app.js").text
    assert "http://" not in page and "https://" not in page  # nothing from another host
    m = client.get("/metrics").json()
    assert m["latency"]["hard"]["count"] >= 1


def test_unreadable_source_answers_502_and_the_server_keeps_serving(scene: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.tif"
    with rasterio.open(scene) as src:  # small blocks: the far corner is not in GDAL's cache after one tile
        profile = {**src.profile, "driver": "GTiff", "tiled": True, "blockxsize": 64, "blockysize": 64}
        with rasterio.open(copy, "w", **profile) as dst:
            dst.write(src.read())
    service = _service(copy)
    with TestClient(create_app(service)) as c:
        info = c.get("/api/info").json()
        centre = TMS.tile(info["center"][1], info["center"][0], info["native_zoom"])
        ok = c.get(f"/tiles/hard/{centre.z}/{centre.x}/{centre.y}.png")
        assert ok.status_code == 200
        with open(copy, "r+b") as fh:  # the file is damaged while the server runs
            fh.truncate(4096)
        far = TMS.tile(*TMS.lnglat(*TMS.xy(*_corner(info)), truncate=True), info["native_zoom"])  # type: ignore[misc]
        bad = c.get(f"/tiles/soft/{far.z}/{far.x}/{far.y}.png")
        assert bad.status_code == 502 and "cannot read" in bad.json()["error"]
        assert c.get(f"/tiles/hard/{centre.z}/{centre.x}/{centre.y}.png").status_code == 200  # cached: still served
        assert c.get("/api/info").status_code == 200
    service.close()


def _corner(info: dict[str, Any]) -> tuple[float, float]:
    w, s, e, n = info["bounds"]
    return w + (e - w) * 0.05, s + (n - s) * 0.05


class _RangeHandler(SimpleHTTPRequestHandler):
    """Serves files with single-range ``Range`` requests, as a COG host does."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_head(self) -> Any:
        header = self.headers.get("Range")
        path = Path(self.translate_path(self.path))
        if not header or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        start_text, end_text = header.removeprefix("bytes=").split("-")
        start = int(start_text)
        end = min(int(end_text) if end_text else size - 1, size - 1)
        fh = path.open("rb")
        fh.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.ranges.append((start, end))  # type: ignore[attr-defined]
        return io.BytesIO(fh.read(end - start + 1))


def test_remote_cogs_over_http_ranges_and_azurite(scene: Path, blob_store: Any, tmp_path: Path) -> None:
    root = tmp_path / "www"
    root.mkdir()
    shutil.copy(scene, root / "scene.tif")
    ranges: list[tuple[int, int]] = []
    handler = type("H", (_RangeHandler,), {"ranges": ranges})

    def make(*args: Any) -> Any:
        return handler(*args, directory=str(root))

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/scene.tif"
    blob = f"az://{blob_store.container}/cogs/scene.tif"
    blob_store.upload(scene, blob)
    local = _service(scene)
    try:
        centre = TMS.tile(local.describe()["center"][1], local.describe()["center"][0], local.native_zoom)
        want = {layer: local.tile(layer, centre.z, centre.x, centre.y) for layer in ("naip", "hard")}
        for source in (url, blob):
            remote = _service(source)
            try:
                for layer, data in want.items():
                    assert remote.tile(layer, centre.z, centre.x, centre.y) == data, (source, layer)
                assert remote.describe()["source"] == source
            finally:
                remote.close()
        assert ranges and all(end - start < scene.stat().st_size for start, end in ranges)  # read by ranges
        with pytest.raises(InvalidRasterError) as refused:  # nothing listening: named, token-free, one line
            _service("https://127.0.0.1:9/scene.tif?sv=2024&sig=SECRET")
        assert "SECRET" not in str(refused.value) and refused.value.__cause__ is None
        assert str(refused.value).startswith("https://127.0.0.1:9/scene.tif:")
    finally:
        local.close()
        httpd.shutdown()


def test_two_models_side_by_side_in_one_app(scene: Path) -> None:
    tiny = _service(scene)
    tutorial = TileService(Predictor.from_file("builtin:tutorial-250epochs"), scene, model_id="tutorial")
    try:
        with TestClient(create_app({"tiny": tiny, "tutorial": tutorial})) as c:
            listed = c.get("/api/info").json()["models"]
            assert [(m["name"], m["url"], m["model"]) for m in listed] == [("tiny", "tiny/", "tiny"),
                                                                           ("tutorial", "tutorial/", "tutorial")]
            assert c.get("/", follow_redirects=False).headers["location"] == "tiny/"
            assert "leaflet.js" in c.get("/tutorial/").text
            info = c.get("/tiny/api/info").json()
            assert info["name"] == "tiny" and info["model"] == "tiny"
            centre = TMS.tile(info["center"][1], info["center"][0], info["native_zoom"])
            path = f"tiles/hard/{centre.z}/{centre.x}/{centre.y}.png"
            a, b = c.get(f"/tiny/{path}"), c.get(f"/tutorial/{path}")
            assert a.status_code == b.status_code == 200
            assert a.content == tiny.tile("hard", centre.z, centre.x, centre.y)  # each its own model's tile
            assert b.content == tutorial.tile("hard", centre.z, centre.x, centre.y)
            assert a.content != b.content and a.headers["etag"] != b.headers["etag"]
            assert c.get(f"/tutorial/{path}", headers={"If-None-Match": a.headers["etag"]}).status_code == 200
            assert c.get("/tutorial/api/point?lon=0&lat=0").status_code == 404
            assert c.get("/tiny/metrics").json()["units_computed"] >= 1
            assert c.get("/static/app.js").status_code == 200
    finally:
        tiny.close()
        tutorial.close()


def test_the_page_script_uses_urls_relative_to_the_models_page() -> None:
    from landcover_sdk.serve.app import static_dir

    script = (Path(static_dir()) / "app.js").read_text()
    for absolute in ('"/api', "`/api", '"/tiles', "`/tiles", "'/api", "'/tiles"):
        assert absolute not in script


def test_errors_map_to_statuses_through_one_table_and_modes_are_config_errors(scene: Path) -> None:
    from landcover_sdk.errors import ConfigError, LandcoverError, SourceError
    from landcover_sdk.serve.app import status_of
    from landcover_sdk.serve.service import SourceError as ServiceSourceError

    assert ServiceSourceError is SourceError
    assert [status_of(e) for e in (SourceError("x"), CoordinateError("x"), WindowError("x"), LandcoverError("x"),
                                   RuntimeError("x"))] == [502, 404, 400, 400, 500]
    with pytest.raises(ConfigError, match="'quick' is not 'exact' or 'fast'"):
        TileService(Predictor.from_file(TINY), scene, mode="quick")


def test_serve_models_parse_named_and_plain() -> None:
    from landcover_sdk.cli.serve_cmd import parse_models
    from landcover_sdk.errors import ConfigError

    assert parse_models(["m.onnx"]) == {"": "m.onnx"}
    assert parse_models(["a=m.onnx", "b=builtin:tutorial-250epochs"]) == {"a": "m.onnx",
                                                                          "b": "builtin:tutorial-250epochs"}
    assert parse_models(["az://c/m.onnx?sv=1&sig=x"]) == {"": "az://c/m.onnx?sv=1&sig=x"}
    both = parse_models(["x/m.onnx", "builtin:tutorial-250epochs"])
    assert both == {"m": "x/m.onnx", "tutorial-250epochs": "builtin:tutorial-250epochs"}
    with pytest.raises(ConfigError, match="twice"):
        parse_models(["a=m.onnx", "a=n.onnx"])
