"""Helpers shared by the benchmark scripts: medians of repeated timings, peak memory."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def row(label: str, value: float, unit: str, extra: str = "") -> None:
    print(f"  {label:<52} {value:>10.2f} {unit:<10} {extra}")
