"""Azure Blob storage: ``az://<container>/<path>`` URLs, via azure-storage-blob and azure-identity.

Uploads are block-blob uploads (blocks staged, then one commit), so a blob appears under its
name only when complete; azure-core's retry policy handles transient failures. Rasters are read
in place through GDAL's ``/vsiaz/`` driver, configured from the same credentials.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .._atomic import atomic_output
from .._gdal import GDAL_AZURE_KEYS
from .._util import redact
from ..config.models import AzureCredentials
from ..errors import StorageError
from .base import StorageURL

log = logging.getLogger(__name__)

# GDAL's Azure configuration is process-wide (published to every thread): which backend set it last.
_gdal_owner: AzureBlobStorage | None = None
_gdal_lock = threading.Lock()


SCHEME = "az"
STORAGE_SCOPE = "https://storage.azure.com/.default"
AUTH_METHODS = (
    "connection string (storage_connection_string / AZURE_STORAGE_CONNECTION_STRING)",
    "account key (storage_account + storage_account_key / AZURE_STORAGE_ACCOUNT + AZURE_STORAGE_KEY)",
    "SAS token (storage_account + storage_sas_token / AZURE_STORAGE_SAS_TOKEN)",
    "DefaultAzureCredential (needs storage_account / AZURE_STORAGE_ACCOUNT)",
)

def _uses_sas(store: AzureBlobStorage) -> bool:
    """Whether ``store`` authenticates with a SAS token, given alone or in a connection string."""
    conn = store.credentials.storage_connection_string
    if conn is not None:
        return _connection_string_field(conn.get_secret_value(), "SharedAccessSignature") is not None
    return store.auth_method == "SAS token"


def _connection_string_field(conn: str, name: str) -> str | None:
    for part in conn.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == name.lower() and value:
            return value.strip()
    return None


class AzureBlobStorage:
    """The :class:`~landcover_sdk.storage.Storage` backend for ``az://container/path`` URLs.

    Authentication, first match wins: connection string; account + key; account + SAS token;
    account alone → ``DefaultAzureCredential`` (managed identity, Azure CLI, environment).
    ``credentials`` defaults to :meth:`AzureCredentials.from_env`. ``client_options`` go to
    ``BlobServiceClient`` (e.g. ``retry_total``, ``max_block_size``, ``max_single_put_size``).

    Args:
        credentials: how to authenticate (default: from the environment).
        max_concurrency: parallel block transfers per upload or download.
        **client_options: passed to ``BlobServiceClient``.
    """

    scheme = SCHEME

    def __init__(self, credentials: AzureCredentials | None = None, *, max_concurrency: int = 4,
                 **client_options: Any) -> None:
        self.credentials = credentials if credentials is not None else AzureCredentials.from_env()
        self.max_concurrency = max_concurrency
        self.client_options = client_options
        self._client: Any = None
        self._lock = threading.Lock()
        self._token_expires = math.inf  # only a DefaultAzureCredential token handed to GDAL expires
        self.auth_method, self.account = self._describe_auth()

    # ------------------------------------------------------------------ credentials
    def _secrets(self) -> tuple[str, ...]:
        c = self.credentials
        values = (c.storage_connection_string, c.storage_account_key, c.storage_sas_token)
        out = [v.get_secret_value() for v in values if v is not None]
        conn = c.storage_connection_string
        if conn is not None:
            for field in ("AccountKey", "SharedAccessSignature"):
                value = _connection_string_field(conn.get_secret_value(), field)
                if value:
                    out.append(value)
        return tuple(out)

    def _describe_auth(self) -> tuple[str, str | None]:
        c = self.credentials
        if c.storage_connection_string is not None:
            account = _connection_string_field(c.storage_connection_string.get_secret_value(), "AccountName")
            return "connection string", account or c.storage_account
        if c.storage_account and c.storage_account_key is not None:
            return "account key", c.storage_account
        if c.storage_account and c.storage_sas_token is not None:
            return "SAS token", c.storage_account
        if c.storage_account:
            return "DefaultAzureCredential", c.storage_account
        return "none", None

    def _missing_credentials(self, url: str) -> StorageError:
        return StorageError(f"{url}: no Azure storage credentials; tried: " + "; ".join(AUTH_METHODS))

    @property
    def endpoint(self) -> str | None:
        """The Blob endpoint URL (no secrets in it)."""
        c = self.credentials
        if c.blob_endpoint:
            return c.blob_endpoint.rstrip("/")
        if c.storage_connection_string is not None:
            ep = _connection_string_field(c.storage_connection_string.get_secret_value(), "BlobEndpoint")
            if ep:
                return ep.rstrip("/")
        return f"https://{self.account}.blob.core.windows.net" if self.account else None

    def __repr__(self) -> str:
        return f"AzureBlobStorage(account={self.account!r}, auth={self.auth_method!r}, endpoint={self.endpoint!r})"

    def service(self, url: str = "az://") -> Any:
        """The ``BlobServiceClient`` (built on first use)."""
        with self._lock:
            if self._client is None:
                self._client = self._make_client(url)
            return self._client

    def _make_client(self, url: str) -> Any:
        try:
            from azure.storage.blob import BlobServiceClient
        except ImportError:
            raise StorageError(f"{url}: Azure Blob storage needs the azure extra: "
                               "pip install 'landcover-sdk[azure]'") from None
        c = self.credentials
        opts = dict(self.client_options)
        if self.auth_method == "none":
            raise self._missing_credentials(url)
        if c.storage_connection_string is not None:
            try:
                return BlobServiceClient.from_connection_string(self._connection_string(), **opts)
            except ValueError:
                raise StorageError(f"{url}: malformed Azure storage connection string") from None
        credential: Any
        if c.storage_account_key is not None:
            credential = {"account_name": self.account, "account_key": c.storage_account_key.get_secret_value()}
        elif c.storage_sas_token is not None:
            credential = c.storage_sas_token.get_secret_value().lstrip("?")
        else:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError:
                raise StorageError(f"{url}: DefaultAzureCredential needs azure-identity "
                                   "(pip install 'landcover-sdk[azure]')") from None
            credential = DefaultAzureCredential()
        return BlobServiceClient(str(self.endpoint), credential=credential, **opts)

    def _connection_string(self) -> str:
        """The configured connection string, with ``blob_endpoint`` added when it names none."""
        c = self.credentials
        assert c.storage_connection_string is not None
        conn = c.storage_connection_string.get_secret_value()
        if c.blob_endpoint and "blobendpoint=" not in conn.lower():
            conn = conn.rstrip(";") + f";BlobEndpoint={c.blob_endpoint}"
        return conn

    # ------------------------------------------------------------------ helpers
    def _parse(self, url: str) -> StorageURL:
        parsed = StorageURL.parse(url)
        if parsed.scheme != SCHEME:
            raise StorageError(f"{url}: not an az:// URL")
        if not 3 <= len(parsed.bucket) <= 63 or not re.fullmatch(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*",
                                                                  parsed.bucket):
            raise StorageError(f"{url}: invalid container name {parsed.bucket!r} "
                               "(3-63 lower-case letters, digits and single hyphens)")
        return parsed

    def _blob(self, url: str) -> Any:
        p = self._parse(url)
        if not p.key or p.key.endswith("/"):
            raise StorageError(f"{url}: URL names a container or folder, not a blob")
        return self.service(url).get_blob_client(p.bucket, p.key)

    def _error(self, url: str, exc: BaseException, action: str) -> StorageError:
        from azure.core import exceptions as az

        p = StorageURL.parse(url)
        code = getattr(exc, "error_code", None) or ""
        if isinstance(exc, az.ResourceNotFoundError) or code in ("ContainerNotFound", "BlobNotFound"):
            what = f"container {p.bucket!r} not found" if code == "ContainerNotFound" else "blob not found"
            return StorageError(f"{url}: {what} (account {self.account})")
        if isinstance(exc, az.ClientAuthenticationError):
            msg = f"authentication failed with {self.auth_method}"
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            if self.auth_method == "DefaultAzureCredential":
                msg += f" ({detail})"
            return StorageError(redact(f"{url}: {action}: {msg}", self._secrets()))
        if isinstance(exc, az.ServiceRequestError | az.ServiceResponseError):
            return StorageError(redact(f"{url}: {action}: storage endpoint {self.endpoint} unreachable "
                                       f"after retries ({type(exc).__name__})", self._secrets()))
        reason = getattr(exc, "reason", None) or type(exc).__name__
        status = getattr(exc, "status_code", None)
        text = f"{url}: {action} failed: {code or reason}" + (f" (HTTP {status})" if status else "")
        return StorageError(redact(text, self._secrets()))

    @contextlib.contextmanager
    def _errors(self, url: str, action: str) -> Iterator[None]:
        from azure.core.exceptions import AzureError

        try:
            yield
        except AzureError as exc:
            # no chained cause: Azure's exception text can hold request URLs with SAS signatures
            raise self._error(url, exc, action) from None

    # ------------------------------------------------------------------ protocol
    def exists(self, url: str) -> bool:
        """Whether the blob exists (a missing container counts as missing)."""
        blob = self._blob(url)
        with self._errors(url, "exists"):
            return bool(blob.exists())

    def read_bytes(self, url: str) -> bytes:
        """The whole blob."""
        with self._errors(url, "read"):
            data: bytes = self._blob(url).download_blob(max_concurrency=self.max_concurrency).readall()
            return data

    def write_bytes(self, url: str, data: bytes) -> None:
        """Upload ``data`` as one block blob (committed atomically)."""
        with self._errors(url, "write"):
            self._blob(url).upload_blob(data, overwrite=True, max_concurrency=self.max_concurrency)

    def open_read(self, url: str) -> IO[bytes]:
        """A seekable stream of the blob (downloaded into a spooled temporary file)."""
        spool = tempfile.SpooledTemporaryFile(max_size=64 << 20)  # noqa: SIM115 - returned to the caller
        with self._errors(url, "read"):
            self._blob(url).download_blob(max_concurrency=self.max_concurrency).readinto(spool)
        spool.seek(0)
        return spool

    @contextlib.contextmanager
    def open_write(self, url: str) -> Iterator[IO[bytes]]:
        """A local temporary file uploaded to ``url`` only when the block exits cleanly."""
        self._blob(url)
        with tempfile.TemporaryDirectory(prefix="lc-upload-") as tmp:
            path = Path(tmp) / "data"
            with path.open("wb") as fh:
                yield fh
            self.upload(path, url)

    def list(self, prefix: str) -> list[str]:
        """Blob URLs under ``prefix`` (``az://container/`` lists the container)."""
        p = self._parse(prefix)
        with self._errors(prefix, "list"):
            container = self.service(prefix).get_container_client(p.bucket)
            blobs = container.list_blobs(name_starts_with=p.key or None)
            return sorted(f"{SCHEME}://{p.bucket}/{b.name}" for b in blobs)

    def delete(self, url: str) -> None:
        """Delete the blob (no error when missing)."""
        from azure.core.exceptions import ResourceNotFoundError

        with self._errors(url, "delete"), contextlib.suppress(ResourceNotFoundError):
            self._blob(url).delete_blob()

    def upload(self, local: Path, url: str) -> None:
        """Upload a complete local file; blocks are staged and committed at once at the end."""
        blob = self._blob(url)
        size = Path(local).stat().st_size
        log.debug("uploading %s (%d bytes) to %s", local, size, url)
        with self._errors(url, "upload"), open(local, "rb") as fh:
            blob.upload_blob(fh, length=size, overwrite=True, max_concurrency=self.max_concurrency)

    def download(self, url: str, local: Path) -> Path:
        """Download the blob to ``local`` (temporary name, renamed when complete)."""
        blob = self._blob(url)
        with atomic_output(local) as tmp, self._errors(url, "download"), tmp.open("wb") as fh:
            blob.download_blob(max_concurrency=self.max_concurrency).readinto(fh)
        return Path(local)

    def gdal_path(self, url: str) -> str:
        """``/vsiaz/container/key``, with GDAL configured (process-wide) to reach this account."""
        p = self._parse(url)
        self.configure_gdal(url)
        return f"/vsiaz/{p.bucket}/{p.key}"

    def local_path(self, url: str) -> Path | None:
        """Blobs have no local path."""
        return None

    def check_container(self, url: str) -> None:
        """Raise :class:`StorageError` unless the container exists and these credentials can list it.

        With a SAS token it lists at most one blob (List Blobs) instead of asking for the container's
        properties: a container-scoped SAS cannot authorise Get Container Properties, which answers 403
        even for a container that exists.

        Args:
            url: any URL in the container.
        """
        from azure.core.exceptions import HttpResponseError

        p = self._parse(url)
        container = self.service(url).get_container_client(p.bucket)
        with self._errors(url, "check container"):
            if not _uses_sas(self):
                if not container.exists():
                    raise StorageError(f"{url}: container {p.bucket!r} not found (account {self.account})")
                return
            try:
                next(iter(container.list_blobs(results_per_page=1).by_page()), None)
            except HttpResponseError as exc:
                if exc.status_code == 403:
                    raise StorageError(f"{url}: the SAS token cannot list container {p.bucket!r} (HTTP 403 "
                                       f"{getattr(exc, 'error_code', None) or 'AuthorizationFailure'}); it needs "
                                       "read, write and list permissions on it") from None
                raise

    def create_container(self, url: str) -> bool:
        """Create the container of ``url``; ``False`` when it already existed."""
        from azure.core.exceptions import ResourceExistsError

        p = self._parse(url)
        with self._errors(url, "create container"):
            try:
                self.service(url).create_container(p.bucket)
            except ResourceExistsError:
                return False
        return True

    # ------------------------------------------------------------------ GDAL
    def gdal_options(self, url: str = "az://") -> dict[str, str]:
        """The GDAL configuration options that let ``/vsiaz/`` read this account."""
        c = self.credentials
        # AZURE_NO_SIGN_REQUEST is a boolean: cleared to "" GDAL would read it as YES and sign nothing
        opts: dict[str, str] = {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR", "AZURE_NO_SIGN_REQUEST": "NO"}
        endpoint = self.endpoint
        custom = bool(endpoint) and not str(endpoint).endswith(".blob.core.windows.net")
        if c.storage_connection_string is not None:
            opts["AZURE_STORAGE_CONNECTION_STRING"] = self._connection_string()
        elif c.storage_account_key is not None:
            key = c.storage_account_key.get_secret_value()
            if custom:
                proto = "http" if str(endpoint).startswith("http://") else "https"
                opts["AZURE_STORAGE_CONNECTION_STRING"] = (
                    f"DefaultEndpointsProtocol={proto};AccountName={self.account};AccountKey={key};"
                    f"BlobEndpoint={endpoint};")
            else:
                opts.update(AZURE_STORAGE_ACCOUNT=str(self.account), AZURE_STORAGE_ACCESS_KEY=key)
        elif c.storage_sas_token is not None:
            sas = c.storage_sas_token.get_secret_value().lstrip("?")
            if custom:
                opts["AZURE_STORAGE_CONNECTION_STRING"] = f"BlobEndpoint={endpoint};SharedAccessSignature={sas};"
            else:
                opts.update(AZURE_STORAGE_ACCOUNT=str(self.account), AZURE_STORAGE_SAS_TOKEN=sas)
        elif self.account:
            # GDAL cannot run DefaultAzureCredential itself: hand it a token from it.
            svc = self.service(url)
            with self._errors(url, "get token"):
                token = svc.credential.get_token(STORAGE_SCOPE)
            self._token_expires = float(token.expires_on)
            opts.update(AZURE_STORAGE_ACCOUNT=str(self.account), AZURE_STORAGE_ACCESS_TOKEN=token.token)
        else:
            raise self._missing_credentials(url)
        return opts

    def configure_gdal(self, url: str = "az://") -> None:
        """Publish :meth:`gdal_options` as the GDAL configuration of every thread.

        Done once per backend (again when another backend published since). A token from
        ``DefaultAzureCredential`` is refreshed, for every thread, by the first raster open within five
        minutes of its expiry.

        Args:
            url: the URL being read (names the container in errors).
        """
        global _gdal_owner
        from .. import _gdal

        with _gdal_lock:
            if _gdal_owner is self:
                _gdal.apply()
                return
            options = self.gdal_options(url)
            refresh = None
            if "AZURE_STORAGE_ACCESS_TOKEN" in options:
                def refresh() -> tuple[dict[str, str], float]:
                    return self.gdal_options(url), self._token_expires
            _gdal.publish(options, managed=GDAL_AZURE_KEYS, expires=self._token_expires, refresh=refresh)
            _gdal_owner = self
