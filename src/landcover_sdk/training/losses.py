"""The tutorial's loss and metric on each window's core (the margin cropped)."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor


def crop_margin(x: Tensor, margin: int) -> Tensor:
    """The core of the last two axes: ``margin`` pixels cropped from every side."""
    if margin == 0:
        return x
    return x[..., margin : x.shape[-2] - margin, margin : x.shape[-1] - margin]


def weighted_loss(scores: Tensor, labels: Tensor, weights: Tensor) -> Tensor:
    """Class-weighted softmax cross-entropy averaged over every core pixel of the minibatch.

    ``scores`` (N, C, h, w) are the network's core outputs, ``labels`` (N, h, w) class ids.
    As in the tutorial, pixels of weight 0 (no data) add nothing but still count in the mean
    (CNTK's ``reduce_mean`` over the 128×128 core).

    Args:
        scores: ``(N, C, h, w)`` core scores.
        labels: ``(N, h, w)`` class ids.
        weights: ``(C,)`` class weights.
    """
    per_pixel = F.cross_entropy(scores.float(), labels, weight=weights, reduction="none")
    return per_pixel.mean()


def error_counts(scores: Tensor, labels: Tensor, nodata_class: int | None = 0) -> tuple[Tensor, Tensor]:
    """The tutorial's metric: classification error minus the no-data share, as ``(errors, pixels)`` sums.

    Returned as sums so that they aggregate exactly across minibatches and ranks.

    Args:
        scores: ``(N, C, h, w)`` core scores.
        labels: ``(N, h, w)`` class ids.
        nodata_class: the class whose pixels count as neither right nor wrong.
    """
    wrong = (scores.argmax(dim=1) != labels).sum()
    if nodata_class is not None:
        wrong = wrong - (labels == nodata_class).sum()
    return wrong.to(torch.float64), torch.tensor(float(labels.numel()), dtype=torch.float64)
