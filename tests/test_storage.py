"""Storage: URL parsing, local backend, plugin registry, Azure Blob against Azurite (incl. a fault test)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from landcover_sdk import InvalidRasterError, StorageError
from landcover_sdk import _registry as registry_module
from landcover_sdk.config import AzureCredentials, ModelConfig
from landcover_sdk.data import TileDataset, open_raster, read_window, write_scenes
from landcover_sdk.data.windows import PixelWindow
from landcover_sdk.storage import (
    AzureBlobStorage,
    LocalStorage,
    Storage,
    StorageURL,
    fetch_to_cache,
    get_storage,
    register_backend,
    reset_storage,
    staged_outputs,
)
from landcover_sdk.storage import base as storage_base

from .emulators.azurite import KEY, METADATA_AUTOSAVE_SECONDS

# ---------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "scheme", "bucket", "key"),
    [
        ("data/x.tif", "file", "", "data/x.tif"),
        ("/abs/x.tif", "file", "", "/abs/x.tif"),
        ("file:///abs/x.tif", "file", "", "/abs/x.tif"),
        ("az://naip/tiles/a_NAIP.tif", "az", "naip", "tiles/a_NAIP.tif"),
        ("AZ://naip/", "az", "naip", ""),
        ("az://naip", "az", "naip", ""),
    ],
)
def test_parse_urls(url: str, scheme: str, bucket: str, key: str) -> None:
    p = StorageURL.parse(url)
    assert (p.scheme, p.bucket, p.key) == (scheme, bucket, key)


@pytest.mark.parametrize("url", ["", "az://", "az:///key", "://x", "1az://c/k", "az://c/a//b", "az://c\\d/k"])
def test_malformed_urls_raise_storage_error(url: str) -> None:
    with pytest.raises(StorageError):
        StorageURL.parse(url)


def test_unknown_scheme_names_the_url_and_known_schemes() -> None:
    with pytest.raises(StorageError, match=r"s3://b/k: no storage backend for scheme 's3' \(known: .*az.*file"):
        get_storage("s3://b/k")


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_hostile_urls_only_raise_storage_error(text: str) -> None:
    try:
        p = StorageURL.parse(text)
    except StorageError:
        return
    assert StorageURL.parse(str(p)) == p


_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=12)


@given(st.from_regex(r"[a-z0-9]{3,20}", fullmatch=True), st.lists(_segment, min_size=1, max_size=4))
def test_az_urls_round_trip(container: str, parts: list[str]) -> None:
    url = f"az://{container}/{'/'.join(parts)}"
    p = StorageURL.parse(url)
    assert str(p) == url and p.name == parts[-1]
    assert str(StorageURL.parse(f"az://{container}").join(*parts)) == url


# ---------------------------------------------------------------------------- local backend


def test_local_storage_round_trip(tmp_path: Path) -> None:
    store = get_storage(tmp_path / "a.bin")
    assert isinstance(store, LocalStorage) and isinstance(store, Storage)
    store.write_bytes(str(tmp_path / "a.bin"), b"hello")
    store.write_bytes(f"file://{tmp_path}/sub/../b.bin", b"world")
    assert store.read_bytes(str(tmp_path / "a.bin")) == b"hello"
    assert store.exists(str(tmp_path / "b.bin"))
    assert store.list(str(tmp_path)) == [str(tmp_path / "a.bin"), str(tmp_path / "b.bin")]
    assert not store.exists(str(tmp_path / "sub"))
    assert store.list(str(tmp_path / "a")) == [str(tmp_path / "a.bin")]
    store.delete(str(tmp_path / "a.bin"))
    store.delete(str(tmp_path / "a.bin"))
    assert not store.exists(str(tmp_path / "a.bin"))
    with pytest.raises(StorageError, match=r"a\.bin: file not found"):
        store.read_bytes(str(tmp_path / "a.bin"))
    store.check_container(str(tmp_path / "missing" / "x"))
    store.write_bytes(str(tmp_path / "new" / "deep" / "c.bin"), b"!")
    with pytest.raises(StorageError, match="is not a folder"):
        store.check_container(str(tmp_path / "new" / "deep" / "c.bin" / "x"))


def test_local_open_write_is_atomic(tmp_path: Path) -> None:
    store = LocalStorage()
    target = str(tmp_path / "out.bin")
    with pytest.raises(RuntimeError), store.open_write(target) as fh:
        fh.write(b"partial")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with store.open_write(target) as fh:
        fh.write(b"complete")
    assert store.read_bytes(target) == b"complete"


def test_plugin_backend_registered_by_entry_point(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class MemoryStorage(LocalStorage):
        scheme = "mem"

    class FakeEntryPoint:
        name = "mem"
        value = "plugin:MemoryStorage"

        def load(self) -> Any:
            return MemoryStorage

    class BrokenEntryPoint(FakeEntryPoint):
        name = "broken"

        def load(self) -> Any:
            raise ImportError("plugin missing")

    monkeypatch.setattr(registry_module, "entry_points", lambda group: [FakeEntryPoint(), BrokenEntryPoint()])
    monkeypatch.setattr(storage_base.BACKENDS, "_plugins_loaded", False)
    monkeypatch.setattr(storage_base.BACKENDS, "_entries", dict(storage_base.BACKENDS._entries))
    reset_storage()
    assert isinstance(get_storage("mem://bucket/key"), MemoryStorage)
    with pytest.raises(StorageError, match="no storage backend for scheme 'broken'"):
        get_storage("broken://b/k")
    register_backend("mem", LocalStorage)
    assert type(get_storage("mem://bucket/key")) is LocalStorage
    reset_storage()


# ---------------------------------------------------------------------------- credentials (no network)


def test_missing_credentials_list_every_way_tried() -> None:
    store = AzureBlobStorage(AzureCredentials())
    with pytest.raises(StorageError) as err:
        store.read_bytes("az://data/x.tif")
    msg = str(err.value)
    for way in ("connection string", "account key", "SAS token", "DefaultAzureCredential"):
        assert way in msg


def test_credentials_from_env_and_never_shown() -> None:
    env = {"AZURE_STORAGE_ACCOUNT": "acct", "AZURE_STORAGE_KEY": KEY, "AZURE_BATCH_ACCESS_KEY": "batchsecret"}
    creds = AzureCredentials.from_env(env)
    store = AzureBlobStorage(creds)
    assert store.auth_method == "account key" and store.account == "acct"
    text = repr(store) + repr(creds) + str(creds.to_dict())
    assert KEY not in text and "batchsecret" not in text
    assert store.gdal_options()["AZURE_STORAGE_ACCESS_KEY"] == KEY


def test_invalid_container_name() -> None:
    store = AzureBlobStorage(AzureCredentials(storage_account="acct", storage_account_key=SecretStr(KEY)))
    with pytest.raises(StorageError, match="invalid container name 'Bad_Name'"):
        store.exists("az://Bad_Name/x")


# ---------------------------------------------------------------------------- Azure Blob on Azurite


def test_blob_round_trip_list_exists_delete(blob_store: Any) -> None:
    c = blob_store.container
    blob_store.write_bytes(f"az://{c}/a/one.bin", b"1")
    blob_store.write_bytes(f"az://{c}/a/two.bin", b"22")
    blob_store.write_bytes(f"az://{c}/b/three.bin", b"333")
    assert get_storage(f"az://{c}/a/one.bin") is blob_store
    assert blob_store.read_bytes(f"az://{c}/a/two.bin") == b"22"
    assert blob_store.list(f"az://{c}/a/") == [f"az://{c}/a/one.bin", f"az://{c}/a/two.bin"]
    assert len(blob_store.list(f"az://{c}/")) == 3
    assert blob_store.exists(f"az://{c}/b/three.bin")
    assert not blob_store.exists(f"az://{c}/b/none.bin")
    blob_store.delete(f"az://{c}/b/three.bin")
    blob_store.delete(f"az://{c}/b/three.bin")
    assert not blob_store.exists(f"az://{c}/b/three.bin")
    with blob_store.open_read(f"az://{c}/a/two.bin") as fh:
        assert fh.read() == b"22"


def test_blob_missing_container_and_blob(blob_store: Any) -> None:
    c = blob_store.container
    with pytest.raises(StorageError, match=r"az://nosuchcontainer/x.bin: container 'nosuchcontainer' not found"):
        blob_store.read_bytes("az://nosuchcontainer/x.bin")
    with pytest.raises(StorageError, match="container 'nosuchcontainer' not found"):
        blob_store.check_container("az://nosuchcontainer/")
    with pytest.raises(StorageError, match=rf"az://{c}/missing.bin: blob not found"):
        blob_store.read_bytes(f"az://{c}/missing.bin")
    with pytest.raises(StorageError, match="names a container or folder"):
        blob_store.read_bytes(f"az://{c}/folder/")


def test_blob_wrong_key_fails_without_leaking_it(azurite: Any) -> None:
    wrong = "A" * 86 + "=="
    store = AzureBlobStorage(AzureCredentials(storage_account="devstoreaccount1", storage_account_key=SecretStr(wrong),
                                              blob_endpoint=azurite.endpoint), retry_total=0)
    with pytest.raises(StorageError) as err:
        store.write_bytes("az://anything/x.bin", b"x")
    assert wrong not in str(err.value) and KEY not in str(err.value)
    assert "az://anything/x.bin" in str(err.value)


def test_blob_large_upload_in_blocks_and_atomic_open_write(azurite: Any, tmp_path: Path) -> None:
    store = AzureBlobStorage(azurite.credentials(), max_block_size=1 << 20, max_single_put_size=1 << 20)
    store.create_container("az://large/")
    data = np.random.default_rng(0).integers(0, 256, 9 * (1 << 20) + 123, dtype=np.uint8).tobytes()
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    store.upload(src, "az://large/big.bin")
    assert store.download("az://large/big.bin", tmp_path / "back.bin").read_bytes() == data
    blocks = store.service().get_blob_client("large", "big.bin").get_block_list()[0]
    assert len(blocks) == 10  # staged in 1 MiB blocks, committed once
    with pytest.raises(RuntimeError), store.open_write("az://large/never.bin") as fh:
        fh.write(b"partial")
        raise RuntimeError("interrupted")
    assert not store.exists("az://large/never.bin")


def test_tile_dataset_reads_windows_from_blob(blob_store: Any, tmp_path: Path) -> None:
    c = blob_store.container
    local = tmp_path / "tiles"
    write_scenes(local, tiles=2, size=256, seed=1)
    for f in sorted(local.iterdir()):
        blob_store.upload(f, f"az://{c}/tiles/{f.name}")
    ds = TileDataset.from_folder(f"az://{c}/tiles", cache="windowed")
    ref = TileDataset.from_folder(local, cache="windowed")
    assert [t.pair.name for t in ds.tiles] == [t.pair.name for t in ref.tiles]
    assert ds.tiles[0].pair.image.startswith(f"az://{c}/tiles/")
    img, lab = ds.read(1, PixelWindow(40, 50, 64, 96))
    img_ref, lab_ref = ref.read(1, PixelWindow(40, 50, 64, 96))
    assert np.array_equal(img, img_ref) and np.array_equal(lab, lab_ref)
    with open_raster(f"az://{c}/tiles/{ref.tiles[0].pair.name}_NAIP.tif") as remote:
        win = read_window(remote, PixelWindow(-8, -8, 32, 32), bands=[1, 2, 3, 4])
    assert win.shape == (4, 32, 32)
    with pytest.raises(InvalidRasterError, match=rf"az://{c}/tiles/none_NAIP.tif: file not found"):
        TileDataset([(f"az://{c}/tiles/none_NAIP.tif", f"az://{c}/tiles/none_LandCover.tif")])


def test_blob_dataset_missing_partner_and_missing_container(blob_store: Any, tmp_path: Path) -> None:
    c = blob_store.container
    blob_store.write_bytes(f"az://{c}/lonely/x_NAIP.tif", b"not used")
    from landcover_sdk import MissingPartnerError

    with pytest.raises(MissingPartnerError, match=r"x_NAIP\.tif: no label partner"):
        TileDataset.from_folder(f"az://{c}/lonely")
    with pytest.raises(StorageError, match="container 'nosuchcontainer' not found"):
        TileDataset.from_folder("az://nosuchcontainer/tiles")


def test_predict_raster_from_and_to_blob(blob_store: Any, tmp_path: Path) -> None:
    from landcover_sdk.inference import Predictor
    from landcover_sdk.models import UNetModel

    c = blob_store.container
    local = tmp_path / "tiles"
    write_scenes(local, tiles=1, size=256, seed=2)
    image = next(local.glob("*_NAIP.tif"))
    blob_store.upload(image, f"az://{c}/in/{image.name}")
    model = UNetModel(ModelConfig(channels=(8, 8, 8, 8)), seed=0).eval().save(tmp_path / "m.safetensors")
    blob_store.upload(model, f"az://{c}/models/m.safetensors")
    p = Predictor.from_file(f"az://{c}/models/m.safetensors")
    res = p.predict_raster(f"az://{c}/in/{image.name}", f"az://{c}/out/classes.tif",
                           probabilities=f"az://{c}/out/probs.tif", preview=tmp_path / "preview.png", progress=False)
    assert res.classes == f"az://{c}/out/classes.tif"
    assert blob_store.list(f"az://{c}/out/") == [f"az://{c}/out/classes.stac.json", f"az://{c}/out/classes.tif",
                                                 f"az://{c}/out/probs.tif"]
    # the STAC Item went up beside the COG, its assets named as uploaded (not as staged)
    assert res.stac_item == f"az://{c}/out/classes.stac.json"
    blob_store.download(res.stac_item, tmp_path / "item.json")
    item = json.loads((tmp_path / "item.json").read_text())
    assert item["id"] == "classes" and item["assets"]["classes"]["href"] == "./classes.tif"
    assert item["assets"]["probabilities"]["href"] == "./probs.tif" and item["assets"]["preview"]["href"] == \
        "./preview.png"
    p.predict_raster(image, tmp_path / "classes.tif", progress=False)
    with rasterio.open(blob_store.gdal_path(f"az://{c}/out/classes.tif")) as remote, \
            rasterio.open(tmp_path / "classes.tif") as ref:
        assert np.array_equal(remote.read(), ref.read())
        assert remote.colormap(1) == ref.colormap(1)
    with pytest.raises(StorageError, match="container 'nosuchcontainer' not found"):
        p.predict_raster(image, "az://nosuchcontainer/out.tif", progress=False)


def test_fetch_to_cache_and_staged_outputs(blob_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDCOVER_CACHE_DIR", str(tmp_path / "cache"))
    c = blob_store.container
    blob_store.write_bytes(f"az://{c}/m/model.bin", b"weights")
    got = fetch_to_cache(f"az://{c}/m/model.bin")
    assert got.read_bytes() == b"weights" and got.is_relative_to(tmp_path / "cache")
    with pytest.raises(RuntimeError), staged_outputs({"a": f"az://{c}/s/a.txt"}) as local:
        Path(str(local["a"])).write_text("partial")
        raise RuntimeError("interrupted")
    assert not blob_store.exists(f"az://{c}/s/a.txt")


# ---------------------------------------------------------------------------- fault: Azurite dies mid-upload


def _fault_store(server: Any, retries: int, timeout: float = 2.0) -> AzureBlobStorage:
    from azure.storage.blob import LinearRetry

    return AzureBlobStorage(server.credentials(), max_block_size=256 << 10, max_single_put_size=256 << 10,
                            max_concurrency=1, connection_timeout=timeout, read_timeout=timeout,
                            retry_policy=LinearRetry(backoff=0.5, random_jitter_range=0, retry_total=retries,
                                                     retry_connect=retries, retry_read=retries))


def _upload_with_fault(store: AzureBlobStorage, tmp_path: Path, fault: Any) -> tuple[bytes, StorageError | None]:
    """Upload 16 MiB in 256 KiB blocks; ``fault()`` runs once 4 MiB have been sent."""
    data = np.random.default_rng(1).integers(0, 256, 16 << 20, dtype=np.uint8).tobytes()
    src = tmp_path / "payload.bin"
    src.write_bytes(data)
    fired = threading.Event()
    blob = store.service().get_blob_client("fault", "payload.bin")
    original = blob.upload_blob

    def hook(current: int, total: int | None) -> None:
        if current >= (4 << 20) and not fired.is_set():
            fired.set()
            fault()

    blob.upload_blob = lambda *a, **kw: original(*a, progress_hook=hook, **kw)
    store._blob = lambda url: blob  # type: ignore[method-assign]
    outcome = None
    try:
        store.upload(src, "az://fault/payload.bin")
    except StorageError as exc:
        outcome = exc
    assert fired.is_set()
    return data, outcome


def _persisted_container(server: Any) -> None:
    AzureBlobStorage(server.credentials()).create_container("az://fault/")
    time.sleep(METADATA_AUTOSAVE_SECONDS + 0.5)


def test_upload_retried_while_azurite_frozen(private_azurite: Any, tmp_path: Path) -> None:
    store = _fault_store(private_azurite, retries=8, timeout=1.0)
    store.create_container("az://fault/")

    def freeze() -> None:
        private_azurite.pause()
        threading.Timer(2.0, private_azurite.resume).start()

    data, outcome = _upload_with_fault(store, tmp_path, freeze)
    assert outcome is None
    assert store.read_bytes("az://fault/payload.bin") == data


def test_upload_across_azurite_crash_and_restart(private_azurite: Any, tmp_path: Path) -> None:
    _persisted_container(private_azurite)
    store = _fault_store(private_azurite, retries=8)

    def crash() -> None:
        private_azurite.stop()
        threading.Timer(1.0, private_azurite.start).start()

    data, outcome = _upload_with_fault(store, tmp_path, crash)
    time.sleep(0.5)
    fresh = AzureBlobStorage(private_azurite.credentials())
    # Retried to completion, or failed with StorageError (blocks staged before the crash can be
    # lost with Azurite's unsaved metadata): never a partial blob under the final name.
    if outcome is None:
        assert fresh.read_bytes("az://fault/payload.bin") == data
    else:
        assert "az://fault/payload.bin" in str(outcome) and KEY not in str(outcome)
        assert fresh.list("az://fault/") == []


def test_upload_fails_cleanly_when_azurite_stays_down(private_azurite: Any, tmp_path: Path) -> None:
    _persisted_container(private_azurite)
    store = _fault_store(private_azurite, retries=2)
    _, outcome = _upload_with_fault(store, tmp_path, private_azurite.stop)
    assert isinstance(outcome, StorageError)
    assert "unreachable after retries" in str(outcome) and KEY not in str(outcome)
    private_azurite.start()
    fresh = AzureBlobStorage(private_azurite.credentials())
    fresh.check_container("az://fault/")
    assert not fresh.exists("az://fault/payload.bin")
    assert fresh.list("az://fault/") == []
