"""The Batch runner against the service's behaviour where jobs go wrong: no hangs, clear reasons, current Azure.

The emulator behaves as Batch documents (see ``batch_emulator``); each test would hang or pass silently with a
runner that ignored that behaviour.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from landcover_sdk import RunnerError
from landcover_sdk.runners import JobSpec
from landcover_sdk.runners.batch import check_vm_size

from .emulators.batch_emulator import BatchEmulator, _seconds
from .emulators.batch_plans import IDENTITY, TRAIN_CONFIG
from .emulators.batch_plans import dry_runner as _dry_runner
from .emulators.batch_plans import emulator_runner as _runner
from .emulators.batch_plans import plan as _plan
from .emulators.batch_plans import with_pool as _with_pool


def _predict(store: Any, chunks: int = 2, **resources: Any) -> JobSpec:
    c = store.container
    store.write_bytes(f"az://{c}/m.safetensors", b"model")
    images = [f"az://{c}/in/{i}_NAIP.tif" for i in range(chunks)]
    for url in images:
        store.write_bytes(url, b"raster")
    return JobSpec(name="predict", kind="predict", inputs={"model": f"az://{c}/m.safetensors", "images": images},
                   outputs=f"az://{c}/pred", chunks=chunks, resources=resources)


def test_a_wrong_batch_key_is_refused_as_batch_refuses_it(batch: BatchEmulator, blob_store: Any,
                                                         tmp_path: Path) -> None:
    wrong = "d3Jvbmcta2V5LWZvci10ZXN0cy1vbmx5LXRoaXMtaXM="
    with pytest.raises(RunnerError, match="HTTP 403") as err:
        _runner(batch, blob_store, tmp_path, key=wrong).submit(_predict(blob_store))
    assert wrong not in str(err.value) and err.value.__cause__ is None
    assert batch.calls and all(c.status == 403 for c in batch.calls)


def test_an_empty_terminatejob_job_is_complete_at_once_and_takes_no_tasks(batch: BatchEmulator, blob_store: Any,
                                                                          tmp_path: Path) -> None:
    from azure.batch import models

    runner = _runner(batch, blob_store, tmp_path)
    _with_pool(batch, runner, _predict(blob_store))
    runner.client.create_job(models.BatchJobCreateOptions(id="eager", pool_info=models.BatchPoolInfo(pool_id="lc-pool"),
                                                          all_tasks_complete_mode="terminatejob"))
    assert str(runner.client.get_job("eager").state) in ("completed", "BatchJobState.COMPLETED")
    with pytest.raises(Exception, match="JobCompleted"):
        runner.client.create_task("eager", models.BatchTaskCreateOptions(id="t", command_line="/bin/true"))


def test_the_job_is_switched_to_terminatejob_only_after_its_last_task(batch: BatchEmulator, blob_store: Any,
                                                                      tmp_path: Path) -> None:
    runner = _runner(batch, blob_store, tmp_path)
    _with_pool(batch, runner, _predict(blob_store, chunks=3))
    result = runner.run(_predict(blob_store, chunks=3), job_id="p3", progress=False)
    assert result.ok and batch.violations == []
    seq = batch.sequence()
    last_task = max(i for i, c in enumerate(seq) if c == "POST /jobs/p3/tasks")
    assert seq.index("PATCH /jobs/p3") == last_task + 1
    assert runner.status("p3")["state"] == "completed"


def test_wait_fails_fast_when_the_job_clock_runs_out_with_tasks_never_run(batch: BatchEmulator, blob_store: Any,
                                                                          tmp_path: Path) -> None:
    now = [0.0]
    batch.clock = lambda: now[0]
    batch.task_polls = 10**6  # the tasks would run for ever
    runner = _runner(batch, blob_store, tmp_path)
    _with_pool(batch, runner, _predict(blob_store, chunks=3, nodes=1))
    plan = runner.submit(_predict(blob_store, chunks=3, nodes=1), job_id="slow")
    limit = _seconds(plan.job.body["constraints"]["maxWallClockTime"])
    assert limit is not None
    now[0] = limit + 1  # Batch ends the job: running tasks are killed, queued ones stay active
    with pytest.raises(RunnerError, match=r"job slow ended \(MaxWallClockTimeExpiry\) with task\(s\) .* not complete"):
        runner.wait("slow", progress=False)


def test_a_start_task_failing_on_every_node_fails_the_submission_with_its_stderr(
        batch: BatchEmulator, blob_store: Any, tmp_path: Path) -> None:
    batch.start_task_failure = "E: Unable to locate package gdal-bin-99\n"
    spec = _predict(blob_store, nodes=2).model_copy(update={"setup_command": "apt-get install -y gdal-bin-99"})
    runner = _runner(batch, blob_store, tmp_path)
    _with_pool(batch, runner, spec)
    with pytest.raises(RunnerError, match=r"all 2 node\(s\) are starttaskfailed .*Unable to locate package"):
        runner.submit(spec)
    assert not any(c.path.startswith("/jobs") for c in batch.calls)  # before the job exists


def test_a_pool_the_tasks_cannot_run_on_is_refused_before_any_task(batch: BatchEmulator, blob_store: Any,
                                                                  tmp_path: Path) -> None:
    runner = _runner(batch, blob_store, tmp_path)
    _with_pool(batch, runner, _predict(blob_store, nodes=2))  # no inter-node communication: not for training
    data = f"az://{blob_store.container}/tiles"
    blob_store.write_bytes(f"{data}/a_NAIP.tif", b"x")
    train = JobSpec(name="train", kind="train", config=TRAIN_CONFIG, inputs={"data": data},
                    outputs=f"az://{blob_store.container}/t", resources={"nodes": 2, "gpus_per_node": 1})
    with pytest.raises(RunnerError, match="exists with no inter-node communication, which multi-node training needs"):
        runner.submit(train, job_id="t1")
    assert not any(c.path.startswith("/jobs") for c in batch.calls)


def test_the_emulator_leaves_a_multi_instance_task_the_pool_cannot_run_active(batch: BatchEmulator, blob_store: Any,
                                                                              tmp_path: Path) -> None:
    from azure.batch import models

    runner = _runner(batch, blob_store, tmp_path)
    _with_pool(batch, runner, _predict(blob_store, nodes=2))
    runner.client.create_job(models.BatchJobCreateOptions(id="m", pool_info=models.BatchPoolInfo(pool_id="lc-pool")))
    runner.client.create_task("m", models.BatchTaskCreateOptions(
        id="t", command_line="/bin/true",
        multi_instance_settings=models.MultiInstanceSettings(number_of_instances=2, coordination_command_line="x")))
    for _ in range(5):
        assert str(runner.client.get_task("m", "t").state) in ("active", "BatchTaskState.ACTIVE")


def test_retired_sizes_spot_and_limits_are_refused_before_any_request() -> None:
    check_vm_size(JobSpec.model_fields["resources"].default_factory().vm_size)  # type: ignore[misc]
    with pytest.raises(RunnerError, match=r"Standard_NC6s_v3 belongs to the NCv3 \(V100\) series, retired by Azure on "
                                          r"2025-09-30.*use Standard_NC4as_T4_v3"):
        check_vm_size("Standard_NC6s_v3")
    for retired in ("standard_nc24rs_v3", "Standard_NC12", "Standard_NC6s_v2", "Standard_ND24s", "Standard_NV6"):
        with pytest.raises(RunnerError, match="retired by Azure"):
            check_vm_size(retired)
    for current in ("Standard_NC4as_T4_v3", "Standard_NC24ads_A100_v4", "Standard_NC40ads_H100_v5",
                    "Standard_D4s_v5", "Standard_NV36ads_A10_v5"):
        check_vm_size(current)
    spot = JobSpec(name="p", kind="predict", inputs={"model": "az://m/m.safetensors", "images": ["az://n/a.tif"]},
                   outputs="az://o/p", resources={"low_priority": True})
    with pytest.raises(RunnerError, match=r"resources\.low_priority: Batch low-priority nodes were retired"):
        _dry_runner().plan(spot)
    pool = _dry_runner(pool_allocation_mode="user-subscription").plan(spot).pool.body
    assert pool["targetLowPriorityNodes"] == 1 and pool["targetDedicatedNodes"] == 0
    big = JobSpec(name="t", kind="train", config=TRAIN_CONFIG, inputs={"data": "az://n/t"}, outputs="az://o/t",
                  resources={"nodes": 101})
    with pytest.raises(RunnerError, match="at most 100 in batch-service accounts"):
        _dry_runner().plan(big)
    with pytest.raises(RunnerError, match="at most 80 in user-subscription accounts"):
        _dry_runner(pool_allocation_mode="user-subscription").plan(big.model_copy(
            update={"resources": big.resources.model_copy(update={"nodes": 81})}))
    wide = JobSpec(name="p", kind="predict", inputs=spot.inputs, outputs="az://o/p", chunks=200,
                   resources={"nodes": 200})
    assert _dry_runner().plan(wide).pool.body["targetDedicatedNodes"] == 200  # no inter-node communication: no cap


def test_plans_use_inter_node_communication_only_for_multi_node_training_and_never_pass_gpus() -> None:
    for name, multi in (("train on 2 GPU nodes", True), ("predict, 5 chunks on 2 nodes", False),
                        ("train, 1 node 2 processes", False), ("train in a container on 2 nodes", True)):
        plan = _plan(name)
        assert plan.pool.body["enableInterNodeCommunication"] is multi, name
        for task in plan.tasks:
            assert "--gpus" not in task.body.get("containerSettings", {}).get("containerRunOptions", "")


def test_the_job_wall_clock_covers_every_wave_and_retry() -> None:
    plan = _plan("predict, 5 chunks on 2 nodes")
    spec_resources = JobSpec.model_fields["resources"].default_factory()  # type: ignore[misc]
    waves = math.ceil(5 / 2)
    need = waves * spec_resources.timeout_minutes * (spec_resources.max_task_retries + 1) * 60
    assert (_seconds(plan.job.body["constraints"]["maxWallClockTime"]) or 0) >= need


def test_the_nodes_get_the_sdk_that_submitted_the_job(batch: BatchEmulator, blob_store: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    from landcover_sdk import __version__
    from landcover_sdk.runners import sdk_install as batch_module

    runner = _runner(batch, blob_store, tmp_path)
    _with_pool(batch, runner, _predict(blob_store))
    plan = runner.submit(_predict(blob_store), job_id="w1")
    wheel_url = plan.sdk_install["uploaded_to"]
    assert plan.sdk_install["method"] == "wheel"
    assert wheel_url.endswith(f"/_job/w1/landcover_sdk-{__version__}-py3-none-any.whl")
    local = tmp_path / "got.whl"
    blob_store.download(wheel_url, local)
    with zipfile.ZipFile(local) as whl:  # a real wheel of this checkout, with its metadata
        assert f"landcover_sdk-{__version__}.dist-info/METADATA" in whl.namelist()
        assert "landcover_sdk/runners/batch.py" in whl.namelist()
    prep = plan.job.body["jobPreparationTask"]
    assert prep["waitForSuccess"] is True and "flock" in prep["commandLine"]

    own = _runner(batch, blob_store, tmp_path, sdk_requirement="landcover-sdk[train,azure]==0.1.0")
    req = own.plan(_predict(blob_store), job_id="r1")
    assert req.sdk_install["method"] == "pip requirement"
    assert "'landcover-sdk[train,azure]==0.1.0'" in req.job.body["jobPreparationTask"]["commandLine"]
    assert req.job.body["jobPreparationTask"]["resourceFiles"] == []

    monkeypatch.setattr(batch_module, "_checkout", lambda: None)
    with pytest.raises(RunnerError, match=r"set the runner's sdk_wheel .* or sdk_requirement"):
        _runner(batch, blob_store, tmp_path).submit(_predict(blob_store), job_id="w2")
    with pytest.raises(RunnerError, match=r"sdk_wheel: .*nothing\.whl is not a wheel file"):
        _runner(batch, blob_store, tmp_path, sdk_wheel=str(tmp_path / "nothing.whl")).submit(_predict(blob_store))


def test_outputs_paths_that_a_command_line_could_misread_are_refused() -> None:
    spec = JobSpec(name="p", kind="predict", inputs={"model": "az://m/m.safetensors", "images": ["az://n/a.tif"]},
                   outputs='az://o/run "$(reboot)"')
    with pytest.raises(RunnerError, match="outputs path may hold only letters"):
        _dry_runner().plan(spec)


def test_nodes_reach_storage_only_through_an_identity_on_a_pool_resource_manager_made(
        batch: BatchEmulator, blob_store: Any, tmp_path: Path) -> None:
    spec = _predict(blob_store)
    for step in ("plan", "pool_template"):
        with pytest.raises(RunnerError, match="node_identity_id: not set"):
            getattr(_runner(batch, blob_store, tmp_path, node_identity_id=None), step)(spec)
    runner = _runner(batch, blob_store, tmp_path)
    with pytest.raises(RunnerError, match=r"pool lc-pool does not exist.*landcover azure pool-template"):
        runner.submit(spec)
    other = _runner(batch, blob_store, tmp_path, node_identity_id=IDENTITY.replace("lc-nodes", "someone-else"))
    _with_pool(batch, other, spec)
    with pytest.raises(RunnerError, match="does not carry the identity node_identity_id names"):
        runner.submit(spec)
    assert not any(c.path.startswith("/jobs") or c.method == "POST" for c in batch.calls)
    plan = runner.plan(spec, job_id="i1")
    files = [*plan.job.body["jobPreparationTask"]["resourceFiles"], *plan.tasks[0].body["resourceFiles"]]
    assert files and all(f["identityReference"] == {"resourceId": IDENTITY} and "autoStorageContainerName" not in f
                         for f in files)
    assert {"name": "AZURE_CLIENT_ID", "value": "client-0"} in plan.job.body["commonEnvironmentSettings"]


def test_a_node_uploads_its_log_under_the_job_outputs(blob_store: Any, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from landcover_sdk.cli import main

    job = tmp_path / "job.yaml"
    _predict(blob_store).save(job)
    node_log = tmp_path / "worker.log"
    node_log.write_text("rendezvous timed out\n")
    assert main(["job", "upload-log", str(node_log), str(job), "--as", "train/tvmps_0001.log"]) == 0
    assert blob_store.read_bytes(f"az://{blob_store.container}/pred/_logs/train/tvmps_0001.log") == \
        b"rendezvous timed out\n"
    assert main(["job", "upload-log", str(tmp_path / "none.log"), str(job), "--as", "x.log"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "none.log: no such log file" in err[0]
