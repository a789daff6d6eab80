"""BatchNorm with statistics over all data-parallel ranks (works with gloo on CPU).

``torch.nn.SyncBatchNorm`` needs a GPU. This module computes per-channel sum, sum of squares and
count locally, all-reduces them with the differentiable ``torch.distributed.nn.all_reduce``,
and normalises with the global mean and variance, so N ranks × B windows behave like one
process with N·B windows. Parameters and buffers keep BatchNorm2d's names.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn


class SyncBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics span every rank of the default process group."""

    def forward(self, x: Tensor) -> Tensor:
        """Normalise with statistics over all ranks (training) or the running ones (evaluation)."""
        if not self.training or not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
            return super().forward(x)
        import warnings

        from torch.distributed.nn import all_reduce

        c = x.shape[1]
        count = torch.tensor([x.numel() / c], dtype=x.dtype, device=x.device)
        with warnings.catch_warnings():
            # The replacement (_functional_collectives) is private; this one is differentiable and stable.
            warnings.simplefilter("ignore", FutureWarning)
            # Two passes (mean, then centred squares): E[x²] − E[x]² cancels catastrophically when
            # activations are tiny, as after the tutorial's ±1e-5 initialisation.
            packed = all_reduce(torch.cat([x.sum(dim=(0, 2, 3)), count]))  # type: ignore[no-untyped-call]
            total = packed[-1]
            mean = packed[:c] / total
            centred = x - mean[None, :, None, None]
            var = all_reduce((centred * centred).sum(dim=(0, 2, 3))) / total  # type: ignore[no-untyped-call]
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            m = self.momentum if self.momentum is not None else 0.1
            with torch.no_grad():
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * total / (total - 1), alpha=m)
                if self.num_batches_tracked is not None:
                    self.num_batches_tracked.add_(1)
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        out: Tensor = y
        return out


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every BatchNorm2d in ``module`` by :class:`SyncBatchNorm2d` (same state)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d) and not isinstance(child, SyncBatchNorm2d):
            new = SyncBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                  child.track_running_stats)
            new.load_state_dict(child.state_dict())
            new.train(child.training)
            setattr(module, name, new)
        else:
            convert_sync_batchnorm(child)
    return module
