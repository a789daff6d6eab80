"""Every command line the Batch runner builds finds the SDK and the job file where Batch puts them, on every node."""

from __future__ import annotations

from pathlib import Path

import pytest

from landcover_sdk import __version__
from landcover_sdk.storage import StorageURL

from .emulators.batch_node import run_on_nodes
from .emulators.batch_plans import PLANS
from .emulators.batch_plans import plan as _plan


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_sdk_and_the_job_file_are_where_each_command_looks_on_each_node(name: str, tmp_path: Path) -> None:
    plan = _plan(name)
    key = StorageURL.parse(plan.spec_url).key
    blobs = {key: b"name: job\n", f"{key}.bak": b"older", "runs/out/other.yaml": b"unrelated"}
    install = plan.sdk_install
    if install["method"] == "wheel":
        blobs[StorageURL.parse(install["uploaded_to"]).key] = b"PK wheel"
    for request in plan.tasks:
        task = request.body
        runs, installs, uploads = run_on_nodes(task, blobs, tmp_path / task["id"], job=plan.job.body)
        nodes = [f"tvmps_{i:04d}" for i in range((task.get("multiInstanceSettings") or {}).get("numberOfInstances", 1))]
        assert [r.node for r in runs] == nodes, runs
        assert all(r.found and r.job_file.endswith(key) for r in runs), runs
        # every node but the primary uploads its agent's log (Batch uploads output files from the primary only)
        assert [(u.node, u.name) for u in uploads] == [(n, f"{task['id']}/{n}.log") for n in nodes[1:]], uploads
        assert all(u.file.endswith("/wd/worker.log") for u in uploads)
        if install["method"] == "container image":
            assert installs == [] and "jobPreparationTask" not in plan.job.body
            continue
        venv_python = f"/shared/landcover-sdk/{__version__}/bin/python"
        assert all(r.python.endswith(venv_python) for r in runs), runs  # the job's own SDK, not the image's
        wheel_installs = [i for i in installs if i.spec.endswith(".whl")]
        assert sorted({i.node for i in wheel_installs}) == nodes  # installed on every node that runs the task
        assert all(i.python.endswith(venv_python) and i.spec.endswith(install["wheel"]) for i in wheel_installs)


def test_a_node_whose_sdk_install_fails_runs_nothing(tmp_path: Path) -> None:
    plan = _plan("predict, 5 chunks on 2 nodes")
    key = StorageURL.parse(plan.spec_url).key
    runs, installs, uploads = run_on_nodes(plan.tasks[0].body, {key: b"job"}, tmp_path, job=plan.job.body)  # no wheel
    assert runs == [] and installs == [] and uploads == []
