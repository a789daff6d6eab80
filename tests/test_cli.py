"""The command line as a new user meets it: storage URLs kept intact, damaged inputs named, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rasterio
from affine import Affine

from landcover_sdk import ModelConfig, UNetModel
from landcover_sdk.cli import main
from landcover_sdk.cli.main import build_parser
from landcover_sdk.data import write_scenes

ORIGIN = Affine(1.0, 0.0, 700_000.0, 0.0, -1.0, 4_100_000.0)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    return UNetModel(ModelConfig(channels=(8, 8, 8, 8)), seed=0).eval().save(
        tmp_path_factory.mktemp("m") / "small.safetensors")


@pytest.mark.parametrize("argv", [
    ["predict", "az://c/m.safetensors", "az://c/in.tif", "az://c/out/classes.tif", "--probabilities",
     "az://c/out/p.tif", "--preview", "az://c/out/v.png"],
    ["evaluate", "az://c/m.safetensors", "az://c/in.tif", "az://c/lab.tif", "--report", "az://c/r.json",
     "--figure", "az://c/f.png"],
    ["model", "export-onnx", "az://c/m.safetensors", "az://c/m.onnx"],
    ["model", "import-cntk", "az://c/250epochs.model", "az://c/m.safetensors"],
    ["model", "info", "az://c/m.safetensors"],
    ["data", "check", "az://c/tiles"],
])
def test_every_path_argument_keeps_a_storage_url(argv: list[str]) -> None:
    args = vars(build_parser().parse_args(argv))
    urls = [a for a in argv if a.startswith("az://")]
    assert sorted(v for v in args.values() if isinstance(v, str) and v.startswith("az:")) == sorted(urls)


def test_predict_and_model_commands_read_and_write_blob(blob_store: Any, small_model: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    c = blob_store.container
    pairs = write_scenes(tmp_path / "tiles", tiles=1, size=256, seed=2)
    blob_store.upload(Path(pairs[0].image), f"az://{c}/tiles/{Path(pairs[0].image).name}")
    blob_store.upload(Path(pairs[0].label), f"az://{c}/tiles/{Path(pairs[0].label).name}")
    blob_store.upload(small_model, f"az://{c}/m.safetensors")
    assert main(["predict", f"az://{c}/m.safetensors", f"az://{c}/tiles/{Path(pairs[0].image).name}",
                 f"az://{c}/out/classes.tif", "--probabilities", f"az://{c}/out/p.tif", "--no-progress"]) == 0
    assert f"wrote az://{c}/out/classes.tif" in capsys.readouterr().out
    assert blob_store.list(f"az://{c}/out/") == [f"az://{c}/out/classes.stac.json", f"az://{c}/out/classes.tif",
                                                 f"az://{c}/out/p.tif"]
    with rasterio.open(blob_store.gdal_path(f"az://{c}/out/classes.tif")) as ds:
        assert ds.shape == (256, 256) and ds.colormap(1)[1] == (0, 0, 255, 255)
    assert main(["model", "export-onnx", f"az://{c}/m.safetensors", f"az://{c}/m.onnx"]) == 0
    assert blob_store.read_bytes(f"az://{c}/m.onnx")[:2] == b"\x08\x08"  # ONNX ModelProto, ir_version 8
    capsys.readouterr()
    assert main(["model", "info", f"az://{c}/m.onnx"]) == 0
    assert '"class_scheme": "tutorial"' in capsys.readouterr().out
    assert main(["data", "check", f"az://{c}/tiles"]) == 0
    assert "1 of 1 pair(s) valid" in capsys.readouterr().out


def test_data_check_reads_every_block_and_names_the_damaged_one(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    pairs = write_scenes(tmp_path, tiles=2, size=1024, seed=1)
    damaged = Path(pairs[1].image)
    with rasterio.open(damaged) as ds:
        profile, data = ds.profile, ds.read()
    profile.update(tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    with rasterio.open(damaged, "w", **profile) as ds:
        ds.write(data)
    size = damaged.stat().st_size
    with open(damaged, "r+b") as fh:  # header intact, pixel data cut
        fh.truncate(int(size * 0.6))
    assert main(["data", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "1 of 2 pair(s) valid" in out
    line = next(ln for ln in out.splitlines() if ln.startswith(pairs[1].name))
    assert "pixel block rows" in line and "cols" in line and "band" in line and "TIFFReadEncodedTile" in line


def test_binary_config_is_one_line_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "train.yaml"
    cfg.write_bytes(bytes(range(256)) * 4)
    proc = subprocess.run([sys.executable, "-m", "landcover_sdk", "train", str(cfg)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"landcover: error: {cfg}: not a text file (byte 128 is not UTF-8); configurations are YAML or JSON"]


def test_image_without_georeferencing_says_so_without_warnings(tmp_path: Path) -> None:
    pairs = write_scenes(tmp_path, tiles=1, size=128, seed=3)
    image = Path(pairs[0].image)
    with rasterio.open(image) as ds:
        data = ds.read()
    image.unlink()
    with rasterio.open(image, "w", driver="GTiff", width=128, height=128, count=4, dtype="uint8",
                       photometric="MINISBLACK") as ds:  # no CRS, no geotransform
        ds.write(data)
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    proc = subprocess.run([sys.executable, "-m", "landcover_sdk", "data", "check", str(tmp_path)],
                          capture_output=True, text=True, check=False, env=env)
    assert proc.returncode == 1
    assert "Warning" not in proc.stderr and "warn" not in proc.stdout.lower()
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(pairs[0].name))
    assert f"{image}: has no georeferencing (no CRS), while {pairs[0].label} is in EPSG:26917" in line


def test_region_options_are_checked_before_the_model_is_loaded(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    missing_model = str(tmp_path / "no-such-model.safetensors")
    for extra, message in ((["--center-lon", "-78.6"], "give both --center-lat and --center-lon"),
                           (["--region-size", "512"], "--region-size: only with --center-lat and --center-lon"),
                           (["--center-lat", "37", "--center-lon", "-78", "--region-size", "200"],
                            "region.region_size: 200 is not a multiple of 128"),
                           (["--window", "0", "0", "10", "10", "--bounds", "0", "0", "1", "1"],
                            "not window and bounds")):
        assert main(["predict", missing_model, "in.tif", "out.tif", *extra]) == 1
        err = capsys.readouterr().err
        assert message in err and "no-such-model" not in err and len(err.strip().splitlines()) == 1


def test_help_shows_the_config_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "reproduces the tutorial's windows bit for bit" in out and "256x256 windows per call" in out


def test_unknown_override_is_a_config_error(small_model: Path) -> None:
    from landcover_sdk import ConfigError, Predictor

    with pytest.raises(ConfigError, match="fast_windw: unknown key for PredictConfig"):
        Predictor.from_file(small_model, fast_windw=640)
    with pytest.raises(ConfigError, match="batch_size: Input should be greater than 0"):
        Predictor.from_file(small_model, batch_size=0)
    with pytest.raises(ConfigError, match="fast_window/fast_halo"):
        Predictor.from_file(small_model, fast_window=600)
