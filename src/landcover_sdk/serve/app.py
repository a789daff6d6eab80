"""The web app of ``landcover serve``: a thin FastAPI layer over :class:`~.service.TileService`.

Routes: ``/`` (the three-pane page), ``/tiles/{naip|soft|hard}/{z}/{x}/{y}.png``, ``/api/info``,
``/api/point``, ``/api/stats``, ``/api/export``, ``/metrics``, ``/static/…`` (the page's own files and
the vendored Leaflet; nothing is fetched from another host). Tiles carry a strong ``ETag``
(``If-None-Match`` → 304 without any work), 204 outside the raster; a browser that gives a tile up
(Leaflet aborts tiles on zoom) cancels its computation.
"""

from __future__ import annotations

import asyncio
import time
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from ..errors import CoordinateError, LandcoverError, WindowError
from .service import LAYERS, SourceError, TileService

#: How often a waiting tile checks whether its browser is still there.
DISCONNECT_POLL_S = 0.05


def static_dir() -> str:
    """The folder of the page's files (HTML, JS, CSS, vendored Leaflet)."""
    return str(resources.files("landcover_sdk.serve") / "static")


def create_app(service: TileService) -> FastAPI:
    """The ASGI app serving ``service``.

    Args:
        service: the tile service (its source, model and cache).
    """
    app = FastAPI(title="landcover serve", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.service = service
    static = static_dir()
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.exception_handler(LandcoverError)
    async def landcover_error(_: Request, exc: LandcoverError) -> JSONResponse:
        status = 502 if isinstance(exc, SourceError) else (404 if isinstance(exc, CoordinateError) else 400)
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(f"{static}/index.html", media_type="text/html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(f"{static}/favicon.png", media_type="image/png")

    @app.get("/api/info")
    async def info() -> dict[str, Any]:
        return service.describe()

    @app.get("/tiles/{layer}/{z}/{x}/{y}.png")
    async def tile(request: Request, layer: str, z: int, x: int, y: int) -> Response:
        if layer not in LAYERS:
            raise HTTPException(404, f"no layer {layer!r} (layers: {', '.join(LAYERS)})")
        if not 0 <= z <= 30 or not (0 <= x < 2**z and 0 <= y < 2**z):
            raise HTTPException(400, f"tile {z}/{x}/{y} does not exist")
        etag = f'"{service.etag(layer, z, x, y)}"'
        headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
        if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
            return Response(status_code=304, headers=headers)
        t0 = time.perf_counter()
        req = service.request(layer, z, x, y)
        waiter = asyncio.wrap_future(req.future)
        try:
            while True:
                done, _ = await asyncio.wait({waiter}, timeout=DISCONNECT_POLL_S)
                if done:
                    break
                if await request.is_disconnected():
                    req.cancel()
                    return Response(status_code=499)
            data = waiter.result()
        except asyncio.CancelledError:
            req.cancel()
            raise
        if data is None:
            return Response(status_code=204, headers=headers)
        if data is service.zoom_in_tile():
            headers["X-Landcover-Tile"] = "zoom-in"
        headers["Server-Timing"] = f"tile;dur={(time.perf_counter() - t0) * 1e3:.1f}"
        return Response(data, media_type="image/png", headers=headers)

    @app.get("/api/point")
    async def point(lon: float = Query(...), lat: float = Query(...)) -> dict[str, Any]:
        return await asyncio.to_thread(service.point, lon, lat)

    @app.get("/api/stats")
    async def stats(bbox: str = Query(..., description="min lon,min lat,max lon,max lat"),
                    compute: bool = False) -> dict[str, Any]:
        return await asyncio.to_thread(service.stats_in, _bbox(bbox), compute=compute)

    @app.get("/api/export")
    async def export(bbox: str = Query(..., description="min lon,min lat,max lon,max lat")) -> Response:
        data = await asyncio.to_thread(service.export, _bbox(bbox))
        return Response(data, media_type="image/tiff",
                        headers={"Content-Disposition": 'attachment; filename="landcover.tif"'})

    @app.get("/metrics")
    async def metrics() -> dict[str, Any]:
        return service.metrics()

    return app


def _bbox(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise WindowError(f"bbox: {text!r} is not four numbers (min lon,min lat,max lon,max lat)") from None
    if len(values) != 4:
        raise WindowError(f"bbox: {text!r} is not four numbers (min lon,min lat,max lon,max lat)")
    return values
