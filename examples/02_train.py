"""02 — Train: the tutorial's training job, on this machine or on Azure Batch.

The tutorial submitted its CNTK training script to Batch AI: one epoch over 8 tile pairs, the
U-Net-style network, CNTK's RMSProp and learning-rate schedule, checkpoints and the final model in
Blob storage. Here the same job is a JobSpec run by LocalRunner (default) or BatchAIRunner.

    python examples/02_train.py                          # tutorial config, 8 synthetic tiles, here
    python examples/02_train.py --quick                  # a seconds-long smoke run
    python examples/02_train.py --runner azure-batch --data az://naip/tutorial/tiles \\
        --outputs az://naip/tutorial/runs/train
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from landcover_sdk import BatchAIRunner, JobSpec, LocalRunner, RunnerConfig
from landcover_sdk.data import write_scenes
from landcover_sdk.resources import load_resource_config

QUICK = {
    "data": {"sampling": {"window": 64, "minibatch_size": 4, "minibatches_per_image": 2}},
    "model": {"window": 64, "margin": 16, "channels": [8, 8, 8, 8], "blocks_per_stage": 1},
    "epochs": 1, "epoch_size": 16, "optimizer": "adam", "lr_schedule": [{"lr": 0.001}], "bn_time_constant": 256,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="folder/URL of tile pairs (default: 8 synthetic tiles)")
    ap.add_argument("--outputs", default="runs/example-train", help="where the model and checkpoints go")
    ap.add_argument("--runner", choices=["local", "azure-batch"], default="local")
    ap.add_argument("--epoch-size", type=int, default=None,
                    help="windows in the epoch (tutorial: 16000, about 3 h on 2 CPU cores; default here: 16000 on "
                         "Azure Batch GPUs, 400 locally)")
    ap.add_argument("--quick", action="store_true", help="tiny network and epoch (CI smoke test)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    data = args.data
    if data is None:
        data = "runs/example-tiles-train"
        n, size = (2, 128) if args.quick else (8, 1024)
        write_scenes(Path(data), tiles=n, size=size, seed=2)
    config = QUICK if args.quick else {**load_resource_config("tutorial"), "epochs": 1}
    if not args.quick:
        config["epoch_size"] = args.epoch_size or (16_000 if args.runner == "azure-batch" else 400)
        print(f"tutorial configuration, 1 epoch of {config['epoch_size']} windows over the tile pairs in {data}")
    spec = JobSpec(name="tutorial-train", kind="train", config=config, inputs={"data": data},
                   outputs=args.outputs,
                   resources={"processes_per_node": 1, "gpus_per_node": 1 if args.runner == "azure-batch" else 0})
    if args.runner == "azure-batch":
        result = BatchAIRunner(RunnerConfig(kind="azure-batch", pool_id="landcover-tutorial")).run(spec)
    else:
        result = LocalRunner("runs/jobs").run(spec)
    print(result.to_json())
    result.raise_for_state()
    model = next(u for u in result.outputs if u.endswith("model.safetensors"))
    print(f"trained model: {model}")


if __name__ == "__main__":
    main()
