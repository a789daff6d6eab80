"""Synthetic NAIP-like scenes with land-cover labels: the project's embedded default data.

Scenes imitate 1 m NAIP over the Chesapeake region: coherent forest and field patches, a
meandering river and ponds, straight roads with buildings beside them, bare ground, per-class
spectra in red/green/blue/near-infrared (water dark with very low near-infrared; trees dark
green with high near-infrared and crown texture; herbaceous brighter with the highest
near-infrared; barren/impervious bright with little contrast between bands), illumination
drift, sensor blur, and a wedge of no data along one edge as in NAIP quarter-quad tiles.

Tile 0 is centred on the tutorial's evaluation point (latitude 37.055522, longitude -78.638640)
in UTM zone 17N (EPSG:26917) at 1 m, so the tutorial's evaluation command works on it; further
tiles continue the grid eastwards and southwards. Everything is deterministic by seed.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from affine import Affine

from ..errors import WindowError
from .dataset import IMAGE_SUFFIX, LABEL_SUFFIX, TilePair
from .geo import transformer
from .raster import SCHEME_TAG, write_raster
from .windows import check_size

log = logging.getLogger(__name__)

TUTORIAL_LAT = 37.055522
TUTORIAL_LON = -78.638640
DEFAULT_CRS = "EPSG:26917"

WATER, TREES, HERB, BARREN = 1, 2, 3, 4
# Finer kinds of barren/impervious, kept for the Chesapeake coding of labels.
_BARE, _BUILDING, _ROAD = 0, 1, 2

# Mean digital numbers (R, G, B, NIR) and per-pixel texture sigma per surface.
_SPECTRA: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "water": ((42, 58, 68, 22), (3, 3, 3, 3)),
    "trees": ((52, 74, 58, 118), (9, 10, 8, 22)),
    "herb": ((104, 122, 88, 168), (8, 8, 7, 14)),
    "bare": ((168, 152, 132, 150), (9, 8, 8, 9)),
    "road": ((146, 145, 142, 132), (5, 5, 5, 5)),
}


@dataclass(frozen=True)
class Scene:
    """One generated scene: ``image`` (4, H, W) uint8, ``labels`` (H, W) uint8 tutorial classes,
    ``detail`` (H, W) uint8 Chesapeake-style codes (1-6, 15 for no data).

    Attributes:
        image: ``(4, H, W)`` uint8 imagery.
        labels: ``(H, W)`` uint8 tutorial classes.
        detail: ``(H, W)`` uint8 Chesapeake-style codes.
    """

    image: npt.NDArray[np.uint8]
    labels: npt.NDArray[np.uint8]
    detail: npt.NDArray[np.uint8]


def _value_noise(shape: tuple[int, int], cell: float, rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Smooth random field: a random grid every ``cell`` pixels, smoothly interpolated."""
    h, w = shape
    gh, gw = int(h / cell) + 3, int(w / cell) + 3
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    off_y, off_x = rng.random(2) * cell
    ys = (np.arange(h, dtype=np.float32) + off_y) / cell
    xs = (np.arange(w, dtype=np.float32) + off_x) / cell
    y0, x0 = ys.astype(np.int64), xs.astype(np.int64)
    fy, fx = ys - y0, xs - x0
    fy = fy * fy * (3 - 2 * fy)
    fx = fx * fx * (3 - 2 * fx)
    rows = grid[y0] * (1 - fy)[:, None] + grid[y0 + 1] * fy[:, None]
    out: npt.NDArray[np.float32] = (rows[:, x0] * (1 - fx) + rows[:, x0 + 1] * fx).astype(np.float32)
    return out


def _fractal(
    shape: tuple[int, int], cell: float, rng: np.random.Generator, octaves: int = 3
) -> npt.NDArray[np.float32]:
    out = np.zeros(shape, dtype=np.float32)
    amp = 1.0
    for k in range(octaves):
        out += amp * _value_noise(shape, max(cell / 2**k, 2.0), rng)
        amp *= 0.5
    out -= out.mean()
    out /= out.std() + 1e-6
    return out


def _box_blur(img: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """3×3 box blur of the last two axes (sensor point-spread), edges replicated."""
    p = np.pad(img, [(0, 0)] * (img.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
    acc = np.zeros_like(img)
    h, w = img.shape[-2:]
    for dy in range(3):
        for dx in range(3):
            acc += p[..., dy : dy + h, dx : dx + w]
    return acc / 9.0


def generate_scene(size: int | tuple[int, int], seed: int, *, nodata_border: bool = True) -> Scene:
    """Generate one scene of ``size`` (side, or (height, width)) pixels, deterministic by ``seed``.

    Args:
        size: side, or ``(height, width)``, in pixels.
        seed: makes the scene reproducible.
        nodata_border: leave a strip of no-data pixels along one edge.
    """
    h, w = (size, size) if isinstance(size, int) else size
    h, w = check_size(h, "height"), check_size(w, "width")
    rng = np.random.default_rng([seed, 0x1A9D])
    shape = (h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    veg = _fractal(shape, 110, rng)
    labels = np.where(veg > 0.15, TREES, HERB).astype(np.uint8)
    kind = np.full(shape, -1, dtype=np.int8)

    bare = _fractal(shape, 70, rng) > 1.45
    labels[bare] = BARREN
    kind[bare] = _BARE

    # A meandering river across the scene and a few ponds.
    water = _fractal(shape, 150, rng, octaves=2) > 2.0
    if rng.random() < 0.85:
        horizontal = bool(rng.random() < 0.5)
        along, across = (xx, yy) if horizontal else (yy, xx)
        extent = h if horizontal else w
        centre = extent * (0.25 + 0.5 * rng.random())
        wavelength = 150 + 250 * rng.random()
        amplitude = 20 + 60 * rng.random()
        width = 10 + 18 * rng.random()
        path = centre + amplitude * np.sin(along / wavelength * 2 * np.pi + rng.random() * 6.3)
        path += 12 * _value_noise(shape, 80, rng)
        water |= np.abs(across - path) < width / 2
    labels[water] = WATER

    # Straight roads, then buildings beside them.
    road_mask = np.zeros(shape, dtype=bool)
    roads = []
    for _ in range(int(rng.integers(1, 4))):
        theta = rng.random() * np.pi
        py, px = rng.random() * h, rng.random() * w
        width = 6 + 5 * rng.random()
        dist = np.abs((xx - px) * np.sin(theta) - (yy - py) * np.cos(theta))
        road_mask |= dist < width / 2
        roads.append((py, px, theta, width))
    labels[road_mask] = BARREN
    kind[road_mask] = _ROAD

    roofs = np.zeros((4, *shape), dtype=np.float32)
    building_mask = np.zeros(shape, dtype=bool)
    for py, px, theta, width in roads:
        for _ in range(int(rng.integers(4, 14))):
            t = (rng.random() - 0.5) * 2 * max(h, w)
            side = 1 if rng.random() < 0.5 else -1
            offset = side * (width / 2 + 10 + 25 * rng.random())
            cy = py + t * np.sin(theta) + offset * np.cos(theta)
            cx = px + t * np.cos(theta) - offset * np.sin(theta)
            half_a, half_b = 5 + 9 * rng.random(), 4 + 7 * rng.random()
            r = int(half_a + half_b) + 2
            r0, r1 = max(int(cy) - r, 0), min(int(cy) + r + 1, h)
            c0, c1 = max(int(cx) - r, 0), min(int(cx) + r + 1, w)
            if r1 <= r0 or c1 <= c0:
                continue
            ly, lx = yy[r0:r1, c0:c1] - cy, xx[r0:r1, c0:c1] - cx
            u = lx * np.cos(theta) + ly * np.sin(theta)
            v = -lx * np.sin(theta) + ly * np.cos(theta)
            inside = (np.abs(u) < half_a) & (np.abs(v) < half_b) & ~water[r0:r1, c0:c1]
            grey = 110 + 90 * rng.random()
            tint = rng.normal(0, 10, 3)
            roof = (grey + tint[0], grey + tint[1], grey + tint[2], grey * (0.85 + 0.1 * rng.random()))
            for b in range(4):
                roofs[b, r0:r1, c0:c1][inside] = roof[b]
            building_mask[r0:r1, c0:c1] |= inside
    labels[building_mask] = BARREN
    kind[building_mask] = _BUILDING

    # Spectra per surface, texture, illumination drift, blur.
    image = np.zeros((4, *shape), dtype=np.float32)
    noise = rng.standard_normal((4, *shape), dtype=np.float32)
    crowns = _value_noise(shape, 3.5, rng)
    herb_var = _fractal(shape, 40, rng, octaves=2)
    surfaces = {
        "water": labels == WATER,
        "trees": labels == TREES,
        "herb": labels == HERB,
        "bare": kind == _BARE,
        "road": kind == _ROAD,
    }
    for name, mask in surfaces.items():
        mean, sigma = _SPECTRA[name]
        for b in range(4):
            band = mean[b] + sigma[b] * noise[b]
            if name == "trees":
                band = band + (0.6 * sigma[b]) * crowns
            elif name == "herb":
                band = band + (0.5 * sigma[b]) * herb_var
            image[b][mask] = band[mask]
    for b in range(4):
        image[b][building_mask] = roofs[b][building_mask] + 4 * noise[b][building_mask]
    illumination = 1.0 + 0.06 * _fractal(shape, 300, rng, octaves=2)
    image = _box_blur(image * illumination)
    image = np.clip(np.rint(image), 1, 255)

    detail = np.select(
        [labels == WATER, labels == TREES, labels == HERB, kind == _BUILDING, kind == _ROAD],
        [1, 2, 3, 5, 6],
        default=4,
    ).astype(np.uint8)

    if nodata_border and rng.random() < 0.75:
        depth = 15 + 45 * rng.random()
        slope = (rng.random() - 0.5) * 0.08
        edge = int(rng.integers(0, 4))
        coord, other = [(xx, yy), (w - 1 - xx, yy), (yy, xx), (h - 1 - yy, xx)][edge]
        nodata = coord < depth + slope * other
        image[:, nodata] = 0
        labels[nodata] = 0
        detail[nodata] = 15
    return Scene(image=image.astype(np.uint8), labels=labels, detail=detail)


def tile_transform(
    index: int, size: int, *, lat: float = TUTORIAL_LAT, lon: float = TUTORIAL_LON, crs: str = DEFAULT_CRS,
    columns: int = 4, resolution: float = 1.0,
) -> Affine:
    """Geotransform of synthetic tile ``index``: tile 0 centred on (lat, lon), others on a grid.

    Args:
        index: the tile's number.
        size: tile side in pixels.
        lat: latitude of tile 0's centre.
        lon: longitude of tile 0's centre.
        crs: the tiles' CRS (metres).
        columns: tiles per row of the grid.
        resolution: pixel size in metres.
    """
    x, y = transformer("EPSG:4326", crs).transform(lon, lat)
    half = size * resolution / 2
    x0, y0 = round(x - half), round(y + half)
    dc, dr = index % columns, index // columns
    return Affine(resolution, 0.0, x0 + dc * size * resolution, 0.0, -resolution, y0 - dr * size * resolution)


def write_scenes(
    out_dir: str | Path,
    *,
    tiles: int = 4,
    size: int = 1536,
    seed: int = 0,
    label_codes: Literal["tutorial", "chesapeake"] = "tutorial",
    prefix: str = "synth",
    crs: str = DEFAULT_CRS,
    lat: float = TUTORIAL_LAT,
    lon: float = TUTORIAL_LON,
) -> list[TilePair]:
    """Write ``tiles`` georeferenced scene pairs ``<prefix>_<k>_NAIP.tif`` / ``_LandCover.tif``.

    ``label_codes="chesapeake"`` writes raw Chesapeake codes (5 buildings, 6 roads, 15 no data)
    instead of the tutorial's classes, to exercise the grouping. Returns the pairs written.

    Args:
        out_dir: the folder (created if needed).
        tiles: number of pairs.
        size: tile side in pixels.
        seed: makes the scenes reproducible.
        label_codes: ``"tutorial"`` classes or raw ``"chesapeake"`` codes.
        prefix: file-name prefix.
        crs: the tiles' CRS.
        lat: latitude of tile 0's centre.
        lon: longitude of tile 0's centre.
    """
    tiles = check_size(tiles, "tiles")
    size = check_size(size, "size")
    if size < 16:
        raise WindowError(f"size: {size} is too small for a scene (minimum 16)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pairs = []
    for k in range(tiles):
        scene = generate_scene(size, seed * 100_003 + k)
        transform = tile_transform(k, size, lat=lat, lon=lon, crs=crs)
        name = f"{prefix}_{k:03d}"
        image_path = out / f"{name}{IMAGE_SUFFIX}"
        label_path = out / f"{name}{LABEL_SUFFIX}"
        write_raster(
            image_path, scene.image, crs=crs, transform=transform, nodata=0, cog=False,
            band_descriptions=["red", "green", "blue", "nir"],
            tags={"SOURCE": "landcover-sdk synthetic scene", "SEED": str(seed), "TILE": str(k)},
        )
        labels = scene.labels if label_codes == "tutorial" else scene.detail
        scheme = "tutorial" if label_codes == "tutorial" else "chesapeake-grouped"
        write_raster(label_path, labels, crs=crs, transform=transform, cog=False, tags={SCHEME_TAG: scheme})
        pairs.append(TilePair(name, str(image_path), str(label_path)))
        log.info("wrote synthetic tile %s (%dx%d)", name, size, size)
    return pairs


def write_large_pair(
    out_dir: str | Path,
    name: str,
    size: int,
    *,
    seed: int = 0,
    block: int = 2048,
    crs: str = DEFAULT_CRS,
    labels: bool = True,
) -> TilePair:
    """Write one large scene pair block by block (memory bounded by ``block``, not ``size``).

    Blocks are independent scenes, so features do not continue across block edges; meant for
    benchmarks and whole-raster tests, where size matters more than continuity.

    Args:
        out_dir: the folder.
        name: the pair's name (``<name>_NAIP.tif``).
        size: side in pixels.
        seed: makes the scene reproducible.
        block: side of the blocks generated and written at once.
        crs: the raster's CRS.
        labels: also write the label raster.
    """
    from .raster import GeoTiffWriter
    from .windows import PixelWindow

    size = check_size(size, "size")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    transform = tile_transform(0, size, crs=crs)
    image_path = out / f"{name}{IMAGE_SUFFIX}"
    label_path = out / f"{name}{LABEL_SUFFIX}"
    common: dict[str, Any] = dict(width=size, height=size, crs=crs, transform=transform, cog=False, blocksize=512)
    with contextlib.ExitStack() as stack:
        wi = stack.enter_context(GeoTiffWriter(image_path, count=4, dtype="uint8", nodata=0, **common))
        wl = (
            stack.enter_context(GeoTiffWriter(label_path, count=1, dtype="uint8", tags={SCHEME_TAG: "tutorial"},
                                              **common))
            if labels
            else None
        )
        k = 0
        for r in range(0, size, block):
            for c in range(0, size, block):
                h, w = min(block, size - r), min(block, size - c)
                scene = generate_scene((h, w), seed * 1_000_003 + k, nodata_border=False)
                win = PixelWindow(r, c, h, w)
                wi.write(scene.image, win)
                if wl is not None:
                    wl.write(scene.labels, win)
                k += 1
    return TilePair(name, str(image_path), str(label_path))
