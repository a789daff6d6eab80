"""``landcover serve IMAGE --model MODEL``: real-time land cover in the browser (the ``serve`` extra)."""

from __future__ import annotations

import argparse
import hashlib
import logging
import webbrowser
from pathlib import Path

from ..errors import ConfigError
from ..models.builtin import resolve_model

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` command."""
    p = sub.add_parser("serve", help="real-time land cover in the browser: imagery, soft and hard maps, synced")
    p.add_argument("image", help="4-band uint8 GeoTIFF: a path, a storage URL (az://...) or an https:// COG")
    p.add_argument("--model", default="builtin:tutorial-250epochs",
                   help="model file, storage URL or builtin:NAME (default: builtin:tutorial-250epochs)")
    p.add_argument("--mode", choices=("exact", "fast"), default="exact", help="exact (default) or fast")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--cache-mb", type=float, default=512, help="memory for computed predictions (default 512)")
    p.add_argument("--min-zoom", type=int, default=None,
                   help="below this zoom prediction tiles say 'zoom in' (default: native zoom - 2)")
    p.add_argument("--precomputed", metavar="COG",
                   help="the class COG `landcover predict` wrote for IMAGE: hard tiles come from it at every zoom, "
                        "with no model run")
    p.add_argument("--threads", type=int, default=None, help="compute threads (default: every CPU)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..serve.app import create_app
        from ..serve.service import TileService
    except ImportError as exc:
        raise ConfigError(f'landcover serve needs the serve extra: pip install "landcover-sdk[serve]" ({exc.name} '
                          "is missing)") from None
    from ..inference.predictor import Predictor

    if args.port < 0 or args.port > 65535:
        raise ConfigError(f"--port: {args.port} is not a port number")
    predictor = Predictor.from_file(args.model, threads=args.threads)
    service = TileService(predictor, args.image, mode=args.mode, cache_mb=args.cache_mb, min_zoom=args.min_zoom,
                          model_id=_model_id(args.model), precomputed=args.precomputed)
    config = uvicorn.Config(create_app(service), host=args.host, port=args.port, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    url_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host

    async def announce() -> None:
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else args.port
        url = f"http://{url_host}:{port}/"
        print(f"serving {args.image} ({service.info.height}x{service.info.width} px, {args.mode} mode) at {url} "
              f"(Ctrl-C to stop)", flush=True)
        if args.open:
            webbrowser.open(url)

    import asyncio

    async def main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            await announce()
        await task

    try:
        asyncio.run(main())
    finally:
        service.close()
    return 0


def _model_id(model: str) -> str:
    """A stable short name of the model for tile ETags: its file's hash (or the URL for remote models)."""
    path = Path(str(resolve_model(model)))
    if not path.is_file():
        return hashlib.sha256(model.encode()).hexdigest()[:16]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]
