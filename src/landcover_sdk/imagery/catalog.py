"""Where NAIP items are listed: a STAC API (searched) or a static STAC catalog (walked).

Both return raw item JSON for the items whose footprint meets a WGS84 polygon; year policy and
ordering are decided later, client-side (the Planetary Computer's ``naip:year`` is a string and
some STAC servers silently ignore ``query``/``filter``, so nothing about years is sent).
API requests are retried on 429 and 5xx with exponential backoff, honouring ``Retry-After``;
a catalog that stays down is a :class:`~landcover_sdk.errors.CatalogError` naming its URL.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from ..errors import CatalogError, ConfigError

log = logging.getLogger(__name__)

#: HTTP statuses a catalog request is retried on.
RETRY_STATUSES = (429, 500, 502, 503, 504)


class Catalog(Protocol):
    """Something that lists STAC items by footprint."""

    #: The catalog's URL or path, for messages and cache keys.
    location: str
    #: The collection searched.
    collection: str

    def items(self, polygon: dict[str, Any], *, limit: int) -> list[dict[str, Any]]:
        """Items of :attr:`collection` whose footprint meets ``polygon`` (GeoJSON, WGS84); at most ``limit``."""
        ...


def _require_stac() -> None:
    try:
        import pystac_client  # noqa: F401
    except ImportError:
        raise ConfigError("reading STAC catalogs needs the stac extra: pip install 'landcover-sdk[stac]'") from None


class StacApiCatalog:
    """A STAC API with item search (the Planetary Computer, Earth Search, ``rustac serve``, ...).

    Args:
        url: the API's landing page, e.g. ``https://planetarycomputer.microsoft.com/api/stac/v1``.
        collection: the collection to search.
        retries: tries after the first for a failing request (429, 5xx, refused connections).
        backoff: seconds of the first retry's wait, doubled each time (``Retry-After`` wins when given).
        timeout: seconds to connect and to wait for each response.
        headers: extra request headers (e.g. a subscription key; never logged).
    """

    def __init__(self, url: str, *, collection: str = "naip", retries: int = 5, backoff: float = 0.5,
                 timeout: float = 60.0, headers: dict[str, str] | None = None) -> None:
        _require_stac()
        self.location = url.rstrip("/")
        self.collection = collection
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self._headers = dict(headers or {})

    def __repr__(self) -> str:
        return f"StacApiCatalog({self.location!r}, collection={self.collection!r})"

    def _client(self) -> Any:
        from pystac_client import Client
        from pystac_client.stac_api_io import StacApiIO
        from urllib3.util.retry import Retry

        retry = Retry(total=self.retries, backoff_factor=self.backoff, status_forcelist=RETRY_STATUSES,
                      allowed_methods=None, respect_retry_after_header=True, raise_on_status=False)
        timeout = (min(self.timeout, 10.0), self.timeout)
        io = StacApiIO(headers=self._headers, timeout=timeout, max_retries=retry)
        # Client.open hands its own timeout (default None: wait forever) to the StacApiIO it is given
        return Client.open(self.location, stac_io=io, timeout=timeout)

    def items(self, polygon: dict[str, Any], *, limit: int) -> list[dict[str, Any]]:
        """Search the API (``collections`` + ``intersects``), every page, at most ``limit`` items.

        Args:
            polygon: the area (GeoJSON, WGS84).
            limit: most items to return (a larger answer is cut; the caller decides if that is an error).
        """
        with _translated(self.location):
            client = self._client()
            search = client.search(collections=[self.collection], intersects=polygon, max_items=limit,
                                    limit=min(limit, 100))
            found = list(search.items_as_dicts())
        log.debug("%s: %d item(s) of %s", self.location, len(found), self.collection)
        return found


class StaticCatalog:
    """A static STAC catalog (``catalog.json`` or ``collection.json``, local or over HTTP), walked and filtered.

    Air-gapped users can mirror a few items and their COGs and work from that. The walk reads every
    item's JSON, so keep such catalogs small (a county, not a country).

    Args:
        location: path or URL of the root ``catalog.json``/``collection.json``.
        collection: only items of this collection (items without one are kept).
    """

    def __init__(self, location: str | Path, *, collection: str = "naip") -> None:
        _require_stac()
        self.location = str(location)
        self.collection = collection

    def __repr__(self) -> str:
        return f"StaticCatalog({self.location!r})"

    def items(self, polygon: dict[str, Any], *, limit: int) -> list[dict[str, Any]]:
        """Items meeting ``polygon`` (GeoJSON, WGS84), at most ``limit``.

        Args:
            polygon: the area (GeoJSON, WGS84).
            limit: most items to return.
        """
        import shapely.geometry

        area = shapely.geometry.shape(polygon)
        found: list[dict[str, Any]] = []
        with _translated(self.location):
            for item in self._walk():
                if item.collection_id not in (None, self.collection) or item.geometry is None:
                    continue
                if shapely.geometry.shape(item.geometry).intersects(area):
                    data = item.to_dict(include_self_link=True, transform_hrefs=False)
                    for key, asset in item.assets.items():  # absolute hrefs, as an API would give
                        data["assets"][key]["href"] = asset.get_absolute_href() or asset.href
                    found.append(data)
                    if len(found) >= limit:
                        break
        return found

    def _walk(self) -> Iterator[Any]:
        import pystac

        root = pystac.read_file(self.location)
        if not isinstance(root, pystac.Catalog):
            raise CatalogError(f"{self.location}: not a STAC catalog or collection")
        yield from root.get_items(recursive=True)


@contextlib.contextmanager
def _translated(where: str) -> Iterator[None]:
    """Turn what pystac, pystac-client, requests and urllib3 raise into :class:`CatalogError` naming ``where``."""
    failure: str | None = None
    try:
        yield
    except (CatalogError, ConfigError):
        raise
    except Exception as exc:
        failure = _reason(exc)
    if failure is not None:  # raised outside the handler: no chained cause carrying request details
        raise CatalogError(f"STAC catalog {where}: {failure}")


def _reason(exc: BaseException) -> str:
    import json

    from requests import exceptions as rq

    if "timed out" in str(exc).lower():
        return "timed out (after retries)"
    if isinstance(exc, rq.RetryError):
        return "still failing after retries (HTTP 429/5xx)"
    if isinstance(exc, rq.ConnectionError):
        return "unreachable (connection refused or dropped, after retries)"
    if isinstance(exc, rq.Timeout):
        return "timed out"
    if isinstance(exc, json.JSONDecodeError):
        return "answered something that is not JSON"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
    if "Max retries exceeded" in text or "NewConnectionError" in text or "Connection refused" in text:
        return "unreachable (connection refused or dropped, after retries)"
    if name == "APIError":
        status = getattr(exc, "status_code", None)
        return f"HTTP {status}: {text}" if status else f"API error: {text}"
    if name == "DoesNotConformTo":
        return f"not a STAC API with item search ({text}); for a static catalog use from_static_catalog"
    return f"{name}: {text}" if text else name
