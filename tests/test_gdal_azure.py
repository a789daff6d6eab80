"""Raster reads from Blob through GDAL's /vsiaz/ at the *standard* endpoint, as on a real account.

GDAL is routed through a recording HTTP proxy on 127.0.0.1 (``GDAL_HTTP_PROXY`` with ``CPL_AZURE_USE_HTTPS=NO``):
it asks ``http://devstoreaccount1.blob.core.windows.net/...`` exactly as it would ask Azure, and the proxy forwards
the request, signature untouched, to Azurite, which verifies SharedKey and SAS signatures with the account key.
Credentials live only in the environment (``AzureCredentials.from_env``), as on a Batch node. Microsoft Entra
tokens cannot be minted offline: for that method the identity provider is a stand-in credential and the proxy
records the ``Bearer`` header GDAL sends.
"""

from __future__ import annotations

import http.client
import http.server
import threading
import time
import typing
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from rasterio.env import get_gdal_config

from landcover_sdk import _gdal
from landcover_sdk.config import AzureCredentials
from landcover_sdk.data import write_raster
from landcover_sdk.data.raster import open_raster
from landcover_sdk.errors import StorageError
from landcover_sdk.storage import AzureBlobStorage
from landcover_sdk.storage import azure_blob as azure_blob_module
from landcover_sdk.storage.azure_blob import GDAL_AZURE_KEYS

from .conftest import ORIGIN
from .emulators.azurite import ACCOUNT, KEY
from .emulators.stac_fixtures import relay

HOST = f"{ACCOUNT}.blob.core.windows.net"
ENV_KEYS = ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_KEY",
            "AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_BLOB_ENDPOINT")


class RecordingProxy:
    """A plain-HTTP forward proxy that records each request and relays it to Azurite (or answers 404)."""

    def __init__(self, azurite_port: int | None) -> None:
        self.seen: list[tuple[str, str, str | None]] = []  # (method, absolute URL, Authorization)
        self.statuses: list[tuple[str, int, str | None, int]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self._relay()

            def do_HEAD(self) -> None:
                self._relay()

            def _relay(self) -> None:
                proxy.seen.append((self.command, self.path, self.headers.get("Authorization")))
                url = urlsplit(self.path)
                if azurite_port is None or url.hostname != HOST:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                conn = http.client.HTTPConnection("127.0.0.1", azurite_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
                # Azurite's production-style addressing: the account from the host name, as on Azure
                headers["Host"] = f"{ACCOUNT}.blob.localhost:{azurite_port}"
                target = url.path + (f"?{url.query}" if url.query else "")
                conn.request(self.command, target, headers=headers, encode_chunked=False)
                resp = conn.getresponse()
                body = resp.read()
                proxy.statuses.append((self.command, resp.status, self.headers.get("Range"), len(body)))
                conn.close()
                relay(self, resp, body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def blob_requests(self, blob: str) -> list[tuple[str, str, str | None]]:
        return [s for s in self.seen if urlsplit(s[1]).hostname == HOST and urlsplit(s[1]).path.endswith(blob)]


@pytest.fixture()
def gdal_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Environment as on a node: no Azure variables but the ones a test sets; GDAL sent through a proxy."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CPL_AZURE_USE_HTTPS", "NO")
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "0")
    monkeypatch.setenv("CPL_VSIL_CURL_NON_CACHED", "/vsiaz/")  # every test reads its blob afresh
    monkeypatch.setattr(azure_blob_module, "_gdal_owner", None)
    yield
    monkeypatch.setattr(azure_blob_module, "_gdal_owner", None)
    _gdal.publish({}, managed=GDAL_AZURE_KEYS)


@pytest.fixture()
def uploaded(azurite: Any, tmp_path: Path) -> tuple[str, str, np.ndarray]:
    """A container holding one 4-band GeoTIFF: (container, blob name, pixels)."""
    from azure.storage.blob import BlobServiceClient

    pixels = np.random.default_rng(3).integers(0, 255, (4, 64, 64), dtype=np.uint8)
    path = write_raster(tmp_path / "naip.tif", pixels, crs="EPSG:26917", transform=ORIGIN)
    container = "w" + uuid.uuid4().hex[:12]
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    service.create_container(container)
    service.get_blob_client(container, "tiles/naip.tif").upload_blob(path.read_bytes())
    return container, "tiles/naip.tif", pixels


def _read_through_proxy(monkeypatch: pytest.MonkeyPatch, proxy: RecordingProxy, store: AzureBlobStorage,
                        url: str) -> np.ndarray:
    monkeypatch.setenv("GDAL_HTTP_PROXY", proxy.address)
    with open_raster(store.gdal_path(url)) as ds:
        return np.asarray(ds.read())


def _sas(kind: str, container: str) -> str:
    from azure.storage.blob import (
        AccountSasPermissions,
        ContainerSasPermissions,
        ResourceTypes,
        generate_account_sas,
        generate_container_sas,
    )

    expiry = datetime.now(timezone.utc) + timedelta(hours=1)
    if kind == "account":
        return generate_account_sas(ACCOUNT, KEY, ResourceTypes(service=True, container=True, object=True),
                                    AccountSasPermissions(read=True, list=True, write=True), expiry)
    return generate_container_sas(ACCOUNT, container, KEY, permission=ContainerSasPermissions(read=True, list=True),
                                  expiry=expiry)


@pytest.mark.parametrize("method", ["account key", "account SAS", "container SAS", "connection string"])
def test_vsiaz_reads_at_the_standard_endpoint_signed_as_azure_checks(
        method: str, azurite: Any, uploaded: tuple[str, str, np.ndarray], gdal_env: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    container, blob, pixels = uploaded
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", ACCOUNT)
    if method == "account key":
        monkeypatch.setenv("AZURE_STORAGE_KEY", KEY)
    elif method == "connection string":
        monkeypatch.delenv("AZURE_STORAGE_ACCOUNT")
        monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING",
                           # http, so that GDAL goes through the plain-HTTP proxy
                           f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                           "EndpointSuffix=core.windows.net")
    else:
        monkeypatch.setenv("AZURE_STORAGE_SAS_TOKEN", "?" + _sas(method.split()[0], container))
    store = AzureBlobStorage(AzureCredentials.from_env())
    proxy = RecordingProxy(azurite.port)
    try:
        got = _read_through_proxy(monkeypatch, proxy, store, f"az://{container}/{blob}")
    finally:
        proxy.close()
    np.testing.assert_array_equal(got, pixels)  # Azurite accepted the signature
    asked = proxy.blob_requests(blob)
    assert asked and all(url.startswith(f"http://{HOST}/{container}/{blob}") for _, url, _ in asked)
    if "SAS" in method:
        assert all("sig=" in url and auth is None for _, url, auth in asked)
    else:
        assert all(auth is not None and auth.startswith(f"SharedKey {ACCOUNT}:") for _, _, auth in asked)
    for key in GDAL_AZURE_KEYS:  # unused keys are cleared, never the text "None"
        assert get_gdal_config(key) != "None"


class _StandInCredential:
    """What DefaultAzureCredential returns on a node with a managed identity (Entra ID is unreachable here)."""

    tokens: typing.ClassVar[list[str]] = []

    def __init__(self, **_: Any) -> None:
        pass

    def get_token(self, *scopes: str, **_: Any) -> Any:
        from azure.core.credentials import AccessToken

        assert scopes == ("https://storage.azure.com/.default",)
        token = f"eyJ0eXAi.token{len(self.tokens)}.sig"
        self.tokens.append(token)
        return AccessToken(token, int(time.time()) + self.lifetime)

    lifetime = 3600


def test_vsiaz_sends_the_access_token_and_a_refresh_reaches_every_thread(
        gdal_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.identity

    _StandInCredential.tokens = []
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", _StandInCredential)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", ACCOUNT)
    # an environment connection string must not win over the configured identity
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "AccountName=someoneelse;AccountKey=c2VjcmV0")
    store = AzureBlobStorage(AzureCredentials(storage_account=ACCOUNT))
    assert store.auth_method == "DefaultAzureCredential"
    proxy = RecordingProxy(None)
    monkeypatch.setenv("GDAL_HTTP_PROXY", proxy.address)
    monkeypatch.setattr(_StandInCredential, "lifetime", 200)  # inside the 5-minute refresh margin
    try:
        # configured on a worker thread, as when the predictor's reader opens the raster first
        worker = threading.Thread(target=store.gdal_path, args=("az://imagery/a.tif",))
        worker.start()
        worker.join()
        for name in ("a.tif", "b.tif"):
            with pytest.raises(Exception), open_raster(f"/vsiaz/imagery/{name}"):  # noqa: B017 - 404: the request matters
                pass
    finally:
        proxy.close()
    sent = [auth for _, url, auth in proxy.seen if urlsplit(url).hostname == HOST]
    assert sent and all(auth is not None and auth.startswith("Bearer eyJ0eXAi.token") for auth in sent)
    # token 0 was minted on the worker; every open since found it stale and refreshed it for all threads
    assert len(_StandInCredential.tokens) >= 2 and sent[-1] == f"Bearer {_StandInCredential.tokens[-1]}"
    assert get_gdal_config("AZURE_STORAGE_ACCESS_TOKEN") == _StandInCredential.tokens[-1]
    assert get_gdal_config("AZURE_STORAGE_CONNECTION_STRING") == ""  # masked, not "None", not the env's


def test_a_long_lived_token_is_fetched_once(gdal_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.identity

    _StandInCredential.tokens = []
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", _StandInCredential)
    store = AzureBlobStorage(AzureCredentials(storage_account=ACCOUNT))
    for _ in range(3):
        store.gdal_path("az://imagery/a.tif")
    seen: list[str | None] = []
    def other_thread() -> None:
        _gdal.apply()
        seen.append(get_gdal_config("AZURE_STORAGE_ACCESS_TOKEN"))

    worker = threading.Thread(target=other_thread)
    worker.start()
    worker.join()
    assert _StandInCredential.tokens == ["eyJ0eXAi.token0.sig"] and seen == ["eyJ0eXAi.token0.sig"]


def test_check_container_with_a_container_sas_lists_instead_of_reading_properties(
        azurite: Any, uploaded: tuple[str, str, np.ndarray], gdal_env: None) -> None:
    container, _, _ = uploaded
    requests: list[str] = []

    def hook(request: Any) -> None:
        requests.append(request.http_request.url)

    sas = AzureCredentials(storage_account=ACCOUNT, blob_endpoint=azurite.endpoint,
                           storage_sas_token=_sas("container", container))  # type: ignore[arg-type]
    AzureBlobStorage(sas, raw_request_hook=hook).check_container(f"az://{container}/out/")
    assert requests and all("comp=list" in u for u in requests)  # never Get Container Properties
    read_only = AzureCredentials(storage_account=ACCOUNT, blob_endpoint=azurite.endpoint,
                                 storage_sas_token=_read_only_sas(container))  # type: ignore[arg-type]
    with pytest.raises(StorageError, match=rf"cannot list container '{container}' \(HTTP 403") as err:
        AzureBlobStorage(read_only).check_container(f"az://{container}/out/")
    assert "sig=" not in str(err.value) and err.value.__cause__ is None and "not found" not in str(err.value)


def _read_only_sas(container: str) -> str:
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    return generate_container_sas(ACCOUNT, container, KEY, permission=ContainerSasPermissions(read=True),
                                  expiry=datetime.now(timezone.utc) + timedelta(hours=1))
