"""Predictor: tutorial-exact tiling against CNTK, fast mode, rasters, regions, outputs, bad input."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from landcover_sdk import (
    ConfigError,
    CoordinateError,
    DataError,
    InvalidRasterError,
    LabelValueError,
    Predictor,
    RasterMismatchError,
    Region,
    StorageError,
    WindowError,
)
from landcover_sdk.cli import main
from landcover_sdk.data import TUTORIAL_LAT, TUTORIAL_LON, PixelWindow, write_raster, write_scenes
from landcover_sdk.models import UNetModel

DATA = Path(__file__).parent / "data" / "cntk"
ORIGIN = Affine(1.0, 0.0, 700_000.0, 0.0, -1.0, 4_100_000.0)


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return UNetModel.from_cntk(DATA / "tiny.model").save(tmp_path_factory.mktemp("m") / "tiny.safetensors")


@pytest.fixture(scope="module")
def small_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh tutorial-size model (random weights) for raster plumbing tests."""
    return UNetModel(seed=0).eval().save(tmp_path_factory.mktemp("m") / "small.safetensors")


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max())))


def test_exact_mode_reproduces_cntk_tutorial_loop(tiny_path: Path, tmp_path: Path) -> None:
    ref = np.load(DATA / "tiny_region_ref.npz")
    region = int(ref["region"])
    tif = write_raster(tmp_path / "naip.tif", ref["naip"], crs="EPSG:26917", transform=ORIGIN, cog=False)
    p = Predictor.from_file(tiny_path)
    scores = p.predict_region_scores(tif, Region.from_window((16, 16, region, region)))
    assert _rel(scores, ref["scores"]) < 1e-5
    assert (scores.argmax(0) == ref["scores"].argmax(0)).all()
    out = p.predict_raster(tif, tmp_path / "classes.tif", region={"window": (16, 16, region, region)},
                           progress=False)
    with rasterio.open(out.classes) as ds:
        assert (ds.read(1) == ref["scores"].argmax(0)).all()


def test_exact_mode_on_250epochs_region(tmp_path: Path) -> None:
    from .conftest import cntk_fixtures

    model = UNetModel.from_cntk(cntk_fixtures() / "250epochs.model").save(tmp_path / "m.safetensors")
    ref = np.load(DATA / "region256_250epochs_ref.npz")
    tif = write_raster(tmp_path / "naip.tif", ref["naip"], crs="EPSG:26917", transform=ORIGIN, cog=False)
    for backend in ("onnxruntime", "torch"):
        scores = Predictor.from_file(model, backend=backend).predict_region_scores(
            tif, Region.from_window((64, 64, 256, 256)))
        assert np.abs(scores - ref["scores"]).max() <= 1e-4, backend
        assert (scores.argmax(0) == ref["scores"].argmax(0)).all(), backend


def test_predict_array_shapes_and_edges(small_path: Path) -> None:
    p = Predictor.from_file(small_path)
    rng = np.random.default_rng(0)
    for h, w in ((1, 1), (7, 300), (129, 257)):
        img = rng.integers(0, 255, (4, h, w), dtype=np.uint8)
        for mode in ("exact", "fast"):
            s = p.predict_array(img, mode=mode)
            assert s.shape == (5, h, w) and s.dtype == np.float32 and np.isfinite(s).all()
    img = rng.integers(0, 255, (4, 64, 64), dtype=np.uint8)
    assert np.allclose(p.predict_array(img), p.predict_array(img.astype(np.float32) / 256), atol=1e-5)


def test_predict_array_bad_input(small_path: Path) -> None:
    p = Predictor.from_file(small_path)
    with pytest.raises(DataError, match=r"\(4, H, W\)"):
        p.predict_array(np.zeros((3, 8, 8), np.uint8))
    bad = np.zeros((4, 8, 8), np.float32)
    bad[0, 1, 1] = np.nan
    with pytest.raises(DataError, match="NaN"):
        p.predict_array(bad)
    with pytest.raises(DataError, match="dtype int32"):
        p.predict_array(np.zeros((4, 8, 8), np.int32))


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("scene")
    write_scenes(d, tiles=1, size=1280, seed=2)
    return d


def test_predict_raster_cog_outputs(tiny_path: Path, scene: Path, tmp_path: Path) -> None:
    img = scene / "synth_000_NAIP.tif"
    p = Predictor.from_file(tiny_path, block_size=512)
    res = p.predict_raster(img, tmp_path / "c.tif", probabilities=tmp_path / "p.tif", preview=tmp_path / "v.png",
                           progress=False)
    with rasterio.open(img) as src, rasterio.open(res.classes) as ds, rasterio.open(res.probabilities) as pr:
        assert ds.crs == src.crs and ds.transform == src.transform and ds.shape == src.shape
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and ds.overviews(1)
        assert ds.colormap(1)[1] == (0, 0, 255, 255) and ds.tags()["CLASS_4"] == "barren and impervious"
        nodata = (src.read() == 0).all(axis=0)
        classes = ds.read(1)
        assert nodata.any() and (classes[nodata] == 0).all()
        probs = pr.read()
        assert probs.shape == (5, *src.shape) and (probs[:, nodata] == 0).all()
        assert pr.descriptions[1] == "p(water)"
        total = probs[:, ~nodata].astype(int).sum(axis=0)
        assert np.abs(total - 255).max() <= 3
    whole = p.predict_array(rasterio.open(img).read()).argmax(0)
    assert ((whole == classes) | nodata).all()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["c.stac.json", "c.tif", "p.tif", "v.png"]
    _check_item(res.stac_item, img, tiny_path)


def _check_item(path: Path | str | None, img: Path, model: Path) -> None:
    """The class COG's STAC Item reads back with pystac: grid, classes and colours, assets, lineage."""
    import json

    import pystac
    from pystac.extensions.classification import ClassificationExtension
    from pystac.extensions.projection import ProjectionExtension
    from pystac.extensions.raster import RasterExtension

    assert path is not None
    data = json.loads(Path(path).read_text())
    item = pystac.Item.from_dict(data)
    with rasterio.open(img) as src:
        proj = ProjectionExtension.ext(item)
        assert proj.code == f"EPSG:{src.crs.to_epsg()}" and proj.shape == [src.height, src.width]
        assert tuple(proj.transform or ()) == tuple(src.transform)[:6]
        from rasterio.warp import transform_bounds

        w, s, e, n = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        assert item.bbox is not None and all(abs(a - b) < 1e-5 for a, b in zip(item.bbox, (w, s, e, n), strict=True))
    asset = item.assets["classes"]
    assert asset.href == "./c.tif" and "cloud-optimized" in (asset.media_type or "")
    classes = ClassificationExtension.ext(asset).classes or []
    assert [(c.value, c.description, c.color_hint) for c in classes][:2] == [
        (0, "no data", "000000"), (1, "water", "0000FF")]
    assert classes[0].nodata is True
    bands = RasterExtension.ext(asset).bands or []
    assert bands[0].data_type == "uint8" and bands[0].nodata == 0
    assert set(item.assets) == {"classes", "probabilities", "preview"}
    # links to local files are relative to the item, as STAC resolves them
    derived = [(Path(path).parent / link["href"]).resolve() for link in data["links"]
               if link["rel"] == "derived_from"]
    assert derived == [img.resolve(), model.resolve()]


def test_rerun_gives_identical_file(small_path: Path, scene: Path, tmp_path: Path) -> None:
    img = scene / "synth_000_NAIP.tif"
    p = Predictor.from_file(small_path)
    a = p.predict_raster(img, tmp_path / "a.tif", region=Region.from_window((0, 0, 300, 300)),
                         progress=False).classes
    b = p.predict_raster(img, tmp_path / "b.tif", region=Region.from_window((0, 0, 300, 300)),
                         progress=False).classes
    assert a is not None and b is not None and a.read_bytes() == b.read_bytes()


KILLED = textwrap.dedent(
    """
    import sys, os, signal, threading
    from landcover_sdk.inference import Predictor
    p = Predictor.from_file(sys.argv[1], block_size=256)
    threading.Timer(float(sys.argv[4]), lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
    p.predict_raster(sys.argv[2], sys.argv[3], progress=False)
    """
)


def test_interrupted_run_leaves_no_final_file_and_rerun_is_identical(small_path: Path, scene: Path,
                                                                       tmp_path: Path) -> None:
    img = scene / "synth_000_NAIP.tif"
    out = tmp_path / "classes.tif"
    proc = subprocess.run([sys.executable, "-c", KILLED, str(small_path), str(img), str(out), "2.5"],
                          capture_output=True, check=False)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    Predictor.from_file(small_path, block_size=256).predict_raster(img, out, progress=False)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["classes.stac.json", "classes.tif"]  # partials removed
    again = tmp_path / "again" / "classes.tif"
    again.parent.mkdir()
    Predictor.from_file(small_path, block_size=256).predict_raster(img, again, progress=False)
    assert out.read_bytes() == again.read_bytes()


def test_regions(small_path: Path, scene: Path, tmp_path: Path) -> None:
    img = scene / "synth_000_NAIP.tif"
    p = Predictor.from_file(small_path)
    with rasterio.open(img) as src:
        t = src.transform
        x0, y0 = t @ (100, 200)
    res = p.predict_raster(img, tmp_path / "b.tif", region=Region.from_bounds((x0, y0 - 50, x0 + 70, y0)),
                           progress=False)
    assert res.window == PixelWindow(200, 100, 50, 70)
    with rasterio.open(res.classes) as ds:
        assert ds.transform.c == x0 and ds.transform.f == y0
    # the same bounds given in WGS84
    from pyproj import Transformer

    tr = Transformer.from_crs("EPSG:26917", "EPSG:4326", always_xy=True)
    lon0, lat0 = tr.transform(x0 + 10, y0 - 10)
    lon1, lat1 = tr.transform(x0 + 40, y0 - 40)
    res = p.predict_raster(img, tmp_path / "g.tif",
                           region=Region.from_geometry(box(lon0, lat1, lon1, lat0), crs="EPSG:4326"), progress=False)
    assert 28 <= res.window.height <= 33 and 28 <= res.window.width <= 33
    res = p.predict_raster(img, tmp_path / "c.tif", region=Region.around(TUTORIAL_LAT, TUTORIAL_LON, size=256),
                           progress=False)
    assert res.window.height == 256 and abs(res.window.row - (640 - 128)) <= 1


@pytest.mark.parametrize(
    ("region", "error", "pattern"),
    [
        ({"center_lat": TUTORIAL_LAT, "center_lon": TUTORIAL_LON, "region_size": 200}, ConfigError,
         r"region\.region_size: 200 is not a multiple of 128"),
        ({"center_lat": TUTORIAL_LAT, "center_lon": TUTORIAL_LON, "region_size": 0}, ConfigError,
         r"region\.region_size: Input should be greater than 0"),
        ({"center_lat": TUTORIAL_LAT, "center_lon": TUTORIAL_LON, "region_size": 1280}, CoordinateError, "margin"),
        ({"center_lat": 40.0, "center_lon": -100.0, "region_size": 128}, CoordinateError, "outside"),
        ({"center_lat": TUTORIAL_LAT}, ConfigError, "center_lat and center_lon go together"),
        ({"centre_lat": TUTORIAL_LAT, "center_lon": TUTORIAL_LON}, ConfigError, r"region\.centre_lat: unknown key"),
        ({"window": (1200, 0, 200, 10)}, WindowError, "outside"),
        ({"window": (0, 0, 200, 10), "bounds": (0.0, 0.0, 1.0, 1.0)}, ConfigError, "not window and bounds"),
        ({"bounds": (0.0, 0.0, 1.0, 1.0)}, CoordinateError, "does not overlap"),
        ({"bounds": (0.0, 0.0, 1.0, 1.0), "crs": "EPSG:999999"}, ConfigError, r"region\.crs"),
        ({"window": (0, 0, 10, 10), "region_size": 256}, ConfigError, "region_size: only with"),
    ],
)
def test_bad_regions(small_path: Path, scene: Path, tmp_path: Path, region: dict, error: type,
                     pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        Predictor.from_file(small_path).predict_raster(scene / "synth_000_NAIP.tif", tmp_path / "o.tif",
                                                       region=region, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_bad_inputs_and_outputs(small_path: Path, scene: Path, tmp_path: Path) -> None:
    p = Predictor.from_file(small_path)
    img = scene / "synth_000_NAIP.tif"
    rgb = write_raster(tmp_path / "rgb.tif", np.zeros((3, 32, 32), np.uint8), crs="EPSG:26917", transform=ORIGIN,
                       cog=False)
    with pytest.raises(InvalidRasterError, match=r"rgb\.tif: imagery has 3 band\(s\); the model needs 4"):
        p.predict_raster(rgb, tmp_path / "o.tif", progress=False)
    u16 = write_raster(tmp_path / "u16.tif", np.zeros((4, 32, 32), np.uint16), crs="EPSG:26917", transform=ORIGIN,
                       cog=False)
    with pytest.raises(InvalidRasterError, match="dtype uint16"):
        p.predict_raster(u16, tmp_path / "o.tif", progress=False)
    with pytest.raises(StorageError, match="does not exist"):
        p.predict_raster(img, tmp_path / "missing" / "o.tif", progress=False)
    with pytest.raises(StorageError, match="same file as input"):
        p.predict_raster(img, img, progress=False)
    with pytest.raises(StorageError, match="must differ"):
        p.predict_raster(img, tmp_path / "o.tif", probabilities=tmp_path / "o.tif", progress=False)
    shifted = write_raster(tmp_path / "lab.tif", np.ones((1280, 1280), np.uint8), crs="EPSG:26917",
                           transform=ORIGIN, cog=False)
    with pytest.raises(RasterMismatchError, match="geotransform"):
        p.evaluate_raster(img, shifted, progress=False)
    with rasterio.open(img) as src:
        profile = src.profile
    seven = write_raster(tmp_path / "seven.tif", np.full((1280, 1280), 6, np.uint8), crs=profile["crs"],
                         transform=profile["transform"], cog=False, tags={"LANDCOVER_SCHEME": "chesapeake"})
    with pytest.raises(LabelValueError, match=r"seven\.tif: labels use classes .*road"):
        p.evaluate_raster(img, seven, progress=False)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["lab.tif", "rgb.tif", "seven.tif", "u16.tif"]


def test_evaluate_cli_and_figure(small_path: Path, scene: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    img, lab = scene / "synth_000_NAIP.tif", scene / "synth_000_LandCover.tif"
    args = ["evaluate", str(small_path), str(img), str(lab), "--center-lat", str(TUTORIAL_LAT), "--center-lon",
            str(TUTORIAL_LON), "--region-size", "256", "--report", str(tmp_path / "r.json"), "--figure",
            str(tmp_path / "f.png"), "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "pixel accuracy" in out and (tmp_path / "r.json").exists() and (tmp_path / "f.png").exists()
    import json

    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["pixels"] <= 256 * 256 and len(rep["confusion_matrix"]) == 5
    assert main(["predict", str(small_path), str(img), str(tmp_path / "o.tif"), "--mode", "fast",
                 "--window", "0", "0", "100", "100", "--no-progress"]) == 0
    assert main(["predict", str(small_path), str(img), str(tmp_path / "x.tif"), "--center-lat", "1",
                 "--no-progress"]) == 1
    assert "give both --center-lat and --center-lon" in capsys.readouterr().err


_AREA_IMAGE = np.random.default_rng(8).integers(0, 256, size=(4, 150, 170), dtype=np.uint8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 149), col=st.integers(0, 169), h=st.integers(1, 80), w=st.integers(1, 80),
       edge_mode=st.sampled_from(["reflect", "symmetric", "edge", "constant"]))
def test_predict_area_on_the_raster_grid_equals_the_whole_prediction(tiny_path: Path, row: int, col: int, h: int,
                                                                      w: int, edge_mode: str) -> None:
    """An area scored from a canvas of its aligned margin equals the same pixels of the whole-image prediction."""
    predictor = Predictor.from_file(tiny_path, edge_mode=edge_mode)
    whole = predictor.predict_array(_AREA_IMAGE)
    h, w = min(h, 150 - row), min(w, 170 - col)
    p = predictor.tiling().aligned_margin
    r0, c0 = max(0, row - p), max(0, col - p)
    canvas = _AREA_IMAGE[:, r0 : row + h + p, c0 : col + w + p]
    got = predictor.predict_area(canvas, PixelWindow(row, col, h, w), origin=(r0, c0), raster_shape=(150, 170))
    assert np.array_equal(got, whole[:, row : row + h, col : col + w])
