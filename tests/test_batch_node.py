"""Every command line the Batch runner builds finds the job file where Batch puts it, on every node."""

from __future__ import annotations

from pathlib import Path

import pytest

from landcover_sdk.storage import StorageURL

from .batch_node import run_on_nodes
from .test_batch_schema import PLANS, _plan


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_job_file_is_where_each_command_looks_on_each_node(name: str, tmp_path: Path) -> None:
    plan = _plan(name)
    key = StorageURL.parse(plan.spec_url).key
    blobs = {key: b"name: job\n", f"{key}.bak": b"older", "runs/out/other.yaml": b"unrelated"}
    for request in plan.tasks:
        task = request.body
        runs = run_on_nodes(task, blobs, tmp_path / task["id"])
        nodes = (task.get("multiInstanceSettings") or {}).get("numberOfInstances", 1)
        assert [r.node for r in runs] == [f"tvmps_{i:04d}" for i in range(nodes)], runs
        assert all(r.found and r.job_file.endswith(key) for r in runs), runs
