"""Shared fixtures: synthetic scenes written as real GeoTIFFs, helpers to write odd rasters."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from landcover_sdk.data.synthetic import write_scenes

UTM17 = "EPSG:26917"
ORIGIN = Affine(1.0, 0.0, 700_000.0, 0.0, -1.0, 4_100_000.0)


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 384-px synthetic tile pairs (tutorial label codes)."""
    out = tmp_path_factory.mktemp("synth")
    write_scenes(out, tiles=3, size=384, seed=7)
    return out


@pytest.fixture(scope="session")
def synth_chesapeake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 256-px synthetic pairs whose labels use raw Chesapeake codes (5, 6, 15)."""
    out = tmp_path_factory.mktemp("synth_ches")
    write_scenes(out, tiles=2, size=256, seed=3, label_codes="chesapeake")
    return out


WriteTif = Callable[..., Path]


@pytest.fixture()
def write_tif(tmp_path: Path) -> WriteTif:
    """Write an array as a GeoTIFF under tmp_path; keyword overrides go into the profile."""

    def _write(name: str, array: np.ndarray, **profile: Any) -> Path:
        data = array if array.ndim == 3 else array[None]
        prof: dict[str, Any] = {
            "driver": "GTiff",
            "count": data.shape[0],
            "height": data.shape[1],
            "width": data.shape[2],
            "dtype": str(data.dtype),
            "crs": UTM17,
            "transform": ORIGIN,
        }
        prof.update(profile)
        path = tmp_path / name
        with rasterio.open(path, "w", **prof) as ds:
            ds.write(data)
        return path

    return _write


def real_fixtures() -> Path:
    """Folder of real NAIP/Chesapeake fixtures, or skip with a visible reason."""
    value = os.environ.get("LANDCOVER_REAL_FIXTURES")
    if not value:
        pytest.skip("LANDCOVER_REAL_FIXTURES is not set: real-imagery tests skipped")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"LANDCOVER_REAL_FIXTURES={value} is not a folder")
    return path


def cntk_fixtures() -> Path:
    """Folder of CNTK reference fixtures, or skip with a visible reason."""
    value = os.environ.get("LANDCOVER_CNTK_FIXTURES")
    if not value:
        pytest.skip("LANDCOVER_CNTK_FIXTURES is not set: CNTK parity tests skipped")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"LANDCOVER_CNTK_FIXTURES={value} is not a folder")
    return path


# ---------------------------------------------------------------------------- Azurite
def required_tool(binary: str | None, *, require_env: str, missing: str) -> str:
    """``binary``, or skip the test saying what is ``missing`` — fail instead where CI sets ``require_env``."""
    if binary is None:
        if os.environ.get(require_env):
            pytest.fail(f"{missing}, but {require_env} requires it")
        pytest.skip(missing)
    return binary


def _azurite_or_skip() -> str:
    from .emulators.azurite import azurite_binary

    return required_tool(azurite_binary(), require_env="LANDCOVER_REQUIRE_AZURITE",
                         missing="Azurite not installed (run `make azurite`, needs npm)")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One Azurite blob service for the test session, on a free 127.0.0.1 port."""
    from .emulators.azurite import Azurite

    server = Azurite(_azurite_or_skip(), tmp_path_factory.mktemp("azurite"))
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def private_azurite(tmp_path: Path) -> Any:
    """An Azurite of the test's own, free to be stopped and restarted."""
    from .emulators.azurite import Azurite

    server = Azurite(_azurite_or_skip(), tmp_path / "azurite")
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def blob_store(azurite: Any) -> Any:
    """An AzureBlobStorage on the session Azurite, registered for az:// URLs, and a fresh container."""
    from azure.storage.blob import LinearRetry

    from landcover_sdk.storage import AzureBlobStorage, configure_storage, reset_storage

    store = AzureBlobStorage(azurite.credentials(),
                             retry_policy=LinearRetry(backoff=0.2, random_jitter_range=0, retry_total=3))
    configure_storage(store)
    import uuid

    container = "t" + uuid.uuid4().hex[:12]
    store.create_container(f"az://{container}/")
    store.container = container  # type: ignore[attr-defined]
    yield store
    reset_storage()


@pytest.fixture()
def batch() -> Any:
    """A fresh Azure Batch emulator on 127.0.0.1 (tests/emulators/batch_emulator.py)."""
    from .emulators.batch_emulator import BatchEmulator

    emu = BatchEmulator().start()
    yield emu
    emu.stop()


# ---------------------------------------------------------------------------- NAIP from STAC
def rustac_or_skip() -> str:
    """The ``rustac`` STAC API server, or skip (fail in CI: ``LANDCOVER_REQUIRE_STAC``)."""
    from .emulators.stac_fixtures import rustac_binary

    return required_tool(rustac_binary(), require_env="LANDCOVER_REQUIRE_STAC",
                         missing="rustac not installed (pip install rustac; Python >= 3.11)")


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """NAIP-shaped COGs (tests/emulators/stac_fixtures.py) for the imagery tests."""
    from .emulators.stac_fixtures import build_world

    return build_world(tmp_path_factory.mktemp("naip"))


@pytest.fixture(scope="session")
def cog_host(world: Any) -> Iterator[Any]:
    """A range-capable HTTP server for the world's COGs."""
    from .emulators.stac_fixtures import RangeServer

    server = RangeServer(world.root)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api(world: Any, cog_host: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real STAC API (rustac serve) listing the world's items, behind a fault-injecting proxy."""
    from .emulators.stac_fixtures import StacApi

    server = StacApi(rustac_or_skip(), tmp_path_factory.mktemp("stac"), world.items(lambda t: cog_host.url(t.file)))
    yield server
    server.stop()
