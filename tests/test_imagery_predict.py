"""NAIP from STAC end to end: `landcover predict MODEL naip:...`, the imagery commands, job files, geometry regions,
the STAC Item beside the class COG, and memory on a large scene (cases 1, 6 and 10 of naip-stac.md §5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.features import geometry_mask
from rasterio.warp import transform_geom

from landcover_sdk import Predictor, Region
from landcover_sdk.cli import main
from landcover_sdk.imagery import NaipSource
from landcover_sdk.runners import JobSpec, LocalRunner

from .emulators.stac_fixtures import TUTORIAL, ZONE_LINE, RangeServer, StacApi, World

MODEL = "builtin:tutorial-250epochs"


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LANDCOVER_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _read(path: Path | str) -> tuple[np.ndarray, Any]:
    with rasterio.open(path) as ds:
        return ds.read(), ds.profile


def test_predict_naip_is_pixel_identical_to_predicting_the_local_tile(world: World, api: StacApi, cache: Path,
                                                                      tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    lat, lon = TUTORIAL
    place = ["--center-lat", str(lat), "--center-lon", str(lon), "--region-size", "512", "--no-progress"]
    assert main(["predict", MODEL, f"naip:{api.url}", str(tmp_path / "naip.tif"), *place]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "naip.stac.json" in out
    assert main(["predict", MODEL, str(world.path("A")), str(tmp_path / "tile.tif"), *place]) == 0
    a, pa = _read(tmp_path / "naip.tif")
    b, pb = _read(tmp_path / "tile.tif")
    assert np.array_equal(a, b) and pa["transform"] == pb["transform"] and pa["crs"] == pb["crs"]
    assert a.shape == (1, 512, 512) and len(np.unique(a)) > 1
    # the STAC Item names the NAIP item it came from (its catalog URL, no signature) and the model
    item = json.loads((tmp_path / "naip.stac.json").read_text())
    derived = [link for link in item["links"] if link["rel"] == "derived_from"]
    assert derived[0]["href"].startswith(api.url) and derived[0]["href"].endswith("/items/va_m_a_2021")
    assert derived[0]["type"] == "application/geo+json" and derived[-1]["href"] == MODEL
    assert item["properties"]["datetime"] == "2021-07-15T16:00:00Z"
    assert item["properties"]["proj:code"] == "EPSG:26917"


def test_cli_errors_are_one_line_before_any_work(api: StacApi, cache: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (["predict", MODEL, f"naip:{api.url}", str(tmp_path / "o.tif")], "naip: needs a place"),
        (["predict", MODEL, f"naip:{api.url}", str(tmp_path / "o.tif"), "--window", "0", "0", "8", "8"],
         "naip: needs a place"),
        (["predict", MODEL, "naip:planetary-computer", str(tmp_path / "o.tif"), "--center-lat", "48.85",
          "--center-lon", "2.35"], "outside NAIP's coverage"),
        (["predict", MODEL, f"naip:{api.url}?year=2019", str(tmp_path / "o.tif"), "--center-lat",
          str(TUTORIAL[0]), "--center-lon", str(TUTORIAL[1]), "--region-size", "256", "--no-progress"],
         "no NAIP 2019 covers"),
        (["predict", MODEL, f"naip:{api.url}?colour=red", str(tmp_path / "o.tif")], "unknown option 'colour'"),
        (["predict", MODEL, "some.tif", str(tmp_path / "o.tif"), "--year", "2020"], "are for naip: images"),
        (["imagery", "fetch", str(tmp_path / "missing" / "o.tif"), "--source", api.url, "--center-lat",
          str(TUTORIAL[0]), "--center-lon", str(TUTORIAL[1])], "does not exist"),
    ]
    for argv, expected in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("landcover: error:") and expected in err[0], (argv, err)
    assert not list(tmp_path.glob("o*")) and not list(tmp_path.rglob("*.partial-*"))


def test_imagery_search_and_fetch_commands(api: StacApi, cache: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    place = ["--center-lat", str(ZONE_LINE[0]), "--center-lon", str(ZONE_LINE[1]), "--region-size", "512"]
    assert main(["imagery", "search", "--source", api.url, *place]) == 0
    out = capsys.readouterr().out
    assert "2 NAIP item(s)" in out and "* va_m_w17_2021" in out and "* va_m_e18_2021" in out
    assert main(["imagery", "search", "--source", api.url, "--json", *place]) == 0
    rows = json.loads(capsys.readouterr().out)["items"]
    assert {r["id"]: r["used"] for r in rows} == {"va_m_w17_2021": True, "va_m_e18_2021": True}
    assert main(["imagery", "fetch", str(tmp_path / "scene.tif"), "--source", f"naip:{api.url}", "--no-progress",
                 *place]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "EPSG:26917" in out and "NAIP 2021 (100%)" in out
    meta = json.loads((tmp_path / "scene.scene.json").read_text())
    data, profile = _read(tmp_path / "scene.tif")
    assert meta["file"] == "scene.tif" and data.shape == (4, 640, 640) and profile["crs"].to_epsg() == 26917
    with rasterio.open(tmp_path / "scene.tif") as ds:
        assert ds.descriptions == ("red", "green", "blue", "nir") and ds.nodata == 0
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"


def test_naip_to_blob_storage(api: StacApi, cache: Path, blob_store: Any, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    c = blob_store.container
    place = ["--center-lat", str(TUTORIAL[0]), "--center-lon", str(TUTORIAL[1]), "--region-size", "256",
             "--no-progress"]
    assert main(["imagery", "fetch", f"az://{c}/scenes/tutorial.tif", "--source", api.url, *place]) == 0
    assert main(["predict", MODEL, f"naip:{api.url}", f"az://{c}/out/classes.tif", "--mode", "fast", *place]) == 0
    capsys.readouterr()
    assert blob_store.list(f"az://{c}/") == [
        f"az://{c}/out/classes.stac.json", f"az://{c}/out/classes.tif", f"az://{c}/scenes/tutorial.scene.json",
        f"az://{c}/scenes/tutorial.tif"]
    with rasterio.open(blob_store.gdal_path(f"az://{c}/scenes/tutorial.tif")) as ds:
        assert ds.count == 4 and ds.shape == (384, 384)
    assert main(["imagery", "fetch", "az://no-such-container/x.tif", "--source", api.url, *place]) == 1
    assert "no-such-container" in capsys.readouterr().err


def test_a_geometry_across_the_zone_line_is_predicted_and_masked(api: StacApi, cache: Path, tmp_path: Path) -> None:
    lat, lon = ZONE_LINE
    d = 0.004
    polygon = {"type": "Polygon", "coordinates": [[[lon - d, lat - d], [lon + d, lat - d], [lon, lat + d],
                                                   [lon - d, lat - d]]]}
    source = NaipSource.from_stac_api(api.url)
    predictor = Predictor.from_file(MODEL, mode="fast")
    result = predictor.predict_raster(source, tmp_path / "tri.tif", region=Region.from_geometry(polygon, "EPSG:4326"),
                                      progress=False)
    classes, profile = _read(tmp_path / "tri.tif")
    assert profile["crs"].to_epsg() == 26917
    local = transform_geom("EPSG:4326", profile["crs"], polygon)
    outside = geometry_mask([local], out_shape=classes.shape[1:], transform=profile["transform"])
    assert (classes[0][outside] == 0).all() and (classes[0][~outside] != 0).mean() > 0.99
    # the scene covers the polygon's bounds plus the margin; both zones contributed
    scene = source.for_region(Region.from_geometry(polygon, "EPSG:4326"), progress=False)
    assert {i.id for i in scene.items} == {"va_m_w17_2021", "va_m_e18_2021"}
    assert scene.window.row == scene.window.col == 64 and (scene.window.height, scene.window.width) == classes.shape[1:]
    assert result.stac_item is not None
    # the CLI with a GeoJSON file and no CRS: WGS84, the same classes
    (tmp_path / "tri.geojson").write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": polygon}))
    assert main(["predict", MODEL, f"naip:{api.url}", str(tmp_path / "cli.tif"), "--geometry",
                 str(tmp_path / "tri.geojson"), "--mode", "fast", "--no-progress"]) == 0
    assert np.array_equal(_read(tmp_path / "cli.tif")[0], classes)


def test_a_predict_job_with_naip_imagery(api: StacApi, cache: Path, tmp_path: Path) -> None:
    spec = JobSpec.from_dict({
        "name": "naip-job", "kind": "predict", "config": {"mode": "fast"},
        "inputs": {"model": MODEL, "images": [f"naip:{api.url}"]}, "outputs": str(tmp_path / "out"),
        "region": {"center_lat": TUTORIAL[0], "center_lon": TUTORIAL[1], "region_size": 256}})
    result = LocalRunner(tmp_path / "jobs", env={"LANDCOVER_CACHE_DIR": str(cache)}).run(spec)
    assert result.ok, result.to_json()
    assert sorted(Path(u).name for u in result.outputs) == ["naip_classes.stac.json", "naip_classes.tif"]
    with pytest.raises(Exception, match="naip: images need a place"):
        JobSpec.from_dict({"name": "x", "kind": "predict", "inputs": {"model": MODEL, "images": ["naip:"]},
                           "outputs": str(tmp_path / "o")})
    with pytest.raises(Exception, match="not a NAIP source"):
        JobSpec.from_dict({"name": "x", "kind": "predict", "inputs": {"model": MODEL, "images": ["naip:ftp://x"]},
                           "outputs": str(tmp_path / "o"), "region": {"center_lat": 37.0, "center_lon": -78.0}})


# Peak RSS from /proc/self/status (VmHWM belongs to the process image and starts afresh at exec):
# getrusage's ru_maxrss survives fork + exec, so a child of a big pytest process would report the parent's size.
_BIG = """
import json, resource, sys, time
from pathlib import Path
from landcover_sdk.imagery import NaipSource
t0 = time.perf_counter()
scene = NaipSource.from_static_catalog(sys.argv[1]).for_region(bbox=tuple(map(float, sys.argv[2:6])),
                                                                crs="EPSG:26917", progress=False)
seconds = time.perf_counter() - t0
grid = scene.provenance["grid"]
status = Path("/proc/self/status")
hwm = [int(line.split()[1]) for line in status.read_text().splitlines() if line.startswith("VmHWM:")] \
    if status.exists() else [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]
print(json.dumps({"rss_mb": hwm[0] / 1024, "seconds": seconds,
                  "mpx_s": grid["height"] * grid["width"] / 1e6 / seconds, "shape": [grid["height"], grid["width"]]}))
"""


@pytest.mark.slow
def test_an_8192_scene_is_built_in_flat_memory(tmp_path: Path) -> None:
    """Peak RSS of a whole 8192² fetch (four 4160² tiles, block-wise mosaic) stays under 1.5 GB."""
    import pystac
    from affine import Affine

    from .emulators.stac_fixtures import Tile, collection_json, stac_item, write_tile

    x0, y0 = 700_000.0, 4_120_000.0
    tiles = [Tile(f"Q{i}", "EPSG:26917", Affine(1, 0, x0 + (i % 2) * 4032, 0, -1, y0 - (i // 2) * 4032), 4160,
                  4160, 2021, "va") for i in range(4)]
    catalog = pystac.Catalog("big", "big")
    collection = pystac.Collection.from_dict(collection_json())
    catalog.add_child(collection)
    for i, tile in enumerate(tiles):
        path = write_tile(tile, tmp_path / "cogs", seed=i)
        collection.add_item(pystac.Item.from_dict(stac_item(tile, str(path))))
    catalog.normalize_hrefs(str(tmp_path / "catalog"))
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    bbox = (x0 + 64, y0 - 64 - 8192 + 128, x0 + 8192 - 64, y0 - 64)  # 8064² + the 64-pixel margin = 8192²
    env = {**os.environ, "LANDCOVER_CACHE_DIR": str(tmp_path / "cache")}
    run = subprocess.run([sys.executable, "-c", _BIG, str(tmp_path / "catalog" / "catalog.json"),
                          *map(str, bbox)], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    stats = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"8192² scene: {stats}")
    assert stats["shape"] == [8192, 8192]
    assert stats["rss_mb"] <= 1536, stats


def test_static_catalog_over_http_and_relative_hrefs(world: World, cog_host: RangeServer, cache: Path,
                                                    tmp_path: Path) -> None:
    import pystac

    from .emulators.stac_fixtures import collection_json

    root = world.root / "catalog-rel"
    if not (root / "catalog.json").exists():
        catalog = pystac.Catalog("rel", "relative hrefs")
        collection = pystac.Collection.from_dict(collection_json())
        catalog.add_child(collection)
        for data in world.items(lambda t: str(world.path(t.name)), ["W17", "E18"]):
            collection.add_item(pystac.Item.from_dict(data))
        catalog.normalize_hrefs(str(root))
        catalog.make_all_asset_hrefs_relative()
        catalog.save(pystac.CatalogType.SELF_CONTAINED)
    served = NaipSource.from_static_catalog(cog_host.url("catalog-rel/catalog.json"))
    scene = served.for_region(center=ZONE_LINE, region_size=256, progress=False)
    assert scene.provenance["items"][0]["href"].startswith(cog_host.url(""))
    assert scene.provenance["coverage"]["region"] == 1.0
