"""GDAL configuration that every thread sees, for credentials that reach GDAL's network drivers.

rasterio sets GDAL configuration options *per thread* (``CPLSetThreadLocalConfigOption``): a value set
on one thread is invisible to the others, and the predictor and the tile service read rasters on their
own threads. So storage backends *publish* their options here (process-wide, versioned) and every
raster open (:func:`landcover_sdk.data.raster.open_raster`) first brings its own thread up to the latest
version — a dictionary lookup when nothing changed.

Options a backend manages but does not use are set to the empty string, which GDAL treats as unset;
unlike deleting them this also hides a same-named environment variable (GDAL falls back to the
environment), so a stray ``AZURE_STORAGE_CONNECTION_STRING`` cannot take precedence over the account
key the user configured. Published values can expire (access tokens): the publisher's ``refresh``
callable is then called, once, by whichever thread opens a raster first, and its result reaches all.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping

log = logging.getLogger(__name__)

#: Every GDAL option through which /vsiaz/ finds credentials (cpl_azure.cpp); those a backend does not use
#: are cleared, so neither an earlier backend's values nor the environment's can take precedence.
GDAL_AZURE_KEYS = ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_ACCESS_KEY",
                   "AZURE_STORAGE_SAS_TOKEN", "AZURE_SAS", "AZURE_STORAGE_ACCESS_TOKEN", "AZURE_NO_SIGN_REQUEST")

Refresh = Callable[[], tuple[dict[str, str], float]]


class _Published:
    """The latest published configuration (guarded by ``_lock``)."""

    def __init__(self) -> None:
        self.version = 0
        self.options: dict[str, str] = {}
        self.expires = float("inf")
        self.refresh: Refresh | None = None


_lock = threading.Lock()
_local = threading.local()
_state = _Published()


def publish(options: Mapping[str, str], *, managed: Iterable[str] = (), expires: float = float("inf"),
            refresh: Refresh | None = None) -> None:
    """Make ``options`` the GDAL configuration of every thread (this one at once, others at their next open).

    Args:
        options: GDAL configuration options and their values.
        managed: further option names this publisher owns: cleared (set to ``""``) unless in ``options``.
        expires: POSIX time after which the options are stale (an access token's expiry).
        refresh: called (under a lock, once) when fewer than five minutes are left before ``expires``;
            returns the new options and their expiry.
    """
    with _lock:
        _state.options = {**dict.fromkeys(managed, ""), **options}
        _state.expires, _state.refresh = expires, refresh
        _state.version += 1
    apply()


def apply() -> None:
    """Bring this thread's GDAL configuration up to the latest published one (refreshing stale options)."""
    from rasterio.env import set_gdal_config

    with _lock:
        if _state.refresh is not None and time.time() > _state.expires - 300:
            options, _state.expires = _state.refresh()
            _state.options = {**dict.fromkeys(_state.options, ""), **options}
            _state.version += 1
            log.debug("GDAL credentials refreshed")
        if getattr(_local, "version", 0) == _state.version:
            return
        version, options = _state.version, dict(_state.options)
    for key, value in options.items():
        set_gdal_config(key, value)
    _local.version = version

