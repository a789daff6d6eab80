"""``landcover serve IMAGE --model MODEL``: real-time land cover in the browser (the ``serve`` extra).

``--model`` may be given several times as ``NAME=PATH``: the models are served side by side, each
under ``/NAME/`` (a single unnamed model is served at ``/``, as it always was).
"""

from __future__ import annotations

import argparse
import logging
import re
import webbrowser
from pathlib import Path

from .._redact import public_url
from ..errors import ConfigError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` command."""
    p = sub.add_parser("serve", help="real-time land cover in the browser: imagery, soft and hard maps, synced")
    p.add_argument("image", help="4-band uint8 GeoTIFF: a path, a storage URL (az://...) or an https:// COG")
    p.add_argument("--model", action="append", default=None, metavar="[NAME=]MODEL",
                   help="model file, storage URL or builtin:NAME (default: builtin:tutorial-250epochs); repeat "
                        "as NAME=MODEL to serve several models side by side, each under /NAME/")
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
    models = parse_models(args.model or ["builtin:tutorial-250epochs"])
    services: dict[str, TileService] = {}
    try:
        for name, model in models.items():
            predictor = Predictor.from_file(model, threads=args.threads)
            services[name] = TileService(predictor, args.image, mode=args.mode, cache_mb=args.cache_mb,
                                         min_zoom=args.min_zoom, model_id=_model_id(model),
                                         precomputed=args.precomputed)
    except BaseException:
        for s in services.values():
            s.close()
        raise
    service = next(iter(services.values()))
    app = create_app(service if list(services) == [""] else services)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    url_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host

    async def announce() -> None:
        port = server.servers[0].sockets[0].getsockname()[1] if server.servers else args.port
        url = f"http://{url_host}:{port}/"
        where = url if list(services) == [""] else ", ".join(f"{url}{name}/" for name in services)
        print(f"serving {args.image} ({service.info.height}x{service.info.width} px, {args.mode} mode) at {where} "
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
        for s in services.values():
            s.close()
    return 0


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def parse_models(values: list[str]) -> dict[str, str]:
    """``--model`` values as name → model: ``NAME=MODEL`` named, a plain ``MODEL`` unnamed (``""``, served at ``/``).

    A value is taken as ``NAME=MODEL`` only when the text before its first ``=`` is a plain name and the whole
    value is not an existing file (a storage URL's query string has ``=`` too). Several models must all be named
    or are named by their file's stem.

    Args:
        values: the ``--model`` arguments.

    Raises:
        ConfigError: a name given twice.
    """
    named: list[tuple[str, str]] = []
    for value in values:
        name, sep, model = value.partition("=")
        if sep and _NAME.fullmatch(name) and model and not Path(value).exists():
            named.append((name, model))
        else:
            named.append(("", value))
    if len(named) > 1:
        named = [(name or Path(public_url(model)).stem.removeprefix("builtin:"), model) for name, model in named]
    out: dict[str, str] = {}
    for name, model in named:
        if name in out:
            raise ConfigError(f"--model: the name {name!r} is given twice (use NAME=MODEL to tell them apart)")
        if name in ("static", "api", "favicon.ico"):
            raise ConfigError(f"--model: {name!r} cannot name a model (it is one of the app's own paths)")
        out[name] = model
    return out


def _model_id(model: str) -> str:
    """A stable short name of the model for tile ETags: its file's hash (or the URL's for remote models)."""
    from ..models.locate import model_identity

    return model_identity(model)[:16]
