"""Job descriptions, LocalRunner (real subprocesses, torchrun, Azurite data) and BatchAIRunner
(the real azure-batch client against a local emulator of the Batch REST service)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from landcover_sdk import ConfigError, RunnerError
from landcover_sdk.cli import main
from landcover_sdk.config import AzureCredentials, ModelConfig, RunnerConfig
from landcover_sdk.data import write_scenes
from landcover_sdk.models import UNetModel
from landcover_sdk.runners import BatchAIRunner, JobSpec, LocalRunner, plan_tasks

from .emulators.batch_emulator import ACCOUNT, API_VERSION, KEY, BatchEmulator
from .emulators.batch_plans import IDENTITY
from .emulators.batch_plans import emulator_runner as _runner
from .emulators.batch_plans import with_pool as _with_pool

TINY_TRAIN = {
    "data": {"sampling": {"window": 64, "minibatch_size": 4, "minibatches_per_image": 2}},
    "model": {"window": 64, "margin": 16, "channels": [8, 8, 8, 8], "blocks_per_stage": 1},
    "epochs": 1, "epoch_size": 16, "optimizer": "adam", "lr_schedule": [{"lr": 0.001}],
    "bn_time_constant": 256, "threads": 1,
}


# ---------------------------------------------------------------------------- JobSpec


def test_jobspec_yaml_round_trip_and_tasks(tmp_path: Path) -> None:
    spec = JobSpec(name="naip-train", kind="train", config="builtin:quick", inputs={"data": "az://naip/tiles"},
                   outputs="az://runs/train1", resources={"nodes": 2, "processes_per_node": 4, "gpus_per_node": 4,
                                                          "require_gpu": True})
    path = spec.save(tmp_path / "job.yaml")
    again = JobSpec.load(path)
    assert again == spec
    assert plan_tasks(again)[0].world_size == 8
    resolved = again.resolved()
    assert isinstance(resolved.config, dict) and resolved.config["optimizer"] == "adam"
    predict = JobSpec(name="p", kind="predict", inputs={"model": "m.safetensors", "images": ["a.tif", "b.tif"]},
                      outputs="out", chunks=3)
    assert [t.id for t in plan_tasks(predict)] == ["predict-000", "predict-001", "predict-002"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resources": {"nodes": 0}}, r"resources\.nodes"),
        ({"resources": {"processes_per_node": 2, "gpus_per_node": 1, "require_gpu": True}},
         "2 processes but only 1 GPU"),
        ({"resources": {"require_gpu": True}}, "needs gpus_per_node >= 1"),
        ({"inputs": {}}, r"inputs\.data: required for a train job"),
        ({"inputs": {"data": "d", "model": "m"}}, r"inputs\.model: not an input of a train job"),
        ({"env": {"AZURE_STORAGE_KEY": "x"}}, "looks like a credential"),
        ({"name": "Bad Name"}, "name"),
        ({"chunks": 2}, "only for predict jobs"),
        ({"surprise": 1}, "surprise: unknown key"),
        ({"kind": "predict", "inputs": {"model": "m", "images": ["a"]},
          "resources": {"gpus_per_node": 1, "require_gpu": True}}, "only training runs on GPUs"),
        ({"region": {"center_lat": 37.0, "center_lon": -78.6}}, "region: only for predict and evaluate"),
        ({"kind": "evaluate", "inputs": {"model": "m", "image": "i", "labels": "l"},
          "region": {"centre_lat": 37.0}}, r"region\.centre_lat: unknown key"),
        ({"kind": "predict", "inputs": {"model": "m", "images": ["a"]}, "strip_rows": 64,
          "region": {"window": [0, 0, 10, 10]}}, "strip_rows predicts whole images"),
    ],
)
def test_impossible_jobspecs_are_rejected(changes: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"name": "j", "kind": "train", "inputs": {"data": "d"}, "outputs": "o"}
    with pytest.raises(ConfigError, match=message):
        JobSpec.from_dict({**base, **changes})


def test_require_gpu_trains_on_cuda_or_fails() -> None:
    spec = JobSpec(name="g", kind="train", config=TINY_TRAIN, inputs={"data": "d"}, outputs="o",
                   resources={"gpus_per_node": 1, "require_gpu": True})
    cfg = spec.train_config(data_root="/staged", output_dir="/out")
    assert cfg.device == "cuda" and cfg.data.root == "/staged" and cfg.output_dir == "/out"
    assert JobSpec(name="c", kind="train", config=TINY_TRAIN, inputs={"data": "d"}, outputs="o").train_config(
        data_root="/staged", output_dir="/out").device == "auto"


def test_missing_inputs_detected_before_anything_runs(tmp_path: Path) -> None:
    spec = JobSpec(name="j", kind="evaluate", config={}, outputs=str(tmp_path / "out"),
                   inputs={"model": str(tmp_path / "none.safetensors"), "image": "i.tif", "labels": "l.tif"})
    runner = LocalRunner(tmp_path / "jobs")
    with pytest.raises(RunnerError, match=r"inputs\.model: .*none\.safetensors does not exist"):
        runner.run(spec)
    assert not (tmp_path / "jobs").exists()


# ---------------------------------------------------------------------------- LocalRunner


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = ModelConfig(channels=(8, 8, 8, 8))
    return UNetModel(cfg, seed=0).eval().save(tmp_path_factory.mktemp("model") / "m.safetensors")


def test_local_two_process_training_job(synth_dir: Path, tmp_path: Path) -> None:
    spec = JobSpec(name="train2", kind="train", config=TINY_TRAIN, inputs={"data": str(synth_dir)},
                   outputs=str(tmp_path / "out"), resources={"processes_per_node": 2})
    runner = LocalRunner(tmp_path / "jobs")
    assert runner.command(plan_tasks(spec)[0], Path("j.yaml"), Path("w"))[1:5] == [
        "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    result = runner.run(spec, job_id="train2-test")
    assert result.ok, result.to_json()
    assert result.exit_codes == {"train": 0}
    assert str(tmp_path / "out" / "model.safetensors") in result.outputs
    log_text = Path(result.tasks[0].log_path or "").read_text()
    assert "[default0]" in log_text and "[default1]" in log_text  # both ranks ran
    assert (tmp_path / "jobs" / "train2-test" / "result.json").exists()


def _kill_task_after_first_mirrored_checkpoint(mirror: Path, spec_path: Path, work: Path, killed: list[str],
                                               stop: threading.Event) -> None:
    """Kill the task's process group once a checkpoint reached storage, and wipe its working folder (a new node)."""
    while not stop.wait(0.05):
        if not list(mirror.glob("*.safetensors")):
            continue
        for pid_dir in Path("/proc").iterdir():
            try:
                argv = (pid_dir / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"exec" in argv and str(spec_path).encode() in argv:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(os.getpgid(int(pid_dir.name)), signal.SIGKILL)
                killed.append(pid_dir.name)
        if killed:
            shutil.rmtree(work, ignore_errors=True)
            return


def test_a_retried_training_task_resumes_from_mirrored_checkpoints_on_a_fresh_node(synth_dir: Path,
                                                                                   tmp_path: Path) -> None:
    config = {**TINY_TRAIN, "epochs": 3, "checkpoint_every_steps": 1}
    spec = JobSpec(name="resume", kind="train", config=config, inputs={"data": str(synth_dir)},
                   outputs=str(tmp_path / "out"), resources={"max_task_retries": 1})
    runner = LocalRunner(tmp_path / "jobs")
    killed: list[str] = []
    stop = threading.Event()
    job_dir = tmp_path / "jobs" / "resume-1"
    watcher = threading.Thread(target=_kill_task_after_first_mirrored_checkpoint,
                               args=(tmp_path / "out" / "_checkpoints", job_dir / "job.yaml",
                                     job_dir / "work" / "train", killed, stop))
    watcher.start()
    try:
        result = runner.run(spec, job_id="resume-1")
    finally:
        stop.set()
        watcher.join()
    assert killed, "the first attempt finished before it could be killed"
    assert result.ok, result.to_json()
    log_text = Path(result.tasks[0].log_path or "").read_text()
    assert "restored" in log_text and "resuming from" in log_text
    straight = LocalRunner(tmp_path / "jobs2").run(spec.model_copy(update={"outputs": str(tmp_path / "out2")}),
                                                   job_id="straight-1")
    assert straight.ok
    from safetensors.numpy import load_file

    resumed, reference = load_file(tmp_path / "out" / "model.safetensors"), load_file(tmp_path / "out2" /
                                                                                      "model.safetensors")
    assert resumed.keys() == reference.keys()
    assert all(np.array_equal(resumed[k], reference[k]) for k in reference)  # bitwise: as if never killed


def test_local_prediction_job_with_data_in_azurite(blob_store: Any, azurite: Any, small_model: Path,
                                                   tmp_path: Path) -> None:
    c = blob_store.container
    write_scenes(tmp_path / "tiles", tiles=2, size=256, seed=5)
    images = []
    for f in sorted((tmp_path / "tiles").glob("*_NAIP.tif")):
        blob_store.upload(f, f"az://{c}/naip/{f.name}")
        images.append(f"az://{c}/naip/{f.name}")
    blob_store.upload(small_model, f"az://{c}/models/m.safetensors")
    spec = JobSpec(name="predict-az", kind="predict", inputs={"model": f"az://{c}/models/m.safetensors",
                                                               "images": images},
                   outputs=f"az://{c}/predictions", chunks=2, strip_rows=128)
    env = {"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    result = LocalRunner(tmp_path / "jobs", env=env).run(spec)
    assert result.ok, result.to_json()
    assert result.exit_codes == {"predict-000": 0, "predict-001": 0}
    classes = [u for u in result.outputs if u.endswith("_classes.tif")]
    assert len(classes) == 4 and all("_rows000" in u for u in classes)
    assert sorted(u for u in result.outputs if u not in classes) == sorted(
        u.replace(".tif", ".stac.json") for u in classes)
    with rasterio.open(blob_store.gdal_path(classes[1])) as ds:
        assert ds.shape == (128, 256) and ds.colormap(1)
    # no credential ever lands in the job file the runner wrote
    job_file = next((tmp_path / "jobs").glob("*/job.yaml")).read_text()
    assert azurite.connection_string not in job_file and "AccountKey" not in job_file


def test_local_prediction_job_writes_probabilities_for_a_region(small_model: Path, tmp_path: Path) -> None:
    pairs = write_scenes(tmp_path / "tiles", tiles=1, size=256, seed=4)
    spec = JobSpec.from_dict({"name": "probs", "kind": "predict", "config": {"probabilities": True, "mode": "fast"},
                              "inputs": {"model": str(small_model), "images": [pairs[0].image]},
                              "outputs": str(tmp_path / "out"), "region": {"window": [10, 20, 100, 120]}})
    result = LocalRunner(tmp_path / "jobs").run(spec)
    assert result.ok, result.to_json()
    names = sorted(Path(u).name for u in result.outputs)
    assert names == ["synth_000_classes.stac.json", "synth_000_classes.tif", "synth_000_probabilities.tif"]
    with rasterio.open(tmp_path / "out" / "synth_000_probabilities.tif") as ds:
        assert ds.count == 5 and ds.shape == (100, 120) and ds.tags()["LANDCOVER_MODE"] == "fast"


def test_local_failing_task_reports_exit_code_and_error(small_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken_NAIP.tif"
    bad.write_bytes(b"not a tiff")
    spec = JobSpec(name="broken", kind="predict", inputs={"model": str(small_model), "images": [str(bad)]},
                   outputs=str(tmp_path / "out"), resources={"max_task_retries": 0})
    result = LocalRunner(tmp_path / "jobs").run(spec)
    assert not result.ok and result.exit_codes == {"predict-000": 1}
    assert "broken_NAIP.tif" in (result.tasks[0].error or "")
    with pytest.raises(RunnerError, match=r"job broken-.* failed: predict-000 \(exit 1"):
        result.raise_for_state()


# ---------------------------------------------------------------------------- BatchAIRunner on the emulator


def _upload_tiles(store: Any, tmp_path: Path) -> str:
    c = store.container
    write_scenes(tmp_path / "tiles", tiles=2, size=128, seed=9)
    for f in sorted((tmp_path / "tiles").iterdir()):
        store.upload(f, f"az://{c}/tiles/{f.name}")
    return f"az://{c}/tiles"


def test_batch_training_job_full_sequence(batch: BatchEmulator, blob_store: Any, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="landcover_sdk.runners.task")
    data = _upload_tiles(blob_store, tmp_path)
    spec = JobSpec(name="train-multi", kind="train", config=TINY_TRAIN, inputs={"data": data},
                   outputs=f"az://{blob_store.container}/runs/t1",
                   resources={"nodes": 2, "processes_per_node": 1, "gpus_per_node": 1, "require_gpu": True})
    runner = _with_pool(batch, _runner(batch, blob_store, tmp_path), spec)
    dry = BatchAIRunner(runner.config, dry_run=True, storage=blob_store).plan(spec, job_id="train-multi-1")
    result = runner.run(spec, job_id="train-multi-1", progress=False)
    assert batch.violations == []
    assert result.ok and result.exit_codes == {"train": 0}
    seq = batch.sequence()
    # the pool is checked (exists, fits, carries the identity) and waited for, then the job goes in
    assert seq[:6] == ["HEAD /pools/lc-pool", "GET /pools/lc-pool", "GET /pools/lc-pool", "GET /pools/lc-pool",
                       "GET /pools/lc-pool/nodes", "POST /jobs"]
    assert seq[6:8] == ["POST /jobs/train-multi-1/tasks", "PATCH /jobs/train-multi-1"]
    polls = [c for c in seq[8:] if not c.endswith("/files/stdout.txt")]
    assert polls == ["GET /jobs/train-multi-1/tasks/train", "GET /jobs/train-multi-1", "GET /pools/lc-pool/nodes"] * 2 \
        + ["GET /jobs/train-multi-1/tasks/train"]
    # stdout streamed while running: each line once, in order, with the task prefix
    streamed = [r.getMessage() for r in caplog.records if r.name == "landcover_sdk.runners.task"]
    assert streamed == ["[train] running train", "[train] progress 1/3", "[train] progress 2/3",
                        "[train] progress 3/3", "[train] done"]
    # dry run returned exactly the bodies that were sent
    sent = [c.body for c in batch.calls if c.method == "POST"]
    assert sent == [r.body for r in dry.requests]
    assert sent[0]["onAllTasksComplete"] == "noaction"  # switched after the last task:
    assert [c.body for c in batch.calls if c.method == "PATCH"] == [{"onAllTasksComplete": "terminatejob"}]
    job, task = sent
    pool = dry.pool_template["properties"]
    assert pool["interNodeCommunication"] == "Enabled"
    assert pool["scaleSettings"]["fixedScale"]["targetDedicatedNodes"] == 2
    assert task["multiInstanceSettings"]["numberOfInstances"] == 2
    assert "--nnodes=2" in task["commandLine"] and "AZ_BATCH_MASTER_NODE" in task["commandLine"]
    assert task["resourceFiles"] == []  # only common resource files reach every node of a multi-instance task
    assert task["multiInstanceSettings"]["commonResourceFiles"] == [{
        "storageContainerUrl": f"{blob_store.endpoint}/{blob_store.container}",
        "blobPrefix": "runs/t1/_job/train-multi-1.yaml", "filePath": "job",
        "identityReference": {"resourceId": IDENTITY}}]
    assert "--rdzv-conf=join_timeout=3600,read_timeout=3600" in task["commandLine"]
    assert {"name": "AZURE_STORAGE_ACCOUNT", "value": "devstoreaccount1"} in job["commonEnvironmentSettings"]
    assert all(c.query["api-version"] == [API_VERSION] for c in batch.calls)
    # the job file went to storage first, with the config inlined
    staged = JobSpec.from_dict(__import__("yaml").safe_load(blob_store.read_bytes(dry.spec_url)))
    assert staged.config == spec.resolved().config

    batch.calls.clear()
    assert runner.teardown("train-multi-1") == ["job train-multi-1"]  # the pool is Resource Manager's
    assert batch.sequence() == ["DELETE /jobs/train-multi-1", "GET /jobs/train-multi-1"]
    assert runner.teardown("train-multi-1") == []  # idempotent
    assert runner.teardown(delete_pool=True) == ["pool lc-pool"]
    assert batch.pools == {} and batch.jobs == {}


def test_batch_prediction_job_with_failing_chunk(batch: BatchEmulator, blob_store: Any, small_model: Path,
                                                tmp_path: Path) -> None:
    c = blob_store.container
    blob_store.upload(small_model, f"az://{c}/m.safetensors")
    for name in ("a_NAIP.tif", "b_NAIP.tif", "c_NAIP.tif"):
        blob_store.write_bytes(f"az://{c}/in/{name}", b"raster")
    spec = JobSpec(name="predict", kind="predict", inputs={"model": f"az://{c}/m.safetensors",
                                                            "images": [f"az://{c}/in/{n}" for n in
                                                                       ("a_NAIP.tif", "b_NAIP.tif", "c_NAIP.tif")]},
                   outputs=f"az://{c}/pred", chunks=3, resources={"low_priority": True, "nodes": 3})
    with pytest.raises(RunnerError, match=r"resources\.low_priority: .*user-subscription"):
        _runner(batch, blob_store, tmp_path).submit(spec)
    batch.failing_tasks["predict-001"] = "Traceback...\nRuntimeError: CUDA out of memory\n"
    batch.fail_with_503[("POST", "/jobs")] = 1
    runner = _with_pool(batch, _runner(batch, blob_store, tmp_path, pool_allocation_mode="user-subscription"), spec)
    result = runner.run(spec, job_id="predict-1", progress=False)
    assert batch.violations == []
    assert batch.sequence().count("POST /jobs") == 2  # the 503 was retried
    assert [c.status for c in batch.calls if c.path == "/jobs"] == [503, 201]
    assert batch.sequence().count("POST /jobs/predict-1/tasks") == 3
    pool = runner.pool_template(spec)["properties"]["scaleSettings"]["fixedScale"]
    assert pool["targetLowPriorityNodes"] == 3 and pool["targetDedicatedNodes"] == 0
    assert not result.ok
    assert result.exit_codes == {"predict-000": 0, "predict-001": 1, "predict-002": 0}
    err = result.tasks[1].error or ""
    assert "FailureExitCode" in err and "CUDA out of memory" in err and "tvmps_0001" in err
    assert "CUDA out of memory" in runner.logs("predict-1", "predict-001", "stderr.txt")
    status = runner.status("predict-1")
    assert status["state"] == "completed" and status["tasks"]["predict-001"]["exit_code"] == 1
    assert runner.teardown("predict-1") == ["job predict-1"]


def test_batch_bad_jobs_fail_before_any_pool(batch: BatchEmulator, blob_store: Any, tmp_path: Path) -> None:
    runner = _runner(batch, blob_store, tmp_path)
    missing = JobSpec(name="t", kind="train", config=TINY_TRAIN, inputs={"data": f"az://{blob_store.container}/none"},
                      outputs=f"az://{blob_store.container}/o")
    with pytest.raises(RunnerError, match=r"inputs\.data: az://.*/none does not exist"):
        runner.submit(missing)
    local = JobSpec(name="t", kind="train", config=TINY_TRAIN, inputs={"data": str(tmp_path)}, outputs="az://x/o")
    with pytest.raises(RunnerError, match=r"inputs\.data: .* Azure Batch jobs need az:// URLs"):
        runner.submit(local)
    assert batch.calls == []
    no_account = BatchAIRunner(RunnerConfig(kind="azure-batch"), storage=blob_store)
    no_account.config = no_account.config.model_copy(update={"azure": AzureCredentials()})
    with pytest.raises(RunnerError, match=r"batch_account_url is not set.*tried: shared key"):
        _ = no_account.client


def test_batch_reused_pool_with_other_vm_size(batch: BatchEmulator, blob_store: Any, tmp_path: Path) -> None:
    data = _upload_tiles(blob_store, tmp_path)
    spec = JobSpec(name="t", kind="train", config=TINY_TRAIN, inputs={"data": data},
                   outputs=f"az://{blob_store.container}/o")
    runner = _with_pool(batch, _runner(batch, blob_store, tmp_path), spec)
    runner.submit(spec, job_id="first")
    other = spec.model_copy(update={"resources": spec.resources.model_copy(update={"vm_size": "Standard_D4s_v5"})})
    with pytest.raises(RunnerError, match="pool lc-pool exists with VM size Standard_NC4as_T4_v3"):
        runner.submit(other, job_id="second")
    runner.submit(spec, job_id="third")  # same size: used again
    assert "POST /pools" not in batch.sequence()  # pools come from Resource Manager, never from the runner
    assert runner.teardown("third") == ["job third"]
    assert runner.teardown("first", delete_pool=True) == ["job first", "pool lc-pool"]


def test_same_jobspec_runs_under_batch_and_local(batch: BatchEmulator, blob_store: Any, azurite: Any,
                                                 small_model: Path, tmp_path: Path) -> None:
    c = blob_store.container
    write_scenes(tmp_path / "tiles", tiles=1, size=256, seed=4)
    image = next((tmp_path / "tiles").glob("*_NAIP.tif"))
    label = next((tmp_path / "tiles").glob("*_LandCover.tif"))
    for f in (image, label):
        blob_store.upload(f, f"az://{c}/eval/{f.name}")
    blob_store.upload(small_model, f"az://{c}/m.safetensors")
    job_file = tmp_path / "evaluate.yaml"
    JobSpec(name="evaluate", kind="evaluate", config={"mode": "exact"},
            inputs={"model": f"az://{c}/m.safetensors", "image": f"az://{c}/eval/{image.name}",
                    "labels": f"az://{c}/eval/{label.name}"},
            outputs=f"az://{c}/evaluation").save(job_file)
    spec = JobSpec.load(job_file)
    assert _with_pool(batch, _runner(batch, blob_store, tmp_path), spec).run(spec, job_id="eval-1", progress=False).ok
    assert batch.violations == []
    local = LocalRunner(tmp_path / "jobs", env={"AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string})
    result = local.run(spec)
    assert result.ok, result.to_json()
    names = sorted(u.rsplit("/", 1)[-1] for u in result.outputs if "/_job/" not in u)
    assert names == ["classes.stac.json", "classes.tif", "comparison.png", "report.json"]
    report = __import__("json").loads(blob_store.read_bytes(f"az://{c}/evaluation/report.json"))
    assert 0.0 <= report["accuracy"] <= 1.0


def test_cli_run_dry_run_prints_requests_without_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_BATCH_ACCESS_KEY", KEY)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT", "naipdata")
    monkeypatch.setenv("AZURE_STORAGE_KEY", "c3RvcmFnZS1rZXktc2VjcmV0")
    job = tmp_path / "job.yaml"
    JobSpec(name="train", kind="train", config="builtin:tutorial", inputs={"data": "az://naip/tiles"},
            outputs="az://runs/t", resources={"nodes": 2, "gpus_per_node": 1}).save(job)
    assert main(["run", str(job), "--runner", "azure-batch", "--dry-run", "--job-id", "train-x"]) == 1
    assert "node_identity_id: not set" in capsys.readouterr().err  # nodes without an identity reach no storage
    cfg = RunnerConfig(kind="azure-batch", node_identity_id=IDENTITY, node_identity_client_id="client-0").save(
        tmp_path / "azure.yaml")
    assert main(["run", str(job), "--runner-config", str(cfg), "--dry-run", "--job-id", "train-x"]) == 0
    out = capsys.readouterr().out
    plan = __import__("json").loads(out)
    assert [r["path"] for r in plan["requests"]] == ["/jobs", "/jobs/train-x/tasks"]
    assert plan["sdk_install"]["method"] == "wheel" and plan["pool_template"]["identity"]["type"] == "UserAssigned"
    assert KEY not in out and "c3RvcmFnZS1rZXktc2VjcmV0" not in out
    assert main(["azure", "pool-template", str(job), "--runner-config", str(cfg)]) == 0
    template = __import__("json").loads(capsys.readouterr().out)
    assert template == plan["pool_template"] and template["properties"]["interNodeCommunication"] == "Enabled"
    # the same job under the local runner: its task command line, nothing run
    assert main(["run", str(job), "--dry-run", "--job-id", "train-x", "--work-dir", str(tmp_path / "w")]) == 0
    local = __import__("json").loads(capsys.readouterr().out)
    assert local["runner"] == "local" and [t["id"] for t in local["tasks"]] == ["train"]
    assert "torch.distributed.run" in local["tasks"][0]["command"] and not (tmp_path / "w").exists()
    assert main(["run", str(job), "--teardown"]) == 1
    assert "--teardown is for --runner azure-batch" in capsys.readouterr().err


def test_cli_azure_status_logs_teardown(batch: BatchEmulator, blob_store: Any, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    data = _upload_tiles(blob_store, tmp_path)
    spec = JobSpec(name="t", kind="train", config=TINY_TRAIN, inputs={"data": data},
                   outputs=f"az://{blob_store.container}/o")
    runner = _with_pool(batch, _runner(batch, blob_store, tmp_path), spec)
    runner.run(spec, job_id="cli-job", progress=False)
    monkeypatch.setenv("AZURE_BATCH_ACCESS_KEY", KEY)
    cfg = RunnerConfig(kind="azure-batch", work_dir=str(tmp_path / "state"), pool_id="lc-pool", poll_seconds=0.01,
                       node_identity_id=IDENTITY,
                       azure=AzureCredentials(batch_account_url=batch.endpoint, batch_account_name=ACCOUNT))
    cfg_path = cfg.save(tmp_path / "azure.yaml")
    assert KEY not in cfg_path.read_text()
    assert main(["azure", "status", "cli-job", "--runner-config", str(cfg_path)]) == 0
    status = __import__("json").loads(capsys.readouterr().out)
    assert status["tasks"]["train"] == {"state": "completed", "exit_code": 0}
    assert main(["azure", "logs", "cli-job", "--task", "train", "--runner-config", str(cfg_path)]) == 0
    assert capsys.readouterr().out.endswith("done\n")
    assert main(["azure", "teardown", "cli-job", "--pool", "--runner-config", str(cfg_path)]) == 0
    assert "deleted: job cli-job, pool lc-pool" in capsys.readouterr().out
    assert main(["azure", "teardown", "cli-job", "--runner-config", str(cfg_path)]) == 0
    assert "deleted: nothing" in capsys.readouterr().out
    assert main(["azure", "status", "cli-job", "--runner-config", str(cfg_path)]) == 1
    assert "JobNotFound" in capsys.readouterr().err


def test_a_node_stages_only_its_ranks_tiles(blob_store: Any, tmp_path: Path) -> None:
    from landcover_sdk.data import TileDataset
    from landcover_sdk.runners.worker import stage_training_tiles

    c = blob_store.container
    write_scenes(tmp_path / "tiles", tiles=4, size=128, seed=9)
    for f in sorted((tmp_path / "tiles").iterdir()):
        blob_store.upload(f, f"az://{c}/tiles/{f.name}")
    spec = JobSpec(name="t", kind="train", config=TINY_TRAIN, inputs={"data": f"az://{c}/tiles"},
                   outputs=f"az://{c}/o", resources={"nodes": 2})
    # the second of two single-process nodes: rank 1 of 2 trains on tiles 2 and 3 of the sorted four
    pairs = stage_training_tiles(spec, tmp_path / "node1", {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "1",
                                                            "GROUP_RANK": "1"})
    staged = sorted(p.name for p in (tmp_path / "node1").iterdir() if not p.name.startswith("."))
    assert staged == sorted(f.name for f in sorted((tmp_path / "tiles").iterdir())[4:])  # synth_002, synth_003
    assert [p[0].startswith("az://") for p in pairs] == [True, True, False, False]
    assert len(TileDataset(pairs)) == 4  # the dataset keeps every tile in order: the shards stay the same
    again = stage_training_tiles(spec, tmp_path / "node1", {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "1",
                                                            "GROUP_RANK": "1"})
    assert again == pairs  # staged once per node
