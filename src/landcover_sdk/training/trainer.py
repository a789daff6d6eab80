"""``Trainer``: the tutorial's training recipe with checkpoints, exact resume and data parallelism.

* Loss: class-weighted softmax cross-entropy on each window's core ([0, 1, 1, 1, 1]);
  metric: the core's classification error minus the no-data share (both as in the tutorial).
* Optimiser: CNTK's RMSProp (:class:`~landcover_sdk.training.optim.CntkRmsProp`), or Adam/AdamW;
  learning rate per minibatch by epoch stage (1e-4 × 30, 1e-5 × 30, then 1e-6).
* Data: the tutorial's random-window sampler; ``minibatch_size`` is the global minibatch, split
  evenly over data-parallel ranks, whose tiles are sharded as the tutorial sharded them. An epoch
  is ``epoch_size`` windows in all.
* Determinism: window ``i`` of a rank is a pure function of (seed, rank, i); a checkpoint holds
  the model, optimiser state, RNG state and position, so a run killed at any point and resumed
  ends bitwise equal to an uninterrupted one (CPU, same thread count).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from .._atomic import atomic_write_text
from .._util import progress_bar
from ..config.models import TrainConfig
from ..config.schemes import ClassScheme
from ..data.dataset import TileDataset
from ..data.sampling import RandomWindowSampler
from ..errors import ConfigError, LabelValueError, StorageError
from ..models.file import ModelFile, Provenance, sha256_file
from ..models.locate import local_model
from ..models.unet import UNetModel, cntk_bn_momentum
from .checkpoint import Checkpoint, latest_valid, list_checkpoints, prune, save_checkpoint
from .losses import crop_margin, error_counts, weighted_loss
from .optim import CntkRmsProp
from .sync_bn import convert_sync_batchnorm

log = logging.getLogger(__name__)

StepCallback = Callable[["Trainer", int], None]
CheckpointHook = Callable[[Path], None]


@dataclass
class EpochStats:
    """What one epoch did, in the tutorial's log shape.

    Attributes:
        epoch: the epoch's number (1-based).
        loss: mean training loss.
        metric: the tutorial's metric (error minus the no-data share).
        samples: windows trained on.
        seconds: wall-clock seconds.
        lr: learning rate per minibatch.
        validation: validation metrics, when validation ran.
    """

    epoch: int
    loss: float
    metric: float
    samples: int
    seconds: float
    lr: float
    validation: dict[str, float] = field(default_factory=dict)

    @property
    def samples_per_second(self) -> float:
        """Training windows per second."""
        return self.samples / max(self.seconds, 1e-9)

    def line(self, total_epochs: int) -> str:
        """``Finished Epoch[1 of 1]: [Training] loss = 0.127706 * 16000, metric = 3.59% * 16000 ...``."""
        text = (f"Finished Epoch[{self.epoch} of {total_epochs}]: [Training] loss = {self.loss:.6f} * {self.samples}, "
                f"metric = {100 * self.metric:.2f}% * {self.samples} {self.seconds:.3f}s "
                f"({self.samples_per_second:.1f} samples/s)")
        if self.validation:
            text += " [Validation] " + ", ".join(f"{k} = {v:.4f}" for k, v in self.validation.items())
        return text


@dataclass(frozen=True)
class TrainResult:
    """Where the run wrote its outputs and how its epochs went.

    Attributes:
        model_path: the final ``model.safetensors`` (``None`` on ranks other than 0).
        output_dir: the run's folder.
        epochs: every epoch's statistics, resumed ones included.
        resumed_from: the checkpoint the run resumed from.
    """

    model_path: Path | None
    output_dir: Path
    epochs: list[EpochStats]
    resumed_from: Path | None


def lr_for_epoch(config: TrainConfig, epoch: int) -> float:
    """Learning rate per minibatch during 0-based ``epoch`` (the schedule's stage for it)."""
    start = 0
    for stage in config.lr_schedule:
        if stage.epochs is None or epoch < start + stage.epochs:
            return stage.lr
        start += stage.epochs
    return config.lr_schedule[-1].lr


class Trainer:
    """Train the tutorial network on a :class:`TileDataset` with the tutorial's recipe.

    Under ``torchrun`` (or ``landcover train --nproc N``) every process builds a Trainer; ranks
    come from the environment, the process group is created here (gloo on CPU, NCCL on GPUs),
    BatchNorm statistics are synchronised across ranks and only rank 0 writes files.

    Args:
        config: the run (data, model, recipe, outputs).
        dataset: the tiles (default: built from ``config.data``).
        callbacks: called after every minibatch with the step's statistics.
        on_checkpoint: called by rank 0 with the checkpoint folder after each checkpoint is saved (and old
            ones pruned), e.g. to mirror it to storage so that a retry elsewhere can resume.

    Example:
        >>> from landcover_sdk import Trainer, TrainConfig, load_config
        >>> config = load_config("quick.yaml", TrainConfig)  # doctest: +SKIP
        >>> result = Trainer(config).fit()  # doctest: +SKIP
        >>> result.model_path  # doctest: +SKIP
        PosixPath('runs/quick/model.safetensors')
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        dataset: TileDataset | None = None,
        callbacks: list[StepCallback] | None = None,
        on_checkpoint: CheckpointHook | None = None,
    ) -> None:
        self.config = config
        self.callbacks = list(callbacks or [])
        self.on_checkpoint = on_checkpoint
        self.rank, self.world_size = _init_distributed()
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = _device(config.device, self.rank)
        self.output_dir = Path(config.output_dir)
        self.checkpoint_dir = self.output_dir / "checkpoints"
        global_mb = config.data.sampling.minibatch_size
        if global_mb % self.world_size:
            raise ConfigError(f"data.sampling.minibatch_size: {global_mb} does not split over {self.world_size} "
                              "processes")
        self.local_mb = global_mb // self.world_size
        self.steps_per_epoch = config.epoch_size // global_mb
        self.dataset = dataset if dataset is not None else TileDataset.from_config(config.data)
        self._check_dataset()
        self._check_output()
        torch.manual_seed(config.seed)
        self.model = self._build_model()
        self.scheme = self.model.scheme
        for m in self.model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = cntk_bn_momentum(global_mb, config.bn_time_constant)
        if self.world_size > 1:
            convert_sync_batchnorm(self.model)
        # oneDNN's convolutions (CPU) run ~1.4x faster on NHWC tensors than on NCHW ones.
        self.model.to(self.device)
        self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.net: nn.Module = self.model
        if self.world_size > 1:
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.optimizer = self._build_optimizer()
        self.weights = torch.tensor(config.class_weights, dtype=torch.float32, device=self.device)
        s = config.data.sampling
        self.sampler = RandomWindowSampler(
            self.dataset, window=config.model.window, minibatch_size=self.local_mb,
            minibatches_per_image=s.minibatches_per_image, rare_classes=s.rare_classes,
            rare_fraction=s.rare_fraction, keep_probability=s.keep_probability, seed=config.sampler_seed,
            rank=self.rank, world_size=self.world_size, max_tiles_per_worker=s.max_tiles_per_worker)
        self.step = 0
        self.epoch = 0
        self._partial: dict[str, float] = {}
        self.history: list[EpochStats] = []
        self.resumed_from: Path | None = None

    # ------------------------------------------------------------------ set-up
    def _check_dataset(self) -> None:
        cfg = self.config.model
        if len(self.dataset.bands) != cfg.in_bands:
            raise ConfigError(f"data.bands: {len(self.dataset.bands)} bands but the model takes {cfg.in_bands}")
        if self.dataset.num_classes != cfg.num_classes:
            raise LabelValueError(self.dataset.pairs[0].label, f"labels have {self.dataset.num_classes} classes "
                                  f"({self.dataset.scheme.name}); the model predicts {cfg.num_classes}")

    def _check_output(self) -> None:
        if self.rank != 0:
            return
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            probe = self.output_dir / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageError(f"{self.output_dir}: cannot write training outputs ({exc.strerror})") from exc

    def _build_model(self) -> UNetModel:
        cfg = self.config
        if cfg.init_from:
            src = local_model(cfg.init_from)
            if src.suffix == ".model":
                from ..models.cntk.importer import import_cntk

                mf = import_cntk(src, scheme=self.dataset.scheme)
            else:
                mf = ModelFile.load(src)
            if mf.config != cfg.model:
                raise ConfigError(f"init_from: {src} has architecture {mf.config.to_json()}, the config asks for "
                                  f"{cfg.model.to_json()}")
            model = UNetModel.from_model_file(mf)
            model.provenance = mf.provenance
            return model.train()
        return UNetModel(cfg.model, scheme=_model_scheme(self.dataset), seed=cfg.seed).train()

    def _build_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.config
        params = list(self.model.parameters())
        lr = lr_for_epoch(cfg, 0)
        if cfg.optimizer == "cntk-rmsprop":
            r = cfg.rmsprop
            return CntkRmsProp(params, lr=lr, gamma=r.gamma, inc=r.inc, dec=r.dec, max=r.max, min=r.min, l2=cfg.l2)
        if cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=lr, weight_decay=cfg.l2)
        return torch.optim.AdamW(params, lr=lr, weight_decay=cfg.l2)

    # ------------------------------------------------------------------ steps
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        p = self.config.precision
        if p == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if p == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, float]:
        """One optimisation step on this rank's windows; returns (loss, errors, pixels) of the step."""
        m = self.config.model.margin
        images = images.to(self.device, memory_format=torch.channels_last)
        labels = labels.to(self.device)
        self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            scores = self.net(images)
        loss = weighted_loss(scores, crop_margin(labels, m), self.weights)
        loss.backward()  # type: ignore[no-untyped-call]
        self.optimizer.step()
        errors, pixels = error_counts(scores.detach(), crop_margin(labels, m), self.scheme.nodata_class)
        return float(loss.detach()), float(errors), float(pixels)

    def _batches(self, start: int, stop: int) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        for step in range(start, stop):
            x, y = self.sampler.load_minibatch(step)
            yield step, torch.from_numpy(x), torch.from_numpy(y)

    # ------------------------------------------------------------------ state
    def state(self) -> Checkpoint:
        """A checkpoint of the current state."""
        return Checkpoint(epoch=self.epoch, step=self.step, model_state=self.model.state_dict(),
                          optimizer_state=self.optimizer.state_dict(), model_config=self.config.model,
                          rng_state=torch.get_rng_state(), extra={"partial": self._partial,
                                                                   "history": [vars(h) for h in self.history]})

    def restore(self, ckpt: Checkpoint) -> None:
        """Continue from a checkpoint."""
        self.model.load_state_dict(ckpt.model_state)
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        # Saved state is contiguous; fresh state follows each parameter's (channels_last) layout.
        # Reductions sum in memory order, so bitwise-exact resume needs the original layout back.
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                for key, value in self.optimizer.state.get(p, {}).items():
                    if isinstance(value, torch.Tensor) and value.shape == p.shape:
                        self.optimizer.state[p][key] = torch.empty_like(p).copy_(value)
        torch.set_rng_state(ckpt.rng_state)
        self.epoch, self.step = ckpt.epoch, ckpt.step
        self._partial = dict(ckpt.extra.get("partial", {}))
        self.history = [EpochStats(**h) for h in ckpt.extra.get("history", [])]

    def _save(self) -> None:
        if self.rank == 0:
            path = save_checkpoint(self.state(), self.checkpoint_dir)
            prune(self.checkpoint_dir, self.config.keep_last)
            log.debug("checkpoint %s", path.name)
            if self.on_checkpoint is not None:
                self.on_checkpoint(self.checkpoint_dir)

    # ------------------------------------------------------------------ run
    def fit(self, *, resume: bool = False, epochs: int | None = None, progress: bool = True) -> TrainResult:
        """Train for ``epochs`` (default ``config.epochs``) epochs in total, resuming if asked.

        Args:
            resume: continue from the newest valid checkpoint in the output folder.
            epochs: total epochs (default: ``config.epochs``).
            progress: show a progress bar on a terminal.
        """
        total_epochs = epochs or self.config.epochs
        existing = list_checkpoints(self.checkpoint_dir)
        if resume:
            ckpt = latest_valid(self.checkpoint_dir, self.config.model)
            if ckpt is not None:
                self.restore(ckpt)
                self.resumed_from = self.checkpoint_dir / ckpt.file_name()
                log.info("resuming from %s (epoch %d, step %d)", ckpt.file_name(), ckpt.epoch, ckpt.step)
        elif existing:
            latest_valid(self.checkpoint_dir, self.config.model)  # raises for another architecture
            raise ConfigError(f"{self.checkpoint_dir}: holds checkpoints of an earlier run; resume it (--resume) "
                              "or choose another output_dir")
        if self.rank == 0:
            self.config.save(self.output_dir / "train-config.yaml")
        log.info("training %d parameter(s) on %d tile(s), %d process(es), %d step(s) per epoch",
                 self.model.num_parameters(), len(self.sampler.tiles), self.world_size, self.steps_per_epoch)
        every = self.config.checkpoint_every_steps
        while self.epoch < total_epochs:
            lr = lr_for_epoch(self.config, self.epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            first = self.epoch * self.steps_per_epoch
            last = first + self.steps_per_epoch
            sums = self._partial or {"loss": 0.0, "errors": 0.0, "pixels": 0.0, "seconds": 0.0, "steps": 0.0}
            t0 = time.perf_counter()
            with progress_bar(self.steps_per_epoch, initial=self.step - first, enabled=progress and self.rank == 0,
                              desc=f"epoch {self.epoch + 1}/{total_epochs}", unit="mb") as bar:
                for step, x, y in self._batches(self.step, last):
                    loss, errors, pixels = self.train_step(x, y)
                    sums["loss"] += loss
                    sums["errors"] += errors
                    sums["pixels"] += pixels
                    sums["steps"] += 1
                    self.step = step + 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}")
                    if every and self.step % every == 0 and self.step < last:
                        self._partial = {**sums, "seconds": sums["seconds"] + time.perf_counter() - t0}
                        self._save()
                    for cb in self.callbacks:
                        cb(self, self.step)
            sums["seconds"] += time.perf_counter() - t0
            stats = self._epoch_stats(sums, lr)
            self.epoch += 1
            self._partial = {}
            if self.config.validation is not None and self.epoch % self.config.validation.every_epochs == 0:
                stats.validation = self.validate()
            self.history.append(stats)
            if self.rank == 0:
                log.info(stats.line(total_epochs))
                self._append_metrics(stats)
            self._save()
        model_path = self._finish()
        if self.world_size > 1:
            dist.barrier()
        return TrainResult(model_path, self.output_dir, list(self.history), self.resumed_from)

    def _epoch_stats(self, sums: dict[str, float], lr: float) -> EpochStats:
        totals = torch.tensor([sums["loss"], sums["errors"], sums["pixels"], sums["steps"]], dtype=torch.float64)
        if self.world_size > 1:
            dist.all_reduce(totals)
        loss, errors, pixels, steps = totals.tolist()
        samples = int(steps) * self.local_mb
        return EpochStats(epoch=self.epoch + 1, loss=loss / max(steps, 1), metric=errors / max(pixels, 1),
                          samples=samples, seconds=sums["seconds"], lr=lr)

    def _append_metrics(self, stats: EpochStats) -> None:
        path = self.output_dir / "metrics.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        lines = [ln for ln in lines if ln and json.loads(ln).get("epoch") != stats.epoch]
        record = {**vars(stats), "samples_per_second": stats.samples_per_second}
        lines.append(json.dumps(record))
        atomic_write_text(path, "\n".join(lines) + "\n")

    def validate(self) -> dict[str, float]:
        """Pixel accuracy and mean true-label probability on the validation pairs (exact tiling)."""
        from ..inference.backends import TorchBackend
        from ..inference.metrics import ConfusionAccumulator
        from ..inference.predictor import Predictor

        assert self.config.validation is not None
        self.model.eval()
        try:
            predictor = Predictor(TorchBackend.from_module(self.model, self.device))
            acc = ConfusionAccumulator(self.scheme)
            for image, labels in self.config.validation.pairs:
                acc.add_report(predictor.evaluate_raster(image, labels, progress=False))
            rep = acc.report()
            return {"accuracy": rep.accuracy, "mean_true_probability": rep.mean_true_probability or 0.0,
                    "mean_iou": rep.mean_iou}
        finally:
            self.model.train()

    def _finish(self) -> Path | None:
        if self.rank != 0:
            return None
        self.model.eval()
        details = {
            "source_detail": "trained with landcover-sdk",
            "epochs": str(self.epoch),
            "steps": str(self.step),
            "windows": str(self.step * self.config.data.sampling.minibatch_size),
            "optimizer": self.config.optimizer,
            "processes": str(self.world_size),
            "seed": str(self.config.seed),
            "tiles": ",".join(p.name for p in self.dataset.pairs),
        }
        if self.config.init_from:
            details["init_from"] = str(self.config.init_from)
            init_file = local_model(self.config.init_from)
            if init_file.is_file():
                details["init_from_sha256"] = sha256_file(init_file)
        if self.history:
            details["final_loss"] = f"{self.history[-1].loss:.6f}"
            details["final_metric"] = f"{self.history[-1].metric:.6f}"
        mf = dataclasses.replace(self.model.to_model_file(), provenance=Provenance("training", details))
        path = mf.save(self.output_dir / "model.safetensors")
        self.model.train()
        log.info("wrote %s", path)
        return path


def _model_scheme(dataset: TileDataset) -> ClassScheme:
    scheme = dataset.scheme
    if scheme.same_classes(ClassScheme.tutorial()):
        return ClassScheme.tutorial()
    return scheme


def _init_distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size()


def _device(choice: str, rank: int) -> torch.device:
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ConfigError("device: 'cuda' requested but no GPU is available")
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local % torch.cuda.device_count())
        return torch.device("cuda", local % torch.cuda.device_count())
    return torch.device("cpu")


