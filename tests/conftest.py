"""Shared fixtures: synthetic scenes written as real GeoTIFFs, helpers to write odd rasters."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from landcover_sdk.data.synthetic import write_scenes

UTM17 = "EPSG:26917"
ORIGIN = Affine(1.0, 0.0, 700_000.0, 0.0, -1.0, 4_100_000.0)


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 384-px synthetic tile pairs (tutorial label codes)."""
    out = tmp_path_factory.mktemp("synth")
    write_scenes(out, tiles=3, size=384, seed=7)
    return out


@pytest.fixture(scope="session")
def synth_chesapeake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two 256-px synthetic pairs whose labels use raw Chesapeake codes (5, 6, 15)."""
    out = tmp_path_factory.mktemp("synth_ches")
    write_scenes(out, tiles=2, size=256, seed=3, label_codes="chesapeake")
    return out


WriteTif = Callable[..., Path]


@pytest.fixture()
def write_tif(tmp_path: Path) -> WriteTif:
    """Write an array as a GeoTIFF under tmp_path; keyword overrides go into the profile."""

    def _write(name: str, array: np.ndarray, **profile: Any) -> Path:
        data = array if array.ndim == 3 else array[None]
        prof: dict[str, Any] = {
            "driver": "GTiff",
            "count": data.shape[0],
            "height": data.shape[1],
            "width": data.shape[2],
            "dtype": str(data.dtype),
            "crs": UTM17,
            "transform": ORIGIN,
        }
        prof.update(profile)
        path = tmp_path / name
        with rasterio.open(path, "w", **prof) as ds:
            ds.write(data)
        return path

    return _write


def real_fixtures() -> Path:
    """Folder of real NAIP/Chesapeake fixtures, or skip with a visible reason."""
    value = os.environ.get("LANDCOVER_REAL_FIXTURES")
    if not value:
        pytest.skip("LANDCOVER_REAL_FIXTURES is not set: real-imagery tests skipped")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"LANDCOVER_REAL_FIXTURES={value} is not a folder")
    return path


def cntk_fixtures() -> Path:
    """Folder of CNTK reference fixtures, or skip with a visible reason."""
    value = os.environ.get("LANDCOVER_CNTK_FIXTURES")
    if not value:
        pytest.skip("LANDCOVER_CNTK_FIXTURES is not set: CNTK parity tests skipped")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"LANDCOVER_CNTK_FIXTURES={value} is not a folder")
    return path
