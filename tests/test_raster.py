from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from landcover_sdk import (
    CoordinateError,
    EmptyDatasetError,
    InvalidRasterError,
    LabelValueError,
    MissingPartnerError,
    RasterMismatchError,
    StorageError,
    TileDataset,
    WindowError,
)
from landcover_sdk._atomic import atomic_output
from landcover_sdk.data import (
    PixelWindow,
    latlon_to_pixel,
    open_raster,
    pixel_to_latlon,
    read_info,
    read_window,
    window_around,
    write_raster,
)
from landcover_sdk.data.synthetic import TUTORIAL_LAT, TUTORIAL_LON

from .conftest import ORIGIN, WriteTif


def _pair(write_tif: WriteTif, name: str = "t", size: int = 64, **label_profile: object) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    img = write_tif(f"{name}_NAIP.tif", rng.integers(0, 255, (4, size, size), dtype=np.uint8))
    lab = write_tif(f"{name}_LandCover.tif", rng.integers(0, 5, (size, size), dtype=np.uint8), **label_profile)
    return img, lab


def test_valid_pair(write_tif: WriteTif) -> None:
    img, _lab = _pair(write_tif)
    ds = TileDataset.from_folder(img.parent)
    assert len(ds) == 1 and ds.scheme.name == "tutorial"
    image, label = ds.read(0, PixelWindow(8, 8, 16, 16))
    assert image.shape == (4, 16, 16) and image.dtype == np.float32
    assert label.shape == (16, 16) and label.dtype == np.int64
    with rasterio.open(img) as src:
        raw = src.read(window=((8, 24), (8, 24)))
    assert np.array_equal(image, raw.astype(np.float32) / 256)


def test_missing_partner(write_tif: WriteTif) -> None:
    img, lab = _pair(write_tif)
    lab.unlink()
    with pytest.raises(MissingPartnerError, match=r"t_NAIP\.tif.*no label partner t_LandCover\.tif"):
        TileDataset.from_folder(img.parent)
    img.unlink()
    write_tif("u_LandCover.tif", np.zeros((8, 8), np.uint8))
    with pytest.raises(MissingPartnerError, match="no imagery partner"):
        TileDataset.from_folder(img.parent)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(EmptyDatasetError, match="no tile pairs"):
        TileDataset.from_folder(tmp_path)
    with pytest.raises(EmptyDatasetError, match="not a folder"):
        TileDataset.from_folder(tmp_path / "nope")
    with pytest.raises(EmptyDatasetError):
        TileDataset([])


@pytest.mark.parametrize(
    ("profile", "pattern"),
    [
        ({"crs": "EPSG:4326"}, "CRS EPSG:4326 differs"),
        ({"transform": ORIGIN @ Affine.translation(1, 0)}, "geotransform"),
    ],
)
def test_georeference_mismatch(write_tif: WriteTif, profile: dict, pattern: str) -> None:
    img, _lab = _pair(write_tif, **profile)
    with pytest.raises(RasterMismatchError, match=rf"t_LandCover\.tif: {pattern}"):
        TileDataset.from_folder(img.parent)


def test_size_mismatch(write_tif: WriteTif) -> None:
    write_tif("t_NAIP.tif", np.zeros((4, 32, 32), np.uint8))
    lab = write_tif("t_LandCover.tif", np.zeros((32, 30), np.uint8))
    with pytest.raises(RasterMismatchError, match="size 30x32 differs"):
        TileDataset.from_folder(lab.parent)


def test_wrong_band_count_and_dtype(write_tif: WriteTif, tmp_path: Path) -> None:
    write_tif("a_NAIP.tif", np.zeros((3, 16, 16), np.uint8))
    write_tif("a_LandCover.tif", np.zeros((16, 16), np.uint8))
    with pytest.raises(InvalidRasterError, match=r"a_NAIP\.tif: imagery has 3 band\(s\) but band\(s\) \[4\]"):
        TileDataset.from_folder(tmp_path)
    write_tif("a_NAIP.tif", np.zeros((4, 16, 16), np.uint16))
    with pytest.raises(InvalidRasterError, match="band 1 has dtype uint16"):
        TileDataset.from_folder(tmp_path)
    write_tif("a_NAIP.tif", np.zeros((4, 16, 16), np.uint8))
    write_tif("a_LandCover.tif", np.zeros((16, 16), np.float32))
    with pytest.raises(InvalidRasterError, match="labels must be integers"):
        TileDataset.from_folder(tmp_path)
    write_tif("a_LandCover.tif", np.zeros((2, 16, 16), np.uint8))
    with pytest.raises(InvalidRasterError, match="labels must have 1 band"):
        TileDataset.from_folder(tmp_path)


def test_configured_band_list(write_tif: WriteTif, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = rng.integers(0, 255, (5, 16, 16), dtype=np.uint8)
    write_tif("a_NAIP.tif", data)
    write_tif("a_LandCover.tif", np.ones((16, 16), np.uint8))
    ds = TileDataset.from_folder(tmp_path, bands=(5, 1, 2, 3))
    img, _ = ds.read_raw(0, PixelWindow(0, 0, 16, 16))
    assert np.array_equal(img, data[[4, 0, 1, 2]])


def test_label_values_outside_scheme(write_tif: WriteTif, tmp_path: Path) -> None:
    write_tif("a_NAIP.tif", np.zeros((4, 16, 16), np.uint8))
    lab = np.full((16, 16), 2, np.uint8)
    lab[3, 3] = 9
    write_tif("a_LandCover.tif", lab)
    with pytest.raises(LabelValueError, match=r"a_LandCover\.tif: label values 9"):
        TileDataset.from_folder(tmp_path)
    lab[3, 3] = 15
    lab[4, 4] = 9
    write_tif("a_LandCover.tif", lab)
    expected = r"LandCover\.tif: label values outside class scheme 'chesapeake-grouped': 9"
    with pytest.raises(LabelValueError, match=expected):
        TileDataset.from_folder(tmp_path, class_scheme="chesapeake-grouped")


def test_unreadable_and_truncated_tiff(write_tif: WriteTif, tmp_path: Path) -> None:
    img, _lab = _pair(write_tif, size=256)
    data = img.read_bytes()
    img.write_bytes(data[: len(data) // 3])
    with pytest.raises(InvalidRasterError, match=r"t_NAIP\.tif"):
        ds = TileDataset.from_folder(tmp_path, cache="memory")
        ds.read(0, PixelWindow(0, 0, 256, 256))
    img.write_bytes(b"not a tiff at all")
    with pytest.raises(InvalidRasterError, match=r"t_NAIP\.tif: not a readable raster"):
        TileDataset.from_folder(tmp_path)
    with pytest.raises(InvalidRasterError, match="file not found"):
        read_info(tmp_path / "missing.tif")


def test_window_outside_and_bad_sizes(write_tif: WriteTif, tmp_path: Path) -> None:
    _pair(write_tif)
    ds = TileDataset.from_folder(tmp_path)
    with pytest.raises(WindowError, match=r"rows 60\.\.76, cols 0\.\.16 is outside the 64x64 raster"):
        ds.read(0, PixelWindow(60, 0, 16, 16))
    with pytest.raises(WindowError, match="window height: must be a positive integer"):
        ds.read(0, PixelWindow(0, 0, 0, 16))
    from landcover_sdk.data.windows import check_size

    for bad in (0, -3, 2.5, "7", True, None):
        with pytest.raises(WindowError):
            check_size(bad, "size")
    assert check_size(4.0, "size") == 4


def test_read_window_pads_by_reflection(write_tif: WriteTif) -> None:
    arr = np.arange(100, dtype=np.uint8).reshape(10, 10)
    p = write_tif("r.tif", arr)
    with open_raster(p) as ds:
        out = read_window(ds, PixelWindow(-2, -2, 6, 6), bands=1)
        expected = np.pad(arr, 2, mode="reflect")[:6, :6]
        assert np.array_equal(out, expected)
        const = read_window(ds, PixelWindow(8, 8, 4, 4), bands=[1], pad_mode="constant")
        assert const.shape == (1, 4, 4) and const[0, 3, 3] == 0 and const[0, 0, 0] == arr[8, 8]
        with pytest.raises(WindowError):
            read_window(ds, PixelWindow(20, 20, 4, 4), bands=1)


def test_latlon_round_trip(synth_dir: Path) -> None:
    info = read_info(synth_dir / "synth_000_NAIP.tif")
    row, col = latlon_to_pixel(TUTORIAL_LAT, TUTORIAL_LON, info.crs, info.transform)
    assert abs(row - info.height / 2) < 1.0 and abs(col - info.width / 2) < 1.0
    lat, lon = pixel_to_latlon(row, col, info.crs, info.transform)
    assert abs(lat - TUTORIAL_LAT) < 1e-7 and abs(lon - TUTORIAL_LON) < 1e-7
    win = window_around(info, TUTORIAL_LAT, TUTORIAL_LON, 128, margin=64)
    assert win.height == 128 and win.grow(64).inside(info.height, info.width)
    with pytest.raises(CoordinateError, match=r"latitude 38\.0, longitude -78\.6.*outside"):
        window_around(info, 38.0, -78.6, 128)
    with pytest.raises(CoordinateError, match="does not fit"):
        window_around(info, TUTORIAL_LAT, TUTORIAL_LON, 384, margin=64)
    with pytest.raises(CoordinateError, match="not a valid WGS84"):
        latlon_to_pixel(95.0, 0.0, info.crs, info.transform)


def test_write_cog_with_colormap_and_names(tmp_path: Path) -> None:
    from landcover_sdk import ClassScheme
    from landcover_sdk.data.raster import class_tags

    scheme = ClassScheme.tutorial()
    arr = (np.arange(1024 * 1024, dtype=np.int64).reshape(1024, 1024) % 5).astype(np.uint8)
    out = write_raster(
        tmp_path / "classes.tif", arr, crs="EPSG:26917", transform=ORIGIN, colormap=scheme.colormap,
        tags=class_tags(scheme.names, scheme.name), blocksize=256,
    )
    with rasterio.open(out) as ds:
        assert ds.profile["tiled"] and ds.block_shapes[0] == (256, 256)
        assert ds.overviews(1), "COG must carry overviews"
        assert ds.colormap(1)[1] == (0, 0, 255, 255)
        assert ds.tags()["CLASS_1"] == "water"
        assert ds.crs.to_epsg() == 26917
        assert np.array_equal(ds.read(1), arr)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert [p.name for p in tmp_path.iterdir()] == ["classes.tif"]


def test_atomic_output_leaves_nothing_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_output(final) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StorageError, match=r"output folder .* does not exist"), atomic_output(tmp_path / "no" / "x"):
        pass
    src = tmp_path / "in.tif"
    src.write_bytes(b"x")
    with pytest.raises(StorageError, match="same file as input"), atomic_output(src, inputs=(src,)):
        pass


def test_stale_partials_are_removed(tmp_path: Path) -> None:
    (tmp_path / ".out.partial-deadbeef.bin").write_bytes(b"stale")
    with atomic_output(tmp_path / "out.bin") as tmp:
        tmp.write_bytes(b"ok")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


_EDGE_IMAGE = np.random.default_rng(3).integers(0, 255, size=(2, 37, 23), dtype=np.uint8)


@pytest.fixture(scope="module")
def edge_raster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("edge") / "small.tif"
    with rasterio.open(path, "w", driver="GTiff", count=2, height=37, width=23, dtype="uint8", crs="EPSG:26917",
                       transform=ORIGIN) as ds:
        ds.write(_EDGE_IMAGE)
    return path


@settings(max_examples=80, deadline=None)
@given(row=st.integers(-60, 50), col=st.integers(-60, 40), h=st.integers(1, 90), w=st.integers(1, 90),
       mode=st.sampled_from(["reflect", "symmetric", "edge", "constant"]))
def test_read_window_mirrors_about_the_rasters_own_edges(edge_raster: Path, row: int, col: int, h: int, w: int,
                                                         mode: str) -> None:
    """Whatever window is read, a position beyond the edge holds the same pixel as np.pad of the whole raster."""
    window = PixelWindow(row, col, h, w)
    if window.intersect(37, 23) is None:
        return
    pad = 200
    kw = {"constant_values": 7} if mode == "constant" else {}
    whole = np.pad(_EDGE_IMAGE, ((0, 0), (pad, pad), (pad, pad)), mode=mode, **kw)  # type: ignore[call-overload]
    with rasterio.open(edge_raster) as ds:
        got = read_window(ds, window, bands=[1, 2], pad_mode=mode, fill=7)  # type: ignore[arg-type]
    assert np.array_equal(got, whole[:, pad + row : pad + row + h, pad + col : pad + col + w])
