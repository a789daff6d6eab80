"""The whole pipeline on real NAIP + Chesapeake labels (LANDCOVER_REAL_FIXTURES, LANDCOVER_CNTK_FIXTURES)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from landcover_sdk import ClassScheme
from landcover_sdk.cli import main
from landcover_sdk.data import write_raster
from landcover_sdk.inference import Predictor, evaluate, hard_labels
from landcover_sdk.models import UNetModel

from .conftest import cntk_fixtures, real_fixtures


@pytest.fixture(scope="module")
def model_250(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return UNetModel.from_cntk(cntk_fixtures() / "250epochs.model").save(
        tmp_path_factory.mktemp("m") / "250epochs.safetensors")


def test_250epochs_accuracy_on_real_pairs(model_250: Path, tmp_path: Path) -> None:
    folder = real_fixtures() / "chesapeake-2014"
    predictor = Predictor.from_file(model_250)
    accs, probs = [], []
    for img in sorted(folder.glob("*_NAIP.tif")):
        lab = img.with_name(img.name.replace("_NAIP", "_LandCover"))
        report = predictor.evaluate_raster(img, lab, region={"window": (64, 64, 128, 128)}, progress=False)
        accs.append(report.accuracy)
        probs.append(report.mean_true_probability)
    mean_acc, mean_prob = float(np.mean(accs)), float(np.mean(probs))
    print(f"\n250epochs.model on 8 real pairs (128x128 centres): pixel accuracy {mean_acc:.4f}, "
          f"mean true-label probability {mean_prob:.4f}")
    assert len(accs) == 8
    assert mean_acc >= 0.88
    # the same through the CLI, for one pair
    img = sorted(folder.glob("*_NAIP.tif"))[0]
    lab = img.with_name(img.name.replace("_NAIP", "_LandCover"))
    assert main(["evaluate", str(model_250), str(img), str(lab), "--window", "64", "64", "128", "128",
                 "--report", str(tmp_path / "r.json"), "--no-progress"]) == 0
    assert abs(json.loads((tmp_path / "r.json").read_text())["accuracy"] - accs[0]) < 1e-9


def test_renderer_reproduces_the_tutorials_published_render() -> None:
    roi = real_fixtures() / "tutorial-roi-256"
    classes = np.asarray(Image.open(roi / "c14_roi256_true_classes.png"))
    published = np.asarray(Image.open(roi / "c14_roi256_true_render.png").convert("RGB"))
    assert np.array_equal(hard_labels(classes), published)
    predicted = np.asarray(Image.open(roi / "c14_roi256_pred_classes.png"))
    assert np.array_equal(hard_labels(predicted), np.asarray(Image.open(roi / "c14_roi256_pred_render.png")
                                                              .convert("RGB")))
    report = evaluate(classes, predicted)
    assert round(report.accuracy, 5) == 0.76123


def test_code_15_is_excluded_from_metrics(tmp_path: Path) -> None:
    labels_raw = np.array([[2, 2, 15, 15], [3, 5, 6, 15]], dtype=np.uint8)
    grouped = ClassScheme.chesapeake_grouped().remap(labels_raw)
    predictions = np.array([[2, 3, 4, 4], [3, 4, 4, 1]], dtype=np.uint8)
    report = evaluate(grouped, predictions)
    assert report.pixels == 5  # the three code-15 pixels are not counted
    assert report.accuracy == pytest.approx(4 / 5)
    tutorial = ClassScheme.tutorial().remap(labels_raw)  # the blanket rule would count them as barren
    assert evaluate(tutorial, predictions).pixels == 8


def test_whole_raster_prediction_of_the_5m_raster(model_250: Path, tmp_path: Path) -> None:
    src = real_fixtures() / "naip-nd-5m" / "m_4709963_se_14_1_20180716.tif"
    with rasterio.open(src) as ds:
        data, profile = ds.read(), ds.profile
    data[:, 100:160, 200:300] = 0  # a no-data patch (the raster's nodata value is 0)
    holed = write_raster(tmp_path / "holed.tif", data, crs=profile["crs"], transform=profile["transform"],
                         nodata=0, cog=False)
    res = Predictor.from_file(model_250, block_size=256).predict_raster(
        holed, tmp_path / "classes.tif", probabilities=tmp_path / "p.tif", progress=False)
    with rasterio.open(res.classes) as ds:
        assert ds.crs.to_epsg() == 26914 and ds.transform == profile["transform"]
        assert ds.profile["tiled"] and ds.overviews(1) and ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert ds.colormap(1)[2] == (0, 127, 0, 255)
        classes = ds.read(1)
        assert (classes[100:160, 200:300] == 0).all()
        assert (classes != 0).mean() > 0.98


PEAK = textwrap.dedent(
    """
    import sys
    from landcover_sdk.inference import Predictor
    Predictor.from_file(sys.argv[1], block_size=256).predict_raster(sys.argv[2], sys.argv[3], progress=False)
    # VmHWM belongs to this address space; ru_maxrss would include the forking parent's peak.
    hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM")][0]
    print(int(hwm.split()[1]) // 1024)
    """
)


def test_memory_stays_bounded(model_250: Path, tmp_path: Path) -> None:
    src = real_fixtures() / "naip-nd-5m" / "m_4709963_se_14_1_20180716.tif"
    proc = subprocess.run([sys.executable, "-c", PEAK, str(model_250), str(src), str(tmp_path / "c.tif")],
                          capture_output=True, text=True, check=True)
    peak_mb = int(proc.stdout.strip().splitlines()[-1])
    assert peak_mb < 1024, peak_mb
