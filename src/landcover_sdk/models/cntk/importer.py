"""Map a decoded CNTK tutorial model onto the SDK's parameter names by walking its graph.

The walk starts at the graph's root (the centre crop) and follows data inputs backwards:
crop → head convolution (with ReLU) → the full-resolution sum → the decoder levels → each
encoder stage's blocks → the stem → the mean-centring of red/green/blue. At every step the
operation, its attributes and its parameter shapes are checked; anything that is not the
tutorial's architecture raises :class:`~landcover_sdk.ModelFormatError` naming the node and
what was expected. Parameters are identified by the role they play in the graph (their
``name`` inside a layer block, e.g. ``W`` or ``aggregate_mean``), never by their order in the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ...config.models import ModelConfig
from ...config.schemes import ClassScheme
from ...errors import ModelFormatError
from ..file import ModelFile, Provenance, sha256_file
from .format import NDArray, Shape, decode_model_bytes
from .wire import WireError

OP_RELU, OP_SLICE, OP_RESHAPE, OP_PLUS, OP_MINUS = 3, 14, 16, 19, 20
OP_CONV, OP_REDUCE, OP_BN, OP_SPLICE, OP_BLOCK = 33, 39, 40, 43, 57
KIND_INPUT, KIND_PARAMETER, KIND_CONSTANT = 0, 2, 3
MAX_FILE_BYTES = 2 << 30
_OUT = "_Output_0"


@dataclass(frozen=True)
class _Conv:
    uid: str
    weight: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32] | None
    data: str
    stride: int
    transpose: bool
    activation: bool


@dataclass(frozen=True)
class _BN:
    uid: str
    params: dict[str, npt.NDArray[np.float32]]
    data: str
    eps: float


class _Graph:
    """Indexed view of a decoded model: variables and functions by uid."""

    def __init__(self, model: dict[str, Any], source: str) -> None:
        self.source = source
        if model.get("type") != "CompositeFunction" or not isinstance(model.get("root"), str):
            raise ModelFormatError(f"{source}: not a CNTK v2 model (no CompositeFunction root)")
        inputs, functions = model.get("inputs"), model.get("primitive_functions")
        if not isinstance(inputs, list) or not isinstance(functions, list):
            raise ModelFormatError(f"{source}: not a CNTK v2 model (inputs/primitive_functions missing)")
        self.vars: dict[str, dict[str, Any]] = {}
        self.fns: dict[str, dict[str, Any]] = {}
        for v in inputs:
            if not isinstance(v, dict) or not isinstance(v.get("uid"), str):
                raise ModelFormatError(f"{source}: malformed variable entry")
            self.vars[v["uid"]] = v
        for f in functions:
            if not isinstance(f, dict) or not isinstance(f.get("uid"), str) or not isinstance(f.get("op"), int):
                raise ModelFormatError(f"{source}: malformed function entry")
            if not isinstance(f.get("inputs"), list) or not all(isinstance(i, str) for i in f["inputs"]):
                raise ModelFormatError(f"{source}: function {f['uid']} has malformed inputs")
            self.fns[f["uid"]] = f
        self.root = model["root"]

    def fail(self, uid: str, message: str) -> ModelFormatError:
        return ModelFormatError(f"{self.source}: not the tutorial architecture at node {uid}: {message}")

    def fn(self, ref: str, *, expect: str = "") -> dict[str, Any]:
        uid = _strip(ref)
        f = self.fns.get(uid)
        if f is None:
            found = "a variable" if uid in self.vars else "nothing"
            raise self.fail(uid, f"expected {expect or 'a function'}, found {found}")
        return f

    def expect_op(self, ref: str, op: int, what: str) -> dict[str, Any]:
        f = self.fn(ref, expect=what)
        if f["op"] != op:
            raise self.fail(f["uid"], f"expected {what} (op {op}), found op {f['op']}")
        return f

    def is_var(self, ref: str) -> bool:
        return ref in self.vars

    def data_inputs(self, f: dict[str, Any]) -> list[str]:
        """Inputs of ``f`` that carry data (not parameters or constants)."""
        out = []
        for ref in f["inputs"]:
            v = self.vars.get(ref)
            if v is not None and v.get("kind") in (KIND_PARAMETER, KIND_CONSTANT):
                continue
            out.append(ref)
        return out

    def named_params(self, f: dict[str, Any]) -> dict[str, npt.NDArray[np.float32]]:
        """Parameters/constants of a block by their role name (``W``, ``b``, ``scale``, ...)."""
        out: dict[str, npt.NDArray[np.float32]] = {}
        for ref in f["inputs"]:
            v = self.vars.get(ref)
            if v is None or v.get("kind") not in (KIND_PARAMETER, KIND_CONSTANT):
                continue
            value = v.get("value")
            name = v.get("name")
            if not isinstance(value, NDArray) or not isinstance(name, str):
                raise self.fail(ref, "parameter without a name or a value")
            if name in out:
                raise self.fail(f["uid"], f"two parameters named {name!r}")
            out[name] = value.to_numpy()
        return out

    def inner_ops(self, block: dict[str, Any]) -> list[dict[str, Any]]:
        """The functions inside a block, from its composite root down to its placeholders."""
        comp = block.get("block_function_composite")
        if not isinstance(comp, dict) or not isinstance(comp.get("root"), str):
            raise self.fail(block["uid"], "block without a composite")
        seen: list[dict[str, Any]] = []
        stack = [comp["root"]]
        while stack and len(seen) < 16:
            ref = stack.pop()
            uid = _strip(ref)
            f = self.fns.get(uid)
            if f is None or any(s is f for s in seen):
                continue
            seen.append(f)
            stack.extend(f["inputs"])
        return seen


def _only(items: list[str], g: _Graph, uid: str, what: str) -> str:
    if len(items) != 1:
        raise g.fail(uid, f"expected one data input to {what}, found {len(items)}")
    return items[0]


def _spatial(shape: Any, g: _Graph, uid: str, name: str) -> tuple[int, int]:
    if not isinstance(shape, Shape) or len(shape.stored) < 2:
        raise g.fail(uid, f"attribute {name} missing or malformed")
    return shape.stored[0], shape.stored[1]


def _conv(g: _Graph, ref: str) -> _Conv:
    block = g.expect_op(ref, OP_BLOCK, "a Convolution layer block")
    kind = block.get("block_function_op_name")
    if kind not in ("Convolution", "ConvolutionTranspose"):
        raise g.fail(block["uid"], f"expected a Convolution layer, found {kind!r}")
    inner = g.inner_ops(block)
    convs = [f for f in inner if f["op"] == OP_CONV]
    if len(convs) != 1:
        raise g.fail(block["uid"], f"expected one convolution inside the block, found {len(convs)}")
    attrs = convs[0].get("attributes") or {}
    sy, sx = _spatial(attrs.get("strides"), g, convs[0]["uid"], "strides")
    transpose = bool(attrs.get("transpose", False))
    if transpose != (kind == "ConvolutionTranspose") or sy != sx:
        raise g.fail(block["uid"], f"unsupported convolution (transpose={transpose}, strides={sy}x{sx})")
    dil = attrs.get("dilation")
    if isinstance(dil, Shape) and any(d != 1 for d in dil.stored[:2]):
        raise g.fail(convs[0]["uid"], f"dilation {dil.python} is not supported")
    params = g.named_params(block)
    if "W" not in params or set(params) - {"W", "b"}:
        raise g.fail(block["uid"], f"convolution parameters {sorted(params)}; expected W and optionally b")
    weight = params["W"]
    if weight.ndim != 4:
        raise g.fail(block["uid"], f"kernel of shape {weight.shape} is not 2-D")
    pads = attrs.get("autoPadding")
    if weight.shape[2] * weight.shape[3] > 1 and (not isinstance(pads, list) or pads[:2] != [True, True]):
        raise g.fail(convs[0]["uid"], f"expected 'same' padding on height and width, found autoPadding={pads}")
    bias = params.get("b")
    if bias is not None:
        bias = bias.reshape(-1)
    activation = any(f["op"] == OP_RELU for f in inner)
    data = _only(g.data_inputs(block), g, block["uid"], "a convolution")
    return _Conv(block["uid"], weight, bias, data, sy, transpose, activation)


def _bn(g: _Graph, ref: str) -> _BN:
    block = g.expect_op(ref, OP_BLOCK, "a BatchNormalization layer block")
    if block.get("block_function_op_name") != "BatchNormalization":
        raise g.fail(block["uid"], f"expected BatchNormalization, found {block.get('block_function_op_name')!r}")
    inner = [f for f in g.inner_ops(block) if f["op"] == OP_BN]
    if len(inner) != 1:
        raise g.fail(block["uid"], "BatchNormalization block without its operation")
    attrs = inner[0].get("attributes") or {}
    if attrs.get("spatial") is not True:
        raise g.fail(inner[0]["uid"], "only spatial BatchNormalization is supported")
    eps = attrs.get("epsilon")
    if not isinstance(eps, float) or not 0 < eps < 1:
        raise g.fail(inner[0]["uid"], f"epsilon {eps!r} is not valid")
    params = g.named_params(block)
    needed = {"scale", "bias", "aggregate_mean", "aggregate_variance"}
    if not needed <= set(params):
        lacking = sorted(needed - set(params))
        raise g.fail(block["uid"], f"BatchNormalization parameters {sorted(params)} lack {lacking}")
    data = _only(g.data_inputs(block), g, block["uid"], "a BatchNormalization")
    return _BN(block["uid"], {k: params[k].reshape(-1) for k in needed}, data, eps)


def _relu_input(g: _Graph, ref: str) -> str:
    f = g.expect_op(ref, OP_RELU, "ReLU")
    return _only(f["inputs"], g, f["uid"], "ReLU")


def _plus_terms(g: _Graph, ref: str) -> list[str]:
    """Operands of a (possibly nested) sum, flattened."""
    f = g.fn(ref, expect="a sum")
    if f["op"] != OP_PLUS:
        return [ref]
    if len(f["inputs"]) != 2:
        raise g.fail(f["uid"], "Plus must have two inputs")
    return [t for i in f["inputs"] for t in _plus_terms(g, i)]


def _strip(ref: str) -> str:
    return ref[: -len(_OUT)] if ref.endswith(_OUT) else ref


def _same(a: str, b: str) -> bool:
    return _strip(a) == _strip(b)


def _is_block(g: _Graph, ref: str, kind: str) -> bool:
    f = g.fns.get(_strip(ref))
    return f is not None and f["op"] == OP_BLOCK and f.get("block_function_op_name") == kind


def _decoder_level(g: _Graph, ref: str) -> tuple[_Conv, _Conv, list[_Conv]]:
    """``ReLU(sum of terms)`` where exactly one term is a 1×1 conv of a transposed conv's output.

    Returns that fuse conv, the transposed conv, and the other terms (skip convs).
    """
    terms = [_conv(g, t) for t in _plus_terms(g, _relu_input(g, ref))]
    fuse = [t for t in terms if _is_block(g, t.data, "ConvolutionTranspose")]
    if len(fuse) != 1:
        raise g.fail(ref, f"expected one term fed by an upsampling, found {len(fuse)}")
    return fuse[0], _conv(g, fuse[0].data), [t for t in terms if t is not fuse[0]]


Block = tuple[_Conv, _BN, _Conv, _BN]


def _stage(g: _Graph, out_ref: str, at_start: Callable[[str], bool], stage: int) -> tuple[list[Block], str]:
    """Walk a stage's blocks back from its output until ``at_start`` holds; return blocks and that ref."""
    blocks: list[Block] = []
    ref = out_ref
    while not at_start(ref):
        if len(blocks) >= 64:
            raise g.fail(out_ref, f"stage {stage} does not lead back to its input")
        bn2 = _bn(g, _relu_input(g, ref))
        conv2 = _conv(g, bn2.data)
        bn1 = _bn(g, _relu_input(g, conv2.data))
        conv1 = _conv(g, bn1.data)
        blocks.append((conv1, bn1, conv2, bn2))
        ref = conv1.data
    blocks.reverse()
    return blocks, ref


def _input_bands(g: _Graph, ref: str) -> tuple[str, int, list[int]]:
    """Decode the splice of centred/plain band slices; return (input uid, bands, centred bands)."""
    leaves: list[str] = []

    def collect(r: str, depth: int) -> None:
        f = g.fns.get(_strip(r))
        if f is not None and f["op"] == OP_SPLICE and depth < 64:
            for i in f["inputs"]:
                collect(i, depth + 1)
        else:
            leaves.append(r)

    collect(ref, 0)
    input_uid: str | None = None
    centred: list[int] = []
    for position, leaf in enumerate(leaves):
        f = g.fn(leaf, expect="a band slice")
        if f["op"] == OP_MINUS:
            a, b = f["inputs"]
            sl = g.expect_op(a, OP_SLICE, "a band slice")
            if not _same(_mean_input(g, b), a):
                raise g.fail(b, "expected the mean of the same band slice")
            centred.append(position)
        elif f["op"] == OP_SLICE:
            sl = f
        else:
            raise g.fail(f["uid"], f"expected a band slice or a centred band, found op {f['op']}")
        attrs = sl.get("attributes") or {}
        if (attrs.get("beginIndex"), attrs.get("endIndex")) != (position, position + 1):
            raise g.fail(sl["uid"], f"band slice {attrs.get('beginIndex')}:{attrs.get('endIndex')} out of order")
        src = sl["inputs"][0]
        if input_uid is None:
            input_uid = src
        elif src != input_uid:
            raise g.fail(sl["uid"], "band slices of different inputs")
    if input_uid is None or g.vars.get(input_uid, {}).get("kind") != KIND_INPUT:
        raise g.fail(ref, "the band slices do not read the model input")
    return input_uid, len(leaves), centred


def _mean_input(g: _Graph, ref: str) -> str:
    """The input of a per-window mean: a ReduceElements(Mean) op, or a block wrapping one."""
    f = g.fn(ref, expect="a per-window mean")
    ops = g.inner_ops(f) if f["op"] == OP_BLOCK else [f]
    reduce = [o for o in ops if o["op"] == OP_REDUCE]
    if len(reduce) != 1 or len(ops) != 1 or (reduce[0].get("attributes") or {}).get("reductionOpName") != "Mean":
        raise g.fail(f["uid"], f"expected a per-window mean (ReduceElements Mean), found op {f['op']}")
    return _only(g.data_inputs(f), g, f["uid"], "a mean")


def _check_shape(g: _Graph, conv: _Conv, shape: tuple[int, ...], what: str) -> npt.NDArray[np.float32]:
    if tuple(conv.weight.shape) != shape:
        raise g.fail(conv.uid, f"{what} kernel has shape {tuple(conv.weight.shape)}, expected {shape}")
    return conv.weight


def map_graph(model: dict[str, Any], source: str) -> tuple[ModelConfig, dict[str, npt.NDArray[np.float32]]]:
    """Walk a decoded CNTK model and return the SDK config and weights it corresponds to."""
    g = _Graph(model, source)
    crop_rows = g.expect_op(g.root, OP_SLICE, "the centre crop")
    crop_cols = g.expect_op(_only(crop_rows["inputs"], g, crop_rows["uid"], "crop"), OP_SLICE, "the centre crop")
    reshape = g.expect_op(_only(crop_cols["inputs"], g, crop_cols["uid"], "crop"), OP_RESHAPE, "a reshape")
    margins = {(f.get("attributes") or {}).get("beginIndex") for f in (crop_rows, crop_cols)}
    if len(margins) != 1 or not isinstance(next(iter(margins)), int):
        raise g.fail(crop_rows["uid"], f"centre crop margins {sorted(map(str, margins))} differ")
    margin = int(next(iter(margins)))  # type: ignore[arg-type]

    head = _conv(g, _only(reshape["inputs"], g, reshape["uid"], "reshape"))
    if not head.activation or head.bias is None or head.weight.shape[2:] != (3, 3):
        raise g.fail(head.uid, "expected a 3×3 convolution with bias and ReLU as the head")

    # Full-resolution level: ReLU(input conv + skip conv(stage 1) + fuse conv(upsampled)).
    fuse2, up2, others = _decoder_level(g, head.data)
    input_conv = [t for t in others if t.weight.shape[2:] == (3, 3)]
    skip2 = [t for t in others if t.weight.shape[2:] == (1, 1)]
    if len(input_conv) != 1 or len(skip2) != 1 or len(others) != 2:
        raise g.fail(head.data, "expected input conv (3×3), stage-1 skip (1×1) and upsampled term")
    input_ref, in_bands, centred = _input_bands(g, input_conv[0].data)
    fuse1, up1, others1 = _decoder_level(g, up2.data)
    fuse0, up0, others0 = _decoder_level(g, up1.data)
    for level, oth in ((1, others1), (0, others0)):
        if len(oth) != 1:
            raise g.fail(fuse1.uid if level else fuse0.uid, f"decoder level expects 2 terms, found {len(oth) + 1}")
    skip0, skip1 = others0[0], others1[0]

    # Encoder: stage 4 leads back to stage 3's output, ... stage 1 to the stem (BN, no ReLU).
    r1, r2, r3, r4 = skip2[0].data, skip1.data, skip0.data, up0.data
    stages: list[list[Block]] = []
    for s, (out_ref, prev) in enumerate(((r2, r1), (r3, r2), (r4, r3)), start=2):
        blocks, _ = _stage(g, out_ref, lambda r, p=prev: _same(r, p), s)  # type: ignore[misc]
        stages.append(blocks)
    blocks1, stem_ref = _stage(g, r1, lambda r: g.fn(r, expect="stage 1")["op"] != OP_RELU, 1)
    stages.insert(0, blocks1)
    stem = _bn(g, stem_ref)
    stem_conv = _conv(g, stem.data)
    if not _same(stem_conv.data, input_conv[0].data):
        raise g.fail(stem_conv.uid, "the stem does not read the centred input")

    per_stage = {len(b) for b in stages}
    if len(per_stage) != 1 or 0 in per_stage:
        raise g.fail(g.root, f"stages have different block counts {[len(b) for b in stages]}")
    eps_values = {bn.eps for st in stages for blk in st for bn in (blk[1], blk[3])} | {stem.eps}
    if len(eps_values) != 1:
        raise g.fail(g.root, f"BatchNormalization epsilons differ: {sorted(eps_values)}")
    channels = tuple(int(st[0][0].weight.shape[0]) for st in stages)
    input_var = g.vars[input_ref]
    in_shape = input_var.get("shape")
    if not isinstance(in_shape, Shape) or len(in_shape.python) != 3:
        raise g.fail(input_ref, "model input is not (bands, height, width)")
    window = int(in_shape.python[1])
    try:
        config = ModelConfig(
            num_classes=int(head.weight.shape[0]),
            in_bands=in_bands,
            channels=channels,  # type: ignore[arg-type]
            blocks_per_stage=per_stage.pop(),
            window=window,
            margin=margin,
            centred_bands=centred,
            bn_eps=eps_values.pop(),
        )
    except ValueError as exc:
        raise ModelFormatError(f"{source}: architecture outside the supported range ({exc})") from exc

    for s, st in enumerate(stages):
        for b, (conv1, _, _, _) in enumerate(st):
            want = 2 if (b == 0 and s > 0) else 1
            if conv1.stride != want:
                raise g.fail(conv1.uid, f"stage {s + 1} block {b + 1}: stride {conv1.stride}, expected {want}")

    weights: dict[str, npt.NDArray[np.float32]] = {}

    def put_bn(prefix: str, bn: _BN) -> None:
        weights[f"{prefix}.weight"] = bn.params["scale"]
        weights[f"{prefix}.bias"] = bn.params["bias"]
        weights[f"{prefix}.running_mean"] = bn.params["aggregate_mean"]
        weights[f"{prefix}.running_var"] = bn.params["aggregate_variance"]

    weights["stem.conv.weight"] = stem_conv.weight
    put_bn("stem.bn", stem)
    for s, st in enumerate(stages):
        for b, (conv1, bn1, conv2, bn2) in enumerate(st):
            p = f"stages.{s}.{b}"
            weights[f"{p}.conv1.weight"] = conv1.weight
            put_bn(f"{p}.bn1", bn1)
            weights[f"{p}.conv2.weight"] = conv2.weight
            put_bn(f"{p}.bn2", bn2)
    for k, (up, skip, fuse) in enumerate(((up0, skip0, fuse0), (up1, skip1, fuse1), (up2, skip2[0], fuse2))):
        if not up.transpose or up.stride != 2 or up.bias is not None:
            raise g.fail(up.uid, "expected a stride-2 transposed convolution without bias")
        for conv, what in ((skip, "skip"), (fuse, "fuse")):
            if conv.bias is None or conv.weight.shape[2:] != (1, 1):
                raise g.fail(conv.uid, f"expected a 1×1 {what} convolution with bias")
        # CNTK's ConvolutionTranspose kernel, read in Python order, is already laid out as
        # PyTorch's ConvTranspose2d (in, out, kh, kw): verified against CNTK's own outputs.
        weights[f"up.{k}.weight"] = up.weight
        weights[f"skip.{k}.weight"] = skip.weight
        weights[f"skip.{k}.bias"] = skip.bias  # type: ignore[assignment]
        weights[f"fuse.{k}.weight"] = fuse.weight
        weights[f"fuse.{k}.bias"] = fuse.bias  # type: ignore[assignment]
    weights["input_conv.weight"] = input_conv[0].weight
    assert input_conv[0].bias is not None and head.bias is not None
    weights["input_conv.bias"] = input_conv[0].bias
    weights["head.weight"] = head.weight
    weights["head.bias"] = head.bias
    weights = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
    return config, weights


def decode_file(path: str | Path) -> dict[str, Any]:
    """Read and decode a CNTK ``.model`` file, mapping every decoding failure to ModelFormatError."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise ModelFormatError(f"{p}: CNTK model file not found") from None
    if size == 0:
        raise ModelFormatError(f"{p}: empty file")
    if size > MAX_FILE_BYTES:
        raise ModelFormatError(f"{p}: {size} bytes is larger than any tutorial model")
    return decode_bytes(p.read_bytes(), source=str(p))


def decode_bytes(data: bytes, *, source: str = "<bytes>") -> dict[str, Any]:
    """Decode CNTK model bytes; malformed input raises :class:`ModelFormatError`."""
    if not data:
        raise ModelFormatError(f"{source}: empty file")
    try:
        return decode_model_bytes(data)
    except WireError as exc:
        raise ModelFormatError(f"{source}: not a valid CNTK model file ({exc})") from exc
    except RecursionError:
        raise ModelFormatError(f"{source}: not a valid CNTK model file (nesting too deep)") from None


def _model_file(model: dict[str, Any], source: str, scheme: ClassScheme | None,
                details: dict[str, str]) -> ModelFile:
    config, weights = map_graph(model, source)
    if scheme is None:
        if config.num_classes != 5:
            raise ModelFormatError(f"{source}: {config.num_classes} classes; pass the class scheme explicitly")
        scheme = ClassScheme.tutorial()
    if scheme.num_classes != config.num_classes:
        raise ModelFormatError(
            f"{source}: model has {config.num_classes} classes, scheme {scheme.name!r} has {scheme.num_classes}"
        )
    details = {**details, "cntk_uid": str(model.get("uid", ""))}
    return ModelFile(config=config, scheme=scheme, weights=weights, provenance=Provenance("cntk", details))


def import_cntk_bytes(data: bytes, *, source: str = "<bytes>", scheme: ClassScheme | None = None) -> ModelFile:
    """Import CNTK model bytes as a :class:`ModelFile`.

    Args:
        data: the ``.model`` file's bytes.
        source: the name errors use.
        scheme: the class scheme of the outputs (default: the tutorial's).
    """
    return _model_file(decode_bytes(data, source=source), source, scheme, {})


def import_cntk(path: str | Path, *, scheme: ClassScheme | None = None) -> ModelFile:
    """Import a tutorial-architecture CNTK v2 ``.model`` file as a :class:`ModelFile`, without CNTK.

    The file's protobuf is decoded directly and its graph walked back from the output crop; the
    weights reproduce CNTK 2.7's outputs to about 1e-5. Anything that is not the tutorial's
    architecture raises :class:`~landcover_sdk.ModelFormatError` naming the node at fault.

    Args:
        path: the ``.model`` file (e.g. the tutorial's ``250epochs.model``).
        scheme: the class scheme of the model's outputs (default: the tutorial's five classes).

    Example:
        >>> from landcover_sdk import Predictor, import_cntk
        >>> mf = import_cntk("250epochs.model")  # doctest: +SKIP
        >>> mf.save("250epochs.safetensors")  # doctest: +SKIP
        >>> Predictor.from_file("250epochs.safetensors")  # doctest: +SKIP
        Predictor(mode='exact', backend=OnnxBackend, classes=[...])
    """
    p = Path(path)
    details = {"cntk_file": p.name, "cntk_sha256": sha256_file(p)} if p.is_file() else {}
    return _model_file(decode_file(p), str(p), scheme, details)
