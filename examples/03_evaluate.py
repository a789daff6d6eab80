"""03 — Evaluate: the tutorial's evaluation of a trained model on its 1 km² region.

The tutorial's evaluation notebook read the 1024×1024-pixel region (1 km² at 1 m) centred on
latitude 37.055522, longitude -78.638640, applied the model window by window (256×256 windows,
128×128 centres kept), rendered the hard labels (argmax colours) and soft labels (colours blended
by the softmax probabilities), and printed two numbers: the fraction of pixels whose argmax equals
the label, and the mean probability given to the true label. This script does the same with
``Predictor`` in exact mode.

    python examples/03_evaluate.py                                   # synthetic scene, quick model
    python examples/03_evaluate.py --cntk-model 250epochs.model      # the tutorial's own model
    python examples/03_evaluate.py --model m.safetensors --image x_NAIP.tif --labels x_LandCover.tif
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from landcover_sdk import Predictor, Region, import_cntk
from landcover_sdk.data import TUTORIAL_LAT, TUTORIAL_LON, write_scenes
from landcover_sdk.inference import hard_labels, save_png, soft_labels, softmax


def quick_model(tiles: list[tuple[str, str]], out: Path, quick: bool) -> Path:
    """Train the quick configuration (about a minute on 2 CPU cores; needs the train extra)."""
    from landcover_sdk import TrainConfig, Trainer
    from landcover_sdk.resources import load_resource_config

    raw = load_resource_config("quick")
    raw["data"] = {**raw["data"], "root": None, "pairs": [list(t) for t in tiles]}
    raw["output_dir"] = str(out)
    if quick:
        raw.update(epochs=1, epoch_size=32)
        raw["model"] = {**raw["model"], "channels": [8, 8, 8, 8]}
    result = Trainer(TrainConfig.from_dict(raw)).fit(progress=False)
    assert result.model_path is not None
    return result.model_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help=".safetensors or .onnx model")
    ap.add_argument("--cntk-model", type=Path, default=None, help="a tutorial CNTK .model file, imported first")
    ap.add_argument("--image", default=None, help="NAIP raster (default: a synthetic scene at the tutorial point)")
    ap.add_argument("--labels", default=None, help="aligned label raster")
    ap.add_argument("--region-size", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=Path("runs/example-evaluate"))
    ap.add_argument("--quick", action="store_true", help="small scene and model (CI smoke test)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    region_size = 256 if args.quick else args.region_size

    image, labels = args.image, args.labels
    if image is None:
        size = 512 if args.quick else 1536
        pairs = write_scenes(args.out / "data", tiles=2 if args.quick else 5, size=size, seed=0)
        image, labels = pairs[0].image, pairs[0].label  # tile 0 is centred on the tutorial's point
    model = args.model
    if args.cntk_model is not None:
        model = args.out / f"{args.cntk_model.stem}.safetensors"
        import_cntk(args.cntk_model).save(model)
        print(f"imported {args.cntk_model} -> {model}")
    if model is None:
        print("no model given: training the quick configuration on the other synthetic tiles")
        model = quick_model([(p.image, p.label) for p in pairs[1:]], args.out / "training", args.quick)

    predictor = Predictor.from_file(model, mode="exact")
    region = Region.around(TUTORIAL_LAT, TUTORIAL_LON, size=region_size)  # the tutorial's 1 km² region
    result = predictor.predict_raster(
        image, args.out / "classes.tif", probabilities=args.out / "probabilities.tif", labels=labels,
        report=args.out / "report.json", figure=args.out / "comparison.png", region=region)
    scores = predictor.predict_region_scores(image, region)
    probs = softmax(scores, axis=0)
    save_png(hard_labels(probs.argmax(0), predictor.scheme), args.out / "hard_labels.png")
    save_png(soft_labels(probs, predictor.scheme), args.out / "soft_labels.png")
    ev = result.evaluation
    assert ev is not None
    print(ev.table())
    print(f"pixel accuracy (argmax == label): {ev.accuracy:.4f}")
    print(f"mean probability of the true label: {(ev.mean_true_probability or 0):.4f}")
    print(f"renderings: {args.out / 'hard_labels.png'}, {args.out / 'soft_labels.png'}, {args.out / 'comparison.png'}")


if __name__ == "__main__":
    main()
