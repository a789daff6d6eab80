"""How the imagery of an item is reached: anonymous HTTP(S) or files, Planetary Computer SAS, requester-pays S3.

An :class:`Access` turns an item's unsigned href into the path GDAL opens and the GDAL options
that open it. Secrets live only in those options (held in memory, handed to GDAL for one
read) — never in the path, so they cannot surface in GDAL's messages, a log line or a file.

Planetary Computer blobs need a SAS token from its Data Authentication API. The unmaintained
``planetary-computer`` package is not used: it only signs ``*.blob.core.windows.net`` hosts (so it
cannot be tested offline), has no forced refresh, and keeps tokens in a module global.
:class:`PlanetaryComputerSas` fetches a container token just before the first read, keeps it in
memory until five minutes before its ``msft:expiry``, and re-fetches on demand after a refused
read. Reads go through ``/vsicurl/`` with the signed URL, so a fresh token is a fresh GDAL cache
key. Through ``/vsiaz/`` GDAL remembers a 403 for the path and refuses a renewed token too unless
``CPL_VSIL_CURL_NON_CACHED`` excludes the container from its cache (measured in the review
behind this module), which also drops the caching of every other read there. The signed URL is
the only place the token goes; GDAL's messages that quote it are scrubbed before they reach an
exception or a log record (:mod:`landcover_sdk.imagery.mosaic`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from .._redact import public_url
from ..errors import ImageryAccessError

log = logging.getLogger(__name__)

PLANETARY_COMPUTER_SAS_URL = "https://planetarycomputer.microsoft.com/api/sas/v1/token"

#: GDAL options for every remote read: no directory listings, only the file itself, bounded retries.
BASE_GDAL_OPTIONS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF",
    "GDAL_HTTP_MAX_RETRY": "3",
    "GDAL_HTTP_RETRY_DELAY": "1",
    "GDAL_HTTP_TIMEOUT": "60",
    "VSI_CACHE": "FALSE",
}


@dataclass(frozen=True)
class Opened:
    """What GDAL opens for one href.

    Attributes:
        path: the GDAL path (a signed URL may carry a token: never log it).
        options: GDAL configuration options for the read.
        secrets: strings that must never appear in messages (the tokens in ``path``).
    """

    path: str
    options: dict[str, str]
    secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:  # the path may carry a token
        return f"Opened({public_href(self.path)!r})"


class Access(Protocol):
    """Turns unsigned hrefs into what GDAL opens."""

    #: Short name for ``scene.json`` and messages (``anonymous``, ``planetary-computer-sas``, ...).
    name: str

    def check(self, hrefs: list[str]) -> None:
        """Refuse, before any read, what can never succeed (e.g. missing credentials)."""
        ...

    def open(self, href: str, *, refresh: bool = False) -> Opened:
        """The GDAL path and options for ``href``; ``refresh`` renews any credential first."""
        ...

    def signs(self, href: str) -> bool:
        """Whether reading ``href`` depends on a credential this access can renew."""
        ...


class AnonymousAccess:
    """Local files, ``file://`` URLs and public ``http(s)://`` COGs (range requests through ``/vsicurl/``)."""

    name = "anonymous"

    def check(self, hrefs: list[str]) -> None:
        """Refuse schemes this access cannot read.

        Args:
            hrefs: the assets about to be read.
        """
        for href in hrefs:
            scheme = urlsplit(href).scheme
            if scheme not in ("", "file", "http", "https") and not (len(scheme) == 1 and os.name == "nt"):
                raise ImageryAccessError(f"{public_href(href)}: cannot read {scheme}:// assets anonymously")

    def open(self, href: str, *, refresh: bool = False) -> Opened:
        """The GDAL path of ``href`` (no options needed).

        Args:
            href: the asset's URL or path.
            refresh: ignored (nothing to renew).
        """
        if href.startswith(("http://", "https://")):
            return Opened(f"/vsicurl/{href}", dict(BASE_GDAL_OPTIONS))
        return Opened(href.removeprefix("file://"), {})

    def signs(self, href: str) -> bool:
        """Never: nothing is signed.

        Args:
            href: the asset's URL.
        """
        return False


@dataclass(frozen=True)
class BlobLocation:
    """An Azure Blob URL split the way the token endpoint needs it.

    Attributes:
        endpoint: the blob service endpoint (``https://ACCOUNT.blob.core.windows.net`` or an emulator's).
        account: the storage account.
        container: the container.
        blob: the blob's name.
    """

    endpoint: str
    account: str
    container: str
    blob: str

    @classmethod
    def parse(cls, href: str) -> BlobLocation:
        """Split ``https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB`` (or an emulator's path-style URL).

        Args:
            href: the blob's URL.
        """
        parts = urlsplit(href)
        path = [p for p in parts.path.split("/") if p]
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise ImageryAccessError(f"{public_href(href)}: not an Azure Blob URL")
        if ".blob." in host:  # virtual-host style: the account is the first label (any Azure cloud)
            account, endpoint = host.split(".", 1)[0], f"{parts.scheme}://{parts.netloc}"
        else:  # path style (Azurite, private endpoints): /ACCOUNT/CONTAINER/BLOB
            if not path:
                raise ImageryAccessError(f"{public_href(href)}: not an Azure Blob URL")
            account, path = path[0], path[1:]
            endpoint = f"{parts.scheme}://{parts.netloc}/{account}"
        if len(path) < 2:
            raise ImageryAccessError(f"{public_href(href)}: no container and blob in the URL")
        return cls(endpoint, account, path[0], "/".join(path[1:]))


class PlanetaryComputerSas:
    """Planetary Computer SAS tokens, fetched lazily per storage container and kept in memory only.

    Args:
        sas_url: the token endpoint (``PC_SDK_SAS_URL``, else the Planetary Computer's).
        subscription_key: optional Planetary Computer key (``PC_SDK_SUBSCRIPTION_KEY``) for
            friendlier rate limits and longer tokens; sent as a header, never logged.
        min_ttl: seconds of validity a cached token must still have to be used.
        retries: tries after the first when the endpoint answers 429 or 5xx.
        timeout: seconds to wait for the endpoint.
    """

    name = "planetary-computer-sas"

    def __init__(self, sas_url: str | None = None, *, subscription_key: str | None = None, min_ttl: float = 300.0,
                 retries: int = 5, timeout: float = 30.0) -> None:
        self.sas_url = (sas_url or os.environ.get("PC_SDK_SAS_URL") or PLANETARY_COMPUTER_SAS_URL).rstrip("/")
        self._key = subscription_key or os.environ.get("PC_SDK_SUBSCRIPTION_KEY") or None
        self.min_ttl = min_ttl
        self.retries = retries
        self.timeout = timeout
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        #: Token requests made (for tests and logs; the tokens themselves are never exposed).
        self.token_requests = 0

    def __repr__(self) -> str:
        return f"PlanetaryComputerSas({self.sas_url!r})"

    def check(self, hrefs: list[str]) -> None:
        """Every href must be an Azure Blob URL.

        Args:
            hrefs: the assets about to be read.
        """
        for href in hrefs:
            BlobLocation.parse(href)

    def signs(self, href: str) -> bool:
        """Always: every blob needs a token.

        Args:
            href: the asset's URL.
        """
        return True

    def open(self, href: str, *, refresh: bool = False) -> Opened:
        """The signed URL through ``/vsicurl/`` (each token its own URL, so GDAL's cache never serves a stale 403).

        Args:
            href: the blob's URL.
            refresh: fetch a new token even if the cached one has not expired (after a refused read).
        """
        loc = BlobLocation.parse(href)
        token = self.token(loc.account, loc.container, refresh=refresh)
        base = public_href(href)
        return Opened(f"/vsicurl/{base}?{token}", dict(BASE_GDAL_OPTIONS), secrets=(token,))

    def token(self, account: str, container: str, *, refresh: bool = False) -> str:
        """A SAS token for ``account``/``container`` valid for at least :attr:`min_ttl` seconds (as the endpoint says).

        Args:
            account: the storage account.
            container: the container.
            refresh: ignore the cached token.
        """
        with self._lock:
            cached = self._tokens.get((account, container))
            if cached is not None and not refresh and cached[1] - time.time() > self.min_ttl:
                return cached[0]
            token, expiry = self._fetch(account, container)
            self._tokens[(account, container)] = (token, expiry)
            log.debug("new SAS token for %s/%s (announced validity %.0f min)", account, container,
                      (expiry - time.time()) / 60)
            return token

    def _fetch(self, account: str, container: str) -> tuple[str, float]:
        url = f"{self.sas_url}/{quote(account)}/{quote(container)}"
        headers = {"Accept": "application/json"}
        if self._key:
            headers["Ocp-Apim-Subscription-Key"] = self._key
        delay = 0.5
        for attempt in range(self.retries + 1):
            self.token_requests += 1
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                            timeout=self.timeout) as resp:
                    body = json.loads(resp.read())
                break
            except urllib.error.HTTPError as exc:
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                status = exc.code
                exc.close()
                if status not in (429, 500, 502, 503, 504) or attempt == self.retries:
                    raise ImageryAccessError(f"SAS token endpoint {url}: HTTP {status}") from None
                time.sleep(min(float(retry_after), 60.0) if retry_after and retry_after.isdigit() else delay)
                delay *= 2
            except (urllib.error.URLError, OSError, ValueError) as exc:
                if attempt == self.retries or isinstance(exc, ValueError):
                    what = "not JSON" if isinstance(exc, ValueError) else "unreachable"
                    raise ImageryAccessError(f"SAS token endpoint {url}: {what}") from None
                time.sleep(delay)
                delay *= 2
        token = body.get("token") if isinstance(body, dict) else None
        expiry_text = body.get("msft:expiry") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ImageryAccessError(f"SAS token endpoint {url}: answer without a token")
        try:
            expiry = dt.datetime.fromisoformat(str(expiry_text).replace("Z", "+00:00")).timestamp()
        except ValueError:
            expiry = time.time() + self.min_ttl + 60  # no usable expiry: use it now, fetch afresh next time
        return token.lstrip("?"), expiry


class RequesterPaysS3:
    """AWS's requester-pays NAIP bucket (Earth Search's hrefs): ``/vsis3/`` with ``AWS_REQUEST_PAYER=requester``.

    Reads are billed to the caller's AWS account, and data leaving ``us-west-2`` costs egress.
    Credentials come from the usual AWS places (environment, profile, web identity); without
    any, :meth:`check` refuses before a single read.

    Args:
        region: the bucket's region.
    """

    name = "requester-pays-s3"

    def __init__(self, region: str = "us-west-2") -> None:
        self.region = region

    def __repr__(self) -> str:
        return f"RequesterPaysS3({self.region!r})"

    def check(self, hrefs: list[str]) -> None:
        """Refuse without AWS credentials, naming what is needed and who pays.

        Args:
            hrefs: the assets about to be read.
        """
        env = os.environ
        has_keys = bool(env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"))
        profile_file = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials")
        if not (has_keys or env.get("AWS_PROFILE") or env.get("AWS_WEB_IDENTITY_TOKEN_FILE")
                or profile_file.is_file()):
            raise ImageryAccessError(
                "NAIP on AWS is a requester-pays bucket: reading it needs AWS credentials (AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials) and is billed to that account with "
                f"AWS_REQUEST_PAYER=requester (egress outside {self.region} included); or use the Planetary Computer")
        for href in hrefs:
            _s3_path(href)

    def open(self, href: str, *, refresh: bool = False) -> Opened:
        """``/vsis3/BUCKET/KEY`` with requester-pays options.

        Args:
            href: ``s3://bucket/key`` or ``https://bucket.s3.amazonaws.com/key``.
            refresh: ignored (GDAL renews AWS credentials itself).
        """
        return Opened(_s3_path(href), {**BASE_GDAL_OPTIONS, "AWS_REQUEST_PAYER": "requester",
                                       "AWS_REGION": self.region})

    def signs(self, href: str) -> bool:
        """Never: GDAL handles AWS credentials.

        Args:
            href: the asset's URL.
        """
        return False


def _s3_path(href: str) -> str:
    parts = urlsplit(href)
    if parts.scheme == "s3" and parts.netloc:
        return f"/vsis3/{parts.netloc}{parts.path}"
    host = parts.hostname or ""
    if parts.scheme == "https" and ".s3." in f".{host}" and host.endswith(".amazonaws.com"):
        bucket = host.split(".s3", 1)[0]
        return f"/vsis3/{bucket}{parts.path}"
    raise ImageryAccessError(f"{public_href(href)}: not an S3 URL")


#: ``href`` without its query string (where a signature would be); :func:`landcover_sdk._redact.public_url`.
public_href = public_url
