"""Build the tutorial network as an ONNX graph straight from a :class:`ModelFile` (no torch).

One builder serves both :meth:`UNetModel.export_onnx` and the torch-free predictor, so a
``.safetensors`` model runs on ONNX Runtime with only the core install. The graph: input
``image`` ``(N, bands, H, W)`` float32 (N, H, W dynamic; H, W multiples of 8), output ``scores``
``(N, classes, H - 2·margin, W - 2·margin)`` (or the full map with ``full=True``), opset 17,
weights as initialisers, and metadata properties carrying the config, class scheme, input
scaling, band order and provenance.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .._atomic import atomic_write_bytes
from ..config.models import ModelConfig
from ..config.schemes import ClassScheme
from ..errors import ModelFormatError
from .file import ARCHITECTURE, FORMAT, ModelFile, Provenance
from .shapes import parameter_shapes

OPSET = 17
INPUT_NAME = "image"
OUTPUT_NAME = "scores"


class _Builder:
    def __init__(self, mf: ModelFile) -> None:
        self.mf = mf
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self._n = 0

    def init(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def w(self, name: str) -> str:
        return self.init(name, self.mf.weights[name])

    def node(self, op: str, inputs: list[str], **attrs: Any) -> str:
        self._n += 1
        out = f"{op.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x: str, prefix: str, *, stride: int = 1, bias: bool = True) -> str:
        weight = self.mf.weights[f"{prefix}.weight"]
        k = weight.shape[2]
        inputs = [x, self.w(f"{prefix}.weight")]
        if bias:
            inputs.append(self.w(f"{prefix}.bias"))
        pad = k // 2
        return self.node("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)

    def bn(self, x: str, prefix: str) -> str:
        names = [self.w(f"{prefix}.{k}") for k in ("weight", "bias", "running_mean", "running_var")]
        return self.node("BatchNormalization", [x, *names], epsilon=self.mf.config.bn_eps)

    def relu(self, x: str) -> str:
        return self.node("Relu", [x])

    def add(self, *xs: str) -> str:
        out = xs[0]
        for x in xs[1:]:
            out = self.node("Add", [out, x])
        return out

    def up(self, x: str, prefix: str) -> str:
        return self.node(
            "ConvTranspose",
            [x, self.w(f"{prefix}.weight")],
            kernel_shape=[3, 3],
            strides=[2, 2],
            pads=[1, 1, 1, 1],
            output_padding=[1, 1],
        )


def build_onnx(mf: ModelFile, *, full: bool = False, subtract_mean: bool = True) -> onnx.ModelProto:
    """The network of ``mf`` as an ONNX model (checked with ``onnx.checker``).

    Args:
        mf: the model file (configuration, class scheme and weights).
        full: output every pixel's scores instead of only the window's core.
        subtract_mean: subtract each window's mean from ``centred_bands`` inside the graph (the
            tutorial's network); ``False`` when the caller subtracts means itself.
    """
    cfg = mf.config
    b = _Builder(mf)
    x = INPUT_NAME
    if subtract_mean:
        mask = np.zeros((1, cfg.in_bands, 1, 1), dtype=np.float32)
        mask[0, list(cfg.centred_bands), 0, 0] = 1.0
        mean = b.node("ReduceMean", [INPUT_NAME], axes=[2, 3], keepdims=1)
        x = b.node("Sub", [INPUT_NAME, b.node("Mul", [mean, b.init("mean_mask", mask)])])
    h = b.bn(b.conv(x, "stem.conv", bias=False), "stem.bn")
    outs = []
    for s in range(4):
        for k in range(cfg.blocks_per_stage):
            p = f"stages.{s}.{k}"
            stride = 2 if (k == 0 and s > 0) else 1
            h = b.relu(b.bn(b.conv(h, f"{p}.conv1", stride=stride, bias=False), f"{p}.bn1"))
            h = b.relu(b.bn(b.conv(h, f"{p}.conv2", bias=False), f"{p}.bn2"))
        outs.append(h)
    y = outs[3]
    for k, s in enumerate((2, 1)):
        y = b.relu(b.add(b.conv(outs[s], f"skip.{k}"), b.conv(b.up(y, f"up.{k}"), f"fuse.{k}")))
    y = b.relu(b.add(b.conv(x, "input_conv"), b.conv(outs[0], "skip.2"), b.conv(b.up(y, "up.2"), "fuse.2")))
    y = b.relu(b.conv(y, "head"))
    m = cfg.margin
    if m and not full:
        starts = b.init("crop_starts", np.array([m, m], dtype=np.int64))
        ends = b.init("crop_ends", np.array([-m, -m], dtype=np.int64))
        axes = b.init("crop_axes", np.array([2, 3], dtype=np.int64))
        y = b.node("Slice", [y, starts, ends, axes])
    b.nodes[-1].output[0] = OUTPUT_NAME
    graph = helper.make_graph(
        b.nodes,
        "landcover_unet",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", cfg.in_bands, "H", "W"])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", cfg.num_classes, "h", "w"])],
        initializer=b.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="landcover-sdk")
    model.ir_version = 8
    meta = {**mf.metadata(), "output": "full" if full or not m else "core", "subtracts_window_mean": str(subtract_mean)}
    helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    return model


def save_onnx(mf: ModelFile, path: str | Path, *, full: bool = False) -> Path:
    """Write the ONNX model of ``mf`` to ``path`` atomically.

    Args:
        mf: the model file.
        path: the ``.onnx`` file to write.
        full: output every pixel's scores instead of each window's core.
    """
    return atomic_write_bytes(path, build_onnx(mf, full=full).SerializeToString())


#: Metadata key marking a quantized model (value ``"int8"``); float models have none.
PRECISION_KEY = "precision"
#: Metadata key of a quantized model's record (JSON: source model, calibration, settings).
RECORD_KEY = "quantization"
#: Metadata key of the SHA-256 of a quantized model's graph, checked on load.
GRAPH_HASH_KEY = "graph_sha256"


def graph_sha256(model: Any) -> str:
    """SHA-256 of an ONNX model's graph (operators, weights, shapes), metadata excluded.

    Args:
        model: an ``onnx.ModelProto``.
    """
    return hashlib.sha256(model.graph.SerializeToString(deterministic=True)).hexdigest()


def read_onnx(path: str | Path) -> onnx.ModelProto:
    """Parse an ONNX file; a missing or malformed file raises :class:`~landcover_sdk.ModelFormatError`."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ModelFormatError(f"{p}: model file not found") from None
    try:
        return onnx.load_from_string(data)
    except Exception as exc:  # onnx raises DecodeError and others for malformed bytes
        raise ModelFormatError(f"{p}: not a valid ONNX model ({type(exc).__name__})") from exc


def onnx_precision(model: onnx.ModelProto) -> str:
    """``"int8"`` for a model quantized by the SDK, else ``"fp32"``."""
    return next((prop.value for prop in model.metadata_props if prop.key == PRECISION_KEY), "fp32")


def load_onnx_model_file(path: str | Path) -> ModelFile:
    """Recover the :class:`ModelFile` (weights and metadata) from an ONNX model this SDK wrote.

    The exporter names every initialiser after the model's parameters, so the weights come back
    exactly; the predictor then builds whichever graph variant it needs from them.
    """
    return model_file_from_onnx(read_onnx(path), path)


def model_file_from_onnx(model: onnx.ModelProto, path: str | Path) -> ModelFile:
    """The :class:`ModelFile` of an already parsed float ONNX model written by the SDK (``path`` names it in errors).

    Args:
        model: the parsed model.
        path: the file it came from.
    """
    p = Path(path)
    if onnx_precision(model) != "fp32":
        raise ModelFormatError(f"{p}: an int8 model holds quantized weights, not a model file's float weights; "
                               "use it for prediction (Predictor.from_file) or quantize the float model again")
    meta = {prop.key: prop.value for prop in model.metadata_props}
    if meta.get("format") != FORMAT or meta.get("architecture") != ARCHITECTURE:
        raise ModelFormatError(f"{p}: ONNX model was not written by landcover-sdk (no class scheme metadata)")
    try:
        config = ModelConfig.model_validate_json(meta["model_config"])
        scheme = ClassScheme.model_validate_json(meta["class_scheme"])
        provenance = Provenance.from_json(meta.get("provenance", '{"source": "unknown"}'))
        bands = tuple(json.loads(meta["band_order"]))
        scale = float(meta["input_scale"])
    except (KeyError, ValueError) as exc:
        raise ModelFormatError(f"{p}: bad landcover-sdk metadata in ONNX model ({exc})") from exc
    names = set(parameter_shapes(config))
    weights = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in model.graph.initializer
               if i.name in names}
    return ModelFile(config=config, scheme=scheme, weights=weights, provenance=provenance, input_scale=scale,
                     band_order=bands)
