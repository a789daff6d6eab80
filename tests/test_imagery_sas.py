"""Planetary Computer signing, offline: items whose hrefs are blobs in Azurite, a PC-style token endpoint minting
real container SAS tokens (valid, expired, short-lived), a real STAC API. Cases 14-16 of naip-stac.md §5."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from landcover_sdk.errors import ImageryAccessError
from landcover_sdk.imagery import NaipSource, PlanetaryComputerSas
from landcover_sdk.imagery.access import BlobLocation

from .conftest import rustac_or_skip
from .emulators.azurite import ACCOUNT, KEY
from .emulators.stac_fixtures import SlowProxy, StacApi, TokenEndpoint, World

PLACE = (36.9045, -78.9)  # inside VA22 alone
CONTAINER = "naip"


def _blob(name: str, world: World) -> str:
    return f"v002/{world.tiles[name].file}"


@pytest.fixture(scope="module")
def naip_blobs(azurite: Any, world: World) -> Any:
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client(CONTAINER)
    with contextlib.suppress(ResourceExistsError):
        container.create_container()
    for name in ("VA22", "NC20"):
        with world.path(name).open("rb") as fh:
            container.upload_blob(_blob(name, world), fh, overwrite=True)
    return azurite


@pytest.fixture()
def tokens() -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint(ACCOUNT, KEY)
    yield endpoint
    endpoint.stop()


def _api(world: World, port: int, folder: Path) -> StacApi:
    items = world.items(lambda t: f"http://127.0.0.1:{port}/{ACCOUNT}/{CONTAINER}/v002/{t.file}", ["VA22", "NC20"])
    return StacApi(rustac_or_skip(), folder, items)


@pytest.fixture()
def pc(naip_blobs: Any, world: World, tokens: TokenEndpoint, tmp_path: Path,
       monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[NaipSource, StacApi]]:
    monkeypatch.setenv("LANDCOVER_CACHE_DIR", str(tmp_path / "cache"))
    api = _api(world, naip_blobs.port, tmp_path / "stac")
    yield NaipSource.from_planetary_computer(stac_url=api.url, sas_url=tokens.url, retries=2, backoff=0.05), api
    api.stop()


def _expected(world: World, scene_path: Path) -> np.ndarray:
    t = world.tiles["VA22"].transform
    with rasterio.open(scene_path) as ds:
        g, h, w = ds.transform, ds.height, ds.width
    r, c = round((g.f - t.f) / t.e), round((g.c - t.c) / t.a)
    with rasterio.open(world.path("VA22")) as ds:
        return ds.read(window=((r, r + h), (c, c + w)))


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


def test_signed_reads_through_vsiaz_and_one_token_per_container(pc: tuple[NaipSource, StacApi], world: World,
                                                                 tokens: TokenEndpoint) -> None:
    source, _ = pc
    scene = source.for_region(center=PLACE, region_size=256, progress=False)
    assert np.array_equal(_read(scene.path), _expected(world, scene.path))
    assert tokens.calls == 1  # fetched lazily, once, reused for the header and every window
    text = scene.metadata_path.read_text()
    assert "sig=" not in text and "se=" not in text and tokens.issued[0][-20:] not in text
    assert scene.provenance["source"]["access"] == "planetary-computer-sas"


def test_expired_sas_is_renewed_after_exactly_two_token_calls(pc: tuple[NaipSource, StacApi], world: World,
                                                             tokens: TokenEndpoint,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    source, _ = pc
    tokens.script[:] = [-60, 3600]  # the first token is already expired, though msft:expiry says 1 h
    with caplog.at_level(logging.INFO, logger="landcover_sdk"):
        scene = source.for_region(center=PLACE, region_size=256, progress=False)
    assert tokens.calls == 2
    assert sum("renewing the signature" in r.getMessage() for r in caplog.records) == 1
    assert np.array_equal(_read(scene.path), _expected(world, scene.path))


def test_always_expired_tokens_fail_in_one_line_with_no_trace_of_the_token(
        pc: tuple[NaipSource, StacApi], tokens: TokenEndpoint, caplog: pytest.LogCaptureFixture,
        tmp_path: Path) -> None:
    source, _ = pc
    tokens.default = -60
    with caplog.at_level(logging.DEBUG), pytest.raises(ImageryAccessError) as refused:
        source.for_region(center=PLACE, region_size=256, progress=False)
    message = str(refused.value)
    assert message == "va_m_va22_2022: HTTP 403 — SAS token expired or invalid (after one renewal)"
    assert tokens.calls == 2
    texts = [message, repr(refused.value)]
    cause: BaseException | None = refused.value
    while cause is not None:
        texts.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    texts += [r.getMessage() for r in caplog.records]
    texts += [p.read_text(errors="replace") for p in tmp_path.rglob("*.json")]
    for text in texts:
        assert "sig=" not in text and "se=" not in text, text
        for token in tokens.issued:
            pieces = {token[i:i + 8] for i in range(len(token) - 7)}
            assert not any(p in text for p in pieces), text
    assert not list((tmp_path / "cache").rglob("*.tif"))


def test_a_token_expiring_mid_read_is_renewed(naip_blobs: Any, world: World, tokens: TokenEndpoint,
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("LANDCOVER_CACHE_DIR", str(tmp_path / "cache"))
    slow = SlowProxy(naip_blobs.port, delay=1.0)
    api = _api(world, slow.port, tmp_path / "stac")
    try:
        tokens.script[:] = [2.5, 3600]  # 2.5 s: with 1 s a request, the header is read, the pixels are not
        source = NaipSource.from_planetary_computer(stac_url=api.url, sas_url=tokens.url, retries=2, backoff=0.05)
        with caplog.at_level(logging.DEBUG):
            scene = source.for_region(center=PLACE, region_size=256, progress=False)
        assert tokens.calls == 2
        assert any("renewing the signature" in r.getMessage() for r in caplog.records)
        assert not any("sig=" in r.getMessage() or "se=" in r.getMessage() for r in caplog.records)
        assert np.array_equal(_read(scene.path), _expected(world, scene.path))
    finally:
        api.stop()
        slow.stop()


def test_token_endpoint_rate_limit_and_blob_urls(tokens: TokenEndpoint) -> None:
    tokens.script[:] = ["429", 3600]
    sas = PlanetaryComputerSas(tokens.url, retries=2)
    opened = sas.open("https://naipeuwest.blob.core.windows.net/naip/v002/va/2021/va_060cm_2021/37078/m.tif")
    assert tokens.calls == 2
    base = "https://naipeuwest.blob.core.windows.net/naip/v002/va/2021/va_060cm_2021/37078/m.tif"
    assert opened.path == f"/vsicurl/{base}?{tokens.issued[-1]}" and opened.secrets == (tokens.issued[-1],)
    assert "sig" not in repr(opened) and "sig" not in repr(sas)
    assert BlobLocation.parse("http://127.0.0.1:10000/devstoreaccount1/naip/a/b.tif") == BlobLocation(
        "http://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1", "naip", "a/b.tif")
    with pytest.raises(ImageryAccessError, match=re.escape("https://x.blob.core.windows.net/naip: no container")):
        BlobLocation.parse("https://x.blob.core.windows.net/naip?sig=SECRET")
    tokens.script[:] = ["429"] * 5
    with pytest.raises(ImageryAccessError, match=r"SAS token endpoint .*/naipeuwest/other: HTTP 429"):
        PlanetaryComputerSas(tokens.url, retries=1).token("naipeuwest", "other")
