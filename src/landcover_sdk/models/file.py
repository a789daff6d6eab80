"""Model files: one ``.safetensors`` holding the weights and everything needed to use them.

Metadata (all strings, JSON where structured): ``format`` (``landcover-sdk/1``),
``architecture`` (``tutorial-unet``), ``model_config``, ``class_scheme``, ``input_scale``
(1/256), ``band_order``, ``provenance`` (e.g. imported from CNTK file X with its sha256, or the
training run). Loading never unpickles anything: safetensors holds raw tensors only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from .._atomic import atomic_write_bytes
from .._util import sha256_file as sha256_file
from ..config.base import format_validation_error
from ..config.models import ModelConfig
from ..config.schemes import ClassScheme
from ..errors import ModelFormatError
from .shapes import parameter_shapes

FORMAT = "landcover-sdk/1"
ARCHITECTURE = "tutorial-unet"
DEFAULT_BANDS = ("red", "green", "blue", "nir")


@dataclass(frozen=True)
class Provenance:
    """Where a model's weights came from: ``source`` plus free-form string details."""

    source: str
    details: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """JSON text."""
        return json.dumps({"source": self.source, **self.details}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Provenance:
        """Parse :meth:`to_json` output."""
        data = json.loads(text)
        if not isinstance(data, dict) or "source" not in data:
            raise ValueError("provenance must be an object with 'source'")
        source = str(data.pop("source"))
        return cls(source, {str(k): str(v) for k, v in data.items()})


@dataclass(frozen=True)
class ModelFile:
    """Weights (float32, by spec name) plus architecture, classes, input scaling and provenance.

    Attributes:
        config: the architecture.
        scheme: the output classes.
        weights: float32 tensors by parameter name (see :func:`~landcover_sdk.models.parameter_shapes`).
        provenance: where the weights came from (import, training, ...).
        input_scale: factor applied to uint8 imagery (the tutorial: 1/256).
        band_order: the input bands' meaning, in order.
    """

    config: ModelConfig
    scheme: ClassScheme
    weights: dict[str, npt.NDArray[np.float32]]
    provenance: Provenance = field(default_factory=lambda: Provenance("unknown"))
    input_scale: float = 1.0 / 256.0
    band_order: tuple[str, ...] = DEFAULT_BANDS

    def __post_init__(self) -> None:
        self.validate()

    def validate(self, source: str = "model") -> None:
        """Check every tensor against the architecture; raise :class:`ModelFormatError` if off."""
        if self.scheme.num_classes != self.config.num_classes:
            raise ModelFormatError(
                f"{source}: class scheme {self.scheme.name!r} has {self.scheme.num_classes} classes, "
                f"model_config.num_classes is {self.config.num_classes}"
            )
        if len(self.band_order) != self.config.in_bands:
            raise ModelFormatError(
                f"{source}: band_order lists {len(self.band_order)} bands, model_config.in_bands is "
                f"{self.config.in_bands}"
            )
        expected = parameter_shapes(self.config)
        missing = sorted(set(expected) - set(self.weights))
        extra = sorted(set(self.weights) - set(expected))
        if missing:
            raise ModelFormatError(f"{source}: missing tensor(s) {', '.join(missing[:5])}")
        if extra:
            raise ModelFormatError(f"{source}: unexpected tensor(s) {', '.join(extra[:5])}")
        for name, shape in expected.items():
            arr = self.weights[name]
            if tuple(arr.shape) != shape:
                raise ModelFormatError(f"{source}: tensor {name} has shape {tuple(arr.shape)}, expected {shape}")
            if arr.dtype != np.float32:
                raise ModelFormatError(f"{source}: tensor {name} has dtype {arr.dtype}, expected float32")
            if not np.isfinite(arr).all():
                raise ModelFormatError(f"{source}: tensor {name} holds NaN or infinite values")

    def with_provenance(self, **details: str) -> ModelFile:
        """A copy whose provenance details include ``details``."""
        merged = {**self.provenance.details, **{k: str(v) for k, v in details.items()}}
        prov = Provenance(self.provenance.source, merged)
        return replace(self, provenance=prov)

    def metadata(self) -> dict[str, str]:
        """The safetensors metadata of this model."""
        return {
            "format": FORMAT,
            "architecture": ARCHITECTURE,
            "model_config": self.config.to_json(),
            "class_scheme": json.dumps(self.scheme.model_dump(mode="json")),
            "input_scale": repr(self.input_scale),
            "band_order": json.dumps(list(self.band_order)),
            "provenance": self.provenance.to_json(),
        }

    def to_bytes(self) -> bytes:
        """Serialised ``.safetensors`` bytes."""
        from safetensors.numpy import save

        tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(self.weights.items())}
        data: bytes = save(tensors, metadata=self.metadata())
        return data

    def save(self, path: str | Path) -> Path:
        """Write the model file atomically."""
        return atomic_write_bytes(path, self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "<bytes>") -> ModelFile:
        """Parse ``.safetensors`` bytes, validating metadata and every tensor."""
        from safetensors import SafetensorError
        from safetensors.numpy import load

        meta = _read_metadata(data, source)
        try:
            tensors = load(data)
        except (SafetensorError, ValueError, OverflowError) as exc:
            raise ModelFormatError(f"{source}: not a valid safetensors file ({exc})") from exc
        if meta.get("format") != FORMAT or meta.get("architecture") != ARCHITECTURE:
            raise ModelFormatError(
                f"{source}: not a landcover-sdk model (format={meta.get('format')!r}, "
                f"architecture={meta.get('architecture')!r})"
            )
        try:
            config = ModelConfig.model_validate_json(meta["model_config"])
            scheme = ClassScheme.model_validate_json(meta["class_scheme"])
            scale = float(meta["input_scale"])
            bands = tuple(json.loads(meta["band_order"]))
            prov = Provenance.from_json(meta.get("provenance", '{"source": "unknown"}'))
        except KeyError as exc:
            raise ModelFormatError(f"{source}: metadata key {exc.args[0]!r} missing") from None
        except ValidationError as exc:
            raise ModelFormatError(f"{source}: bad metadata: {format_validation_error(exc)}") from None
        except ValueError as exc:
            raise ModelFormatError(f"{source}: bad metadata ({exc})") from exc
        if not (0 < scale < 1):
            raise ModelFormatError(f"{source}: input_scale {scale} is not in (0, 1)")
        weights = {k: np.asarray(v) for k, v in tensors.items()}
        mf = cls.__new__(cls)
        object.__setattr__(mf, "config", config)
        object.__setattr__(mf, "scheme", scheme)
        object.__setattr__(mf, "weights", weights)
        object.__setattr__(mf, "provenance", prov)
        object.__setattr__(mf, "input_scale", scale)
        object.__setattr__(mf, "band_order", bands)
        mf.validate(source)
        return mf

    @classmethod
    def load(cls, path: str | Path) -> ModelFile:
        """Read and validate a ``.safetensors`` model file."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise ModelFormatError(f"{p}: model file not found") from None
        except OSError as exc:
            raise ModelFormatError(f"{p}: cannot read model file ({exc.strerror})") from exc
        return cls.from_bytes(data, source=str(p))


def _read_metadata(data: bytes, source: str) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors header, checked before tensors are touched."""
    if len(data) < 8:
        raise ModelFormatError(f"{source}: too short to be a safetensors file ({len(data)} bytes)")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8 or n > 100_000_000:
        raise ModelFormatError(f"{source}: not a safetensors file (header length {n} exceeds file)")
    try:
        header: Any = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{source}: not a safetensors file (header is not JSON)") from exc
    if not isinstance(header, dict):
        raise ModelFormatError(f"{source}: not a safetensors file (header is not an object)")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ModelFormatError(f"{source}: safetensors metadata is not a string map")
    return meta
