"""``UNetModel``: the tutorial's network in PyTorch (needs the ``train`` extra)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, cast

try:
    import torch
    import torch.nn.functional as F  # noqa: N812
    from torch import Tensor, nn
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("UNetModel needs torch: pip install 'landcover-sdk[train]'") from exc

import numpy as np

from ..config.models import ModelConfig
from ..config.schemes import ClassScheme
from ..errors import DataError, ModelFormatError
from .file import ModelFile, Provenance
from .shapes import parameter_shapes


# CNTK's BatchNormalization(normalization_time_constant=4096) blends running statistics with
# weight 1 - exp(-samples / 4096) per minibatch; with 10 windows per minibatch that is ~0.00244.
def cntk_bn_momentum(minibatch_size: int, time_constant: float = 4096.0) -> float:
    """PyTorch BatchNorm momentum equivalent to CNTK's normalization time constant."""
    return 1.0 - math.exp(-minibatch_size / time_constant)


class _ConvBN(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, eps: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.bn(self.conv(x))
        return out


class _Block(nn.Module):
    """[3×3 conv-BN-ReLU, 3×3 conv-BN], ReLU; the tutorial leaves the residual shortcut out."""

    def __init__(self, cin: int, cout: int, stride: int, eps: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)))


def bilinear_kernel(size: int = 3) -> Tensor:
    """The ``size``×``size`` bilinear upsampling kernel (3: [[.25,.5,.25],[.5,1,.5],[.25,.5,.25]])."""
    factor = (size + 1) // 2
    mid = factor - 1 if size % 2 == 1 else factor - 0.5
    og = torch.arange(size, dtype=torch.float32)
    filt = 1 - torch.abs(og - mid) / factor
    return filt[:, None] * filt[None, :]


class UNetModel(nn.Module):
    """The tutorial's U-Net-style land-cover network.

    ``forward(x)`` takes ``(N, bands, H, W)`` float imagery already scaled (uint8 / 256) with
    ``H`` and ``W`` multiples of 8, and returns ``(N, classes, H - 2m, W - 2m)`` scores (after the
    final ReLU, before softmax) for the window's core, ``m`` = ``config.margin``; ``forward_full``
    returns scores for every input pixel. Each window's mean is subtracted from red, green and blue inside
    the network, as in the tutorial, so outputs depend on the window.

    Build one fresh (``UNetModel(config)``), from a model file (:meth:`load`), or from a CNTK
    model of the tutorial (:meth:`from_cntk`); save with :meth:`save`, export with
    :meth:`export_onnx`.

    Args:
        config: the architecture (default: the tutorial's).
        scheme: the output classes (default: the tutorial's five).
        init: initialise the weights as the tutorial did.
        seed: seed of that initialisation.
    """

    mean_mask: Tensor

    def __init__(
        self,
        config: ModelConfig | None = None,
        *,
        scheme: ClassScheme | None = None,
        init: bool = True,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        self.scheme = scheme or ClassScheme.tutorial()
        if self.scheme.num_classes != self.config.num_classes:
            raise ModelFormatError(
                f"class scheme {self.scheme.name!r} has {self.scheme.num_classes} classes but the model "
                f"config has num_classes={self.config.num_classes}"
            )
        self.provenance = Provenance(source="fresh")
        cfg = self.config
        c = list(cfg.channels)
        eps = cfg.bn_eps
        self.stem = _ConvBN(cfg.in_bands, c[0], 1, eps)
        stages = []
        prev = c[0]
        for s in range(4):
            blocks = [
                _Block(prev if b == 0 else c[s], c[s], 2 if (b == 0 and s > 0) else 1, eps)
                for b in range(cfg.blocks_per_stage)
            ]
            stages.append(nn.ModuleList(blocks))
            prev = c[s]
        self.stages = nn.ModuleList(stages)
        ups, skips, fuses = [], [], []
        deeper = c[3]
        for s in (2, 1, 0):
            ups.append(nn.ConvTranspose2d(deeper, deeper, 3, stride=2, padding=1, output_padding=1, bias=False))
            skips.append(nn.Conv2d(c[s], c[s], 1))
            fuses.append(nn.Conv2d(deeper, c[s], 1))
            deeper = c[s]
        self.up = nn.ModuleList(ups)
        self.skip = nn.ModuleList(skips)
        self.fuse = nn.ModuleList(fuses)
        self.input_conv = nn.Conv2d(cfg.in_bands, c[0], 3, padding=1)
        self.head = nn.Conv2d(c[0], cfg.num_classes, 3, padding=1)
        mask = torch.zeros(cfg.in_bands)
        mask[list(cfg.centred_bands)] = 1.0
        self.register_buffer("mean_mask", mask.view(1, -1, 1, 1), persistent=False)
        if init:
            self.reset_parameters(seed)

    # ------------------------------------------------------------------ init
    def reset_parameters(self, seed: int | None = None) -> None:
        """Initialise as the tutorial did: He-normal before ReLU, tiny uniform before BN-only,
        Glorot-uniform for 1×1 and plain convs, bilinear kernels in the transposed convs."""
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.reset_parameters()
            # conv_bn (stem and each block's second conv): CNTK uniform(1e-5); conv_bn_relu: he_normal.
            blocks = [blk for stage in self.blocks() for blk in stage]
            for conv in [self.stem.conv] + [blk.conv2 for blk in blocks]:
                conv.weight.uniform_(-1e-5, 1e-5, generator=gen)
            for blk in blocks:
                fan_in = blk.conv1.weight[0].numel()
                blk.conv1.weight.normal_(0.0, math.sqrt(2.0 / fan_in), generator=gen)
            convs = [cast(nn.Conv2d, c) for c in (*self.skip, *self.fuse)] + [self.input_conv, self.head]
            for conv in convs:
                fan_in = conv.weight[0].numel()
                fan_out = conv.weight.shape[0] * conv.weight[0, 0].numel()
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                conv.weight.uniform_(-bound, bound, generator=gen)
                assert conv.bias is not None
                conv.bias.zero_()
            kernel = bilinear_kernel(3)
            for up in (cast(nn.ConvTranspose2d, u) for u in self.up):
                up.weight.zero_()
                for ch in range(min(up.weight.shape[0], up.weight.shape[1])):
                    up.weight[ch, ch] = kernel

    def blocks(self) -> list[list[_Block]]:
        """The encoder blocks, stage by stage."""
        return [[cast(_Block, b) for b in cast(nn.ModuleList, stage)] for stage in self.stages]

    # ------------------------------------------------------------------ forward
    def subtract_window_mean(self, x: Tensor) -> Tensor:
        """Subtract each window's mean from the bands of ``config.centred_bands`` (red, green, blue)."""
        mean = x.mean(dim=(2, 3), keepdim=True)
        return x - mean * self.mean_mask

    def forward_full(self, x: Tensor, *, subtract_mean: bool = True) -> Tensor:
        """Scores for every input pixel: ``(N, classes, H, W)``.

        Args:
            x: ``(N, bands, H, W)`` scaled imagery, ``H`` and ``W`` multiples of 8.
            subtract_mean: subtract each window's own mean first, as the tutorial's network does.
                ``False`` when the caller already subtracted means (the predictor's fast mode
                subtracts a per-block mean field).
        """
        if x.dim() != 4 or x.shape[1] != self.config.in_bands:
            raise DataError(f"input must be (N, {self.config.in_bands}, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 8 or x.shape[3] % 8:
            raise DataError(f"input height and width must be multiples of 8, got {tuple(x.shape[2:])}")
        xc = self.subtract_window_mean(x) if subtract_mean else x
        h = self.stem(xc)
        outs = []
        for stage in self.blocks():
            for block in stage:
                h = block(h)
            outs.append(h)
        y = outs[3]
        for k, s in enumerate((2, 1)):
            y = F.relu(self.skip[k](outs[s]) + self.fuse[k](self.up[k](y)))
        y = F.relu(self.input_conv(xc) + self.skip[2](outs[0]) + self.fuse[2](self.up[2](y)))
        out: Tensor = F.relu(self.head(y))
        return out

    def forward(self, x: Tensor) -> Tensor:
        """Scores for the window's core (``margin`` cropped on every side)."""
        m = self.config.margin
        full = self.forward_full(x)
        return full[:, :, m : full.shape[2] - m, m : full.shape[3] - m] if m else full

    # ------------------------------------------------------------------ weights
    def weights(self) -> dict[str, np.ndarray]:
        """Every parameter and BatchNorm statistic as float32 numpy arrays, by spec name."""
        state = self.state_dict()
        return {k: state[k].detach().cpu().float().numpy().copy() for k in parameter_shapes(self.config)}

    def load_weights(self, weights: dict[str, np.ndarray]) -> None:
        """Load weights by spec name (shapes checked)."""
        expected = parameter_shapes(self.config)
        missing = sorted(set(expected) - set(weights))
        if missing:
            raise ModelFormatError(f"weights missing: {', '.join(missing[:5])}")
        state = {}
        for name, shape in expected.items():
            arr = np.asarray(weights[name])
            if tuple(arr.shape) != shape:
                raise ModelFormatError(f"weight {name}: shape {tuple(arr.shape)}, expected {shape}")
            state[name] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        result = self.load_state_dict(state, strict=False)
        unexpected = [k for k in result.missing_keys if not k.endswith("num_batches_tracked")]
        if unexpected:
            raise ModelFormatError(f"module tensors not covered by the spec: {unexpected[:5]}")

    def to_model_file(self) -> ModelFile:
        """This model as a :class:`ModelFile` (weights, config, scheme, provenance)."""
        return ModelFile(config=self.config, scheme=self.scheme, weights=self.weights(), provenance=self.provenance)

    @classmethod
    def from_model_file(cls, mf: ModelFile) -> UNetModel:
        """Build a model from a loaded :class:`ModelFile`."""
        model = cls(mf.config, scheme=mf.scheme, init=False)
        model.load_weights(mf.weights)
        model.provenance = mf.provenance
        model.eval()
        return model

    def save(self, path: str | Path, *, extra: dict[str, Any] | None = None) -> Path:
        """Write a ``.safetensors`` model file (atomically)."""
        mf = self.to_model_file()
        if extra:
            mf = mf.with_provenance(**extra)
        return mf.save(path)

    @classmethod
    def load(cls, path: str | Path) -> UNetModel:
        """Load a ``.safetensors`` model file (never pickle)."""
        return cls.from_model_file(ModelFile.load(path))

    @classmethod
    def from_cntk(cls, path: str | Path, *, scheme: ClassScheme | None = None) -> UNetModel:
        """Import a tutorial-architecture CNTK v2 ``.model`` file (no CNTK needed)."""
        from .cntk.importer import import_cntk

        return cls.from_model_file(import_cntk(path, scheme=scheme))

    def export_onnx(self, path: str | Path, *, full: bool = False) -> Path:
        """Write an ONNX model (opset 17, dynamic batch, weights as initialisers, metadata props).

        The graph is built from the weights by :mod:`landcover_sdk.models.onnx_export`, the same
        builder the torch-free predictor uses, so both paths run the same graph.
        """
        from .onnx_export import save_onnx

        return save_onnx(self.to_model_file(), path, full=full)

    def num_parameters(self) -> int:
        """Trainable parameter count."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
