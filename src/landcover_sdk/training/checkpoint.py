"""Training checkpoints: model, optimiser, RNG state and position, in one safetensors file.

No pickle: tensors go into the safetensors payload, everything else (epoch, step, partial epoch
sums, optimiser hyper-parameters, architecture) into its JSON metadata, together with a SHA-256
of the tensor payload. A truncated or corrupted file fails to load or fails its checksum, and
:func:`latest_valid` falls back to the previous checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from .._atomic import atomic_write_bytes
from ..config.models import ModelConfig
from ..errors import ConfigError, ModelFormatError

log = logging.getLogger(__name__)

PATTERN = re.compile(r"^ckpt-e(\d{4})-s(\d{9})\.safetensors$")
FORMAT = "landcover-sdk-checkpoint/1"


@dataclass
class Checkpoint:
    """Everything needed to continue a run exactly where it stopped.

    Attributes:
        epoch: epochs completed.
        step: minibatches completed.
        model_state: the network's tensors.
        optimizer_state: the optimizer's state.
        model_config: the architecture.
        rng_state: torch's random generator state.
        extra: anything else the trainer keeps (history, sampler position).
    """

    epoch: int  # epochs completed
    step: int  # minibatches completed (global)
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]
    model_config: ModelConfig
    rng_state: torch.Tensor
    extra: dict[str, Any] = field(default_factory=dict)

    def file_name(self) -> str:
        """``ckpt-e<epoch>-s<step>.safetensors``."""
        return f"ckpt-e{self.epoch:04d}-s{self.step:09d}.safetensors"


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, per_param in state["state"].items():
        for key, value in per_param.items():
            name = f"optim.{idx}.{key}"
            if isinstance(value, torch.Tensor):
                tensors[name] = value.detach().cpu().contiguous()
            else:
                scalars[name] = value
    return tensors, {"scalars": scalars, "param_groups": state["param_groups"]}


def _payload_digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        t = tensors[name].contiguous().reshape(-1)
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_checkpoint(ckpt: Checkpoint, folder: Path) -> Path:
    """Write ``ckpt`` into ``folder`` atomically; returns its path."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in ckpt.model_state.items()}
    opt_tensors, opt_meta = _flatten_optimizer(ckpt.optimizer_state)
    tensors.update(opt_tensors)
    tensors["rng.torch"] = ckpt.rng_state.detach().cpu().contiguous()
    meta = {
        "format": FORMAT,
        "epoch": str(ckpt.epoch),
        "step": str(ckpt.step),
        "model_config": ckpt.model_config.to_json(),
        "optimizer": json.dumps(opt_meta),
        "extra": json.dumps(ckpt.extra),
        "payload_sha256": _payload_digest(tensors),
    }
    folder.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(folder / ckpt.file_name(), save_bytes(tensors, metadata=meta))


def load_checkpoint(path: Path) -> Checkpoint:
    """Read and verify one checkpoint; any defect raises :class:`ModelFormatError`."""
    try:
        data = path.read_bytes()
        tensors = load_bytes(data)
        n = int.from_bytes(data[:8], "little")
        meta = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
    except (OSError, SafetensorError, ValueError) as exc:
        raise ModelFormatError(f"{path}: unreadable checkpoint ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise ModelFormatError(f"{path}: not a landcover-sdk checkpoint")
    if _payload_digest(tensors) != meta.get("payload_sha256"):
        raise ModelFormatError(f"{path}: checkpoint payload does not match its checksum (corrupt)")
    try:
        opt_meta = json.loads(meta["optimizer"])
        state: dict[int, dict[str, Any]] = {}
        for name, value in tensors.items():
            if name.startswith("optim."):
                _, idx, key = name.split(".", 2)
                state.setdefault(int(idx), {})[key] = value
        for name, value in opt_meta["scalars"].items():
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
        return Checkpoint(
            epoch=int(meta["epoch"]),
            step=int(meta["step"]),
            model_state={k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")},
            optimizer_state={"state": state, "param_groups": opt_meta["param_groups"]},
            model_config=ModelConfig.model_validate_json(meta["model_config"]),
            rng_state=tensors["rng.torch"],
            extra=json.loads(meta.get("extra", "{}")),
        )
    except (KeyError, ValueError) as exc:
        raise ModelFormatError(f"{path}: malformed checkpoint metadata ({exc})") from exc


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint files in ``folder``, oldest first (by step)."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(2)), p) for p in folder.iterdir() if (m := PATTERN.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_valid(folder: Path, config: ModelConfig) -> Checkpoint | None:
    """The newest checkpoint that loads and verifies; older ones are tried when newer ones are corrupt.

    A valid checkpoint of another architecture is an error (:class:`ConfigError`): resuming it
    would silently train something else.
    """
    for path in reversed(list_checkpoints(folder)):
        try:
            ckpt = load_checkpoint(path)
        except ModelFormatError as exc:
            log.warning("skipping checkpoint: %s", exc)
            continue
        if ckpt.model_config != config:
            raise ConfigError(f"{path}: checkpoint of a different architecture ({ckpt.model_config.to_json()}) "
                              f"in the output folder; use another output_dir")
        return ckpt
    return None


def prune(folder: Path, keep_last: int | None) -> None:
    """Delete all but the newest ``keep_last`` checkpoints."""
    if keep_last is None:
        return
    files = list_checkpoints(folder)
    for old in files[: max(0, len(files) - keep_last)]:
        old.unlink(missing_ok=True)
