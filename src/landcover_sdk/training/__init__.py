"""Training (needs the ``train`` extra): the tutorial's recipe, checkpoints, data parallelism."""

from .checkpoint import Checkpoint, latest_valid, load_checkpoint, save_checkpoint
from .losses import crop_margin, error_counts, weighted_loss
from .optim import CntkRmsProp
from .sync_bn import SyncBatchNorm2d, convert_sync_batchnorm
from .trainer import EpochStats, Trainer, TrainResult, lr_for_epoch

__all__ = [
    "Checkpoint",
    "CntkRmsProp",
    "EpochStats",
    "SyncBatchNorm2d",
    "TrainResult",
    "Trainer",
    "convert_sync_batchnorm",
    "crop_margin",
    "error_counts",
    "latest_valid",
    "load_checkpoint",
    "lr_for_epoch",
    "save_checkpoint",
    "weighted_loss",
]
