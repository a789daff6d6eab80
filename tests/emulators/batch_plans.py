"""Batch job plans and runners shared by the Batch test modules (schema, behaviour, node, runners)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from landcover_sdk.config import AzureCredentials, RunnerConfig
from landcover_sdk.runners import BatchAIRunner, JobSpec
from landcover_sdk.runners.batch import BatchPlan

from .batch_emulator import ACCOUNT, KEY, BatchEmulator

TRAIN_CONFIG = {"data": {"sampling": {"window": 64}},
                "model": {"window": 64, "margin": 16, "channels": [8, 8, 8, 8], "blocks_per_stage": 1}}


IDENTITY = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/lc/providers/"
            "Microsoft.ManagedIdentity/userAssignedIdentities/lc-nodes")


def dry_runner(**options: Any) -> BatchAIRunner:
    """A dry-run runner with the nodes' identity set (``options``: more runner-config fields)."""
    options = {"node_identity_id": IDENTITY, "node_identity_client_id": "11111111-2222-3333-4444-555555555555",
               **options}
    cfg = RunnerConfig(kind="azure-batch", pool_id="lc-pool",
                       azure=AzureCredentials(storage_account="naipdata",
                                              batch_account_url="https://lcb.westus2.batch.azure.com"), **options)
    return BatchAIRunner(cfg, dry_run=True)


PLANS = {
    "train on 2 GPU nodes": (dict(kind="train", config=TRAIN_CONFIG, inputs={"data": "az://naip/tiles"},
                                  resources={"nodes": 2, "gpus_per_node": 1, "require_gpu": True}), {}),
    "train, 1 node 2 processes": (dict(kind="train", config=TRAIN_CONFIG, inputs={"data": "az://naip/tiles"},
                                       resources={"processes_per_node": 2, "gpus_per_node": 2}), {}),
    "predict, 5 chunks on 2 nodes": (dict(kind="predict", chunks=5, resources={"nodes": 2},
                                          inputs={"model": "az://m/m.safetensors",
                                                  "images": [f"az://naip/t{i}_NAIP.tif" for i in range(7)]}), {}),
    "evaluate": (dict(kind="evaluate", config={}, inputs={
        "model": "az://m/m.safetensors", "image": "az://naip/a_NAIP.tif", "labels": "az://naip/a_LandCover.tif"}),
        {}),
    "train in a container on 2 nodes": (dict(kind="train", config=TRAIN_CONFIG, inputs={"data": "az://naip/tiles"},
                                             container_image="lcr.azurecr.io/landcover:0.2",
                                             resources={"nodes": 2, "gpus_per_node": 1}), {}),
    "predict on spot nodes": (dict(kind="predict", inputs={"model": "az://m/m.safetensors",
                                                           "images": ["az://naip/a_NAIP.tif"]},
                                   resources={"low_priority": True}),
                              {"pool_allocation_mode": "user-subscription"}),
}


def plan(name: str) -> BatchPlan:
    """The dry-run plan of ``PLANS[name]`` as job ``job-1``."""
    fields, options = PLANS[name]
    spec = JobSpec(name=name.split()[0].rstrip(","), outputs="az://runs/out", **fields)
    return dry_runner(**options).plan(spec, job_id="job-1")


def emulator_runner(emu: BatchEmulator, store: Any, tmp_path: Any, key: str = KEY, **kw: Any) -> BatchAIRunner:
    """A runner on the emulator, with the nodes' identity set (``key``: the Batch account key it signs with)."""
    kw = {"node_identity_id": IDENTITY, "node_identity_client_id": "client-0", **kw}
    cfg = RunnerConfig(kind="azure-batch", work_dir=str(tmp_path / "state"), pool_id="lc-pool", poll_seconds=0.01,
                       azure=AzureCredentials(batch_account_url=emu.endpoint, batch_account_name=ACCOUNT,
                                              batch_account_key=SecretStr(key)), **kw)
    return BatchAIRunner(cfg, storage=store, retry_backoff_factor=0.01)


def with_pool(emu: BatchEmulator, runner: BatchAIRunner, spec: JobSpec) -> BatchAIRunner:
    """Create the pool the job needs as Resource Manager would (from the runner's template)."""
    emu.add_pool_from_arm(runner.config.pool_id, runner.pool_template(spec))
    return runner
