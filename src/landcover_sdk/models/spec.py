"""The module's former name: :mod:`landcover_sdk.models.shapes` (parameter names and shapes of the network)."""

from __future__ import annotations

from .shapes import Shape, macs_per_window, parameter_shapes, stage_channels, trainable_count

__all__ = ["Shape", "macs_per_window", "parameter_shapes", "stage_channels", "trainable_count"]
