"""NAIP from STAC, offline: a real STAC API (`rustac serve`), a range-capable HTTP server, NAIP-shaped COGs.

The numbered cases follow §5 of docs/reviews/naip-stac.md (SAS cases: tests/test_imagery_sas.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from landcover_sdk import Region
from landcover_sdk.errors import (
    CatalogError,
    ConfigError,
    ImageryAccessError,
    InvalidRasterError,
    NoCoverageError,
)
from landcover_sdk.imagery import NaipItem, NaipSource, RequesterPaysS3
from landcover_sdk.imagery.mosaic import warp_array

from .emulators.stac_fixtures import TUTORIAL, ZONE_LINE, RangeServer, StacApi, World


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LANDCOVER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture()
def source(api: StacApi, cache: Path) -> NaipSource:
    api.faults.clear()
    return NaipSource.from_stac_api(api.url, retries=3, backoff=0.05)


def _read(path: Path | str) -> tuple[np.ndarray, Any]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.profile


def _window(path: Path, row: int, col: int, h: int, w: int) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(window=((row, row + h), (col, col + w)))


def _tile_window(world: World, name: str, scene_path: Path) -> tuple[int, int]:
    """(row, col) of the scene's pixel (0, 0) in a same-lattice tile."""
    t = world.tiles[name].transform
    with rasterio.open(scene_path) as ds:
        g = ds.transform
    return round((g.f - t.f) / t.e), round((g.c - t.c) / t.a)


# ---------------------------------------------------------------------------- 1, 17: one tile, the tutorial point
def test_parity_with_the_local_tile_and_3_band_years_skipped(world: World, source: NaipSource,
                                                            cog_host: RangeServer) -> None:
    lat, lon = TUTORIAL
    scene = source.for_region(center=(lat, lon), region_size=1024, progress=False)
    assert [i.id for i in scene.items] == ["va_m_a_2021"]
    data, profile = _read(scene.path)
    assert profile["count"] == 4 and profile["dtype"] == "uint8" and profile["crs"].to_epsg() == 26917
    assert profile["transform"].a == 1.0 and data.shape == (4, 1024 + 128, 1024 + 128)
    r, c = _tile_window(world, "A", scene.path)
    assert np.array_equal(data, _window(world.path("A"), r, c, 1152, 1152))  # bit-exact, margin included
    # the region's window is exactly the local tile's window_around, moved by the scene's offset
    from landcover_sdk.data import read_info
    from landcover_sdk.data.raster import window_around

    local = window_around(read_info(world.path("A")), lat, lon, 1024, margin=64)
    assert (local.row - r, local.col - c) == (scene.window.row, scene.window.col) == (64, 64)
    # year policy: 2024 (3 bands, no band metadata: found in the header) and 2023 (3 bands in eo:bands) skipped
    skipped = {s["id"]: s["reason"] for s in scene.provenance["skipped"]}
    assert set(skipped) == {"va_m_a23_2023", "va_m_a24_2024"}
    assert all("3 bands (R,G,B); the model needs 4" in why for why in skipped.values())
    meta = json.loads(scene.metadata_path.read_text())
    assert meta["items"][0]["href"] == cog_host.url("va/2021/A.tif") and meta["years"] == {"2021": 1.0}
    assert meta["coverage"]["region"] == 1.0 and meta["sha256"]


def test_an_explicit_year_without_nir_is_refused_naming_the_item(source: NaipSource) -> None:
    for year, item in ((2023, "va_m_a23_2023"), (2024, "va_m_a24_2024")):
        with pytest.raises(InvalidRasterError, match=rf"^{item}: 3 bands \(R,G,B\); the model needs 4"):
            source.with_options(year=year).for_region(center=TUTORIAL, region_size=512, progress=False)


# ---------------------------------------------------------------------------- 2, 4: two quarter-quads
def test_two_quarter_quads_in_order_bit_exact_and_nir_kept_on_alpha(world: World, source: NaipSource) -> None:
    a = world.tiles["A"].transform
    x, y = a.c + 3900.5, a.f - 2000.5  # in A's east part, inside the 300 px overlap with B
    lon, lat = _lonlat("EPSG:26917", x, y)
    scene = source.for_region(center=(lat, lon), region_size=512, progress=False)
    assert [i.id for i in scene.items] == ["va_m_a_2021", "va_m_b_2021"]
    data, _ = _read(scene.path)
    assert (data != 0).any(axis=0).all()  # 100 % valid
    # reference: first valid pixel of A, then B, read from the local files
    ra, ca = _tile_window(world, "A", scene.path)
    rb, cb = _tile_window(world, "B", scene.path)
    h, w = data.shape[1:]
    ref = np.zeros_like(data)
    with rasterio.open(world.path("A")) as ds:
        part = ds.read(window=((ra, ra + h), (ca, min(ca + w, ds.width))))
        ref[:, :, : part.shape[2]] = part
    with rasterio.open(world.path("B")) as ds:
        start = max(0, -cb)
        part = ds.read(window=((rb, rb + h), (cb + start, cb + w)))
        hole = ~(ref != 0).any(axis=0)
        tmp = np.zeros_like(ref)
        tmp[:, :, start:] = part
        ref[:, hole] = tmp[:, hole]
    assert np.array_equal(data, ref)
    # B tags NIR as alpha and has NIR == 0 stripes: R, G, B there are B's own values, NIR stays 0
    from_b = slice(world.tiles["A"].width - ca, None)
    nir_zero = data[3][:, from_b] == 0
    assert nir_zero.sum() > 1000
    assert np.array_equal(data[:3, :, from_b][:, nir_zero], tmp[:3, :, from_b][:, nir_zero])
    # ... which the usual tools get wrong: the fixture really sets the trap
    with rasterio.open(world.path("B")) as ds, WarpedVRT(ds) as vrt:
        raw, warped = ds.read(window=((0, 512), (0, 512))), vrt.read(window=((0, 512), (0, 512)))
    assert not np.array_equal(raw[:3], warped[:3])


# ---------------------------------------------------------------------------- 3, 4: the 17N / 18N line
def test_crossing_utm_zones_copies_and_warps_exactly_and_is_reproducible(world: World, source: NaipSource) -> None:
    lat, lon = ZONE_LINE
    scene = source.for_region(center=(lat, lon), region_size=1024, progress=False)
    assert [i.id for i in scene.items] == ["va_m_w17_2021", "va_m_e18_2021"]
    data, profile = _read(scene.path)
    assert profile["crs"].to_epsg() == 26917 and profile["transform"].a == 1.0 == -profile["transform"].e
    assert (data != 0).any(axis=0).all()  # 100 % valid
    r, c = _tile_window(world, "W17", scene.path)
    w17_cols = world.tiles["W17"].width - c
    assert np.array_equal(data[:, :, :w17_cols], _window(world.path("W17"), r, c, data.shape[1], w17_cols))
    # the rest: one warp of the whole raw zone-18 tile onto the scene grid (same resampling), though the
    # scene was assembled block by block from windows
    raw, src_profile = _read(world.path("E18"))
    ref = warp_array(raw, src_profile["transform"], src_profile["crs"], profile["transform"], profile["crs"],
                     data.shape[1:], Resampling[scene.provenance["resampling"]])
    assert scene.provenance["resampling"] == "bilinear"
    east = data[:, :, w17_cols:]
    assert np.array_equal(east, ref[:, :, w17_cols:])
    assert (east[:3] == 0).sum() == 0  # E18 tags NIR as alpha: R, G, B never zeroed where its NIR is 0 ...
    with rasterio.open(world.path("E18")) as ds, WarpedVRT(ds, crs=profile["crs"], transform=profile["transform"],
                                                            width=data.shape[2], height=data.shape[1]) as vrt:
        trapped = vrt.read()[:3, :, w17_cols:]
    assert (trapped == 0).all(axis=0).sum() > 1000  # ... as a WarpedVRT of the file does
    nearest = source.with_options(resampling="nearest").for_region(center=(lat, lon), region_size=1024,
                                                                   progress=False)
    east = _read(nearest.path)[0][:, :, w17_cols:]
    assert ((east[3] == 0) & (east[:3] != 0).all(axis=0)).sum() > 1000  # NIR zeros kept, with R, G, B
    # the centre exactly on the line, fetched twice from scratch: identical bytes
    again = source.for_region(center=(lat, lon), region_size=1024, refresh=True, progress=False)
    assert again.provenance["sha256"] == scene.provenance["sha256"]


# ---------------------------------------------------------------------------- 5: finer sources
@pytest.mark.parametrize("name,place,size", [("F06", (37.2, -78.4), 512), ("F03", (37.25, -78.4), 256)])
def test_finer_sources_are_averaged_to_1_m(world: World, source: NaipSource, name: str,
                                          place: tuple[float, float], size: int) -> None:
    scene = source.for_region(center=place, region_size=size, progress=False)
    assert [i.gsd for i in scene.items] == [world.tiles[name].gsd]
    data, profile = _read(scene.path)
    assert profile["transform"].a == 1.0 and profile["transform"].c == int(profile["transform"].c)
    assert scene.provenance["resampling"] == "average"
    raw, src = _read(world.path(name))
    ref = warp_array(raw, src["transform"], src["crs"], profile["transform"], profile["crs"], data.shape[1:],
                     Resampling.average, scale=world.tiles[name].transform.a)
    assert np.array_equal(data, ref) and (data != 0).any(axis=0).all()


# ---------------------------------------------------------------------------- 7: metadata variants
@pytest.mark.parametrize("props,asset,crs,year", [
    ({"proj:epsg": 26917, "naip:year": "2018"}, {}, "EPSG:26917", 2018),
    ({"proj:code": "EPSG:26918", "naip:year": 2019}, {}, "EPSG:26918", 2019),
    ({}, {"proj:epsg": 26914}, "EPSG:26914", 2020),
    ({"datetime": "2017-09-01T00:00:00Z"}, {}, None, 2017),
])
def test_item_metadata_variants(props: dict[str, Any], asset: dict[str, Any], crs: str | None, year: int) -> None:
    item = {"type": "Feature", "id": "x", "geometry": {"type": "Point", "coordinates": [-78, 37]},
            "properties": {"datetime": "2020-06-01T00:00:00Z", **props},
            "assets": {"image": {"href": "m.tif", **asset}},
            "links": [{"rel": "self", "href": "https://example.org/items/x.json"}]}
    parsed = NaipItem.from_stac(item)
    assert (parsed.crs, parsed.year) == (crs, year)
    assert parsed.href == "https://example.org/items/m.tif"  # relative hrefs resolved against the item
    del item["assets"]["image"]
    with pytest.raises(CatalogError, match=r"item x: no 'image' asset \(assets: none\)"):
        NaipItem.from_stac(item)


# ---------------------------------------------------------------------------- 8, 9: efficiency and caching
def test_reads_only_windows_and_a_repeat_makes_no_request(world: World, source: NaipSource, api: StacApi,
                                                         cog_host: RangeServer, cache: Path) -> None:
    region = Region.around(*TUTORIAL, size=1024)
    source.for_region(region, progress=False)  # warm nothing: fresh cache per test
    cog_host.traffic.reset()
    api.calls.clear()
    fresh = source.with_options(year=2021)
    scene = fresh.for_region(region, progress=False)
    size = world.path("A").stat().st_size
    assert cog_host.traffic.bytes_sent <= 0.25 * size, (cog_host.traffic.bytes_sent, size)
    assert not cog_host.full_gets()
    assert api.searches() == 1
    cog_host.traffic.reset()
    api.calls.clear()
    again = fresh.for_region(region, progress=False)
    assert again.path == scene.path and cog_host.traffic.requests == [] and api.calls == []
    assert again.items == scene.items  # the same items, footprints included, read back from scene.json
    # another year, resolution or region: another entry
    keys = {fresh.cache_key(region), source.cache_key(region), fresh.with_options(resolution=2.0).cache_key(region),
            fresh.cache_key(Region.around(TUTORIAL[0], TUTORIAL[1] + 0.001, size=1024))}
    assert len(keys) == 4
    # a damaged cached scene is noticed (hash) and fetched again
    with scene.path.open("r+b") as fh:
        fh.truncate(scene.path.stat().st_size // 2)
    repaired = fresh.for_region(region, progress=False)
    assert repaired.provenance["sha256"] == scene.provenance["sha256"] and cog_host.traffic.requests


_CONCURRENT = """
import sys
from landcover_sdk.imagery import NaipSource
scene = NaipSource.from_stac_api(sys.argv[1]).for_region(center=(float(sys.argv[2]), float(sys.argv[3])),
                                                            region_size=512, progress=False)
print(scene.path)
"""


def test_concurrent_processes_leave_one_complete_scene(source: NaipSource, api: StacApi, cache: Path) -> None:
    env = {**os.environ, "LANDCOVER_CACHE_DIR": str(cache)}
    args = [sys.executable, "-c", _CONCURRENT, api.url, str(TUTORIAL[0]), str(TUTORIAL[1])]
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    paths = {o[0].strip() for o in outs}
    assert len(paths) == 1
    files = sorted(p.name for p in Path(paths.pop()).parent.iterdir())
    assert files == ["scene.json", "scene.tif"]
    assert api.searches() >= 1
    assert not [p for p in cache.rglob("*") if ".partial-" in p.name]


# ---------------------------------------------------------------------------- 11-13: catalog failures
def test_catalog_down_is_named_in_bounded_time(cache: Path) -> None:
    from .emulators.stac_fixtures import free_port

    url = f"http://127.0.0.1:{free_port()}/api/stac/v1"
    t0 = time.monotonic()
    with pytest.raises(CatalogError, match=rf"STAC catalog {url}: unreachable"):
        NaipSource.from_stac_api(url, retries=2, backoff=0.05).for_region(center=TUTORIAL, progress=False)
    assert time.monotonic() - t0 < 5


def test_a_hanging_catalog_times_out(api: StacApi, cache: Path) -> None:
    api.hang = 3.0
    try:
        t0 = time.monotonic()
        with pytest.raises(CatalogError, match=rf"STAC catalog {api.url}: timed out"):
            NaipSource.from_stac_api(api.url, retries=1, backoff=0.05, timeout=0.5).search(
                Region.around(*TUTORIAL, size=512))
        assert time.monotonic() - t0 < 5
    finally:
        api.hang = 0.0


def test_catalog_503_twice_then_200_and_429_retry_after(source: NaipSource, api: StacApi) -> None:
    api.calls.clear()
    api.faults[:] = [503, 503]
    scene = source.for_region(center=TUTORIAL, region_size=512, progress=False)
    assert api.searches() == 3 and scene.items
    api.calls.clear()
    api.faults[:] = [(429, {"Retry-After": "1"})]
    t0 = time.monotonic()
    source.search(Region.around(*TUTORIAL, size=512))
    assert time.monotonic() - t0 >= 1.0 and api.searches() == 2


def test_catalog_keeps_failing_or_answers_nonsense(source: NaipSource, api: StacApi) -> None:
    api.faults[:] = [503] * 10
    with pytest.raises(CatalogError, match=r"still failing after retries|HTTP 503"):
        source.search(Region.around(*TUTORIAL, size=512))
    api.faults[:] = ["malformed"]
    with pytest.raises(CatalogError, match=r"answered something that is not JSON|JSON"):
        source.search(Region.around(*TUTORIAL, size=512))
    api.faults.clear()


# ---------------------------------------------------------------------------- 18, 19: coverage
def test_no_coverage_lists_the_years_there(source: NaipSource, api: StacApi) -> None:
    with pytest.raises(NoCoverageError, match=r"no NAIP imagery covers 512x512 px around \(36\.5, -80\.0\)$"):
        source.for_region(center=(36.5, -80.0), region_size=512, progress=False)
    with pytest.raises(NoCoverageError, match=r"^no NAIP 2019 covers 512x512 px around \(37\.055522, -78\.63864\); "
                                              r"available there: 2024, 2023 \(no 4-band imagery\), 2021$"):
        source.with_options(year=2019).for_region(center=TUTORIAL, region_size=512, progress=False)
    api.calls.clear()
    paris = NaipSource.from_planetary_computer(stac_url=api.url, sas_url="http://127.0.0.1:9/never")
    with pytest.raises(NoCoverageError, match=r"outside NAIP's coverage \(the contiguous US"):
        paris.for_region(center=(48.8566, 2.3522), progress=False)
    assert api.calls == []


def test_mixed_years_at_a_state_line(source: NaipSource) -> None:
    place = (36.9, -78.9)
    with pytest.raises(NoCoverageError) as refused:
        source.for_region(center=place, region_size=512, progress=False)
    text = str(refused.value)
    assert "no single NAIP year" in text and "2022 (" in text and "2020 (" in text and "allow_mixed_years" in text
    scene = source.with_options(allow_mixed_years=True).for_region(center=place, region_size=512, progress=False)
    assert [i.year for i in scene.items] == [2022, 2020]
    years = scene.provenance["years"]
    assert set(years) == {"2022", "2020"} and 0.3 < years["2022"] < 0.7 and abs(sum(years.values()) - 1) < 1e-3
    data, _ = _read(scene.path)
    assert (data != 0).any(axis=0).all()


# ---------------------------------------------------------------------------- 20: requester pays
def test_requester_pays_without_credentials_fails_before_reading(api: StacApi, cog_host: RangeServer,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path, cache: Path) -> None:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    es = NaipSource.from_earth_search(stac_url=api.url, retries=1, backoff=0.05)
    cog_host.traffic.reset()
    with pytest.raises(ImageryAccessError, match=r"requester-pays .*AWS_REQUEST_PAYER=requester.*egress"):
        es.for_region(center=TUTORIAL, region_size=512, progress=False)
    assert cog_host.traffic.requests == []
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    access = RequesterPaysS3()
    access.check(["s3://naip-analytic/va/2021/60cm/rgbir_cog/37078/m_3707864_ne_17_060_20210825.tif"])
    opened = access.open("s3://naip-analytic/va/2021/60cm/rgbir_cog/37078/m.tif")
    assert opened.path == "/vsis3/naip-analytic/va/2021/60cm/rgbir_cog/37078/m.tif"
    assert opened.options["AWS_REQUEST_PAYER"] == "requester" and opened.options["AWS_REGION"] == "us-west-2"


# ---------------------------------------------------------------------------- 21: static catalog
def test_static_catalog_gives_the_api_bytes(world: World, cog_host: RangeServer, source: NaipSource,
                                           tmp_path: Path) -> None:
    import pystac

    catalog = pystac.Catalog("naip-local", "NAIP mirror")
    collection = pystac.Collection.from_dict(json.loads(json.dumps(__import__(
        "tests.emulators.stac_fixtures", fromlist=["collection_json"]).collection_json())))
    catalog.add_child(collection)
    for data in world.items(lambda t: cog_host.url(t.file)):
        collection.add_item(pystac.Item.from_dict(data))
    catalog.normalize_hrefs(str(tmp_path / "catalog"))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    static = NaipSource.from_static_catalog(tmp_path / "catalog" / "catalog.json")
    a = source.for_region(center=ZONE_LINE, region_size=512, progress=False)
    b = static.for_region(center=ZONE_LINE, region_size=512, progress=False)
    assert a.path != b.path and a.provenance["sha256"] == b.provenance["sha256"]


def test_regions_that_name_pixels_are_refused(source: NaipSource) -> None:
    with pytest.raises(ConfigError, match="names pixels of a raster"):
        source.for_region(Region.from_window((0, 0, 10, 10)), progress=False)
    with pytest.raises(ConfigError, match="one way"):
        source.for_region(center=TUTORIAL, bbox=(-78.7, 37.0, -78.6, 37.1), progress=False)


def _lonlat(crs: str, x: float, y: float) -> tuple[float, float]:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return float(lon), float(lat)
