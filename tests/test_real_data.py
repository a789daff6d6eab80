"""The data layer on real 1 m NAIP + Chesapeake label pairs (LANDCOVER_REAL_FIXTURES)."""

from pathlib import Path

import numpy as np
import pytest
import rasterio

from landcover_sdk import TileDataset
from landcover_sdk.data import PixelWindow

from .conftest import real_fixtures


@pytest.fixture(scope="module")
def chesapeake() -> Path:
    return real_fixtures() / "chesapeake-2014"


def test_reads_all_pairs_with_grouping(chesapeake: Path) -> None:
    ds = TileDataset.from_folder(chesapeake)
    assert len(ds) == 8
    assert ds.scheme.name == "chesapeake-grouped"
    crs = {t.info.crs.to_epsg() for t in ds.tiles}
    assert crs == {26917}
    direct = np.zeros(5, np.int64)
    for p in sorted(chesapeake.glob("*_LandCover.tif")):
        with rasterio.open(p) as src:
            raw = src.read(1).astype(np.int64)
        grouped = np.select([raw == 15, raw >= 5], [0, 4], default=raw)
        direct += np.bincount(grouped.ravel(), minlength=5)
    assert np.array_equal(ds.class_histogram(), direct)
    img, _lab = ds.read(0, PixelWindow(0, 0, 256, 256))
    assert img.shape == (4, 256, 256) and float(img.max()) < 1.0


def test_tutorial_rule_would_misread_code_15(chesapeake: Path) -> None:
    tutorial = TileDataset.from_folder(chesapeake, class_scheme="tutorial")
    grouped = TileDataset.from_folder(chesapeake)
    # codes 15 exist only if the fixture has no-data pixels; either way grouping never yields more class 4
    assert grouped.class_histogram()[4] <= tutorial.class_histogram()[4]
    assert grouped.class_histogram().sum() == tutorial.class_histogram().sum()
