"""``landcover demo``: the whole tutorial on the embedded synthetic data, no download, no account.

1. synthetic NAIP-like scenes (tile 0, centred on the tutorial's evaluation point, held out);
2. the quick training configuration on the other tiles;
3. exact-mode prediction of the 1024x1024 region around latitude 37.055522, longitude -78.638640:
   a COG of class ids and a probability raster;
4. evaluation against the held-out labels: metrics report and the NAIP | prediction | truth figure.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from ..config.models import TrainConfig
from ..config.region import Region
from ..data.dataset import TileDataset
from ..data.synthetic import TUTORIAL_LAT, TUTORIAL_LON, write_scenes
from ..resources import load_resource_config

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    p = sub.add_parser("demo", help="run the tutorial end to end on built-in synthetic scenes")
    p.add_argument("--out", type=Path, default=Path("demo-output"), help="output folder (default demo-output)")
    p.add_argument("--tiles", type=int, default=5, help="synthetic tiles (tile 0 is held out for evaluation)")
    p.add_argument("--size", type=int, default=1536, help="tile side in pixels")
    p.add_argument("--region-size", type=int, default=1024, help="evaluation region side (multiple of 128)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the quick config's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run every stage and print where each output is."""
    from ..inference.predictor import Predictor
    from ..training.trainer import Trainer  # the train extra; imported here so --help works without it

    t0 = time.perf_counter()
    out: Path = args.out
    data_dir = out / "data"
    progress = not args.no_progress
    print(f"[1/4] writing {args.tiles} synthetic NAIP-like tile pairs ({args.size}x{args.size} px) to {data_dir}")
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
    print(f"[2/4] training the quick configuration on {len(train_pairs)} tiles "
          f"({cfg.epochs} epochs of {cfg.epoch_size} windows)")
    result = Trainer(cfg).fit(progress=progress)
    for e in result.epochs:
        print("      " + e.line(cfg.epochs))
    assert result.model_path is not None

    predictor = Predictor.from_file(result.model_path, mode="exact")
    region = Region.around(TUTORIAL_LAT, TUTORIAL_LON, size=args.region_size)
    print(f"[3/4] predicting the {args.region_size}x{args.region_size} region at ({TUTORIAL_LAT}, {TUTORIAL_LON}) "
          "in exact mode")
    pred = predictor.predict_raster(
        held_out.image, out / "prediction.tif", probabilities=out / "probabilities.tif", preview=out / "preview.png",
        labels=held_out.label, report=out / "metrics.json", figure=out / "comparison.png", region=region,
        progress=progress)
    assert pred.evaluation is not None
    print("[4/4] evaluation against the held-out labels")
    print(pred.evaluation.table())
    print("outputs:")
    for label, path in (("model", result.model_path), ("class COG", pred.classes),
                        ("probabilities", pred.probabilities), ("preview", pred.preview),
                        ("metrics", out / "metrics.json"), ("comparison figure", out / "comparison.png"),
                        ("training log", out / "training" / "metrics.jsonl")):
        print(f"  {label:<18} {path}")
    print(f"headline: pixel accuracy {pred.evaluation.accuracy:.1%}, mean true-label probability "
          f"{(pred.evaluation.mean_true_probability or 0):.1%} (demo finished in {time.perf_counter() - t0:.0f}s)")
    return 0
