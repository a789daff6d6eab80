from pathlib import Path

import numpy as np
import rasterio

from landcover_sdk.data import TUTORIAL_LAT, TUTORIAL_LON, generate_scene, latlon_to_pixel, write_scenes


def test_deterministic_by_seed() -> None:
    a, b, c = generate_scene(200, 5), generate_scene(200, 5), generate_scene(200, 6)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.image, c.image)


def test_spectra_are_plausible() -> None:
    s = generate_scene(512, 11)
    img = s.image.astype(np.float64)
    means = {k: img[:, s.labels == k].mean(axis=1) for k in range(1, 5) if (s.labels == k).any()}
    r, g, _b, nir = range(4)
    assert means[1][nir] < 50 and means[1][nir] < means[1][r]  # water: very low NIR
    assert means[2][nir] > 2 * means[2][r] and means[2][g] > means[2][r]  # trees: dark green, high NIR
    assert means[3][nir] > means[2][nir] and means[3][:3].mean() > means[2][:3].mean()  # herbaceous
    assert means[4][:3].mean() > 120 and abs(means[4][nir] - means[4][r]) < 0.25 * means[4][r]  # barren
    nodata = (s.image == 0).all(axis=0)
    assert np.array_equal(nodata, s.labels == 0)


def test_scenes_are_learnable_by_a_per_pixel_rule() -> None:
    """A fixed per-pixel rule on NIR and brightness separates the classes well."""
    s = generate_scene(768, 21)
    img = s.image.astype(np.float32)
    bright = img[:3].mean(axis=0)
    nir = img[3]
    pred = np.select(
        [bright == 0, nir < 60, nir < 0.95 * img[0] + 25, nir > 145],
        [0, 1, 4, 3],
        default=2,
    )
    valid = s.labels > 0
    acc = (pred[valid] == s.labels[valid]).mean()
    assert acc > 0.9, acc


def test_written_tiles_are_georeferenced_at_the_tutorial_point(tmp_path: Path) -> None:
    pairs = write_scenes(tmp_path, tiles=2, size=160, seed=1)
    with rasterio.open(pairs[0].image) as ds:
        assert ds.crs.to_epsg() == 26917 and ds.res == (1.0, 1.0) and ds.count == 4 and ds.nodata == 0
        row, col = latlon_to_pixel(TUTORIAL_LAT, TUTORIAL_LON, ds.crs, ds.transform)
        assert abs(row - 80) <= 1 and abs(col - 80) <= 1
        t0 = ds.transform
    with rasterio.open(pairs[1].image) as ds:
        assert ds.transform.c == t0.c + 160 and ds.transform.f == t0.f
