"""04 — Scale up: the same training with 1 and 2 processes, and the multi-node job for Azure Batch.

The tutorial scaled its training from one GPU to many with data parallelism (mpiexec on Batch AI,
later 148 GPUs). Here the same JobSpec runs with 1 and then 2 data-parallel processes on this
machine (torchrun; gloo on CPU), the windows per second of each are printed as a scaling table,
and the multi-node version of the job (4 nodes × 1 GPU) is shown as the Azure Batch requests it
would send (dry run).

On a 2-core CPU the 2-process run cannot be faster — both processes share the same cores — so read
the table for the method and the per-process numbers; on GPU nodes each process has its own GPU.

    python examples/04_scaling.py
    python examples/04_scaling.py --quick
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from landcover_sdk import BatchAIRunner, JobSpec, LocalRunner, RunnerConfig
from landcover_sdk.data import write_scenes
from landcover_sdk.resources import load_resource_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/example-scaling"))
    ap.add_argument("--quick", action="store_true", help="tiny network and epoch (CI smoke test)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    data = args.out / "tiles"
    write_scenes(data, tiles=4, size=256 if args.quick else 768, seed=3)
    config = load_resource_config("quick")
    config.update(epochs=1, epoch_size=32 if args.quick else 320, threads=1)
    if args.quick:
        config["model"] = {**config["model"], "channels": [8, 8, 8, 8]}
        config["data"]["sampling"] = {**config["data"]["sampling"], "window": 128, "minibatch_size": 4}

    rows = []
    for procs in (1, 2):
        spec = JobSpec(name=f"scaling-{procs}", kind="train", config=config, inputs={"data": str(data)},
                       outputs=str(args.out / f"outputs-{procs}"), resources={"processes_per_node": procs})
        result = LocalRunner(args.out / "jobs").run(spec).raise_for_state()
        lines = (args.out / f"outputs-{procs}" / "metrics.jsonl").read_text().splitlines()
        last = json.loads(lines[-1])
        rows.append((procs, last["samples"], last["seconds"], last["samples"] / last["seconds"], result.duration_s))

    base = rows[0][3]
    print(f"{'processes':>9} {'windows':>8} {'train s':>8} {'windows/s':>10} {'speed-up':>9} {'job s':>7}")
    for procs, samples, seconds, rate, job_s in rows:
        print(f"{procs:>9} {samples:>8} {seconds:>8.1f} {rate:>10.2f} {rate / base:>8.2f}x {job_s:>7.1f}")

    multi = JobSpec(name="tutorial-train-4x", kind="train", config="builtin:tutorial",
                    inputs={"data": "az://naip/tutorial/tiles"}, outputs="az://naip/tutorial/runs/train-4x",
                    resources={"nodes": 4, "processes_per_node": 1, "gpus_per_node": 1, "require_gpu": True,
                               "vm_size": "Standard_NC4as_T4_v3", "low_priority": True})
    print("\nthe multi-node job file:\n" + multi.to_yaml())
    # spot nodes exist only in Batch accounts with user-subscription pool allocation
    identity = ("/subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/"
                "userAssignedIdentities/landcover-nodes")
    plan = BatchAIRunner(RunnerConfig(kind="azure-batch", pool_id="landcover-4x", node_identity_id=identity,
                                      pool_allocation_mode="user-subscription",
                                      azure={"storage_account": "naipdata"}), dry_run=True).plan(multi)
    task = plan.tasks[0].body
    print(f"Azure Batch (dry run): pool of {plan.pool.body['targetLowPriorityNodes']} spot "
          f"{plan.pool.body['vmSize']} nodes; one multi-instance task over "
          f"{task['multiInstanceSettings']['numberOfInstances']} nodes running:\n  {task['commandLine']}")


if __name__ == "__main__":
    main()
