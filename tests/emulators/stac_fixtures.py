"""Offline NAIP-from-STAC harness: NAIP-shaped COGs, a range-capable HTTP server, a real STAC API (`rustac
serve`) behind a fault-injecting proxy, and a Planetary-Computer-style SAS token endpoint minting real Azurite
SAS tokens. Everything listens on 127.0.0.1 and is stopped by its fixture.

The world (all 1 m unless said; NAD83 UTM like NAIP; the tutorial's point is in tile A):

- ``A``  va 2021, zone 17, 4096², holds the tutorial point (37.055522, -78.638640) with room for 1024 + margin.
- ``B``  va 2021, zone 17, east of A overlapping it by 300 px; band 4 tagged *alpha*, NIR 0 in stripes.
- ``A23`` va 2023, 3 bands declared in ``eo:bands``; ``A24`` va 2024, 3 bands, no band metadata (header only).
- ``W17``/``E18`` va 2021 either side of the 17N/18N line at -78° (E18 alpha-tagged with NIR zeros).
- ``F06`` va 2022 at 0.6 m; ``F03`` va 2022 at 0.3 m.
- ``NC20``/``VA22``: a state line, nc 2020 south and va 2022 north, each covering half of a place.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.warp import transform_geom

TUTORIAL = (37.055522, -78.638640)
#: Places (lat, lon) the tests use.
ZONE_LINE = (37.05, -78.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


# ---------------------------------------------------------------------------- imagery
@dataclass(frozen=True)
class Tile:
    name: str
    crs: str
    transform: Affine
    height: int
    width: int
    year: int
    state: str
    bands: int = 4
    alpha: bool = False
    declare_bands: bool = True
    meta: str = "proj:epsg"  # how the item names its CRS: proj:epsg, proj:code or none

    @property
    def gsd(self) -> float:
        return round(self.transform.a, 1)

    @property
    def file(self) -> str:
        return f"{self.state}/{self.year}/{self.name}.tif"


def _utm_origin(crs: str, lat: float, lon: float, dx: float, dy: float) -> tuple[float, float]:
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    return float(round(x + dx)), float(round(y + dy))


def world_tiles() -> list[Tile]:
    lat, lon = TUTORIAL
    ax, ay = _utm_origin("EPSG:26917", lat, lon, -1968, 1960)
    tiles = [
        Tile("A", "EPSG:26917", Affine(1, 0, ax, 0, -1, ay), 4096, 4096, 2021, "va"),
        Tile("B", "EPSG:26917", Affine(1, 0, ax + 4096 - 300, 0, -1, ay), 4096, 2048, 2021, "va", alpha=True,
             meta="proj:code"),
        Tile("A23", "EPSG:26917", Affine(1, 0, ax + 1000, 0, -1, ay - 1000), 2048, 2048, 2023, "va", bands=3),
        Tile("A24", "EPSG:26917", Affine(1, 0, ax + 1000, 0, -1, ay - 1000), 2048, 2048, 2024, "va", bands=3,
             declare_bands=False, meta="none"),
    ]
    zl, zo = ZONE_LINE
    wx, wy = _utm_origin("EPSG:26917", zl, zo, -2000, 1200)
    ex, ey = _utm_origin("EPSG:26918", zl, zo, -200, 1200)
    tiles += [
        Tile("W17", "EPSG:26917", Affine(1, 0, wx, 0, -1, wy), 2400, 2300, 2021, "va"),
        Tile("E18", "EPSG:26918", Affine(1, 0, ex, 0, -1, ey), 2400, 2000, 2021, "va", alpha=True),
    ]
    fx, fy = _utm_origin("EPSG:26917", 37.2, -78.4, -720, 720)
    tiles.append(Tile("F06", "EPSG:26917", Affine(0.6, 0, fx, 0, -0.6, fy), 2400, 2400, 2022, "va"))
    gx, gy = _utm_origin("EPSG:26917", 37.25, -78.4, -300, 300)
    tiles.append(Tile("F03", "EPSG:26917", Affine(0.3, 0, gx, 0, -0.3, gy), 2000, 2000, 2022, "va"))
    sx, sy = _utm_origin("EPSG:26917", 36.9, -78.9, -900, 0)
    tiles += [  # the state line runs east-west through (36.9, -78.9)
        Tile("NC20", "EPSG:26917", Affine(1, 0, sx, 0, -1, sy + 20), 1000, 1800, 2020, "nc"),
        Tile("VA22", "EPSG:26917", Affine(1, 0, sx, 0, -1, sy + 1000), 1000, 1800, 2022, "va"),
    ]
    return tiles


def texture(tile: Tile, seed: int) -> np.ndarray:
    """NAIP-like 4-band uint8 pixels: smooth fields, edges and noise; never all-zero; NIR zero stripes if alpha."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:tile.height, 0:tile.width].astype(np.float32)
    xx *= tile.transform.a
    yy *= tile.transform.a
    base = np.sin(xx / 41.0 + seed) * np.cos(yy / 57.0) + 0.5 * np.sin((xx + yy) / 13.0)
    out = np.empty((tile.bands, tile.height, tile.width), dtype=np.uint8)
    for b in range(tile.bands):
        noise = rng.integers(0, 24, size=(tile.height, tile.width), dtype=np.uint8)
        band = 100 + 55 * base * (1 if b % 2 else -1) + (b * 9)
        out[b] = np.clip(band, 1, 230).astype(np.uint8) + noise
    if tile.alpha:
        stripes = ((np.arange(tile.width) // 37) % 5 == 0)[None, :] & ((np.arange(tile.height) // 29) % 3 == 0)[:, None]
        out[3][stripes] = 0
    return out


def write_tile(tile: Tile, root: Path, seed: int) -> Path:
    path = root / tile.file
    path.parent.mkdir(parents=True, exist_ok=True)
    data = texture(tile, seed)
    profile: dict[str, Any] = dict(driver="GTiff", width=tile.width, height=tile.height, count=tile.bands,
                                   dtype="uint8", crs=tile.crs, transform=tile.transform, tiled=True,
                                   blockxsize=512, blockysize=512, compress="deflate")
    if tile.alpha:
        profile.update(photometric="RGB", alpha="YES")
    staging = path.with_suffix(".staging.tif")
    with rasterio.open(staging, "w", **profile) as ds:
        ds.write(data)
    rasterio.shutil.copy(staging, path, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=512,
                         **({"ALPHA": "YES"} if tile.alpha else {}))
    staging.unlink()
    return path


def stac_item(tile: Tile, href: str) -> dict[str, Any]:
    t = tile.transform
    left, top = t.c, t.f
    right, bottom = t.c + t.a * tile.width, t.f + t.e * tile.height
    geom = transform_geom(tile.crs, "EPSG:4326", {"type": "Polygon", "coordinates": [[
        [left, bottom], [right, bottom], [right, top], [left, top], [left, bottom]]]}, precision=9)
    xs = [c[0] for c in geom["coordinates"][0]]
    ys = [c[1] for c in geom["coordinates"][0]]
    props: dict[str, Any] = {"datetime": f"{tile.year}-07-15T16:00:00Z", "naip:year": str(tile.year),
                             "naip:state": tile.state, "gsd": tile.gsd, "proj:shape": [tile.height, tile.width],
                             "proj:transform": list(t)[:6]}
    epsg = int(tile.crs.split(":")[1])
    if tile.meta == "proj:epsg":
        props["proj:epsg"] = epsg
    elif tile.meta == "proj:code":
        props["proj:code"] = tile.crs
    asset: dict[str, Any] = {"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                             "roles": ["data"], "title": "RGBIR COG tile"}
    if tile.declare_bands:
        names = ["Red", "Green", "Blue", "NIR"][: tile.bands]
        asset["eo:bands"] = [{"name": n} for n in names]
    item_id = f"{tile.state}_m_{tile.name.lower()}_{tile.year}"
    return {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "naip",
            "geometry": geom, "bbox": [min(xs), min(ys), max(xs), max(ys)], "properties": props,
            "assets": {"image": asset, "thumbnail": {"href": href.replace(".tif", ".200.jpg")}},
            "links": [], "stac_extensions": []}


def collection_json() -> dict[str, Any]:
    return {"type": "Collection", "stac_version": "1.0.0", "id": "naip", "description": "NAIP (test)",
            "license": "proprietary", "links": [],
            "extent": {"spatial": {"bbox": [[-125, 24, -66, 50]]}, "temporal": {"interval": [[None, None]]}}}


@dataclass
class World:
    root: Path
    tiles: dict[str, Tile]

    def path(self, name: str) -> Path:
        return self.root / self.tiles[name].file

    def items(self, href: Callable[[Tile], str], names: list[str] | None = None) -> list[dict[str, Any]]:
        return [stac_item(t, href(t)) for n, t in self.tiles.items() if names is None or n in names]


def build_world(root: Path) -> World:
    tiles = {t.name: t for t in world_tiles()}
    for i, tile in enumerate(tiles.values()):
        write_tile(tile, root, seed=11 + i)
    return World(root, tiles)


# ---------------------------------------------------------------------------- servers
@dataclass
class Traffic:
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # (method, path, range)
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.bytes_sent = 0


class RangeServer:
    """Serves a folder with single-range requests (as a COG host); counts requests and bytes; can delay."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.traffic = Traffic()
        self.delay = 0.0
        self.rate = 0.0  # bytes per second a response is throttled to (0: as fast as loopback goes)
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def send_head(self) -> Any:
                if server.delay:
                    time.sleep(server.delay)
                header = self.headers.get("Range")
                path = Path(self.translate_path(self.path))
                with server.traffic.lock:
                    server.traffic.requests.append((self.command, self.path, header))
                if not path.is_file():
                    return super().send_head()
                size = path.stat().st_size
                if not header:
                    with server.traffic.lock:
                        server.traffic.bytes_sent += size if self.command == "GET" else 0
                    if server.rate and self.command == "GET":
                        time.sleep(size / server.rate)
                    return super().send_head()
                start_text, end_text = header.removeprefix("bytes=").split("-")
                start = int(start_text)
                end = min(int(end_text) if end_text else size - 1, size - 1)
                with path.open("rb") as fh:
                    fh.seek(start)
                    body = fh.read(end - start + 1)
                self.send_response(206)
                self.send_header("Content-Type", "image/tiff")
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                with server.traffic.lock:
                    server.traffic.bytes_sent += len(body)
                if server.rate:
                    time.sleep(len(body) / server.rate)
                return io.BytesIO(body)

        def make(*args: Any) -> Any:
            return Handler(*args, directory=str(root))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, relative: str) -> str:
        return f"http://127.0.0.1:{self.port}/{relative}"

    def full_gets(self) -> list[str]:
        return [p for m, p, r in self.traffic.requests if m == "GET" and r is None]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class StacApi:
    """``rustac serve`` (in-memory STAC API) behind a proxy that counts requests and can inject faults.

    ``faults`` is consumed one per ``POST /search``: an int status (e.g. 503), ``(status, headers)``, or
    ``"malformed"`` (200 with invalid JSON).
    """

    def __init__(self, binary: str, folder: Path, items: list[dict[str, Any]]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "collection.json").write_text(json.dumps(collection_json()))
        (folder / "items.json").write_text(json.dumps({"type": "FeatureCollection", "features": items}))
        self.port = free_port()
        backend = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([binary, "serve", "--addr", self.url, "--bind", f"127.0.0.1:{backend}",
                                      str(folder / "collection.json"), str(folder / "items.json")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(backend, self.proc)
        self.calls: list[tuple[str, str]] = []
        self.faults: list[Any] = []
        self.hang = 0.0
        api = self

        class Proxy(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                api.calls.append((self.command, self.path))
                if self.command == "POST" and urllib.parse.urlsplit(self.path).path.endswith("/search") \
                        and api.faults:
                    fault = api.faults.pop(0)
                    if fault == "malformed":
                        self._reply(200, b'{"type": "FeatureCollection", "features": [', {})
                        return
                    status, headers = (fault, {}) if isinstance(fault, int) else fault
                    self._reply(status, json.dumps({"code": "Busy", "description": "injected"}).encode(), headers)
                    return
                if api.hang:
                    time.sleep(api.hang)
                conn = http.client.HTTPConnection("127.0.0.1", backend, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                relay(self, resp, data)

            def _reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward  # noqa: N815 (http.server's names)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Proxy)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def searches(self) -> int:
        return sum(1 for m, p in self.calls if m == "POST" and p.split("?")[0].endswith("/search"))

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.proc.kill()
        self.proc.wait(timeout=10)


class TokenEndpoint:
    """The Planetary Computer's ``GET /api/sas/v1/token/{account}/{container}``, minting real Azurite SAS tokens.

    ``script`` is consumed one per call: a number of seconds the SAS stays valid (negative: already expired),
    or ``"429"`` for a rate-limit answer. ``claimed`` is the validity the answer's ``msft:expiry`` announces
    (the Planetary Computer has been seen handing out tokens already expired: the client must not trust it).
    """

    def __init__(self, account: str, key: str) -> None:
        self.account, self.key = account, key
        self.script: list[Any] = []
        self.default = 3600.0
        self.claimed = 3600.0
        self.calls = 0
        self.issued: list[str] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                endpoint.calls += 1
                parts = [p for p in self.path.split("?")[0].split("/") if p]
                step = endpoint.script.pop(0) if endpoint.script else endpoint.default
                if step == "429":
                    self.send_response(429)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                token = endpoint.mint(parts[-2], parts[-1], float(step))
                expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + endpoint.claimed))
                body = json.dumps({"msft:expiry": expiry, "token": token}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/sas/v1/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def mint(self, account: str, container: str, seconds: float) -> str:
        import datetime as dt

        from azure.storage.blob import ContainerSasPermissions, generate_container_sas

        now = dt.datetime.now(dt.timezone.utc)
        start = now - dt.timedelta(minutes=5) if seconds > 0 else now - dt.timedelta(hours=2)
        token = str(generate_container_sas(account, container, account_key=self.key, start=start,
                                           permission=ContainerSasPermissions(read=True, list=True),
                                           expiry=now + dt.timedelta(seconds=seconds)))
        self.issued.append(token)
        return token

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SlowProxy:
    """Forwards HTTP to another port, sleeping before each request (a slow link to Azurite)."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.delay = delay
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                time.sleep(proxy.delay)
                conn = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                relay(self, resp, data)

            do_GET = do_HEAD = _forward  # noqa: N815 (http.server's names)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def relay(handler: BaseHTTPRequestHandler, resp: http.client.HTTPResponse, body: bytes) -> None:
    """Send an upstream response back through a proxy's handler: status, end-to-end headers, body.

    A HEAD answer keeps the upstream's Content-Length (the size of the resource, which GDAL reads as the file
    size), not the length of the empty body.
    """
    handler.send_response(resp.status)
    for k, v in resp.getheaders():
        if k.lower() not in ("transfer-encoding", "connection", "content-length"):
            handler.send_header(k, v)
    length = resp.getheader("Content-Length") if handler.command == "HEAD" else None
    handler.send_header("Content-Length", length or str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def rustac_binary() -> str | None:
    import sys

    here = Path(sys.executable).parent / "rustac"
    return str(here) if here.exists() else shutil.which("rustac")


@contextlib.contextmanager
def stac_api(binary: str, folder: Path, items: list[dict[str, Any]]) -> Iterator[StacApi]:
    api = StacApi(binary, folder, items)
    try:
        yield api
    finally:
        api.stop()
