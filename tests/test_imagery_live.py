"""The live Planetary Computer at the tutorial's point — opt-in (LANDCOVER_LIVE_NAIP=1), never in CI: it needs the
internet. `LANDCOVER_LIVE_NAIP=1 .venv/bin/python -m pytest -q tests/test_imagery_live.py -s`."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

from landcover_sdk import Predictor
from landcover_sdk.imagery import NaipSource

pytestmark = pytest.mark.skipif(not os.environ.get("LANDCOVER_LIVE_NAIP"),
                                reason="live Planetary Computer check: set LANDCOVER_LIVE_NAIP=1 (needs the internet)")

TUTORIAL = (37.055522, -78.638640)


def test_tutorial_point_from_the_planetary_computer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANDCOVER_CACHE_DIR", str(tmp_path / "cache"))
    source = NaipSource.from_planetary_computer()
    t0 = time.perf_counter()
    scene = source.for_region(center=TUTORIAL, region_size=1024)
    fetched = time.perf_counter() - t0
    with rasterio.open(scene.path) as ds:
        data = ds.read()
        assert ds.crs.to_epsg() == 26917 and ds.res == (1.0, 1.0) and ds.count == 4
    assert (data != 0).any(axis=0).mean() >= 0.999
    print(f"fetched in {fetched:.1f}s: " + ", ".join(i.describe() for i in scene.items))
    t0 = time.perf_counter()
    result = Predictor.from_file("builtin:tutorial-250epochs", mode="fast").predict_raster(
        "naip:planetary-computer", tmp_path / "classes.tif",
        region={"center_lat": TUTORIAL[0], "center_lon": TUTORIAL[1], "region_size": 1024})
    print(f"predicted in {time.perf_counter() - t0:.1f}s (cached scene): {result.classes}")
    with rasterio.open(result.classes) as ds:
        assert len(np.unique(ds.read(1))) > 2
