"""The worked examples for outputs and named catalogs, run for real (examples/extending/, one file each)."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import rasterio

from landcover_sdk import ConfigError, Predictor, Region, StorageError
from landcover_sdk.cli import main
from landcover_sdk.data import write_scenes
from landcover_sdk.imagery import SOURCES, NaipSource, is_source_name, parse_source_name
from landcover_sdk.imagery.source import SPEC_PREFIX, is_spec, parse_spec
from landcover_sdk.inference import OUTPUTS, ClassesOutput, PreviewOutput
from landcover_sdk.storage import base as storage_base
from landcover_sdk.storage import register_backend, reset_storage

from .emulators.stac_fixtures import TUTORIAL, Tile, _utm_origin, write_tile

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
    out = tmp_path_factory.mktemp("plugins")
    write_scenes(out, tiles=1, size=256, seed=5)
    return next(out.glob("*_NAIP.tif"))


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_file(MODEL)


@pytest.fixture()
def counts_module() -> Iterator[ModuleType]:
    module = _load("pixel_count_output")
    yield module
    OUTPUTS.unregister("pixel-counts")


def _counts(path: Path) -> dict[str, int]:
    with path.open() as f:
        return {row["name"]: int(row["pixels"]) for row in csv.DictReader(f)}


def _check_counts(counts: dict[str, int], classes: Path) -> None:
    with rasterio.open(classes) as ds:
        ids = ds.read(1)
    assert sum(counts.values()) == ids.size
    assert max(counts.values()) == np.bincount(ids.ravel()).max()


def test_a_user_output_is_one_file_and_needs_no_predictor_edit(counts_module: ModuleType, predictor: Predictor,
                                                                scene: Path, tmp_path: Path) -> None:
    out = counts_module.PixelCountsOutput(tmp_path / "counts.csv")
    result = predictor.predict_raster(scene, tmp_path / "classes.tif", outputs=[out], progress=False)
    assert set(result.outputs) == {"classes", "pixel-counts", "stac_item"}
    assert result.outputs["pixel-counts"] == tmp_path / "counts.csv"
    _check_counts(_counts(tmp_path / "counts.csv"), tmp_path / "classes.tif")
    assert result.classes == tmp_path / "classes.tif" and result.probabilities is None


def test_a_registered_output_kind_is_named_on_the_command_line(counts_module: ModuleType, scene: Path,
                                                               tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert "pixel-counts" in OUTPUTS
    assert main(["predict", MODEL, str(scene), str(tmp_path / "c.tif"), "--output",
                 f"pixel-counts={tmp_path / 'n.csv'}", "--no-progress"]) == 0
    assert f"wrote {tmp_path / 'n.csv'}" in capsys.readouterr().out
    _check_counts(_counts(tmp_path / "n.csv"), tmp_path / "c.tif")
    assert main(["predict", MODEL, str(scene), str(tmp_path / "d.tif"), "--output", f"nope={tmp_path / 'x'}"]) != 0
    assert "unknown output kind 'nope'" in capsys.readouterr().err


def test_two_outputs_with_one_path_are_refused_before_any_pixel(predictor: Predictor, scene: Path,
                                                               tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="must differ"):
        predictor.predict_raster(scene, tmp_path / "a.png", outputs=[PreviewOutput(tmp_path / "a.png")])
    assert not list(tmp_path.iterdir())


@pytest.fixture()
def mounted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "mounts"
    (root / "share").mkdir(parents=True)
    monkeypatch.setenv("LANDCOVER_MNT_ROOT", str(root))
    register_backend("mnt", _load("mounted_storage").MountedStorage)
    yield root
    storage_base.BACKENDS.unregister("mnt")
    reset_storage()


def test_a_user_output_to_remote_storage_stages_itself(counts_module: ModuleType, predictor: Predictor,
                                                       scene: Path, mounted: Path) -> None:
    # mnt:// is remote to the predictor: every output is written locally, then uploaded by its storage backend
    out = counts_module.PixelCountsOutput("mnt://share/out/counts.csv")
    (mounted / "share" / "out").mkdir()
    result = predictor.predict_raster(scene, outputs=[ClassesOutput("mnt://share/out/classes.tif"), out],
                                      progress=False)
    assert result.outputs == {"classes": "mnt://share/out/classes.tif", "pixel-counts": "mnt://share/out/counts.csv",
                              "stac_item": "mnt://share/out/classes.stac.json"}
    _check_counts(_counts(mounted / "share" / "out" / "counts.csv"), mounted / "share" / "out" / "classes.tif")
    item = json.loads((mounted / "share" / "out" / "classes.stac.json").read_text())
    assert item["id"] == "classes" and item["assets"]["classes"]["href"] == "./classes.tif"


def test_a_user_output_to_blob_storage(counts_module: ModuleType, predictor: Predictor, scene: Path,
                                       blob_store: Any, tmp_path: Path) -> None:
    c = blob_store.container
    out = counts_module.PixelCountsOutput(f"az://{c}/out/counts.csv")
    result = predictor.predict_raster(scene, f"az://{c}/out/classes.tif", outputs=[out], progress=False)
    assert result.outputs["pixel-counts"] == f"az://{c}/out/counts.csv"
    assert blob_store.list(f"az://{c}/out/") == [f"az://{c}/out/classes.stac.json", f"az://{c}/out/classes.tif",
                                                 f"az://{c}/out/counts.csv"]
    local = blob_store.download(f"az://{c}/out/counts.csv", tmp_path / "counts.csv")
    assert sum(_counts(Path(local)).values()) == 256 * 256


# ------------------------------------------------------------------------------------------------ named catalogs
@pytest.fixture(scope="module")
def ortho(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ortho")
    x, y = _utm_origin("EPSG:26917", *TUTORIAL, -600, 600)
    from affine import Affine

    write_tile(Tile("T1", "EPSG:26917", Affine(1, 0, x, 0, -1, y), 1200, 1200, 2021, "va"), root, seed=3)
    return root


@pytest.fixture()
def folder_source(ortho: Path, tmp_path: Path) -> Iterator[ModuleType]:
    module = _load("static_catalog")
    module.register_folder("county-ortho", ortho, year=2021, cache=tmp_path / "cache")
    yield module
    SOURCES.unregister("county-ortho")


def test_a_named_catalog_is_one_file_and_one_registration(folder_source: ModuleType, predictor: Predictor,
                                                          tmp_path: Path) -> None:
    assert "county-ortho" in SOURCES
    assert parse_source_name("naip:county-ortho?year=2021") == ("county-ortho", {"year": 2021})
    result = predictor.predict_raster("naip:county-ortho", tmp_path / "classes.tif",
                                      region=Region.around(*TUTORIAL, size=256), progress=False)
    assert result.window.height == 256 and result.window.width == 256
    item = json.loads(Path(str(result.stac_item)).read_text())
    assert any(link["title"].startswith("NAIP ") for link in item["links"] if link["rel"] == "derived_from")


def test_a_named_catalog_shows_in_the_cli_help(folder_source: ModuleType,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["imagery", "search", "--help"])
    assert "county-ortho" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert "naip:county-ortho" in capsys.readouterr().out


def test_the_old_source_name_functions_are_aliases() -> None:
    assert SPEC_PREFIX == "naip:" and is_spec is is_source_name and parse_spec is parse_source_name
    assert parse_spec("naip:earth-search?year=2020") == ("earth-search", {"year": 2020})
    assert NaipSource.from_spec("naip:pc").name == NaipSource.from_name("naip:planetary-computer").name
    with pytest.raises(ConfigError, match="naip:earth-search"):
        parse_source_name("naip:nowhere")
