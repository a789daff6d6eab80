"""NAIP from STAC: time, bytes and memory of `NaipSource.for_region`, against downloading whole tiles, same run.

Everything is on loopback (a real STAC API, `rustac serve`; a range-capable HTTP server; NAIP-shaped COGs from
tests/emulators/stac_fixtures.py), so the numbers measure the SDK, not a network. The baseline is what the usual recipe
does (geoai's `download_naip`, FarmVibes): fetch every intersecting tile whole, then cut the region out.

    .venv/bin/python benchmarks/imagery.py [--repeats 3] [--mbps 100] [--big]

Prints medians of ``--repeats`` runs, with the COG server throttled to ``--mbps`` (a home connection; 0 for raw
loopback, where decoding and writing dominate); ``--big`` adds the 8192² scene's peak RSS and throughput (a
subprocess, local files through a static catalog). The test tiles are 2000-4096 px; real NAIP quarter-quads
at 0.6 m are about 12,000 px a side (hundreds of MB), so the whole-tile baseline is far worse in reality.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import rustac_or_skip  # noqa: E402
from tests.emulators.stac_fixtures import TUTORIAL, ZONE_LINE, RangeServer, StacApi, build_world  # noqa: E402

from landcover_sdk.imagery import NaipSource  # noqa: E402


def _whole_tiles(urls: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    total = 0
    for url in urls:
        with urllib.request.urlopen(url) as resp:
            total += len(resp.read())
    return time.perf_counter() - t0, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mbps", type=float, default=100.0, help="throttle the COG server (0: loopback speed)")
    parser.add_argument("--big", action="store_true", help="also the 8192² memory/throughput run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lc-bench-imagery-") as tmp:
        root = Path(tmp)
        os.environ["LANDCOVER_CACHE_DIR"] = str(root / "cache")
        print("building NAIP-shaped COGs ...", flush=True)
        world = build_world(root / "naip")
        host = RangeServer(world.root)
        host.rate = args.mbps * 1e6 / 8
        print(f"COG server throttled to {args.mbps:g} Mbit/s" if args.mbps else "COG server at loopback speed")
        api = StacApi(rustac_or_skip(), root / "stac", world.items(lambda t: host.url(t.file)))
        try:
            source = NaipSource.from_stac_api(api.url)
            print(f"{'case':34} {'scene':>9} {'SDK s':>7} {'SDK MB':>7} {'whole s':>8} {'whole MB':>9} "
                  f"{'time ×':>7} {'bytes ×':>8}")
            for name, centre, size in (("1 tile (tutorial point)", TUTORIAL, 1024),
                                       ("17N/18N line (copy + warp)", ZONE_LINE, 1024)):
                times, sent = [], []
                scene = None
                for _ in range(args.repeats):
                    host.traffic.reset()
                    t0 = time.perf_counter()
                    scene = source.for_region(center=centre, region_size=size, refresh=True, progress=False)
                    times.append(time.perf_counter() - t0)
                    sent.append(host.traffic.bytes_sent)
                assert scene is not None
                urls = [i.href for i in scene.items]
                base = [_whole_tiles(urls) for _ in range(args.repeats)]
                t_sdk, b_sdk = statistics.median(times), statistics.median(sent)
                t_all, b_all = statistics.median(b[0] for b in base), statistics.median(b[1] for b in base)
                side = size + 128
                print(f"{name:34} {side:>4}x{side:<4} {t_sdk:7.2f} {b_sdk / 1e6:7.1f} {t_all:8.2f} "
                      f"{b_all / 1e6:9.1f} {t_all / t_sdk:7.2f} {b_all / max(b_sdk, 1):8.1f}")
            host.traffic.reset()
            source.for_region(center=TUTORIAL, region_size=1024, progress=False)
            print(f"cached repeat: {len(host.traffic.requests)} request(s)")
        finally:
            api.stop()
            host.stop()
        if args.big:
            _big(root)


def _big(root: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    code = ("import sys; from pathlib import Path; import tests.test_imagery_predict as t; "
            "t.test_an_8192_scene_is_built_in_flat_memory(Path(sys.argv[1]))")
    work = root / "big"
    work.mkdir()
    run = subprocess.run([sys.executable, "-c", code, str(work)], env=env, capture_output=True, text=True)
    line = [ln for ln in run.stdout.splitlines() if ln.startswith("8192² scene:")]
    print(line[0] if line else f"8192² run failed: {run.stderr[-1000:]}")


if __name__ == "__main__":
    main()
