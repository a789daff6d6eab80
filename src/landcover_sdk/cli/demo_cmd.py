"""``landcover demo``: the tutorial end to end with what ships in the package — no download, no account.

Two stories:

1. **Real imagery, the tutorial's own model**: ``builtin:tutorial-250epochs`` on the eight real 1 m
   NAIP 2014 + Chesapeake pairs of :mod:`landcover_sdk.samples` — per-pair and pooled metrics on each
   patch's 128×128 core (64 pixels of real context around it) and the real NAIP | prediction | soft |
   truth figure (``real/``). Needs only the core install.
2. **Training, as the tutorial did** (needs the ``train`` extra): synthetic NAIP-like scenes (tile 0,
   centred on the tutorial's evaluation point, held out), the quick configuration trained on the
   others, exact-mode prediction of the 1024×1024 region around latitude 37.055522, longitude
   -78.638640 (class COG, probability raster, preview) and its evaluation (metrics, figure).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config.models import TrainConfig
from ..config.region import Region
from ..data.dataset import TileDataset
from ..data.synthetic import TUTORIAL_LAT, TUTORIAL_LON, write_scenes
from ..data.windows import PixelWindow
from ..resources import load_resource_config

if TYPE_CHECKING:
    from ..inference.metrics import EvaluationReport

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser("demo", help="the tutorial end to end: the built-in model on real NAIP, then training on "
                                    "synthetic scenes")
    p.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder (default demo-output)")
    p.add_argument("--tiles", type=int, default=5, help="synthetic tiles (tile 0 is held out for evaluation)")
    p.add_argument("--size", type=int, default=1536, help="tile side in pixels")
    p.add_argument("--region-size", type=int, default=1024, help="evaluation region side (multiple of 128)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the quick config's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--real-only", action="store_true", help="only the real-imagery part (core install, seconds)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run every stage and print where each output is."""
    t0 = time.perf_counter()
    out: Path = args.out
    real = _real_samples(out / "real", total=1 if args.real_only else 5)
    if args.real_only:
        print(f"demo finished in {time.perf_counter() - t0:.0f}s")
        return 0
    synthetic = _train_on_synthetic(args, out)
    print(f"headline: the tutorial's model on real NAIP {real.accuracy:.1%} pixel accuracy; the quick model trained "
          f"here on synthetic scenes {synthetic.accuracy:.1%} pixel accuracy, "
          f"{(synthetic.mean_true_probability or 0):.1%} mean true-label probability "
          f"(demo finished in {time.perf_counter() - t0:.0f}s)")
    return 0


def _real_samples(out: Path, *, total: int) -> EvaluationReport:
    """The built-in tutorial model on the real samples: metrics per pair and pooled, and the figure."""
    from ..inference.metrics import ConfusionAccumulator, softmax
    from ..inference.predictor import Predictor
    from ..inference.render import hard_labels, naip_rgb, save_comparison, soft_labels
    from ..samples import ATTRIBUTION, chesapeake_2014

    print(f"[1/{total}] the tutorial's own model (builtin:tutorial-250epochs) on 8 real 1 m NAIP 2014 patches with "
          "Chesapeake labels (metrics on each patch's 128x128 core)")
    out.mkdir(parents=True, exist_ok=True)
    predictor = Predictor.from_file("builtin:tutorial-250epochs", mode="exact")
    samples = chesapeake_2014()
    pooled = ConfusionAccumulator(predictor.scheme)
    side = samples.tiles[0].height
    grid = {name: np.zeros((4 * side, 2 * side, 3), np.uint8) for name in ("naip", "hard", "soft", "truth")}
    for k, pair in enumerate(samples.pairs):
        tile = samples.tiles[k]
        core = Region.from_window((64, 64, tile.height - 128, tile.width - 128))
        report = predictor.evaluate_raster(pair.image, pair.label, region=core, progress=False)
        pooled.add_report(report)
        print(f"      {pair.name:<28} pixel accuracy {report.accuracy:6.1%}   mean true-label probability "
              f"{(report.mean_true_probability or 0):6.1%}")
        naip, labels = samples.read_raw(k, PixelWindow(0, 0, tile.height, tile.width))
        probs = softmax(predictor.predict_array(naip), axis=0)
        rows, cols = slice((k // 2) * side, (k // 2 + 1) * side), slice((k % 2) * side, (k % 2 + 1) * side)
        grid["naip"][rows, cols] = naip_rgb(naip)
        grid["hard"][rows, cols] = hard_labels(probs.argmax(0), predictor.scheme)
        grid["soft"][rows, cols] = soft_labels(probs, predictor.scheme)
        grid["truth"][rows, cols] = hard_labels(labels, predictor.scheme)
    report = pooled.report()
    print(report.table())
    report.save_json(out / "metrics.json")
    title = (f"The tutorial's 250-epoch model on 8 real 1 m NAIP 2014 patches: pixel accuracy {report.accuracy:.1%}, "
             f"mean true-label probability {(report.mean_true_probability or 0):.1%} (on each patch's 128x128 core)")
    figure = save_comparison(out / "comparison.png", [("NAIP 2014 (RGB)", grid["naip"]), ("prediction", grid["hard"]),
                                                     ("soft prediction", grid["soft"]), ("Chesapeake truth",
                                                                                         grid["truth"])],
                             predictor.scheme, title=title, max_panel=4 * side)
    print(f"      wrote {out / 'metrics.json'} and {figure}")
    print(f"      samples: {ATTRIBUTION}")
    return report


def _train_on_synthetic(args: argparse.Namespace, out: Path) -> EvaluationReport:
    """The tutorial's training, prediction and evaluation on synthetic scenes (the train extra)."""
    from ..inference.predictor import Predictor
    from ..training.trainer import Trainer  # the train extra; imported here so --help works without it

    data_dir = out / "data"
    progress = not args.no_progress
    print(f"[2/5] writing {args.tiles} synthetic NAIP-like tile pairs ({args.size}x{args.size} px) to {data_dir}")
    pairs = write_scenes(data_dir, tiles=args.tiles, size=args.size, seed=args.seed)
    held_out, train_pairs = pairs[0], pairs[1:]
    hist = TileDataset([held_out]).class_histogram()
    total = max(int(hist.sum()), 1)
    shares = ", ".join(f"{100 * c / total:.1f}% {name}" for name, c in zip(TileDataset([held_out]).scheme.names,
                                                                              hist.tolist(), strict=True))
    print(f"      held-out tile 0 (centred on the tutorial's evaluation point): {shares}")

    raw = load_resource_config("quick")
    raw["data"] = {**raw["data"], "root": None, "pairs": [[p.image, p.label] for p in train_pairs]}
    raw["output_dir"] = str(out / "training")
    raw["seed"] = args.seed
    if args.epochs is not None:
        raw["epochs"] = args.epochs
    cfg = TrainConfig.from_dict(raw, source="quick.yaml")
    print(f"[3/5] training the quick configuration on {len(train_pairs)} tiles "
          f"({cfg.epochs} epochs of {cfg.epoch_size} windows)")
    result = Trainer(cfg).fit(progress=progress)
    for e in result.epochs:
        print("      " + e.line(cfg.epochs))
    assert result.model_path is not None

    predictor = Predictor.from_file(result.model_path, mode="exact")
    region = Region.around(TUTORIAL_LAT, TUTORIAL_LON, size=args.region_size)
    print(f"[4/5] predicting the {args.region_size}x{args.region_size} region at ({TUTORIAL_LAT}, {TUTORIAL_LON}) "
          "in exact mode")
    pred = predictor.predict_raster(
        held_out.image, out / "prediction.tif", probabilities=out / "probabilities.tif", preview=out / "preview.png",
        labels=held_out.label, report=out / "metrics.json", figure=out / "comparison.png", region=region,
        progress=progress)
    assert pred.evaluation is not None
    print("[5/5] evaluation against the held-out labels")
    print(pred.evaluation.table())
    print("outputs:")
    for label, path in (("model", result.model_path), ("class COG", pred.classes),
                        ("STAC Item", pred.stac_item),
                        ("probabilities", pred.probabilities), ("preview", pred.preview),
                        ("metrics", out / "metrics.json"), ("comparison figure", out / "comparison.png"),
                        ("training log", out / "training" / "metrics.jsonl"),
                        ("real imagery", out / "real" / "comparison.png")):
        print(f"  {label:<18} {path}")
    return pred.evaluation
