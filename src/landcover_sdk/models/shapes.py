"""The tutorial network's parameters by name and shape, derived from a :class:`ModelConfig`.

This is the single source of truth shared by the PyTorch module, the CNTK importer, the model
file validator and the torch-free ONNX builder. Names follow the PyTorch module's state dict.

Architecture (tutorial defaults: channels c0..c3 = 64, 32, 32, 32; 2 blocks per stage):

* input: red, green, blue each minus its per-window mean; near-infrared unchanged;
* ``stem``: 3×3 conv (no bias) + BatchNorm, no ReLU;
* ``stages.s.b``: [3×3 conv + BN + ReLU, 3×3 conv + BN, ReLU], no residual shortcut; the first
  block of stages 1-3 (0-based) has stride 2;
* decoder: ``up.k`` 3×3 stride-2 transposed convs (no bias); ``skip.k`` 1×1 convs on encoder
  outputs and ``fuse.k`` 1×1 convs on upsampled maps, added and passed through ReLU;
  ``input_conv`` 3×3 conv on the centred input joins at full resolution;
* ``head``: 3×3 conv to the classes, then ReLU.
"""

from __future__ import annotations

from ..config.models import ModelConfig

Shape = tuple[int, ...]


def _bn(prefix: str, c: int) -> dict[str, Shape]:
    return {f"{prefix}.{k}": (c,) for k in ("weight", "bias", "running_mean", "running_var")}


def stage_channels(cfg: ModelConfig) -> list[int]:
    """Output channels of the four encoder stages."""
    return list(cfg.channels)


def parameter_shapes(cfg: ModelConfig) -> dict[str, Shape]:
    """Every tensor of the model (weights and BatchNorm statistics) with its PyTorch shape."""
    c = list(cfg.channels)
    shapes: dict[str, Shape] = {"stem.conv.weight": (c[0], cfg.in_bands, 3, 3)}
    shapes.update(_bn("stem.bn", c[0]))
    prev = c[0]
    for s in range(4):
        for b in range(cfg.blocks_per_stage):
            p = f"stages.{s}.{b}"
            shapes[f"{p}.conv1.weight"] = (c[s], prev, 3, 3)
            shapes.update(_bn(f"{p}.bn1", c[s]))
            shapes[f"{p}.conv2.weight"] = (c[s], c[s], 3, 3)
            shapes.update(_bn(f"{p}.bn2", c[s]))
            prev = c[s]
    # Decoder level k joins encoder stage 2-k (0-based) with the upsampled deeper map.
    deeper = c[3]
    for k, s in enumerate((2, 1, 0)):
        shapes[f"up.{k}.weight"] = (deeper, deeper, 3, 3)  # ConvTranspose2d: (in, out, kh, kw)
        shapes[f"skip.{k}.weight"] = (c[s], c[s], 1, 1)
        shapes[f"skip.{k}.bias"] = (c[s],)
        shapes[f"fuse.{k}.weight"] = (c[s], deeper, 1, 1)
        shapes[f"fuse.{k}.bias"] = (c[s],)
        deeper = c[s]
    shapes["input_conv.weight"] = (c[0], cfg.in_bands, 3, 3)
    shapes["input_conv.bias"] = (c[0],)
    shapes["head.weight"] = (cfg.num_classes, c[0], 3, 3)
    shapes["head.bias"] = (cfg.num_classes,)
    return shapes


def trainable_count(cfg: ModelConfig) -> int:
    """Number of trainable values (tutorial: 314,373)."""
    total = 0
    for name, shape in parameter_shapes(cfg).items():
        if name.endswith(("running_mean", "running_var")):
            continue
        n = 1
        for d in shape:
            n *= d
        total += n
    return total


def macs_per_window(cfg: ModelConfig, size: int | None = None) -> int:
    """Multiply-accumulates of one forward pass over a ``size``² window (tutorial: ~11.74 G).

    Convolutions count output pixels × kernel volume; transposed convolutions count input pixels
    × kernel volume (each input pixel scatters one kernel).
    """
    side = size or cfg.window
    res = [side, side // 2, side // 4, side // 8]
    total = 0
    for name, shape in parameter_shapes(cfg).items():
        if not name.endswith("weight") or len(shape) != 4:
            continue
        volume = shape[0] * shape[1] * shape[2] * shape[3]
        parts = name.split(".")
        if parts[0] in ("stem", "input_conv", "head"):
            r = res[0]
        elif parts[0] == "stages":
            r = res[int(parts[1])]
        elif parts[0] == "up":
            r = res[3 - int(parts[1])]
        else:  # skip / fuse at decoder level k
            r = res[2 - int(parts[1])]
        total += volume * r * r
    return total
