"""Real-time land cover on a web map: :class:`TileService` (framework-free) and the ``landcover serve`` app.

Install with ``pip install "landcover-sdk[serve]"`` (FastAPI, uvicorn, morecantile). The service
predicts on the raster's own grid, exactly as ``landcover predict`` does, and caches what it computed.
"""

from .service import LAYERS, SourceError, TileRequest, TileResult, TileService, Unit

__all__ = ["LAYERS", "SourceError", "TileRequest", "TileResult", "TileService", "Unit"]
