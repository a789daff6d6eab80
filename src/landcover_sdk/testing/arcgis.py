"""``ArcGISReplay``: drive any Esri Python raster function the way ArcGIS Pro does, from a real GeoTIFF.

No ArcGIS, no ``arcpy``: the Python raster function protocol is plain Python (dicts and numpy
arrays), so it can be replayed. The harness calls the methods in ArcGIS's order and checks every
answer against Esri's documented contract (``Reference.py`` in Esri/raster-functions):

1. ``isLicensed(**productInfo)`` — must answer a dict with ``okToRun``;
2. ``getParameterInfo()`` — names unique, ``dataType`` one of Esri's, ``domain`` only on strings
   and holding the default;
3. ``getConfiguration(**scalars)`` — only scalar values (defaults filled in), known keys of the
   right types (``extractBands`` valid 0-based indexes, ``padding`` a whole number ≥ 0…);
4. ``updateRasterInfo(**kwargs)`` — ``raster_info`` and ``output_info`` built from the file with
   rasterio (band count, pixel type code, per-band NoData array, cell size, extent, EPSG code);
   the answer's colour map must be four equal-length arrays (int32 values, uint8 colours), its
   statistics one dict per band, its attribute table feature-set JSON;
5. ``updatePixels(tlc, shape, props, **pixelBlocks)`` per block — pixels ``(bands, rows + 2P,
   cols + 2P)`` in the input's pixel type with ``extractBands`` applied, zero outside the raster;
   masks (``inputMask``) of the same shape, 0 outside the raster and at NoData; ``tlc`` as a
   ``(col, row)`` offset into ``props``' raster (Esri's ``utils.computePixelBlockExtents``), as map
   coordinates, or withheld. The answer must hold ``output_pixels`` of exactly ``shape``, the
   declared pixel type, C-contiguous, and optionally a uint8/bool ``output_mask`` of the same shape;
6. ``updateKeyMetadata(names, bandIndex, **keyMetadata)``.

Outputs of every block are stitched into :attr:`ArcGISReplay.mosaic` for comparison with a
batch prediction. A broken contract raises :class:`ReplayError` naming the method and the rule.

Example:
    >>> from landcover_sdk.arcgis import ClassifyLandcover
    >>> from landcover_sdk.testing.arcgis import ArcGISReplay
    >>> replay = ArcGISReplay(ClassifyLandcover, "scene.tif", {"output": "Hard"})  # doctest: +SKIP
    >>> replay.prepare()  # doctest: +SKIP
    >>> mosaic = replay.run(block=(256, 256), offset=(-37, -91))  # doctest: +SKIP
    >>> mosaic.pixels.shape, replay.output_info["colormap"][0]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import rasterio

from ..data.raster import dataset_mask
from ..data.windows import PixelWindow

DATA_TYPES = ("numeric", "string", "raster", "rasters", "boolean")
PIXEL_TYPES = ("t1", "t2", "t4", "i1", "i2", "i4", "u1", "u2", "u4", "f4", "f8")
CONFIG_KEYS = {
    "extractBands": (tuple, list), "compositeRasters": (bool,), "inheritProperties": (int,),
    "invalidateProperties": (int,), "padding": (int,), "inputMask": (bool,), "resampling": (bool,),
    "resamplingType": (int,), "samplingFactor": (int, float), "supportsBandSelection": (bool,),
    "keyMetadata": (tuple, list), "tx": (int,), "ty": (int,), "fixedTileSize": (int, bool),
    "batch_size": (int,), "dataRange": (tuple, list), "CropSizeFixed": (int, bool), "BlackenAroundFeature": (int, bool),
    "maskUpdated": (bool,), "byRef": (bool,), "_noUpdatePixels": (bool,),
}
TlcConvention = Literal["pixels", "map", "none"]
DEFAULT_PRODUCT = {"productName": "ArcGISPro", "version": "3.3", "path": "C:\\Program Files\\ArcGIS\\Pro\\",
                   "major": 3, "minor": 3.0, "build": 52636, "spNumber": 0, "spBuild": 0}


class ReplayError(AssertionError):
    """The raster function broke the protocol ArcGIS relies on."""


@dataclass
class Mosaic:
    """The stitched outputs of the blocks replayed so far.

    Attributes:
        pixels: ``(bands, rows, cols)`` output pixels over the raster.
        mask: ``(bands, rows, cols)`` uint8 output mask (1 where the function said valid).
        covered: ``(rows, cols)`` ``True`` where some block has been written.
    """

    pixels: npt.NDArray[Any]
    mask: npt.NDArray[np.uint8]
    covered: npt.NDArray[np.bool_]


class ArcGISReplay:
    """Replays ArcGIS Pro's calls on a Python raster function over one raster parameter.

    Args:
        function: the raster function's class (or any callable returning a new function object).
        raster: the GeoTIFF behind the function's raster parameter.
        scalars: values of the scalar parameters (defaults from ``getParameterInfo`` fill the rest).
        product: the ``productInfo`` given to ``isLicensed`` (default: ArcGIS Pro 3.3).
    """

    def __init__(self, function: Callable[[], Any], raster: str | Path, scalars: Mapping[str, Any] | None = None,
                 *, product: Mapping[str, Any] | None = None) -> None:
        self.function = function()
        self.raster = Path(raster)
        self.scalars = dict(scalars or {})
        self.product = dict(product or DEFAULT_PRODUCT)
        self.parameters: list[dict[str, Any]] | None = None
        self.config: dict[str, Any] | None = None
        self.raster_name = "raster"
        self.raster_info_: dict[str, Any] | None = None
        self.output_info: dict[str, Any] | None = None
        self._mosaic: Mosaic | None = None
        for attr in ("name", "description"):
            if not isinstance(getattr(self.function, attr, None), str):
                raise ReplayError(f"__init__: the function object must set self.{attr} to a string")
        with rasterio.open(self.raster) as ds:
            self.height, self.width, self.count = ds.height, ds.width, ds.count
            self.transform, self.crs = ds.transform, ds.crs
            self.dtype = np.dtype(ds.dtypes[0])

    # ------------------------------------------------------------------ the protocol, in order
    def prepare(self) -> dict[str, Any]:
        """``isLicensed`` → ``getParameterInfo`` → ``getConfiguration`` → ``updateRasterInfo``; the output info."""
        licence = self.is_licensed()
        if licence.get("okToRun") is False:
            raise ReplayError(f"isLicensed: okToRun is False ({licence.get('message', '')})")
        self.parameter_info()
        self.configuration()
        return self.raster_info()

    def is_licensed(self, **product: Any) -> dict[str, Any]:
        """Call ``isLicensed`` (if defined) with ``productInfo``; check its answer.

        Args:
            **product: overrides of :data:`DEFAULT_PRODUCT`.
        """
        method = getattr(self.function, "isLicensed", None)
        if method is None:
            return {"okToRun": True}
        answer = method(**{**self.product, **product})
        if not isinstance(answer, dict) or not isinstance(answer.get("okToRun", True), bool):
            raise ReplayError(f"isLicensed: must answer a dict with a boolean okToRun, got {answer!r}")
        if answer.get("productLevel") not in (None, "Basic", "Standard", "Advanced"):
            raise ReplayError(f"isLicensed: productLevel {answer['productLevel']!r} is not Basic/Standard/Advanced")
        return answer

    def parameter_info(self) -> list[dict[str, Any]]:
        """Call ``getParameterInfo`` and check the schema."""
        params = self.function.getParameterInfo()
        if not isinstance(params, list) or not params:
            raise ReplayError("getParameterInfo: must answer a non-empty list of parameter dicts")
        names: set[str] = set()
        for p in params:
            name = p.get("name") if isinstance(p, dict) else None
            if not isinstance(name, str) or not name.isidentifier():
                raise ReplayError(f"getParameterInfo: parameter {p!r} needs a 'name' that is a Python identifier")
            if name in names:
                raise ReplayError(f"getParameterInfo: parameter name {name!r} is repeated")
            names.add(name)
            kind = p.get("dataType")
            if kind not in DATA_TYPES:
                raise ReplayError(f"getParameterInfo: {name}: dataType {kind!r} is not one of {DATA_TYPES}")
            if "required" in p and not isinstance(p["required"], bool):
                raise ReplayError(f"getParameterInfo: {name}: 'required' must be True or False")
            for text in ("displayName", "description"):
                if text in p and not isinstance(p[text], str):
                    raise ReplayError(f"getParameterInfo: {name}: {text!r} must be a string")
            domain = p.get("domain")
            if domain is not None:
                if kind != "string":
                    raise ReplayError(f"getParameterInfo: {name}: a domain is only allowed on string parameters")
                if not isinstance(domain, tuple | list) or not all(isinstance(d, str) for d in domain):
                    raise ReplayError(f"getParameterInfo: {name}: domain must be a tuple of strings")
                if p.get("value") is not None and p["value"] not in domain:
                    raise ReplayError(f"getParameterInfo: {name}: default {p['value']!r} is not in its domain")
        rasters = [p["name"] for p in params if p["dataType"] == "raster"]
        if len(rasters) != 1:
            raise ReplayError(f"the replay drives functions with exactly one raster parameter; found {rasters}")
        unknown = set(self.scalars) - names
        if unknown:
            raise ReplayError(f"scalars {sorted(unknown)} are not parameters of the function ({sorted(names)})")
        self.raster_name = rasters[0]
        self.parameters = params
        return params

    def scalar_values(self) -> dict[str, Any]:
        """The scalar parameters ArcGIS passes: the given values over the declared defaults."""
        params = self._need(self.parameters, "getParameterInfo")
        values = {p["name"]: p.get("value") for p in params if p["dataType"] not in ("raster", "rasters")}
        values.update(self.scalars)
        return values

    def configuration(self) -> dict[str, Any]:
        """Call ``getConfiguration`` with the scalar values; check the keys and their types."""
        self._need(self.parameters, "getParameterInfo")
        config = self.function.getConfiguration(**self.scalar_values())
        if not isinstance(config, dict):
            raise ReplayError(f"getConfiguration: must answer a dict, got {type(config).__name__}")
        for key, value in config.items():
            types = CONFIG_KEYS.get(key)
            if types is None:
                raise ReplayError(f"getConfiguration: unknown key {key!r}")
            if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
                raise ReplayError(f"getConfiguration: {key} = {value!r} has the wrong type")
        padding = config.get("padding", 0)
        if padding < 0:
            raise ReplayError(f"getConfiguration: padding {padding} is negative")
        bands = config.get("extractBands")
        if bands is not None and (not bands or any(not isinstance(b, int) or not 0 <= b < self.count for b in bands)):
            raise ReplayError(f"getConfiguration: extractBands {bands!r} are not 0-based bands of a "
                              f"{self.count}-band raster")
        for flags in ("inheritProperties", "invalidateProperties"):
            if not 0 <= config.get(flags, 0) <= 15:
                raise ReplayError(f"getConfiguration: {flags} {config[flags]} is not a bit-OR of 1, 2, 4 and 8")
        self.config = config
        return config

    def raster_info(self) -> dict[str, Any]:
        """Call ``updateRasterInfo`` with rasterio's description of the file; check the output info."""
        config = self._need(self.config, "getConfiguration")
        info = self._describe_raster()
        output = dict(info)
        output["bandCount"] = len(config.get("extractBands") or range(self.count))
        output["noData"] = info["noData"][: output["bandCount"]]
        kwargs = {**self.scalar_values(), f"{self.raster_name}_info": info, "output_info": output}
        answer = self.function.updateRasterInfo(**kwargs)
        if not isinstance(answer, dict) or not isinstance(answer.get("output_info"), dict):
            raise ReplayError("updateRasterInfo: must answer the kwargs with 'output_info' (a dict)")
        self.raster_info_ = info
        self.output_info = self._check_output_info(answer["output_info"])
        self._mosaic = None
        return self.output_info

    def update_pixels(self, block: PixelWindow, *, tlc: TlcConvention = "pixels",
                      cell_size: float | None = None) -> dict[str, Any]:
        """Deliver one block as ArcGIS does and check the answer; the output is added to the mosaic.

        Args:
            block: the output block in raster pixels (may extend past the raster).
            tlc: how the block's position is told: ``"pixels"`` (a ``(col, row)`` offset into
                ``props``' raster), ``"map"`` (map coordinates of its top-left corner) or
                ``"none"`` (``tlc`` and ``props`` that do not place it).
            cell_size: the request's cell size in ``props`` (default: the raster's), e.g. to
                replay a zoomed-out view.
        """
        config = self._need(self.config, "getConfiguration")
        out_info = self._need(self.output_info, "updateRasterInfo")
        p = int(config.get("padding", 0))
        bands = [b + 1 for b in (config.get("extractBands") or range(self.count))]
        read = block.grow(p)
        pixels, mask = self._read_block(read, bands)
        n_out = int(out_info["bandCount"])
        shape: tuple[int, ...] = (block.height, block.width) if n_out == 1 else (n_out, block.height, block.width)
        a, e = self.transform.a, self.transform.e
        cell = (abs(a), abs(e)) if cell_size is None else (cell_size, cell_size)
        x0, y0 = self.transform.c, self.transform.f
        extent = (x0, y0 + e * self.height, x0 + a * self.width, y0)
        props: dict[str, Any] = {"pixelType": out_info["pixelType"], "spatialReference": _epsg(self.crs),
                                 "cellSize": cell, "noData": out_info.get("noData")}
        if tlc == "pixels":
            position: tuple[float, float] = (float(block.col), float(block.row))
            props.update(extent=extent, width=self.width, height=self.height)
        elif tlc == "map":
            position = (x0 + a * block.col, y0 + e * block.row)
            props.update(extent=extent, width=self.width, height=self.height)
        else:
            position = (0.0, 0.0)
        blocks: dict[str, Any] = {f"{self.raster_name}_pixels": pixels}
        if config.get("inputMask"):
            blocks[f"{self.raster_name}_mask"] = mask
        answer = self.function.updatePixels(position, shape, props, **blocks)
        out, out_mask = self._check_pixels(answer, shape, out_info["pixelType"])
        self._add(block, out.reshape(n_out, block.height, block.width),
                  None if out_mask is None else out_mask.reshape(n_out, block.height, block.width))
        return dict(answer)

    def key_metadata(self, band: int = -1, names: Sequence[str] = ()) -> dict[str, Any]:
        """Call ``updateKeyMetadata`` for a band (-1: the dataset) and check it answers a dict.

        Args:
            band: 0-based band, or -1 for dataset-level properties.
            names: the properties asked for (empty: all).
        """
        method = getattr(self.function, "updateKeyMetadata", None)
        if method is None:
            return {}
        answer = method(tuple(names), band)
        if not isinstance(answer, dict):
            raise ReplayError(f"updateKeyMetadata: must answer a dict, got {type(answer).__name__}")
        return answer

    # ------------------------------------------------------------------ many blocks
    def blocks(self, size: tuple[int, int], offset: tuple[int, int] = (0, 0)) -> Iterator[PixelWindow]:
        """Blocks of ``size`` covering the raster, the first at ``offset`` (≤ 0: starting before the raster).

        Args:
            size: block rows and columns.
            offset: the first block's top-left raster pixel; the grid is shifted back until it covers row/col 0.
        """
        rows, cols = size
        r0, c0 = offset
        r0 -= -(-r0 // rows) * rows if r0 > 0 else 0
        c0 -= -(-c0 // cols) * cols if c0 > 0 else 0
        for r in range(r0, self.height, rows):
            for c in range(c0, self.width, cols):
                yield PixelWindow(r, c, rows, cols)

    def run(self, block: tuple[int, int] = (256, 256), offset: tuple[int, int] = (0, 0), *,
            tlc: TlcConvention = "pixels", cell_size: float | None = None) -> Mosaic:
        """Replay every block of a grid over the raster (preparing first if needed); the mosaic.

        Args:
            block: block rows and columns.
            offset: the grid's first block (negative: starting before the raster, as ArcGIS may).
            tlc: how block positions are told (see :meth:`update_pixels`).
            cell_size: the requests' cell size (default: the raster's).
        """
        if self.output_info is None:
            self.prepare()
        for b in self.blocks(block, offset):
            self.update_pixels(b, tlc=tlc, cell_size=cell_size)
        return self.mosaic

    @property
    def mosaic(self) -> Mosaic:
        """The outputs stitched so far (empty before the first block)."""
        if self._mosaic is None:
            info = self._need(self.output_info, "updateRasterInfo")
            n = int(info["bandCount"])
            self._mosaic = Mosaic(np.zeros((n, self.height, self.width), dtype=np.dtype(info["pixelType"])),
                                  np.zeros((n, self.height, self.width), dtype=np.uint8),
                                  np.zeros((self.height, self.width), dtype=bool))
        return self._mosaic

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _need(value: Any, method: str) -> Any:
        if value is None:
            raise ReplayError(f"{method} has not been called yet (ArcGIS calls it first)")
        return value

    def _describe_raster(self) -> dict[str, Any]:
        with rasterio.open(self.raster) as ds:
            a, e = ds.transform.a, ds.transform.e
            x0, y0 = ds.transform.c, ds.transform.f
            extent = (x0, y0 + e * ds.height, x0 + a * ds.width, y0)
            nodata = np.array([v if v is not None else 0 for v in ds.nodatavals], dtype=self.dtype)
            return {
                "bandCount": ds.count, "pixelType": self.dtype.str[1:], "noData": nodata,
                "cellSize": (abs(a), abs(e)), "extent": extent, "nativeExtent": extent,
                "spatialReference": _epsg(ds.crs), "nativeSpatialReference": _epsg(ds.crs), "geodataXform": "",
                "colormap": (), "rasterAttributeTable": (), "levelOfDetails": 1, "origin": (x0, y0),
                "bandSelection": False, "histogram": (), "statistics": (),
                "blockWidth": ds.block_shapes[0][1], "blockHeight": ds.block_shapes[0][0],
            }

    def _check_output_info(self, info: dict[str, Any]) -> dict[str, Any]:
        n = info.get("bandCount")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ReplayError(f"updateRasterInfo: output bandCount {n!r} must be a whole number >= 1")
        if info.get("pixelType") not in PIXEL_TYPES:
            raise ReplayError(f"updateRasterInfo: output pixelType {info.get('pixelType')!r} is not one of "
                              f"{PIXEL_TYPES}")
        cmap = info.get("colormap", ())
        if cmap not in ((), None):
            if not isinstance(cmap, tuple) or len(cmap) != 4:
                raise ReplayError("updateRasterInfo: colormap must be (values, red, green, blue) arrays")
            values, *rgb = (np.asarray(x) for x in cmap)
            if values.dtype != np.int32 or any(c.dtype != np.uint8 for c in rgb):
                raise ReplayError("updateRasterInfo: colormap values must be int32 and colours uint8")
            if len({len(values), *(len(c) for c in rgb)}) != 1:
                raise ReplayError("updateRasterInfo: colormap arrays must have the same length")
        stats = info.get("statistics", ())
        if stats not in ((), None) and (
                len(stats) != n or not all(isinstance(s, dict) and {"minimum", "maximum"} <= set(s) for s in stats)):
            raise ReplayError(f"updateRasterInfo: statistics must be one dict (minimum, maximum) per band ({n})")
        table = info.get("rasterAttributeTable", ())
        if isinstance(table, str):
            try:
                parsed = json.loads(table)
            except json.JSONDecodeError as exc:
                raise ReplayError(f"updateRasterInfo: rasterAttributeTable is not JSON ({exc.msg})") from None
            if not isinstance(parsed, dict) or not isinstance(parsed.get("features"), list):
                raise ReplayError("updateRasterInfo: rasterAttributeTable JSON must be a feature set with 'features'")
        nodata = info.get("noData")
        if nodata is not None and len(np.atleast_1d(nodata)) not in (1, n):
            raise ReplayError(f"updateRasterInfo: noData must hold one value per band ({n})")
        return info

    def _read_block(self, read: PixelWindow, bands: list[int]) -> tuple[npt.NDArray[Any], npt.NDArray[np.uint8]]:
        pixels = np.zeros((len(bands), read.height, read.width), dtype=self.dtype)
        mask = np.zeros((len(bands), read.height, read.width), dtype=np.uint8)
        inner = read.intersect(self.height, self.width)
        if inner is None:
            return pixels, mask
        with rasterio.open(self.raster) as ds:
            data = ds.read(bands, window=inner.to_rasterio())
            valid = np.ones(data.shape, dtype=bool)
            if ds.nodata is not None:
                valid &= data != ds.nodata  # per band, as ArcGIS masks each band at its NoData
            masked = dataset_mask(ds, inner, bands)
            if masked is not None:
                valid &= masked[None]
        r, c = inner.row - read.row, inner.col - read.col
        pixels[:, r : r + inner.height, c : c + inner.width] = data
        mask[:, r : r + inner.height, c : c + inner.width] = valid
        return pixels, mask

    @staticmethod
    def _check_pixels(answer: Any, shape: tuple[int, ...], pixel_type: str) -> tuple[
            npt.NDArray[Any], npt.NDArray[Any] | None]:
        if not isinstance(answer, dict) or not isinstance(answer.get("output_pixels"), np.ndarray):
            raise ReplayError("updatePixels: must answer a dict holding 'output_pixels' (an ndarray)")
        out = answer["output_pixels"]
        if out.shape != shape:
            raise ReplayError(f"updatePixels: output_pixels has shape {out.shape}; ArcGIS asked for {shape}")
        if out.dtype != np.dtype(pixel_type):
            raise ReplayError(f"updatePixels: output_pixels is {out.dtype}; the declared pixel type is {pixel_type}")
        if not out.flags.c_contiguous:
            raise ReplayError("updatePixels: output_pixels must be C-contiguous")
        mask = answer.get("output_mask")
        if mask is not None:
            if not isinstance(mask, np.ndarray) or mask.shape != shape:
                raise ReplayError(f"updatePixels: output_mask must be an ndarray of shape {shape}")
            if mask.dtype not in (np.uint8, np.bool_) or not mask.flags.c_contiguous:
                raise ReplayError("updatePixels: output_mask must be C-contiguous uint8 (or bool)")
        return out, mask

    def _add(self, block: PixelWindow, pixels: npt.NDArray[Any], mask: npt.NDArray[Any] | None) -> None:
        m = self.mosaic
        inner = block.intersect(self.height, self.width)
        if inner is None:
            return
        r, c = inner.row - block.row, inner.col - block.col
        sl = (slice(inner.row, inner.row_stop), slice(inner.col, inner.col_stop))
        rows, cols = sl
        m.pixels[:, rows, cols] = pixels[:, r : r + inner.height, c : c + inner.width]
        m.mask[:, rows, cols] = 1 if mask is None else (mask[:, r : r + inner.height, c : c + inner.width] != 0)
        m.covered[sl] = True


def _epsg(crs: Any) -> int:
    if crs is None:
        return 0
    code = crs.to_epsg()
    return int(code) if code is not None else 0
