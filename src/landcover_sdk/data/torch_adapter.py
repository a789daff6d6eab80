"""``torch.utils.data`` adapter over a :class:`RandomWindowSampler` (needs the ``train`` extra)."""

from __future__ import annotations

from typing import Any

try:
    import torch
    from torch.utils.data import Dataset
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("landcover_sdk.data.torch_adapter needs torch: pip install 'landcover-sdk[train]'") from exc

from .sampling import RandomWindowSampler


class WindowDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Map-style dataset: item ``i`` is window ``start + i`` of a sampler's deterministic stream.

    Returns ``(image float32 (bands, w, w), label int64 (w, w))`` tensors. Because samples are a
    pure function of their index, any ``DataLoader`` worker count gives the same data.

    Args:
        sampler: the window source.
        length: items in the dataset.
        start: index of the first window.
    """

    def __init__(self, sampler: RandomWindowSampler, length: int, *, start: int = 0) -> None:
        self.sampler = sampler
        self.length = length
        self.start = start

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < self.length:
            raise IndexError(index)
        image, label = self.sampler.load(self.sampler.sample(self.start + index))
        return torch.from_numpy(image), torch.from_numpy(label)

    def __repr__(self) -> str:
        info: dict[str, Any] = {"length": self.length, "start": self.start, "tiles": self.sampler.tiles}
        return f"WindowDataset({info})"
