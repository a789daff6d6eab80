"""The ArcGIS raster function and its packages, driven through the shipped replay harness (no ArcGIS, no arcpy)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landcover_sdk import ConfigError, DataError, Predictor
from landcover_sdk.arcgis import ClassifyLandcover, export_dlpk, install_function
from landcover_sdk.cli.main import main
from landcover_sdk.config.schemes import ClassScheme
from landcover_sdk.data.synthetic import write_scenes
from landcover_sdk.data.windows import PixelWindow
from landcover_sdk.inference import soft_labels, softmax
from landcover_sdk.testing.arcgis import ArcGISReplay, ReplayError

from .conftest import real_fixtures

TINY = Path(__file__).parent / "data" / "cntk" / "tiny.model"
BUILTIN = "builtin:tutorial-250epochs"


def _load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic 1024² NAIP-like scene with a no-data hole (nodata 0) and a no-data border strip."""
    out = tmp_path_factory.mktemp("arc")
    pair = write_scenes(out, tiles=1, size=1024, seed=11)[0]
    with rasterio.open(pair.image) as ds:
        data, profile = ds.read(), ds.profile
    data[:, 300:340, 500:700] = 0
    data[:, :, 1000:] = 0
    profile.update(nodata=0)
    path = out / "scene_nodata.tif"
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data)
    return path


@pytest.fixture(scope="module")
def batch(scene: Path) -> dict[str, np.ndarray]:
    """The whole-raster exact prediction of the scene with the tiny model: scores and the class COG."""
    predictor = Predictor.from_file(TINY)
    scores = predictor.predict_region_scores(scene)
    out = scene.with_name("classes.tif")
    predictor.predict_raster(scene, out, progress=False)
    with rasterio.open(out) as ds:
        classes = ds.read(1)
    with rasterio.open(scene) as ds:
        valid = (ds.read() != 0).any(axis=0)
    return {"scores": scores, "classes": classes, "valid": valid}


@pytest.fixture(scope="module")
def hard_replay(scene: Path) -> ArcGISReplay:
    """One function object for many blocks, as ArcGIS keeps one per layer (its core cache carries over)."""
    replay = ArcGISReplay(ClassifyLandcover, scene, {"model": str(TINY), "output": "Hard"})
    replay.prepare()
    return replay


# ---------------------------------------------------------------------------------------------- protocol answers
def test_padding_is_known_when_arcgis_reads_it(scene: Path) -> None:
    """ArcGIS reads ``padding`` from getConfiguration, before updateRasterInfo: it must be set there, from the model."""
    for grid, padding in (("Block", 64), ("Raster", 64 + 127)):
        replay = ArcGISReplay(ClassifyLandcover, scene, {"model": BUILTIN, "grid": grid})
        replay.is_licensed()
        replay.parameter_info()
        config = replay.configuration()
        assert config["padding"] == padding
        assert config["extractBands"] == (0, 1, 2, 3)
        assert config["inputMask"] is True and config["resampling"] is False
        assert config["inheritProperties"] == 2 | 4 | 8


@pytest.mark.parametrize(("output", "bands", "pixel_type"), [
    ("Soft", 3, "u1"), ("Softmax", 3, "u1"), ("Hard", 1, "u1"), ("Hardmax", 1, "u1"),
    ("Probabilities", 5, "f4"), ("Classes", 1, "u1"),
])
def test_output_declarations(scene: Path, output: str, bands: int, pixel_type: str) -> None:
    replay = ArcGISReplay(ClassifyLandcover, scene, {"model": str(TINY), "output": output})
    info = replay.prepare()
    assert (info["bandCount"], info["pixelType"]) == (bands, pixel_type)
    scheme = ClassScheme.tutorial()
    if output in ("Hard", "Hardmax"):
        values, red, green, blue = info["colormap"]
        assert values.tolist() == [0, 1, 2, 3, 4]
        assert np.array_equal(np.stack([red, green, blue], axis=1), scheme.colors)
    else:
        assert info["colormap"] == ()
    if output in ("Hard", "Hardmax", "Classes"):
        rows = json.loads(info["rasterAttributeTable"])["features"]
        assert [(r["attributes"]["Value"], r["attributes"]["Class"]) for r in rows] == list(enumerate(scheme.names))
        assert replay.key_metadata(-1)["datatype"] == "Thematic"
    else:
        assert replay.key_metadata(-1)["datatype"] == "Processed"
    assert len(info["statistics"]) == bands
    block = replay.update_pixels(PixelWindow(100, 200, 37, 50))
    assert block["output_pixels"].shape == ((37, 50) if bands == 1 else (bands, 37, 50))


def test_bad_parameters_and_rasters_are_named(scene: Path, tmp_path: Path) -> None:
    fn = ClassifyLandcover()
    with pytest.raises(ConfigError, match="output: 'Fuzzy'"):
        fn.getConfiguration(model=str(TINY), output="Fuzzy")
    with pytest.raises(ConfigError, match="bands: '1,2,3'"):
        fn.getConfiguration(model=str(TINY), bands="1,2,3")
    with pytest.raises(ConfigError, match="threads"):
        fn.getConfiguration(model=str(TINY), threads="many")
    with pytest.raises(ConfigError, match=r"model: .*nope\.onnx: file not found"):
        fn.getConfiguration(model=str(tmp_path / "nope.onnx"))
    with pytest.raises(ConfigError, match="getConfiguration must run"):
        fn.updatePixels((0, 0), (4, 4), {}, raster_pixels=np.zeros((4, 4, 4), np.uint8))
    fn.getConfiguration(model=str(TINY))
    with pytest.raises(DataError, match="raster: 3 band"):
        fn.updateRasterInfo(raster_info={"bandCount": 3, "pixelType": "u1"}, output_info={})
    with rasterio.open(scene) as ds:
        profile, data = ds.profile, ds.read()
    wide = tmp_path / "u16.tif"
    profile.update(dtype="uint16")
    with rasterio.open(wide, "w", **profile) as ds:
        ds.write(data.astype(np.uint16))
    with pytest.raises(DataError, match="pixel type 'u2'"):
        ArcGISReplay(ClassifyLandcover, wide, {"model": str(TINY)}).prepare()


def test_harness_refuses_protocol_breaches(scene: Path) -> None:
    class PaddingTooLate(ClassifyLandcover):
        def getConfiguration(self, **scalars: Any) -> dict[str, Any]:  # noqa: N802
            config = super().getConfiguration(**scalars)
            config["padding"] = "64"
            return config

    class WrongShape(ClassifyLandcover):
        def updatePixels(self, tlc: Any, shape: Any, props: Any, **blocks: Any) -> dict[str, Any]:  # noqa: N802
            out = super().updatePixels(tlc, shape, props, **blocks)
            out["output_pixels"] = np.asfortranarray(out["output_pixels"].T)
            return out

    with pytest.raises(ReplayError, match="padding"):
        ArcGISReplay(PaddingTooLate, scene, {"model": str(TINY)}).prepare()
    replay = ArcGISReplay(WrongShape, scene, {"model": str(TINY), "output": "Hard"})
    replay.prepare()
    with pytest.raises(ReplayError, match="shape"):
        replay.update_pixels(PixelWindow(0, 0, 30, 40))
    with pytest.raises(ReplayError, match="not parameters"):
        ArcGISReplay(ClassifyLandcover, scene, {"modle": str(TINY)}).prepare()


# ---------------------------------------------------------------------------------------------- equality with batch
def test_mosaic_equals_the_batch_cog(scene: Path, batch: dict[str, np.ndarray]) -> None:
    """Misaligned, odd-sized blocks starting outside the raster: identical to predict_raster, each core once."""
    replay = ArcGISReplay(ClassifyLandcover, scene, {"model": str(TINY), "output": "Hard"})
    mosaic = replay.run(block=(300, 411), offset=(-37, -91))
    assert mosaic.covered.all()
    assert np.array_equal(mosaic.pixels[0], batch["classes"])
    assert np.array_equal(mosaic.mask[0] > 0, batch["valid"])
    core = replay.function.predictor.tiling("exact").model_core  # the tiny model's: 32
    assert replay.function.windows_evaluated == (1024 // core) ** 2  # every core of the raster once, none twice


@pytest.mark.parametrize("tlc", ["pixels", "map"])
def test_probabilities_and_soft_equal_batch(scene: Path, batch: dict[str, np.ndarray], tlc: str) -> None:
    probs = softmax(batch["scores"], axis=0)
    valid = batch["valid"]
    replay = ArcGISReplay(ClassifyLandcover, scene, {"model": str(TINY), "output": "Probabilities"})
    got = replay.run(block=(256, 256), offset=(-5, -200), tlc=tlc).pixels  # type: ignore[arg-type]
    assert np.abs(got - probs * valid).max() <= 1e-5
    soft = ArcGISReplay(ClassifyLandcover, scene, {"model": str(TINY), "output": "Soft"})
    rendered = soft.run(block=(512, 200), offset=(-100, 0), tlc=tlc).pixels  # type: ignore[arg-type]
    expected = soft_labels(probs).transpose(2, 0, 1) * valid
    assert np.array_equal(rendered, expected)


def _real_images() -> list[Path]:
    root = real_fixtures()
    patches = sorted((root / "chesapeake-2014").glob("*_NAIP.tif"))
    return [*patches, root / "naip-nd-5m" / "m_4709963_se_14_1_20180716.tif"]


def test_real_imagery_equals_batch_with_the_tutorial_model(tmp_path: Path) -> None:
    """The tutorial's own model on real NAIP: Hard equals the class COG, Probabilities within 1e-5, Soft identical."""
    predictor = Predictor.from_file(BUILTIN)
    for image in _real_images():
        out = tmp_path / f"{image.stem}_classes.tif"
        predictor.predict_raster(image, out, progress=False)
        with rasterio.open(out) as ds:
            cog = ds.read(1)
        hard = ArcGISReplay(ClassifyLandcover, image, {"model": BUILTIN, "output": "Hard"})
        assert np.array_equal(hard.run(block=(200, 180), offset=(-64, -3)).pixels[0], cog), image.name
        if image.parent.name == "naip-nd-5m":
            continue  # 934×724 with no-data: the class check above covers it; probabilities on the 1 m patches
        probs = softmax(predictor.predict_region_scores(image), axis=0)
        got = ArcGISReplay(ClassifyLandcover, image, {"model": BUILTIN, "output": "Probabilities"}).run(
            block=(256, 256), offset=(-100, -17)).pixels
        assert np.abs(got - probs).max() <= 1e-5, image.name
        soft = ArcGISReplay(ClassifyLandcover, image, {"model": BUILTIN, "output": "Soft"}).run(
            block=(128, 300), offset=(-1, -1)).pixels
        assert np.array_equal(soft, soft_labels(probs).transpose(2, 0, 1)), image.name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 400), cols=st.integers(1, 400), row=st.integers(-420, 1023), col=st.integers(-420, 1023),
       tlc=st.sampled_from(["pixels", "map"]))
def test_any_block_where_position_is_known_equals_batch(hard_replay: ArcGISReplay, batch: dict[str, np.ndarray],
                                                        rows: int, cols: int, row: int, col: int, tlc: str) -> None:
    block = PixelWindow(row, col, rows, cols)
    answer = hard_replay.update_pixels(block, tlc=tlc)  # type: ignore[arg-type]
    pixels, mask = answer["output_pixels"], answer["output_mask"]
    assert pixels.shape == mask.shape == (rows, cols)
    assert pixels.dtype == mask.dtype == np.uint8
    assert pixels.flags.c_contiguous and mask.flags.c_contiguous
    inner = block.intersect(1024, 1024)
    expected = np.zeros((rows, cols), np.uint8)
    expected_mask = np.zeros((rows, cols), np.uint8)
    if inner is not None:
        sl = (slice(inner.row - row, inner.row_stop - row), slice(inner.col - col, inner.col_stop - col))
        expected[sl] = batch["classes"][inner.row : inner.row_stop, inner.col : inner.col_stop]
        expected_mask[sl] = batch["valid"][inner.row : inner.row_stop, inner.col : inner.col_stop]
    assert np.array_equal(mask, expected_mask)
    assert np.array_equal(pixels, expected)


def test_blocks_without_a_position_are_tiled_alone() -> None:
    """When tlc/props do not place a block, it is tiled on its own: right shapes, ≥ 99 % agreement with batch.

    Measured with the tutorial's model on real NAIP: exact mode subtracts each window's mean, so a
    window placed elsewhere gives slightly different answers (an untrained model would disagree at random).
    """
    rng = np.random.default_rng(5)
    predictor = Predictor.from_file(BUILTIN)
    agree = total = 0
    for image in _real_images()[:8]:
        batch_classes = predictor.predict_region_scores(image).argmax(axis=0)
        height, width = batch_classes.shape
        replay = ArcGISReplay(ClassifyLandcover, image, {"model": BUILTIN, "output": "Classes"})
        replay.prepare()
        for _ in range(10):
            rows, cols = (int(v) for v in rng.integers(1, 200, size=2))
            row, col = int(rng.integers(-100, height)), int(rng.integers(-100, width))
            out = replay.update_pixels(PixelWindow(row, col, rows, cols), tlc="none")
            assert out["output_pixels"].shape == (rows, cols) and out["output_pixels"].flags.c_contiguous
            inner = PixelWindow(row, col, rows, cols).intersect(height, width)
            if inner is None:
                continue
            sl = (slice(inner.row - row, inner.row_stop - row), slice(inner.col - col, inner.col_stop - col))
            got, valid = out["output_pixels"][sl], out["output_mask"][sl] > 0
            want = batch_classes[inner.row : inner.row_stop, inner.col : inner.col_stop]
            agree += int((got == want)[valid].sum())
            total += int(valid.sum())
    assert total > 100_000
    assert agree / total >= 0.99


# ---------------------------------------------------------------------------------------------- masks, zoom, licence
def test_masked_and_zoomed_out_blocks_run_no_model(scene: Path, batch: dict[str, np.ndarray]) -> None:
    replay = ArcGISReplay(ClassifyLandcover, scene, {"model": str(TINY), "output": "Soft"})
    replay.prepare()
    fn = replay.function
    hole = replay.update_pixels(PixelWindow(305, 520, 30, 150))  # inside the no-data hole
    assert not hole["output_mask"].any() and not hole["output_pixels"].any()
    outside = replay.update_pixels(PixelWindow(-300, 1100, 200, 200))
    assert not outside["output_mask"].any()
    zoomed = replay.update_pixels(PixelWindow(0, 0, 256, 256), cell_size=2.0)  # a 2 m pyramid request
    assert not zoomed["output_mask"].any()
    assert fn.windows_evaluated == 0
    edge = replay.update_pixels(PixelWindow(290, 490, 60, 60))  # half in the hole: only the hole is masked
    assert edge["output_mask"][:, 10:50, 10:60].sum() == 0
    assert np.array_equal(edge["output_mask"][0] > 0, batch["valid"][290:350, 490:550])
    assert fn.windows_evaluated > 0
    big = ArcGISReplay(ClassifyLandcover, scene, {"model": str(TINY), "max_cell_size": 4})
    big.prepare()
    zoomed_in = big.update_pixels(PixelWindow(0, 0, 64, 64), cell_size=2.0)["output_mask"]
    assert zoomed_in.any() and np.array_equal(zoomed_in[0] > 0, batch["valid"][:64, :64])


def test_is_licensed_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ClassifyLandcover().isLicensed(productName="ArcGISPro", major=3)["okToRun"] is True
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    answer = ClassifyLandcover().isLicensed(productName="ArcGISPro", major=3)
    assert answer["okToRun"] is False and "pip install landcover-sdk" in answer["message"]


# ---------------------------------------------------------------------------------------------- shipped files
def test_installed_function_loads_from_any_folder(scene: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = install_function(tmp_path, model=str(TINY), output="Hard")
    assert sorted(p.name for p in folder.iterdir()) == ["ClassifyLandcover.py", "ClassifyLandcover.rft.xml",
                                                        "README.txt"]
    moved = tmp_path / "somewhere" / "else"
    shutil.copytree(folder, moved)
    source = (moved / "ClassifyLandcover.py").read_text()
    assert "arcpy" not in source
    module = _load_module(moved / "ClassifyLandcover.py", "ClassifyLandcover")
    cls = module.ClassifyLandcover
    assert cls.__name__ == "ClassifyLandcover" == (moved / "ClassifyLandcover.py").stem
    assert "arcpy" not in sys.modules
    root = ET.parse(moved / "ClassifyLandcover.rft.xml").getroot()
    names = [s.text for s in root.find("Arguments/Names")]  # type: ignore[union-attr]
    values = root.find("Arguments/Values")
    assert names[:2] == ["PythonModule", "ClassName"]
    assert names[2:] == [p["name"] for p in cls().getParameterInfo()]
    assert values is not None and values[0].text == "ClassifyLandcover.py" and values[1].text == "ClassifyLandcover"
    model_value = values[names.index("model")].find("Value")
    assert model_value is not None and model_value.text == str(TINY)
    mosaic = ArcGISReplay(cls, scene, {"output": "Hard", "model": str(TINY)}).run(block=(512, 512))
    assert mosaic.pixels.shape == (1, 1024, 1024)
    # without the SDK in ArcGIS Pro's Python the function loads and says what to install
    monkeypatch.setitem(sys.modules, "landcover_sdk.arcgis", None)
    bare = _load_module(moved / "ClassifyLandcover.py", "ClassifyLandcoverBare").ClassifyLandcover()
    licence = bare.isLicensed(productName="ArcGISPro")
    assert licence["okToRun"] is False and "pip install landcover-sdk" in licence["message"]


def test_dlpk_loads_and_classifies_like_batch(scene: Path, batch: dict[str, np.ndarray], tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    out.mkdir()
    dlpk = export_dlpk(TINY, out, name="tiny")
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(dlpk) as zf:
        names = set(zf.namelist())
        zf.extractall(unpacked)
    emd = json.loads((unpacked / "tiny.emd").read_text())
    assert {emd["ModelFile"], emd["InferenceFunction"], "tiny.emd"} == names
    assert (emd["ImageHeight"], emd["ImageWidth"], emd["ModelPadding"]) == (64, 64, 16)  # the tiny model's
    assert emd["ExtractBands"] == [0, 1, 2, 3] and "DataRange" not in emd
    assert [(c["Value"], c["Name"]) for c in emd["Classes"]] == list(enumerate(ClassScheme.tutorial().names))
    assert [c["Color"] for c in emd["Classes"]] == ClassScheme.tutorial().colors.tolist()
    module = _load_module(unpacked / emd["InferenceFunction"], "ClassifyLandcoverDL")

    def from_emd() -> Any:
        fn = module.ClassifyLandcover()
        fn.initialize(model=str(unpacked / "tiny.emd"), device=-1)
        return fn

    replay = ArcGISReplay(from_emd, scene, {"model": str(unpacked / "tiny.emd")})
    config = replay.prepare() and replay.config
    assert config is not None and config["tx"] == config["ty"] == 4 * 32  # whole cores of the tiny model
    mosaic = replay.run(block=(config["ty"], config["tx"]))
    assert replay.output_info is not None and replay.output_info["bandCount"] == 1  # class values, as the tool wants
    assert np.array_equal(mosaic.pixels[0], batch["classes"])


def test_cli_install_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "arcgis", "install-function", str(tmp_path)]) == 0
    assert (tmp_path / "ClassifyLandcover" / "README.txt").is_file()
    assert main(["-q", "arcgis", "export-dlpk", BUILTIN, str(tmp_path)]) == 0
    with zipfile.ZipFile(tmp_path / "tutorial-250epochs.dlpk") as zf:
        emd = json.loads(zf.read("tutorial-250epochs.emd"))
    assert (emd["ImageHeight"], emd["ImageWidth"], emd["ModelPadding"]) == (256, 256, 64)
    capsys.readouterr()
    assert main(["-q", "arcgis", "install-function", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing: destination folder does not exist" in err
