"""``landcover train CONFIG.yaml [--resume] [--nproc N] [--epochs N] [--output DIR]``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from ..config.base import load_config
from ..config.models import TrainConfig
from ..errors import RunnerError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``train``."""
    p = sub.add_parser("train", help="train the tutorial network (needs the train extra)")
    p.add_argument("config", type=Path, help="training configuration (YAML or JSON)")
    p.add_argument("--resume", action="store_true", help="continue from the newest valid checkpoint")
    p.add_argument("--nproc", type=int, default=1, help="data-parallel processes on this machine (torchrun)")
    p.add_argument("--epochs", type=int, default=None, help="total epochs (overrides the config)")
    p.add_argument("--output", type=Path, default=None, help="output folder (overrides the config)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=_train)


def load_train_config(path: Path, epochs: int | None, output: Path | None) -> TrainConfig:
    """Load a training config and apply command-line overrides."""
    return load_config(path, TrainConfig).updated(epochs=epochs, output_dir=str(output) if output else None)


def _train(args: argparse.Namespace) -> int:
    cfg = load_train_config(args.config, args.epochs, args.output)
    if args.nproc > 1 and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return _launch(args)
    from ..training.trainer import Trainer

    result = Trainer(cfg).fit(resume=args.resume, progress=not args.no_progress)
    if result.model_path is not None:
        last = result.epochs[-1] if result.epochs else None
        summary = f"loss {last.loss:.4f}, metric {100 * last.metric:.2f}%" if last else "no epochs run"
        print(f"wrote {result.model_path} ({summary})")
    return 0


def _launch(args: argparse.Namespace) -> int:
    """Re-run this command under torchrun with ``--nproc`` processes (gloo on CPU, NCCL on GPUs)."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.nproc}",
           "-m", "landcover_sdk", "train", str(args.config)]
    if args.resume:
        cmd.append("--resume")
    if args.epochs is not None:
        cmd += ["--epochs", str(args.epochs)]
    if args.output is not None:
        cmd += ["--output", str(args.output)]
    if args.no_progress:
        cmd.append("--no-progress")
    proc = subprocess.run(cmd, check=False)
    if proc.returncode != 0:
        raise RunnerError(f"distributed training with {args.nproc} processes failed (exit code {proc.returncode})")
    return 0
