"""``ClassifyLandcover``: the SDK's model as an Esri Python raster function (no ``arcpy``, no torch).

ArcGIS Pro calls a Python raster function in a fixed order: ``isLicensed`` → ``getParameterInfo``
→ ``getConfiguration`` (scalar parameters only; the padding is read from its answer) →
``updateRasterInfo`` (raster descriptions; the output is declared here) → ``updatePixels`` once
per pixel block as the user pans → ``updateKeyMetadata``. The Image Analyst "Classify Pixels Using
Deep Learning" tool calls ``initialize(model=EMD)`` first. See ``docs/arcgis.md``.

Two things set this function apart from the tutorial's lost ``ClassifyCNTK`` and its surviving
PyTorch relative:

* the model is loaded, and the padding worked out, in ``getConfiguration`` — ArcGIS reads
  ``padding`` from that answer, *before* ``updateRasterInfo``, so a padding set later is never used
  and blocks are classified without context at their edges;
* where ArcGIS says where a block lies (``tlc`` and ``props``), its pixels are predicted on the
  128-pixel grid anchored at the raster's top-left corner — the grid ``landcover predict`` uses —
  so blocks join without seams, the picture does not change as the user pans, and exact mode
  equals the batch COG pixel for pixel. Computed 128² units (:mod:`landcover_sdk.inference.units`,
  the mechanism the tile service uses too) are kept (bounded) and reused by neighbouring blocks.
  Where the position cannot be trusted, each block is tiled on its own.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..config.schemes import ClassScheme
from ..data.windows import PixelWindow
from ..errors import ConfigError, DataError
from ..inference import Mode, Predictor, classify, shared_predictor
from ..inference import units as grid_units

log = logging.getLogger(__name__)

#: What ``output`` may be, and the tutorial's names for two of them.
OUTPUTS = ("Soft", "Hard", "Probabilities", "Classes")
OUTPUT_ALIASES = {"softmax": "Soft", "hardmax": "Hard", "soft": "Soft", "hard": "Hard",
                  "probabilities": "Probabilities", "classes": "Classes"}
GRIDS = ("Raster", "Block")
DEFAULT_MODEL = "builtin:tutorial-250epochs"
#: Classified only up to this multiple of the raster's own cell size unless told otherwise: coarser
#: requests are served from pyramids, which the network was not trained on.
AUTO_CELL_FACTOR = 1.5
#: Computed units kept per function object (5 classes × 128² float32 = 320 KiB each).
UNIT_CACHE_BYTES = 256 * 2**20
CORE_CACHE_BYTES = UNIT_CACHE_BYTES  # the name before units were shared with the tile service
INSTALL_HINT = ("install the SDK into ArcGIS Pro's Python: clone the arcgispro-py3 environment, activate it, "
                "and run `pip install landcover-sdk`")


@dataclass(frozen=True)
class Settings:
    """The function's scalar parameters, checked.

    Attributes:
        model: the model file (or ``builtin:NAME``) as given.
        output: ``Soft``, ``Hard``, ``Probabilities`` or ``Classes``.
        mode: ``exact`` or ``fast``.
        grid: ``Raster`` (cores on the raster's grid) or ``Block`` (each block on its own).
        bands: 0-based bands of the input holding red, green, blue and near-infrared.
        threads: compute threads (0: every CPU).
        max_cell_size: the largest request cell size classified (0: 1.5 × the raster's).
    """

    model: str
    output: str
    mode: Mode
    grid: str
    bands: tuple[int, ...]
    threads: int
    max_cell_size: float

    @classmethod
    def parse(cls, scalars: Mapping[str, Any], emd: Mapping[str, Any] | None = None) -> Settings:
        """Check the scalar parameters ArcGIS passes (numbers may arrive as text).

        Args:
            scalars: parameter name → value, as given to ``getConfiguration``.
            emd: the model definition given to ``initialize``, whose model and bands are the defaults.
        """
        model = str(scalars.get("model") or DEFAULT_MODEL).strip()
        if emd is not None and (model.lower().endswith(".emd") or model.startswith("{")):
            model = str(emd["_model_path"])
        # Classify Pixels Using Deep Learning (which passes an EMD) wants class values.
        raw_output = str(scalars.get("output") or ("Classes" if emd is not None else "Soft")).strip()
        output = OUTPUT_ALIASES.get(raw_output.lower())
        if output is None:
            raise ConfigError(f"output: {raw_output!r} is not one of {', '.join(OUTPUTS)} (or Softmax/Hardmax)")
        mode = str(scalars.get("mode") or "exact").strip().lower()
        if mode not in ("exact", "fast"):
            raise ConfigError(f"mode: {mode!r} is not 'exact' or 'fast'")
        grid = str(scalars.get("grid") or "Raster").strip().capitalize()
        if grid not in GRIDS:
            raise ConfigError(f"grid: {grid!r} is not 'Raster' or 'Block'")
        default_bands = ",".join(str(b + 1) for b in (emd or {}).get("ExtractBands", (0, 1, 2, 3)))
        bands = _parse_bands(str(scalars.get("bands") or default_bands))
        threads = _number(scalars.get("threads"), "threads", 0)
        if threads < 0 or not float(threads).is_integer():
            raise ConfigError(f"threads: {threads!r} must be a whole number >= 0 (0: every CPU)")
        max_cell = _number(scalars.get("max_cell_size"), "max_cell_size", 0)
        if max_cell < 0:
            raise ConfigError(f"max_cell_size: {max_cell!r} must be >= 0 (0: 1.5 x the raster's cell size)")
        return cls(model, output, mode, grid, bands, int(threads), float(max_cell))  # type: ignore[arg-type]


def _number(value: Any, name: str, default: float) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ConfigError(f"{name}: {value!r} is not a finite number")
    return number


def _parse_bands(text: str) -> tuple[int, ...]:
    try:
        bands = tuple(int(b) for b in text.replace(" ", "").split(",") if b)
    except ValueError:
        raise ConfigError(f"bands: {text!r} is not a comma-separated list of band numbers, e.g. 1,2,3,4") from None
    if len(bands) != 4 or min(bands) < 1 or len(set(bands)) != 4:
        raise ConfigError(f"bands: {text!r} must name four different bands (1-based) holding red, green, blue "
                          "and near-infrared, e.g. 1,2,3,4")
    return tuple(b - 1 for b in bands)


def read_emd(model: str) -> dict[str, Any]:
    """An Esri model definition (a ``.emd`` path or its JSON text), with ``_model_path`` resolved.

    Args:
        model: what ArcGIS passes as ``initialize(model=...)``.
    """
    text, base = model, Path.cwd()
    if not model.lstrip().startswith("{"):
        path = Path(model)
        try:
            text, base = path.read_text(encoding="utf-8"), path.parent
        except OSError as exc:
            raise ConfigError(f"model: cannot read the model definition {model} ({exc.strerror})") from None
    try:
        emd = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"model: {model} is not a JSON model definition ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(emd, dict) or not isinstance(emd.get("ModelFile"), str):
        raise ConfigError(f"model: {model}: the model definition names no ModelFile")
    file = Path(emd["ModelFile"].replace("\\", "/"))
    emd["_model_path"] = str(file if file.is_absolute() else (base / file).resolve())
    return emd


class _SharedModels:
    """The process's shared predictors (kept for code that called ``SHARED_MODELS.get``): see
    :func:`landcover_sdk.inference.shared.shared_predictor`."""

    def get(self, model: str, mode: Mode, threads: int) -> Predictor:
        return shared_predictor(model, mode, threads)


SHARED_MODELS = _SharedModels()


@dataclass
class _RasterGrid:
    """Where the input raster's pixels lie: map coordinates of its top-left corner, cell size, size."""

    x0: float
    y0: float
    cell_x: float
    cell_y: float
    rows: int
    cols: int

    def pixel(self, x: float, y: float) -> tuple[float, float]:
        return (self.y0 - y) / self.cell_y, (x - self.x0) / self.cell_x


class ClassifyLandcover:
    """Land cover of 4-band NAIP imagery as an ArcGIS Pro raster function (the tutorial's "ClassifyCNTK").

    Outputs: ``Soft`` (class colours blended by probability, 3 × 8-bit — the tutorial's "AI Mixed
    Probabilities"), ``Hard`` (class ids with the scheme's colour map and class names — "AI
    Classification"), ``Probabilities`` (one float band per class) or ``Classes`` (class ids, no
    colour map, for analysis). The tutorial's ``Softmax``/``Hardmax`` are accepted as aliases.

    Attributes:
        name: the name ArcGIS shows.
        description: the description ArcGIS shows.
    """

    def __init__(self) -> None:
        self.name = "Classify Land Cover"
        self.description = ("Classifies every pixel of 4-band NAIP imagery (red, green, blue, near-infrared) as "
                            "water, trees and shrubs, herbaceous vegetation or barren and impervious, with the "
                            "landcover-sdk U-Net (the Azure pixel-level land classification tutorial's model).")
        self.settings: Settings | None = None
        self.predictor: Predictor | None = None
        self.emd: dict[str, Any] | None = None
        self._backend: grid_units.CountingBackend | None = None
        self._raster: _RasterGrid | None = None
        self._padding = 0
        self._max_cell = 0.0
        self._units: grid_units.UnitCache[grid_units.Key, npt.NDArray[np.float32]] = _unit_cache()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ protocol
    def initialize(self, **kwargs: Any) -> None:
        """Called first by "Classify Pixels Using Deep Learning": ``kwargs['model']`` is an EMD path or its JSON.

        Args:
            **kwargs: ``model`` (and ``device``, ignored: ONNX Runtime runs on the CPU here).
        """
        if kwargs.get("model"):
            self.emd = read_emd(str(kwargs["model"]))

    def isLicensed(self, **product_info: Any) -> dict[str, Any]:  # noqa: N802 — the name ArcGIS calls
        """Whether the function can run here: it needs ONNX Runtime in ArcGIS Pro's Python, no extension.

        Args:
            **product_info: ``productName``, ``version``, ``major``, ``minor``, ``build``… (not needed).
        """
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return {"okToRun": False, "message": f"ONNX Runtime is not installed: {INSTALL_HINT}"}
        return {"okToRun": True, "message": ""}

    def getParameterInfo(self) -> list[dict[str, Any]]:  # noqa: N802
        """The function's parameters, as ArcGIS shows them in the Raster Functions pane."""
        model_default = self.emd["_model_path"] if self.emd is not None else DEFAULT_MODEL
        return [
            {"name": "raster", "dataType": "raster", "value": None, "required": True, "displayName": "Input Raster",
             "description": "4-band 8-bit imagery (red, green, blue, near-infrared), about 1 m per pixel, as NAIP."},
            {"name": "model", "dataType": "string", "value": model_default, "required": True,
             "displayName": "Model",
             "description": "A landcover-sdk model (.safetensors or .onnx), the tutorial's CNTK .model, an Esri "
                            "model definition (.emd), or builtin:tutorial-250epochs (the tutorial's model)."},
            {"name": "output", "dataType": "string", "value": "Soft" if self.emd is None else "Classes",
             "required": True, "displayName": "Output",
             "domain": OUTPUTS,
             "description": "Soft: class colours blended by probability (AI Mixed Probabilities). Hard: the most "
                            "likely class with its colour (AI Classification). Probabilities: one band per class. "
                            "Classes: class ids for analysis. Softmax and Hardmax are the tutorial's names."},
            {"name": "mode", "dataType": "string", "value": "exact", "required": False, "displayName": "Mode",
             "domain": ("exact", "fast"),
             "description": "exact: the tutorial's 256-pixel windows, identical to `landcover predict`. fast: "
                            "larger windows, about 3x faster, within ~0.1% of exact."},
            {"name": "grid", "dataType": "string", "value": "Raster", "required": False, "displayName": "Grid",
             "domain": GRIDS,
             "description": "Raster: windows on the raster's own 128-pixel grid, so blocks join without seams and "
                            "match `landcover predict` (reads 191 pixels of context). Block: each block tiled on its "
                            "own (64 pixels of context)."},
            {"name": "bands", "dataType": "string", "value": "1,2,3,4", "required": False, "displayName": "Bands",
             "description": "The input's band numbers (1-based) holding red, green, blue and near-infrared."},
            {"name": "threads", "dataType": "numeric", "value": 0, "required": False, "displayName": "Threads",
             "description": "CPU threads for the model (0: every CPU)."},
            {"name": "max_cell_size", "dataType": "numeric", "value": 0, "required": False,
             "displayName": "Maximum Cell Size",
             "description": "Nothing is computed when the map shows cells larger than this (map units); 0 means "
                            "1.5 x the raster's cell size, so only full-resolution pixels are classified."},
        ]

    def getConfiguration(self, **scalars: Any) -> dict[str, Any]:  # noqa: N802
        """Load the model (shared across the process) and say how blocks must be delivered.

        Args:
            **scalars: the values of every non-raster parameter.
        """
        settings = Settings.parse(scalars, self.emd)
        shared = shared_predictor(settings.model, settings.mode, settings.threads)
        self.predictor, self._backend = grid_units.counting_predictor(shared)
        self.settings = settings
        tiling = self.predictor.tiling(settings.mode)
        self._padding = tiling.aligned_margin if settings.grid == "Raster" else tiling.input_margin
        self._units = _unit_cache()
        config: dict[str, Any] = {
            "extractBands": settings.bands,
            "padding": self._padding,
            "inputMask": True,
            "resampling": False,
            "inheritProperties": 2 | 4 | 8,
            "invalidateProperties": 2 | 4 | 8,
        }
        if self.emd is not None:
            # Classify Pixels Using Deep Learning cuts the raster into fixed tiles from its origin: whole units.
            side = 4 * tiling.model_core
            config.update(tx=side, ty=side, fixedTileSize=1, batch_size=1)
        return config

    def updateRasterInfo(self, **kwargs: Any) -> dict[str, Any]:  # noqa: N802
        """Check the input raster and declare the output (bands, pixel type, colour map, class names).

        Args:
            **kwargs: ``raster_info``, ``output_info`` and the scalar parameters.
        """
        settings, predictor = self._configured()
        info = kwargs.get("raster_info")
        if not isinstance(info, Mapping):
            raise DataError("raster: no raster information (is the Input Raster set?)")
        count = int(info.get("bandCount", 0))
        if count < max(settings.bands) + 1:
            raise DataError(f"raster: {count} band(s); bands {_bands_text(settings.bands)} name band "
                            f"{max(settings.bands) + 1} (the model needs red, green, blue and near-infrared)")
        pixel_type = str(info.get("pixelType", ""))
        if pixel_type != "u1":
            raise DataError(f"raster: pixel type {pixel_type!r}; the model needs 8-bit unsigned imagery ('u1') "
                            "as NAIP delivers it")
        self._raster = _raster_grid(info)
        self._units = _unit_cache()  # units belong to one raster
        cell = max(abs(self._raster.cell_x), abs(self._raster.cell_y)) if self._raster is not None else 0.0
        self._max_cell = settings.max_cell_size or AUTO_CELL_FACTOR * cell
        if self._raster is not None and not 0.5 <= cell <= 2.0:
            log.warning("raster: cell size %.3g map units; the model was trained on 1 m NAIP", cell)
        out = dict(kwargs["output_info"])
        scheme = predictor.scheme
        out.update(_output_description(settings.output, scheme))
        kwargs["output_info"] = out
        return kwargs

    def updatePixels(self, tlc: Sequence[float], shape: Sequence[int], props: Mapping[str, Any],  # noqa: N802
                     **pixel_blocks: Any) -> dict[str, Any]:
        """Classify one pixel block.

        Args:
            tlc: the request's top-left corner (ArcGIS: a pixel offset into ``props``' raster).
            shape: the output block's shape, ``(rows, cols)`` or ``(bands, rows, cols)``.
            props: the output raster's ``extent``, ``cellSize``, ``width``, ``height``, ``pixelType``.
            **pixel_blocks: ``raster_pixels`` ``(bands, rows + 2P, cols + 2P)`` and ``raster_mask``.
        """
        settings, predictor = self._configured()
        rows, cols = int(shape[-2]), int(shape[-1])
        bands = _output_bands(settings.output, predictor.scheme)
        dtype = np.dtype(str(props.get("pixelType") or ("f4" if settings.output == "Probabilities" else "u1")))
        pixels = pixel_blocks.get("raster_pixels")
        if not isinstance(pixels, np.ndarray) or pixels.ndim != 3:
            raise DataError("raster: no pixel block delivered (raster_pixels missing or not (bands, rows, cols))")
        p = self._padding
        if pixels.shape[1:] != (rows + 2 * p, cols + 2 * p) or pixels.shape[0] != 4:
            raise DataError(f"raster: pixel block {pixels.shape} does not match the output {(rows, cols)} with "
                            f"padding {p} and 4 bands")
        mask = pixel_blocks.get("raster_mask")
        valid_in: npt.NDArray[np.bool_] = np.ones(pixels.shape, dtype=bool) if mask is None else np.asarray(mask) != 0
        valid = np.asarray(valid_in[:, p : p + rows, p : p + cols].any(axis=0), dtype=bool)
        position = self._position(tlc, (rows, cols), props)
        if position is not None and self._raster is not None:
            r, c = position
            inside = np.zeros((rows, cols), dtype=bool)
            inner = PixelWindow(r, c, rows, cols).intersect(self._raster.rows, self._raster.cols)
            if inner is not None:
                inside[inner.row - r : inner.row_stop - r, inner.col - c : inner.col_stop - c] = True
            valid &= inside
        cell = props.get("cellSize")
        zoomed_out = cell is not None and self._max_cell > 0 and max(abs(float(v)) for v in cell) > self._max_cell
        out_pixels = np.zeros((bands, rows, cols), dtype=dtype)
        if zoomed_out or not valid.any():
            return _result(pixel_blocks, out_pixels, np.zeros((bands, rows, cols), np.uint8), shape)
        with self._lock:
            scores = self._scores(pixels, valid_in, (rows, cols), position)
        self._render(scores, valid, out_pixels)
        out_mask = np.broadcast_to(valid.astype(np.uint8), (bands, rows, cols))
        return _result(pixel_blocks, out_pixels, out_mask, shape)

    def updateKeyMetadata(self, names: Sequence[str], bandIndex: int,  # noqa: N802, N803 — ArcGIS's names
                          **key_metadata: Any) -> dict[str, Any]:
        """Describe the output: thematic for classes, processed otherwise; band names per class or colour.

        Args:
            names: the properties asked for (empty: all).
            bandIndex: the 0-based band, or -1 for the dataset.
            **key_metadata: the properties known so far.
        """
        output = self.settings.output if self.settings is not None else "Soft"
        if bandIndex == -1:
            key_metadata["datatype"] = "Thematic" if output in ("Hard", "Classes") else "Processed"
            return key_metadata
        names_ = _band_names(output, self.predictor.scheme if self.predictor is not None else ClassScheme.tutorial())
        if 0 <= bandIndex < len(names_):
            key_metadata["bandname"] = names_[bandIndex]
            key_metadata["wavelengthmin"] = None
            key_metadata["wavelengthmax"] = None
        return key_metadata

    # ------------------------------------------------------------------ helpers
    @property
    def windows_evaluated(self) -> int:
        """Network windows this function object has evaluated (0 before ``getConfiguration``)."""
        return self._backend.windows if self._backend is not None else 0

    def _configured(self) -> tuple[Settings, Predictor]:
        if self.settings is None or self.predictor is None:
            raise ConfigError("getConfiguration must run before the raster is described or pixels are asked for")
        return self.settings, self.predictor

    def _position(self, tlc: Sequence[float], size: tuple[int, int],
                  props: Mapping[str, Any]) -> tuple[int, int] | None:
        """The output block's top-left raster pixel, when ArcGIS's ``tlc``/``props`` give it unambiguously."""
        grid = self._raster
        if grid is None or self.settings is None or self.settings.grid != "Raster" or tlc is None or len(tlc) < 2:
            return None
        candidates: list[tuple[float, float]] = []
        extent, width, height = props.get("extent"), props.get("width"), props.get("height")
        if extent is not None and width and height:
            dx = (float(extent[2]) - float(extent[0])) / float(width)
            dy = (float(extent[3]) - float(extent[1])) / float(height)
            if math.isclose(dx, grid.cell_x, rel_tol=1e-6) and math.isclose(dy, grid.cell_y, rel_tol=1e-6):
                # Esri's utils.computePixelBlockExtents: tlc is a (col, row) offset into props' raster
                candidates.append(grid.pixel(float(extent[0]) + float(tlc[0]) * dx,
                                             float(extent[3]) - float(tlc[1]) * dy))
        candidates.append(grid.pixel(float(tlc[0]), float(tlc[1])))  # Reference.py: "coordinates"
        found = set()
        for r, c in candidates:
            rr, cc = round(r), round(c)
            near = abs(r - rr) < 1e-3 and abs(c - cc) < 1e-3
            overlaps = -size[0] < rr < grid.rows and -size[1] < cc < grid.cols
            if near and overlaps:
                found.add((rr, cc))
        if len(found) != 1:
            if len(found) > 1:
                log.debug("block position ambiguous (%s): tiling the block on its own", sorted(found))
            return None
        return found.pop()

    def _scores(self, pixels: npt.NDArray[Any], valid_in: npt.NDArray[np.bool_], size: tuple[int, int],
                position: tuple[int, int] | None) -> npt.NDArray[np.float32]:
        settings, predictor = self._configured()
        p, (rows, cols) = self._padding, size
        if position is None or self._raster is None:
            return self._local_scores(pixels, valid_in, size)
        shape = (self._raster.rows, self._raster.cols)
        origin = (position[0] - p, position[1] - p)
        block = PixelWindow(position[0], position[1], rows, cols)
        area = block.intersect(*shape)
        scores = np.zeros((predictor.scheme.num_classes, rows, cols), dtype=np.float32)
        if area is None:
            return scores
        if settings.mode != "exact":
            # Fast mode's scores depend on the larger windows around a core: not shared between blocks.
            inner = predictor.predict_area(pixels, area, origin=origin, raster_shape=shape, mode="fast")
        else:
            inner = self._exact_scores(pixels, area, origin, shape)
        scores[:, area.row - block.row : area.row_stop - block.row, area.col - block.col : area.col_stop - block.col] \
            = inner
        return scores

    def _local_scores(self, pixels: npt.NDArray[Any], valid_in: npt.NDArray[np.bool_],
                      size: tuple[int, int]) -> npt.NDArray[np.float32]:
        """Scores of a block tiled on its own. Rows and columns at the canvas's sides with no valid pixel
        are taken to lie outside the raster and are filled by ``edge_mode`` about the last valid ones,
        as the batch prediction fills beyond the raster's edges."""
        settings, predictor = self._configured()
        p, (rows, cols) = self._padding, size
        any_valid = np.asarray(valid_in.any(axis=0), dtype=bool)
        used_rows, used_cols = np.flatnonzero(any_valid.any(axis=1)), np.flatnonzero(any_valid.any(axis=0))
        r0, r1 = int(used_rows[0]), int(used_rows[-1]) + 1
        c0, c1 = int(used_cols[0]), int(used_cols[-1]) + 1
        return predictor.predict_area(pixels[:, r0:r1, c0:c1], PixelWindow(p - r0, p - c0, rows, cols),
                                      mode=settings.mode)

    def _exact_scores(self, pixels: npt.NDArray[Any], area: PixelWindow, origin: tuple[int, int],
                      shape: tuple[int, int]) -> npt.NDArray[np.float32]:
        """Exact-mode scores of ``area`` (inside the raster) from cached units, computing the missing ones."""
        _, predictor = self._configured()
        grid = grid_units.UnitGrid(predictor.tiling("exact"), shape)
        keys = grid.keys(area)
        found = self._units.get_many(keys)
        # each run of missing units along a row in one call; a unit dropped by the cache while this block is
        # assembled is simply kept in ``found``
        for run in grid.runs(k for k in keys if k not in found):
            computed = grid_units.compute_units(predictor, grid, pixels, origin, run)
            self._units.put_many(computed)
            found.update(computed)
        return grid.assemble(area, found)

    def _render(self, scores: npt.NDArray[np.float32], valid: npt.NDArray[np.bool_],
                out: npt.NDArray[Any]) -> None:
        settings, predictor = self._configured()
        scheme = predictor.scheme
        if settings.output in ("Hard", "Classes"):
            # Always the no-data class (the scheme's, else 0) where the input has none, whatever
            # PredictConfig.nodata_to_class0 says: the output mask hides those pixels too, but tools that read the
            # values under it (Classify Pixels Using Deep Learning) then see no-data, not a guess.
            nodata = scheme.nodata_class if scheme.nodata_class is not None else 0
            hard = classify(scores, valid, scheme, nodata_class=nodata)
            out[0] = hard.classes
            return
        if settings.output == "Probabilities":
            out[:] = classify(scores, valid, scheme, nodata_class=None, classes=False, probabilities=True).probabilities
        else:
            rgb = classify(scores, valid, scheme, nodata_class=None, classes=False, soft=True).soft
            assert rgb is not None
            out[:] = rgb.transpose(2, 0, 1)
        out[:, ~valid] = 0


def _unit_cache() -> grid_units.UnitCache[grid_units.Key, npt.NDArray[np.float32]]:
    return grid_units.UnitCache(UNIT_CACHE_BYTES, lambda a: int(a.nbytes))


def _bands_text(bands: Sequence[int]) -> str:
    return ",".join(str(b + 1) for b in bands)


def _raster_grid(info: Mapping[str, Any]) -> _RasterGrid | None:
    """The input's grid from its raster info; ``None`` when a field is missing (blocks are then tiled alone)."""
    try:
        extent = [float(v) for v in info["extent"]]
        cell_x, cell_y = (abs(float(v)) for v in info["cellSize"])
    except (KeyError, TypeError, ValueError):
        return None
    if cell_x <= 0 or cell_y <= 0:
        return None
    cols, rows = (extent[2] - extent[0]) / cell_x, (extent[3] - extent[1]) / cell_y
    if abs(cols - round(cols)) > 1e-3 or abs(rows - round(rows)) > 1e-3:
        return None
    return _RasterGrid(extent[0], extent[3], cell_x, cell_y, round(rows), round(cols))


def _output_bands(output: str, scheme: ClassScheme) -> int:
    return {"Soft": 3, "Hard": 1, "Classes": 1}.get(output, scheme.num_classes)


def _band_names(output: str, scheme: ClassScheme) -> list[str]:
    if output == "Soft":
        return ["Red", "Green", "Blue"]
    if output == "Probabilities":
        return [f"P({name})" for name in scheme.names]
    return ["Class"]


def attribute_table(scheme: ClassScheme) -> dict[str, Any]:
    """The scheme as an Esri raster attribute table (feature-set JSON: OID, Value, Class, Red, Green, Blue).

    Args:
        scheme: the model's classes.
    """
    fields = [("OID", "esriFieldTypeOID"), ("Value", "esriFieldTypeInteger"), ("Class", "esriFieldTypeString"),
              ("Red", "esriFieldTypeInteger"), ("Green", "esriFieldTypeInteger"), ("Blue", "esriFieldTypeInteger")]
    return {
        "displayFieldName": "",
        "fieldAliases": {name: name for name, _ in fields},
        "fields": [{"name": name, "type": kind, "alias": name} for name, kind in fields],
        "features": [{"attributes": {"OID": i + 1, "Value": c.id, "Class": c.name, "Red": int(c.color[0]),
                                     "Green": int(c.color[1]), "Blue": int(c.color[2])}}
                     for i, c in enumerate(scheme.classes)],
    }


def _output_description(output: str, scheme: ClassScheme) -> dict[str, Any]:
    """The ``output_info`` fields the function sets for ``output``."""
    n = _output_bands(output, scheme)
    desc: dict[str, Any] = {"bandCount": n, "histogram": ()}
    if output == "Probabilities":
        desc.update(pixelType="f4", noData=np.zeros(n, dtype=np.float32), colormap=(),
                    statistics=tuple({"minimum": 0.0, "maximum": 1.0} for _ in range(n)))
        return desc
    desc["pixelType"] = "u1"
    desc["noData"] = np.zeros(n, dtype=np.uint8)
    if output == "Soft":
        desc.update(colormap=(), statistics=tuple({"minimum": 0.0, "maximum": 255.0} for _ in range(3)))
        return desc
    ids = np.array([c.id for c in scheme.classes], dtype=np.int32)
    colours = scheme.colors
    top = float(ids.max())
    desc["statistics"] = ({"minimum": 0.0, "maximum": top},)
    desc["rasterAttributeTable"] = json.dumps(attribute_table(scheme))
    desc["colormap"] = (ids, colours[:, 0].copy(), colours[:, 1].copy(), colours[:, 2].copy()) if output == "Hard" \
        else ()
    return desc


def _result(blocks: dict[str, Any], pixels: npt.NDArray[Any], mask: npt.NDArray[np.uint8],
            shape: Sequence[int]) -> dict[str, Any]:
    target = tuple(int(s) for s in shape)
    blocks["output_pixels"] = np.ascontiguousarray(pixels.reshape(target))
    blocks["output_mask"] = np.ascontiguousarray(mask.reshape(target), dtype=np.uint8)
    return blocks
