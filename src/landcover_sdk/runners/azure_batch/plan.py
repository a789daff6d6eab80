"""The Batch request bodies of a job, as pure functions of the job, the runner configuration and the endpoints:
the pool, the job with its SDK-installing preparation task, and each task. Nothing here opens a connection; the
bodies are the Batch REST JSON shapes (``dry_run`` shows them, :mod:`.runner` sends exactly them)."""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from typing import Any

from ..._version import __version__
from ...config.models import RunnerConfig
from ...errors import RunnerError
from ...storage import StorageURL
from ..azure_vm import INTER_NODE_LIMIT, check_vm_size
from ..plan import TaskPlan, plan_tasks
from ..sdk_install import install_script, pip_steps, venv_dir
from ..spec import JobSpec

RENDEZVOUS_TIMEOUT_S = 3600
_JOB_FILE = "\0job-file\0"  # placeholder replaced by the node's path of the job file


@dataclass
class BatchRequest:
    """One Batch REST call: method, path (under the account endpoint) and JSON body.

    Attributes:
        method: HTTP method.
        path: path under the account endpoint.
        body: the JSON body.
    """

    method: str
    path: str
    body: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {"method": self.method, "path": self.path, "body": self.body}


@dataclass
class BatchPlan:
    """Everything a submission sends, in order (what ``dry_run`` returns).

    Attributes:
        job_id: the Batch job id.
        pool_id: the pool it runs on.
        spec_url: where the resolved job file is uploaded.
        pool: the pool the job needs, as a Batch pool body (what an existing pool is checked against).
        job: the job creation request.
        tasks: the task creation requests.
        sdk_install: how the nodes get landcover-sdk (wheel, pip requirement or container image).
        pool_template: the Azure Resource Manager body that creates that pool with the nodes' identity.
    """

    job_id: str
    pool_id: str
    spec_url: str
    pool: BatchRequest
    job: BatchRequest
    tasks: list[BatchRequest] = field(default_factory=list)
    sdk_install: dict[str, str] = field(default_factory=dict)
    pool_template: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> list[BatchRequest]:
        """The requests a submission sends: the job, then its tasks."""
        return [self.job, *self.tasks]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        return {"job_id": self.job_id, "pool_id": self.pool_id, "spec_url": self.spec_url,
                "sdk_install": self.sdk_install, "pool": self.pool.body, "pool_template": self.pool_template,
                "requests": [r.to_dict() for r in self.requests]}


def _duration(minutes: float) -> str:
    return f"PT{max(1, round(minutes * 60))}S"


def _q(text: str) -> str:
    return shlex.quote(text)


@dataclass(frozen=True)
class Endpoints:
    """What the bodies need from the account: the Blob endpoint, the storage account and the nodes' identity.

    Attributes:
        blob: the outputs account's Blob endpoint (``https://<account>.blob.core.windows.net``).
        identity: the resource id of the pool's user-assigned identity.
        account: the storage account name the nodes see as ``AZURE_STORAGE_ACCOUNT`` (``None``: not set).
    """

    blob: str
    identity: str
    account: str | None = None


def check_resources(spec: JobSpec, config: RunnerConfig) -> None:
    """Refuse what today's Azure Batch cannot provision or run, before any request.

    Args:
        spec: the job.
        config: the runner configuration (``pool_allocation_mode``).
    """
    r = spec.resources
    check_vm_size(r.vm_size)
    mode = config.pool_allocation_mode
    if r.low_priority and mode != "user-subscription":
        raise RunnerError("resources.low_priority: Batch low-priority nodes were retired on 2025-09-30 and spot "
                          "nodes exist only in Batch accounts with user-subscription pool allocation; set "
                          "runner pool_allocation_mode: user-subscription if yours is one, else use dedicated "
                          "nodes")
    if _multi_instance(spec) and r.nodes > INTER_NODE_LIMIT[mode]:
        raise RunnerError(f"resources.nodes: {r.nodes} nodes for multi-node training; pools with inter-node "
                          f"communication hold at most {INTER_NODE_LIMIT[mode]} in {mode} accounts")



def pool_body(spec: JobSpec, config: RunnerConfig) -> dict[str, Any]:
    """The Batch pool body the job needs (what an existing pool is checked against).

    Args:
        spec: the job.
        config: the runner configuration (pool id, image).
    """
    r = spec.resources
    img = config.image
    vm: dict[str, Any] = {
        "imageReference": {"publisher": img.publisher, "offer": img.offer, "sku": img.sku,
                           "version": img.version},
        "nodeAgentSKUId": img.node_agent_sku_id,
    }
    if spec.container_image:
        vm["containerConfiguration"] = {"type": "dockerCompatible", "containerImageNames": [spec.container_image]}
    body: dict[str, Any] = {
        "id": config.pool_id,
        "vmSize": r.vm_size,
        "virtualMachineConfiguration": vm,
        "targetDedicatedNodes": 0 if r.low_priority else r.nodes,
        "targetLowPriorityNodes": r.nodes if r.low_priority else 0,
        "taskSlotsPerNode": 1,
        # only multi-instance training needs it, and it caps the pool's size and keeps nodes allocated
        "enableInterNodeCommunication": _multi_instance(spec),
    }
    # The SDK itself is installed per job (the job preparation task, see job_body), so that a pool runs
    # whatever version submitted the job; the start task only runs the job file's own node set-up.
    if spec.setup_command:
        body["startTask"] = {
            "commandLine": f"/bin/bash -c {_q('set -euo pipefail; ' + spec.setup_command)}",
            "userIdentity": {"autoUser": {"scope": "pool", "elevationLevel": "admin"}},
            "waitForSuccess": True,
            "maxTaskRetryCount": 2,
        }
    return body



def prep_task(install: dict[str, str], ends: Endpoints) -> dict[str, Any] | None:
    """The job preparation task that installs the SDK into a per-version venv on each node, once.

    Args:
        install: what :func:`~landcover_sdk.runners.sdk_install.sdk_install` returned.
        ends: the storage endpoint and the nodes' identity.
    """
    if install["method"] == "container image":
        return None
    if install["method"] == "wheel":
        files = resource_files(install["uploaded_to"], ends, "sdk")
        steps = pip_steps(install, f"sdk/{StorageURL.parse(install['uploaded_to']).key}")
    else:
        files = []
        steps = pip_steps(install)
    script = install_script(install["venv"], steps)
    return {"id": "landcover-sdk-install", "commandLine": f"/bin/bash -c {_q(script)}", "resourceFiles": files,
            "constraints": {"maxWallClockTime": "PT1H", "maxTaskRetryCount": 2}, "waitForSuccess": True,
            "userIdentity": {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}},
            "rerunOnNodeRebootAfterSuccess": True}



def job_body(spec: JobSpec, config: RunnerConfig, job_id: str, install: dict[str, str],
             ends: Endpoints) -> dict[str, Any]:
    """The job creation body.

    Args:
        spec: the resolved job.
        config: the runner configuration.
        job_id: the Batch job id.
        install: how the nodes get the SDK.
        ends: the storage endpoint, account and the nodes' identity.
    """
    env = {"LANDCOVER_JOB_ID": job_id, **spec.env}
    account = ends.account
    if account:
        env["AZURE_STORAGE_ACCOUNT"] = account
    if config.node_identity_client_id:
        env["AZURE_CLIENT_ID"] = config.node_identity_client_id
    return {
        "id": job_id,
        "poolInfo": {"poolId": config.pool_id},
        # "noaction" until the last task is added (submit() then switches it to "terminatejob"): a
        # terminatejob job with no tasks yet counts as complete and takes no more tasks
        "onAllTasksComplete": "noaction",
        "constraints": {"maxWallClockTime": _duration(job_wall_clock_minutes(spec)),
                        "maxTaskRetryCount": spec.resources.max_task_retries},
        "commonEnvironmentSettings": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "metadata": [{"name": "landcover-sdk", "value": __version__}, {"name": "kind", "value": spec.kind}],
        **({"jobPreparationTask": prep} if (prep := prep_task(install, ends)) else {}),
    }



def resource_files(blob_url: str, ends: Endpoints, folder: str = "job") -> list[dict[str, Any]]:
    """A blob as a resource file: it lands at ``<folder>/<its full blob name>`` (Batch keeps the blob's
    folders under ``filePath``).

    Args:
        blob_url: the ``az://`` blob.
        ends: the storage endpoint and the nodes' identity.
        folder: the folder it lands under on the node.
    """
    url = StorageURL.parse(blob_url)
    return [{"storageContainerUrl": f"{ends.blob}/{url.bucket}", "blobPrefix": url.key,
             "filePath": folder, "identityReference": {"resourceId": ends.identity}}]



def output_files(spec: JobSpec, task_id: str, ends: Endpoints) -> list[dict[str, Any]]:
    """Where a task's stdout/stderr are uploaded: ``<outputs>/_logs/<task id>/``.

    Args:
        spec: the job.
        task_id: the task.
        ends: the storage endpoint and the nodes' identity.
    """
    out = StorageURL.parse(spec.outputs)
    prefix = "/".join(p for p in (out.key.strip("/"), "_logs", task_id) if p)
    return [{"filePattern": "../std*.txt",
             "destination": {"container": {
                 "containerUrl": f"{ends.blob}/{out.bucket}",
                 "path": prefix, "identityReference": {"resourceId": ends.identity}}},
             "uploadOptions": {"uploadCondition": "taskcompletion"}}]



def task_body(task: TaskPlan, spec: JobSpec, config: RunnerConfig, spec_url: str, job_id: str,
              ends: Endpoints) -> dict[str, Any]:
    """One task's creation body (a multi-instance task for multi-node training).

    Args:
        task: the task.
        spec: the resolved job.
        config: the runner configuration (``master_port``).
        spec_url: where the job file is uploaded.
        job_id: the Batch job id.
        ends: the storage endpoint and the nodes' identity.
    """
    key = f"job/{StorageURL.parse(spec_url).key}"
    multi_node = task.nodes > 1  # one multi-instance task (multi-node training)
    # A multi-instance task's own resource files reach only the primary node; its common resource files
    # reach every node, in $AZ_BATCH_TASK_SHARED_DIR. Other tasks run in the directory they land in.
    spec_file = f'"$AZ_BATCH_TASK_SHARED_DIR"/{_q(key)}' if multi_node else _q(key)
    work = "$AZ_BATCH_TASK_WORKING_DIR/work"
    worker = " ".join(spec_file if a == _JOB_FILE else _q(a) for a in task.worker_args(_JOB_FILE))
    worker += f" --work-dir {work} --no-progress"
    python = "python3" if spec.container_image else f'"{venv_dir()}/bin/python"'
    r = spec.resources
    body: dict[str, Any] = {
        "id": task.id,
        "displayName": f"{spec.kind} {task.index + 1}/{task.count} of {job_id}",
        "resourceFiles": [] if multi_node else resource_files(spec_url, ends),
        "outputFiles": output_files(spec, task.id, ends),
        "constraints": {"maxWallClockTime": _duration(r.timeout_minutes), "maxTaskRetryCount": r.max_task_retries},
        "userIdentity": {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}},
    }
    if task.world_size > 1:
        port = config.master_port
        if multi_node:
            # The primary hosts the rendezvous store only once every node ran its coordination command and
            # its own files arrived: the agents on the other nodes must wait that long (c10d's default
            # read timeout is 60 s).
            timeout = RENDEZVOUS_TIMEOUT_S
            torchrun = (f"{python} -m torch.distributed.run --nnodes={task.nodes} "
                        f"--nproc-per-node={task.processes_per_node} --rdzv-backend=c10d "
                        f"--rdzv-endpoint=${{AZ_BATCH_MASTER_NODE%:*}}:{port} --rdzv-id=$AZ_BATCH_JOB_ID "
                        f"--rdzv-conf=join_timeout={timeout},read_timeout={timeout} "
                        f"-m landcover_sdk {worker}")
            # Batch runs the coordination command on every node, then the application command on
            # the primary only: the other nodes start their torchrun agents in the background.
            # Their output stays on their node and Batch uploads output files from the primary only, so
            # each agent uploads its own log when it ends. The subshell ignores SIGHUP (what nohup did).
            node_log = '"$AZ_BATCH_TASK_WORKING_DIR/worker.log"'
            upload = (f"{python} -m landcover_sdk job upload-log {node_log} {spec_file} "
                      f"--as {_q(task.id)}/\"$AZ_BATCH_NODE_ID\".log")
            coordination = ("if [ \"$AZ_BATCH_IS_CURRENT_NODE_MASTER\" = false ]; then "
                            f"( trap \"\" HUP; {torchrun} > {node_log} 2>&1; {upload} ) > /dev/null 2>&1 & fi")
            body["multiInstanceSettings"] = {"numberOfInstances": task.nodes,
                                             "coordinationCommandLine": f"/bin/bash -c {_q(coordination)}",
                                             "commonResourceFiles": resource_files(spec_url, ends)}
        else:
            torchrun = (f"{python} -m torch.distributed.run --standalone "
                        f"--nproc-per-node={task.processes_per_node} -m landcover_sdk {worker}")
        body["commandLine"] = f"/bin/bash -c {_q('set -euo pipefail; ' + torchrun)}"
    else:
        body["commandLine"] = f"/bin/bash -c {_q('set -euo pipefail; ' + python + ' -m landcover_sdk ' + worker)}"
    if spec.container_image:
        # Batch gives container tasks on GPU pools their GPUs itself; "--gpus" must not be passed
        body["containerSettings"] = {"imageName": spec.container_image, "containerRunOptions": "--shm-size=8g"}
    return body


def job_wall_clock_minutes(spec: JobSpec) -> float:
    """The job's wall-clock limit: every wave of tasks, each retried as often as allowed, plus an hour for pool
    start-up and the job file's download (the job's clock runs from its creation)."""
    r = spec.resources
    tasks = len(plan_tasks(spec))
    waves = 1 if _multi_instance(spec) else math.ceil(tasks / r.nodes)
    return waves * r.timeout_minutes * (r.max_task_retries + 1) + 60.0


def _multi_instance(spec: JobSpec) -> bool:
    """Whether the job runs as one multi-instance task over several nodes (multi-node training)."""
    return spec.kind == "train" and spec.resources.nodes > 1
