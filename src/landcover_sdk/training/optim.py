"""CNTK's RMSProp as a PyTorch optimiser.

CNTK's rule (``cntk.rmsprop(params, lr, gamma, inc, dec, max, min, need_ave_multiplier=True)``)
is not ``torch.optim.RMSprop``. Per element, with gradient ``g``:

* state on the first step: ``avar = g²``, ``sign = 0``, ``step = 0.02``;
* ``avar ← gamma·avar + (1 − gamma)·g²``;
* ``step ← min(step·inc, max)`` if ``sign(g)`` equals the previous sign (and is non-zero),
  otherwise ``step ← max(step·dec, min)``; then ``sign ← sign(g)``;
* ``m = step / sqrt(avar + 1e-6)``;
* with ``need_ave_multiplier`` (CNTK's default): ``w ← w − lr · g · m / mean(m)``, the mean taken
  over the parameter tensor; without it ``w ← w − lr · g · m``.

L2 regularisation adds ``l2 · w`` to the (minibatch-mean) gradient first, as CNTK does when its
per-sample learning rate meets gradients summed over the minibatch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

FLOOR = 1e-6


class CntkRmsProp(torch.optim.Optimizer):
    """CNTK 2.x RMSProp (see module docstring). ``lr`` is the learning rate per minibatch.

    Args:
        params: the parameters (or parameter groups).
        lr: learning rate per minibatch.
        gamma: decay of the running mean of squared gradients.
        inc: step-multiplier growth while a gradient's sign is stable.
        dec: step-multiplier shrink when it flips.
        max: largest step multiplier.
        min: smallest step multiplier.
        l2: L2 regularisation weight.
        need_ave_multiplier: CNTK's average-multiplier correction (on in the tutorial).
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-4,
        gamma: float = 0.95,
        inc: float = 1.1,
        dec: float = 0.9,
        max: float = 1.1,
        min: float = 0.9,
        l2: float = 0.0,
        need_ave_multiplier: bool = True,
    ) -> None:
        if lr < 0 or not 0 < gamma < 1 or inc < 1 or not 0 < dec <= 1 or min > max or l2 < 0:
            raise ValueError("invalid CNTK RMSProp settings")
        defaults = dict(lr=lr, gamma=gamma, inc=inc, dec=dec, max=max, min=min, l2=l2,
                        need_ave_multiplier=need_ave_multiplier)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update of every parameter that has a gradient."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if group["l2"]:
                    g = g.add(p, alpha=group["l2"])
                state = self.state[p]
                if not state:
                    state["avar"] = g * g
                    state["sign"] = torch.zeros_like(p)
                    state["step"] = torch.full_like(p, 0.02)
                avar, sign, stepsize = state["avar"], state["sign"], state["step"]
                avar.mul_(group["gamma"]).addcmul_(g, g, value=1 - group["gamma"])
                gsign = torch.sign(g)
                same = (sign * gsign) > 0
                stepsize.copy_(torch.where(same, (stepsize * group["inc"]).clamp(max=group["max"]),
                                           (stepsize * group["dec"]).clamp(min=group["min"])))
                sign.copy_(gsign)
                mult = stepsize / torch.sqrt(avar + FLOOR)
                update = g * mult
                if group["need_ave_multiplier"]:
                    update = update / mult.mean()
                p.add_(update, alpha=-group["lr"])
        return loss
