"""Data: GeoTIFF tile pairs, windows, samplers, synthetic scenes.

The torch adapter (``landcover_sdk.data.torch_adapter``) needs the ``train`` extra and is not
imported here.
"""

from .dataset import IMAGE_SUFFIX, LABEL_SUFFIX, Tile, TileDataset, TilePair, discover_pairs
from .raster import (
    GeoTiffWriter,
    RasterInfo,
    check_aligned,
    code_histogram,
    latlon_to_pixel,
    open_raster,
    pixel_to_latlon,
    read_info,
    read_window,
    validate_image,
    validate_label,
    window_around,
    write_raster,
)
from .region import RasterRegion, resolve_region
from .sampling import RandomWindowSampler, WindowSample, shard_tiles
from .synthetic import TUTORIAL_LAT, TUTORIAL_LON, Scene, generate_scene, write_scenes
from .windows import GridCell, PixelWindow, grid_cells

__all__ = [
    "IMAGE_SUFFIX",
    "LABEL_SUFFIX",
    "TUTORIAL_LAT",
    "TUTORIAL_LON",
    "GeoTiffWriter",
    "GridCell",
    "PixelWindow",
    "RandomWindowSampler",
    "RasterRegion",
    "RasterInfo",
    "Scene",
    "Tile",
    "TileDataset",
    "TilePair",
    "WindowSample",
    "check_aligned",
    "code_histogram",
    "discover_pairs",
    "generate_scene",
    "grid_cells",
    "latlon_to_pixel",
    "open_raster",
    "pixel_to_latlon",
    "read_info",
    "read_window",
    "resolve_region",
    "shard_tiles",
    "validate_image",
    "validate_label",
    "window_around",
    "write_raster",
    "write_scenes",
]
