"""Training-window sampling throughput: in-memory tiles and windowed reads of a 10,000² tile.

Prints windows/s (median of several runs) for
  (a) the tutorial sampler over in-memory tiles (what training uses by default),
  (b) the same sampler reading windows from disk out of a 10,000 x 10,000 tile,
and, as the baseline measured in the same run, a bare numpy crop-and-scale of preloaded arrays
(the floor any sampler pays). Target: (a) >= 50 windows/s on 2 cores.

usage: python benchmarks/data.py [--size 10000] [--windows 200] [--repeats 5] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _common import median_time, row

from landcover_sdk.data import RandomWindowSampler, TileDataset, write_scenes
from landcover_sdk.data.synthetic import write_large_pair


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--windows", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="lc-bench-data-"))
    n = args.windows

    small = work / "small"
    if not small.exists():
        write_scenes(small, tiles=4, size=1536, seed=0)
    mem = TileDataset.from_folder(small, cache="memory")
    sampler = RandomWindowSampler(mem, window=256, minibatch_size=10, minibatches_per_image=4)
    start = [0]

    def run_sampler(s: RandomWindowSampler) -> None:
        for i in range(start[0], start[0] + n):
            s.load(s.sample(i))
        start[0] += n

    t_mem = median_time(lambda: run_sampler(sampler), args.repeats)

    arrays = [mem._load(i) for i in range(len(mem))]
    rng = np.random.default_rng(0)

    def bare_crop() -> None:
        for _ in range(n):
            img, lab = arrays[int(rng.integers(len(arrays)))]
            r, c = rng.integers(0, 1536 - 256, 2)
            _ = img[:, r : r + 256, c : c + 256].astype(np.float32) * np.float32(1 / 256)
            _ = lab[r : r + 256, c : c + 256].astype(np.int64)

    t_bare = median_time(bare_crop, args.repeats)

    big = work / "big"
    if not (big / "big_NAIP.tif").exists():
        print(f"writing a {args.size}x{args.size} synthetic tile (once) ...", flush=True)
        write_large_pair(big, "big", args.size, seed=1)
    disk = TileDataset.from_folder(big, cache="windowed", check_labels=False, class_scheme="tutorial")
    sampler_disk = RandomWindowSampler(disk, window=256, minibatch_size=10)
    start[0] = 0
    t_disk = median_time(lambda: run_sampler(sampler_disk), args.repeats)

    mem_rate, disk_rate, bare_rate = n / t_mem, n / t_disk, n / t_bare
    print(f"sampling throughput, {n} windows of 4x256x256 per run, median of {args.repeats} runs")
    row("(a) tutorial sampler, in-memory tiles", mem_rate, "windows/s", f"target >= 50: {mem_rate / 50:.1f}x")
    row(f"(b) tutorial sampler, windowed reads of {args.size}^2 tile", disk_rate, "windows/s",
        f"target >= 50: {disk_rate / 50:.1f}x")
    row("baseline: bare numpy crop of preloaded arrays", bare_rate, "windows/s")
    print(f"  ratio (a)/baseline: {mem_rate / bare_rate:.2f}   (b)/baseline: {disk_rate / bare_rate:.2f}")


if __name__ == "__main__":
    main()
