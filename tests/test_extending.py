"""The worked examples of docs/extending.md, run for real: each plugin is one file under examples/extending/."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import rasterio

from landcover_sdk import Predictor, StorageError
from landcover_sdk.data import write_scenes
from landcover_sdk.storage import base as storage_base
from landcover_sdk.storage import get_storage, register_backend, reset_storage

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "extending"
MODEL = "builtin:tutorial-250epochs"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"extending_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("extending")
    write_scenes(out, tiles=1, size=256, seed=11)
    return next(out.glob("*_NAIP.tif"))


@pytest.fixture()
def mounted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "mounts"
    (root / "share").mkdir(parents=True)
    monkeypatch.setenv("LANDCOVER_MNT_ROOT", str(root))
    module = _load("mounted_storage")
    register_backend("mnt", module.MountedStorage)
    yield root
    storage_base.BACKENDS.unregister("mnt")
    reset_storage()


def test_a_storage_backend_is_one_file_and_one_registration(mounted: Path, scene: Path) -> None:
    (mounted / "share" / "in.tif").write_bytes(scene.read_bytes())
    store = get_storage("mnt://share/in.tif")
    assert store.exists("mnt://share/in.tif")
    assert store.list("mnt://share/") == ["mnt://share/in.tif"]
    # the predictor reads the mounted raster in place and writes its outputs through the backend
    result = Predictor.from_file(MODEL).predict_raster("mnt://share/in.tif", "mnt://share/out/classes.tif")
    written = mounted / "share" / "out" / "classes.tif"
    assert written.is_file()
    with rasterio.open(written) as ds, rasterio.open(scene) as src:
        assert ds.shape == src.shape and ds.crs == src.crs
        assert np.isin(ds.read(1), [0, 1, 2, 3, 4]).all()
    assert result.megapixels_per_second > 0
    with pytest.raises(StorageError, match=r"share .* is not mounted"):
        store.check_container("mnt://nowhere/x.tif")
