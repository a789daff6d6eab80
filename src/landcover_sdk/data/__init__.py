"""Data: GeoTIFF tile pairs, windows, samplers, synthetic scenes.

The torch adapter (``landcover_sdk.data.torch_adapter``) needs the ``train`` extra and is not
imported here.
"""

from .._atomic import atomic_output, atomic_write_bytes, atomic_write_text, check_output_path
from .dataset import IMAGE_SUFFIX, LABEL_SUFFIX, Tile, TileDataset, TilePair, discover_pairs
from .raster import (
    GeoTiffWriter,
    RasterInfo,
    centred_window,
    check_aligned,
    code_histogram,
    latlon_to_pixel,
    open_raster,
    pixel_to_latlon,
    read_info,
    read_window,
    validate_image,
    validate_label,
    write_raster,
)
from .sampling import GridSampler, RandomWindowSampler, WindowSample, shard_tiles
from .synthetic import TUTORIAL_LAT, TUTORIAL_LON, Scene, generate_scene, write_scenes
from .windows import GridCell, PixelWindow, grid_cells

__all__ = [
    "IMAGE_SUFFIX",
    "LABEL_SUFFIX",
    "TUTORIAL_LAT",
    "TUTORIAL_LON",
    "GeoTiffWriter",
    "GridCell",
    "GridSampler",
    "PixelWindow",
    "RandomWindowSampler",
    "RasterInfo",
    "Scene",
    "Tile",
    "TileDataset",
    "TilePair",
    "WindowSample",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "centred_window",
    "check_aligned",
    "check_output_path",
    "code_histogram",
    "discover_pairs",
    "generate_scene",
    "grid_cells",
    "latlon_to_pixel",
    "open_raster",
    "pixel_to_latlon",
    "read_info",
    "read_window",
    "shard_tiles",
    "validate_image",
    "validate_label",
    "write_raster",
    "write_scenes",
]
