"""01 — Set up Azure: a storage container with the training tiles, and a Batch GPU pool.

The tutorial's first step created a storage account, uploaded NAIP/land-cover tile pairs and
scripts, and created a Batch AI cluster of 2 NC6 nodes. This script does the same with
landcover-sdk: it writes (or takes) tile pairs, uploads them to a storage URL, and prints the pool a
training job needs — as the Azure Resource Manager body that creates it with the nodes' managed
identity (Batch's own API cannot attach one, and without it the nodes cannot reach storage).

By default it is a dry run that needs no account: the "container" is a local folder and the pool
body is printed. With credentials in the environment (AZURE_STORAGE_*, AZURE_BATCH_ACCOUNT_URL,
AZURE_BATCH_ACCOUNT_NAME, AZURE_BATCH_ACCESS_KEY), ``--identity RESOURCE_ID --identity-client-id ID``
and ``--storage az://<container>/<prefix> --execute`` it uploads for real and checks the pool you
created from the printed body (see "First real run" in docs/storage-and-runners.md).

    python examples/01_setup_azure.py                     # dry run, local folder as storage
    python examples/01_setup_azure.py --storage az://naip/tutorial --execute --identity ... --identity-client-id ...
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from landcover_sdk import AzureBlobStorage, BatchAIRunner, JobSpec, RunnerConfig, get_storage
from landcover_sdk.data import write_scenes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--storage", default="runs/example-storage/tutorial", help="storage URL for the tiles")
    ap.add_argument("--tiles", type=Path, default=None, help="folder of tile pairs (default: synthesise 8)")
    ap.add_argument("--execute", action="store_true", help="create the container and check the pool for real")
    ap.add_argument("--identity", default="/subscriptions/<subscription>/resourceGroups/<group>/providers/"
                                          "Microsoft.ManagedIdentity/userAssignedIdentities/landcover-nodes",
                    help="resource id of the user-assigned identity the pool's nodes use")
    ap.add_argument("--identity-client-id", default="<client id>", help="its client id")
    ap.add_argument("--quick", action="store_true", help="small synthetic tiles (CI smoke test)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    tiles = args.tiles
    if tiles is None:
        tiles = Path("runs/example-tiles")
        n, size = (2, 128) if args.quick else (8, 1024)
        print(f"writing {n} synthetic tile pairs ({size}x{size}) to {tiles}")
        write_scenes(tiles, tiles=n, size=size, seed=1)

    store = get_storage(args.storage)
    if isinstance(store, AzureBlobStorage) and args.execute:
        created = store.create_container(args.storage)
        print(f"container {'created' if created else 'exists'}: {args.storage}")
    prefix = args.storage.rstrip("/")
    for f in sorted(tiles.glob("*.tif")):
        store.upload(f, f"{prefix}/tiles/{f.name}")
    print(f"uploaded {len(list(tiles.glob('*.tif')))} files to {prefix}/tiles/ ({store!r})")

    # The tutorial's cluster: 2 GPU nodes. The pool is sized by the training job it will run.
    spec = JobSpec(name="tutorial-train", kind="train", config="builtin:tutorial",
                   inputs={"data": f"{prefix}/tiles"}, outputs=f"{prefix}/runs/train",
                   resources={"nodes": 2, "processes_per_node": 1, "gpus_per_node": 1, "require_gpu": True,
                              "vm_size": "Standard_NC4as_T4_v3"})  # NC6 and NC6s_v3 are retired
    config = RunnerConfig(kind="azure-batch", pool_id="landcover-tutorial", node_identity_id=args.identity,
                          node_identity_client_id=args.identity_client_id)
    if args.execute:
        BatchAIRunner(config).check_pool(spec)
        print("pool landcover-tutorial exists, fits the job, carries the identity and is steady")
        return
    if not args.storage.startswith("az://"):
        spec = spec.model_copy(update={"inputs": {"data": "az://naip/tutorial/tiles"},
                                       "outputs": "az://naip/tutorial/runs/train"})
    template = BatchAIRunner(config, dry_run=True).pool_template(spec)
    print("the pool, as the Resource Manager body that creates it with the nodes' identity "
          "(az rest --method put --url .../batchAccounts/<account>/pools/landcover-tutorial?api-version=2025-06-01 "
          "--body @pool.json):")
    print(json.dumps(template, indent=2))


if __name__ == "__main__":
    main()
