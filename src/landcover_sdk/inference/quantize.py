"""An int8 model file: the network quantised by ONNX Runtime's static quantisation, calibrated on your imagery.

The method was chosen by measurement (``docs/performance.md``): QDQ format, weights int8 per output
channel, activations uint8, min-max calibration, every layer quantised. The graph is the one fast mode
runs — full-resolution scores, means subtracted by the caller — so calibration data are exactly the
network inputs fast mode produces on the calibration rasters (recorded through the predictor itself).

The file is an ONNX model carrying the package's model metadata plus ``precision: int8``, a record of
how it was made (source model hash, calibration files and their hashes, windows, method) and a hash of
its graph: :func:`~landcover_sdk.inference.load_backend` refuses a file whose graph was changed after.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .._atomic import atomic_write_bytes
from ..errors import InvalidRasterError, ModelFormatError
from ..models.file import ModelFile, sha256_file
from ..models.onnx_export import GRAPH_HASH_KEY as GRAPH_HASH_KEY
from ..models.onnx_export import PRECISION_KEY
from ..models.onnx_export import RECORD_KEY as RECORD_KEY
from ..models.onnx_export import graph_sha256 as graph_sha256

log = logging.getLogger(__name__)

def calibration_rasters(sources: Sequence[str | Path] | str | Path) -> list[Path]:
    """The imagery files named by ``sources``: files, or folders (their ``*_NAIP.tif``, else every ``*.tif``).

    Args:
        sources: raster files and/or folders.
    """
    items = [sources] if isinstance(sources, str | Path) else list(sources)
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(p.glob("*_NAIP.tif")) or sorted([*p.glob("*.tif"), *p.glob("*.tiff")])
            if not found:
                raise InvalidRasterError(p, "no GeoTIFF imagery in this folder to calibrate on")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise InvalidRasterError(p, "calibration data not found")
    return files


def quantize_model(model: str | Path | ModelFile, out: str | Path, calibration: Sequence[str | Path] | str | Path,
                   *, windows: int = 32, seed: int = 0, threads: int | None = None) -> Path:
    """Write an int8 ONNX model of ``model``, calibrated on fast-mode windows of ``calibration`` rasters.

    Every calibration raster is checked (bands and dtype the model needs) before anything is
    computed. Areas of up to 1024² pixels are drawn from them (whole rasters when smaller, else
    at random positions, seeded) until ``windows`` network windows were recorded.

    Args:
        model: a ``.safetensors`` or fp32 ``.onnx`` model, ``builtin:<name>``, or a :class:`ModelFile`.
        out: the ``.onnx`` file to write (atomically).
        calibration: imagery files or folders (4-band uint8 GeoTIFFs, like what will be predicted).
        windows: network windows to calibrate on.
        seed: seed of the area positions.
        threads: compute threads while recording.

    Example:
        >>> from landcover_sdk.inference.quantize import quantize_model
        >>> quantize_model("builtin:tutorial-250epochs", "int8.onnx", "tiles/")  # doctest: +SKIP
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from ..config.region import Region
    from ..data.raster import read_info, validate_image
    from ..models.builtin import resolve_model
    from ..models.formats import load_model_file
    from ..models.onnx_export import build_onnx
    from .backends import OnnxBackend
    from .predictor import Predictor

    if isinstance(model, ModelFile):
        mf, source_hash = model, hashlib.sha256(model.to_bytes()).hexdigest()
    else:
        source = resolve_model(model)
        mf, source_hash = load_model_file(source), sha256_file(source)
    bands = list(range(1, mf.config.in_bands + 1))
    rasters = calibration_rasters(calibration)
    infos = [read_info(r) for r in rasters]
    for info in infos:
        if info.count < len(bands):
            raise InvalidRasterError(info.path, f"calibration imagery has {info.count} band(s); the model needs "
                                                f"{len(bands)}")
        validate_image(info, bands)
    if windows < 1:
        raise ModelFormatError(f"windows: {windows} must be at least 1")

    recorded: list[npt.NDArray[np.float32]] = []

    class _Recorder(OnnxBackend):
        def run(self, batch: npt.NDArray[np.float32], *, mean_subtracted: bool = False) -> npt.NDArray[np.float32]:
            recorded.extend(np.array(b[None]) for b in batch)
            return super().run(batch, mean_subtracted=mean_subtracted)

    predictor = Predictor(_Recorder(mf, threads=threads))
    rng = np.random.default_rng(seed)
    while len(recorded) < windows:
        before = len(recorded)
        for info in infos:
            # areas of varied size and place, so small rasters still give varied windows
            h = int(rng.integers(min(128, info.height), min(1024, info.height) + 1))
            w = int(rng.integers(min(128, info.width), min(1024, info.width) + 1))
            r = int(rng.integers(0, info.height - h + 1))
            c = int(rng.integers(0, info.width - w + 1))
            predictor.predict_region_scores(info.path, Region.from_window((r, c, h, w)), mode="fast")
            if len(recorded) >= windows:
                break
        if len(recorded) == before:  # pragma: no cover - every area yields at least one window
            break
    log.info("calibrating on %d fast-mode window(s) from %d raster(s)", len(recorded), len(rasters))

    class _Reader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no type hints
        def __init__(self) -> None:
            self._it = iter(recorded[:windows])

        def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
            batch = next(self._it, None)
            return None if batch is None else {"image": batch}

    import onnx

    fp32 = build_onnx(mf, full=True, subtract_mean=False)
    with tempfile.TemporaryDirectory(prefix="lc-quantize-") as tmp:
        src, pre, q = Path(tmp) / "fp32.onnx", Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        onnx.save(fp32, src)
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)  # folds BatchNorm into the convolutions
        quantize_static(str(pre), str(q), _Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        int8 = onnx.load(str(q))
    record = {
        "method": "onnxruntime static quantization, QDQ, weights int8 per channel, activations uint8, min-max",
        "onnxruntime": __import__("onnxruntime").__version__,
        "source_model": str(model) if not isinstance(model, ModelFile) else "<ModelFile>",
        "source_model_sha256": source_hash,
        "source_provenance": json.loads(mf.provenance.to_json()),
        "calibration_windows": min(windows, len(recorded)),
        "calibration_files": [{"file": Path(r).name, "sha256": sha256_file(r)} for r in rasters],
        "seed": seed,
    }
    meta = {**mf.metadata(), "output": "full", "subtracts_window_mean": "False", PRECISION_KEY: "int8",
            RECORD_KEY: json.dumps(record, sort_keys=True), GRAPH_HASH_KEY: graph_sha256(int8)}
    del int8.metadata_props[:]
    for key, value in meta.items():
        int8.metadata_props.add(key=key, value=value)
    return atomic_write_bytes(out, int8.SerializeToString())
