"""int8 models: quantize → predict round trip, provenance, bad calibration data, tampering, honest labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import rasterio

from landcover_sdk import ConfigError, InvalidRasterError, ModelFormatError, Predictor, import_cntk, samples
from landcover_sdk.cli import main
from landcover_sdk.data import write_raster, write_scenes
from landcover_sdk.inference import load_backend
from landcover_sdk.inference.backends import QuantizedBackend, load_model_file
from landcover_sdk.inference.quantize import GRAPH_HASH_KEY, quantize_model
from landcover_sdk.models.file import sha256_file

from .conftest import ORIGIN

DATA = Path(__file__).parent / "data" / "cntk"


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("scenes")
    return [Path(p.image) for p in write_scenes(d, tiles=2, size=320, seed=9)]


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return import_cntk(DATA / "tiny.model").save(tmp_path_factory.mktemp("m") / "tiny.safetensors")


@pytest.fixture(scope="module")
def int8(fp32: Path, scenes: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return quantize_model(fp32, tmp_path_factory.mktemp("q") / "tiny-int8.onnx", scenes[:1], windows=4)


def test_round_trip_on_real_imagery_keeps_the_answers(tmp_path: Path) -> None:
    pairs = samples.chesapeake_2014_pairs()
    int8 = quantize_model("builtin:tutorial-250epochs", tmp_path / "int8.onnx", [p.image for p in pairs[:4]],
                          windows=4)
    p32, p8 = Predictor.from_file("builtin:tutorial-250epochs"), Predictor.from_file(int8)
    assert p8.precision == "int8" and "int8" in repr(p8)
    with rasterio.open(pairs[5].image) as ds:  # not calibrated on
        naip = ds.read()
    exact = p32.predict_classes(naip, mode="exact")
    for mode, bound in (("exact", 0.99), ("fast", 0.98)):
        scores = p8.predict_array(naip, mode=mode)
        assert scores.shape == (5, 256, 256) and np.isfinite(scores).all()
        assert (scores.argmax(0) == exact).mean() >= bound, mode
    res = p8.predict_raster(pairs[5].image, tmp_path / "c.tif", mode="exact", progress=False)
    assert res.mode == "exact tiling, int8 (approximate)"
    with rasterio.open(res.classes) as ds:
        assert ds.tags()["LANDCOVER_MODE"] == "exact tiling, int8 (approximate)" and ds.colormap(1)


def test_provenance_records_source_calibration_and_method(fp32: Path, int8: Path, scenes: list[Path]) -> None:
    q = QuantizedBackend(int8)
    rec = q.record
    assert rec["calibration_windows"] == 4 and "QDQ" in rec["method"] and "per channel" in rec["method"]
    assert rec["calibration_files"] == [{"file": scenes[0].name, "sha256": sha256_file(scenes[0])}]
    assert rec["source_model_sha256"] == sha256_file(fp32) and rec["source_model"] == str(fp32)
    assert rec["source_provenance"]["source"] == "cntk"


def test_bad_calibration_data_fails_before_any_work(fp32: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rgb = write_raster(tmp_path / "rgb.tif", np.zeros((3, 64, 64), np.uint8), crs="EPSG:26917", transform=ORIGIN)
    u16 = write_raster(tmp_path / "u16.tif", np.zeros((4, 64, 64), np.uint16), crs="EPSG:26917", transform=ORIGIN)
    with pytest.raises(InvalidRasterError, match=r"rgb\.tif: calibration imagery has 3 band\(s\); the model needs 4"):
        quantize_model(fp32, tmp_path / "q.onnx", [rgb])
    with pytest.raises(InvalidRasterError, match=r"u16\.tif: band 1 has dtype uint16; expected uint8"):
        quantize_model(fp32, tmp_path / "q.onnx", [u16])
    assert main(["model", "quantize", str(fp32), str(tmp_path / "q.onnx"), "--calibrate", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none: calibration data not found" in err[0]
    assert not (tmp_path / "q.onnx").exists()


def test_a_tampered_int8_file_is_refused(int8: Path, tmp_path: Path) -> None:
    model = onnx.load(str(int8))
    init = next(i for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8)
    values = onnx.numpy_helper.to_array(init).copy()
    values.flat[0] = np.int8(values.flat[0] ^ 0x55)
    init.CopyFrom(onnx.numpy_helper.from_array(values, init.name))
    tampered = tmp_path / "tampered.onnx"
    tampered.write_bytes(model.SerializeToString())
    with pytest.raises(ModelFormatError, match="changed after quantization"):
        Predictor.from_file(tampered)
    unhashed = onnx.load(str(int8))
    for prop in unhashed.metadata_props:
        if prop.key == GRAPH_HASH_KEY:
            prop.value = "0" * 64
    (tmp_path / "unhashed.onnx").write_bytes(unhashed.SerializeToString())
    with pytest.raises(ModelFormatError, match="changed after quantization"):
        load_backend(tmp_path / "unhashed.onnx")


def test_int8_files_are_not_float_model_files(int8: Path) -> None:
    with pytest.raises(ModelFormatError, match="int8 model holds quantized weights"):
        load_model_file(int8)
    with pytest.raises(ConfigError, match="runs on ONNX Runtime only"):
        Predictor.from_file(int8, backend="torch")


def test_cli_quantize_and_info(fp32: Path, scenes: list[Path], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli-int8.onnx"
    assert main(["model", "quantize", str(fp32), str(out), "--calibrate", str(scenes[0].parent), "--windows",
                 "2"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert main(["model", "info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["precision"] == "int8" and info["quantization"]["calibration_windows"] == 2
    assert len(info["quantization"]["calibration_files"]) == 2  # the folder's two *_NAIP.tif


def test_int8_fast_mode_keeps_the_full_context_unless_told_otherwise(int8: Path) -> None:
    q = Predictor.from_file(int8)
    assert (q.config.fast_window, q.config.fast_halo) == (640, 64)
    assert q.tiling("fast").halo == 64 and q.mode_label("fast") == "fast tiling, int8 (approximate)"
    chosen = Predictor.from_file(int8, fast_window=576, fast_halo=32)
    assert (chosen.config.fast_window, chosen.config.fast_halo) == (576, 32)
    assert Predictor.from_file(int8, fast_halo=0).config.fast_window == 576  # one of them given: no default swap


def test_float_models_keep_the_fast_default(fp32: Path) -> None:
    assert (Predictor.from_file(fp32).config.fast_window, Predictor.from_file(fp32).config.fast_halo) == (576, 32)
