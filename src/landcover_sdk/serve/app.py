"""The web app of ``landcover serve``: a thin FastAPI layer over :class:`~.service.TileService`.

:func:`tile_router` makes the routes of one service, relative to wherever it is mounted: ``/`` (the
three-pane page), ``tiles/{naip|soft|hard}/{z}/{x}/{y}.png``, ``api/info``, ``api/point``,
``api/stats``, ``api/export``, ``metrics``. :func:`create_app` mounts one service at ``/`` (the URLs
of a single-model server are as they always were) or several side by side under ``/{name}/``, and
serves ``/static/…`` (the page's own files and the vendored Leaflet; nothing is fetched from another
host). Tiles carry a strong ``ETag`` (``If-None-Match`` → 304 without any work), 204 outside the
raster; a browser that gives a tile up (Leaflet aborts tiles on zoom) cancels its computation.
Errors map to HTTP statuses through :data:`STATUS_CODES`. ``docs/http-api.md`` is the reference.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ..errors import CoordinateError, LandcoverError, SourceError, WindowError
from .service import LAYERS, TileService

#: How often a waiting tile checks whether its browser is still there.
DISCONNECT_POLL_S = 0.05

#: The HTTP status of each error (the most specific class listed wins): an unreadable source is the upstream's
#: fault (502), a position outside the raster is not found (404), any other SDK error is a bad request (400).
STATUS_CODES: dict[type[Exception], int] = {
    SourceError: 502,
    CoordinateError: 404,
    LandcoverError: 400,
}


def static_dir() -> str:
    """The folder of the page's files (HTML, JS, CSS, vendored Leaflet)."""
    return str(resources.files("landcover_sdk.serve") / "static")


def status_of(exc: Exception) -> int:
    """The HTTP status :data:`STATUS_CODES` gives ``exc`` (500 if none does).

    Args:
        exc: the error.
    """
    for cls in type(exc).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


def tile_router(service: TileService, *, name: str = "") -> APIRouter:
    """The routes of one service, relative to where they are mounted.

    Args:
        service: the tile service (its source, model and cache).
        name: the name it is mounted under (shown in ``api/info``; empty at the root).
    """
    router = APIRouter()
    static = static_dir()

    @router.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(f"{static}/index.html", media_type="text/html")

    @router.get("/api/info")
    async def info() -> dict[str, Any]:
        return {**service.describe(), "name": name}

    @router.get("/tiles/{layer}/{z}/{x}/{y}.png")
    async def tile(request: Request, layer: str, z: int, x: int, y: int) -> Response:
        if layer not in LAYERS:  # a resource that does not exist: 404, where a tile off the grid is a bad request
            raise HTTPException(404, f"no layer {layer!r} (layers: {', '.join(LAYERS)})")
        service.check_tile(layer, z, x, y)
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
            result = waiter.result()
        except asyncio.CancelledError:
            req.cancel()
            raise
        if result.kind == "outside":
            return Response(status_code=204, headers=headers)
        if result.kind == "zoom_in":
            headers["X-Landcover-Tile"] = "zoom-in"
        headers["Server-Timing"] = f"tile;dur={(time.perf_counter() - t0) * 1e3:.1f}"
        return Response(result.data, media_type="image/png", headers=headers)

    @router.get("/api/point")
    async def point(lon: float = Query(...), lat: float = Query(...)) -> dict[str, Any]:
        return await asyncio.to_thread(service.point, lon, lat)

    @router.get("/api/stats")
    async def stats(bbox: str = Query(..., description="min lon,min lat,max lon,max lat"),
                    compute: bool = False) -> dict[str, Any]:
        return await asyncio.to_thread(service.stats_in, _bbox(bbox), compute=compute)

    @router.get("/api/export")
    async def export(bbox: str = Query(..., description="min lon,min lat,max lon,max lat")) -> Response:
        data = await asyncio.to_thread(service.export, _bbox(bbox))
        return Response(data, media_type="image/tiff",
                        headers={"Content-Disposition": 'attachment; filename="landcover.tif"'})

    @router.get("/metrics")
    async def metrics() -> dict[str, Any]:
        return service.metrics()

    return router


def create_app(services: Mapping[str, TileService] | TileService) -> FastAPI:
    """The ASGI app serving one service at ``/``, or several side by side under ``/{name}/``.

    With several, ``/api/info`` lists them (name, URL, model, mode, source) and ``/`` redirects to the
    first one's page.

    Args:
        services: the tile service, or tile services by name (URL path segments).
    """
    app = FastAPI(title="landcover serve", docs_url=None, redoc_url=None, openapi_url=None)
    static = static_dir()
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.exception_handler(LandcoverError)
    async def landcover_error(_: Request, exc: LandcoverError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=status_of(exc))

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(f"{static}/favicon.png", media_type="image/png")

    if isinstance(services, TileService):
        app.state.service = services
        app.state.services = {"": services}
        app.include_router(tile_router(services))
        return app
    if not services:
        raise WindowError("create_app: no services to serve")
    for name in services:
        if not name or "/" in name or name in ("static", "api", "favicon.ico"):
            raise WindowError(f"create_app: {name!r} cannot name a model's URL path")
    app.state.services = dict(services)
    first = next(iter(services))

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse(f"{first}/")

    @app.get("/api/info")
    async def models() -> dict[str, Any]:
        return {"models": [{"name": name, "url": f"{name}/", "model": s.model_id, "mode": s.mode,
                            "source": s.describe()["source"]} for name, s in services.items()]}

    for name, service in services.items():
        app.include_router(tile_router(service, name=name), prefix=f"/{name}")
    return app


def _bbox(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise WindowError(f"bbox: {text!r} is not four numbers (min lon,min lat,max lon,max lat)") from None
    if len(values) != 4:
        raise WindowError(f"bbox: {text!r} is not four numbers (min lon,min lat,max lon,max lat)")
    return values
