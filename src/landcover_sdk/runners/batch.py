"""``BatchAIRunner``: run a :class:`JobSpec` on Azure Batch (the live successor of the tutorial's Batch AI).

The runner builds every request body as the Batch REST JSON shape first — that list is what
``dry_run=True`` returns — and sends exactly those bodies through the real ``azure-batch``
client (``BatchClient``). Sequence for a job: upload the job file next to the outputs; create
(or reuse) the pool and wait until it is steady; create the job; add the tasks (a multi-instance
task for multi-node training, one task per prediction chunk, one evaluation task); poll them to
completion with progress; collect exit codes, failure messages and stderr; list the outputs.
``teardown()`` deletes the job and the pool this runner created, and is safe to repeat.

Nodes reach Blob storage through a user-assigned managed identity on the pool (``node_identity_id``),
and no secret ever enters a request body. Batch's data-plane API cannot attach an identity to a pool,
so the pool is created beforehand through Azure Resource Manager from :meth:`BatchAIRunner.pool_template`
(``landcover azure pool-template``); the runner checks it (size, inter-node communication, slots,
containers, the identity) before it adds a job.
"""

from __future__ import annotations

import json
import logging
import math
import re
import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .._atomic import atomic_write_text
from .._util import progress_bar
from .._version import __version__
from ..config.models import AzureCredentials, RunnerConfig
from ..errors import LandcoverError, RunnerError
from ..imagery.source import is_spec
from ..storage import StorageURL, get_storage, redact
from ..storage.azure_blob import AzureBlobStorage
from .plan import JobResult, TaskPlan, TaskResult, check_inputs, plan_tasks
from .spec import JobSpec

log = logging.getLogger(__name__)
task_log = logging.getLogger("landcover_sdk.runners.task")

TERMINAL_TASK_STATE = "completed"
RENDEZVOUS_TIMEOUT_S = 3600
_JOB_FILE = "\0job-file\0"  # placeholder replaced by the node's path of the job file

#: VM sizes Azure retired (they can no longer be provisioned): pattern -> (series, retired on, what to use).
#: Sources: learn.microsoft.com/azure/virtual-machines/retired-sizes-list and each series' retirement notice.
RETIRED_VM_SIZES: tuple[tuple[re.Pattern[str], str, str, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), series, date, replacement) for pattern, series, date, replacement in (
        (r"standard_nc(6|12|24|24r)s_v3", "NCv3 (V100)", "2025-09-30",
         "Standard_NC4as_T4_v3 (NCasT4_v3), Standard_NC24ads_A100_v4 (NC A100 v4) or Standard_NC40ads_H100_v5"),
        (r"standard_nc(6|12|24|24r)s_v2", "NCv2 (P100)", "2023-09-06",
         "Standard_NC4as_T4_v3 (NCasT4_v3) or Standard_NC24ads_A100_v4 (NC A100 v4)"),
        (r"standard_nc(6|12|24|24r)(_promo)?", "NC (K80)", "2023-09-06", "Standard_NC4as_T4_v3 (NCasT4_v3)"),
        (r"standard_nd(6|12|24|24r)s", "ND (P40)", "2023-09-06", "Standard_NC24ads_A100_v4 (NC A100 v4)"),
        (r"standard_nv(6|12|24)(_promo)?", "NV (M60)", "2023-09-06", "Standard_NV36ads_A10_v5 (NVadsA10_v5)"),
    ))

#: Pools with inter-node communication: at most this many nodes (Batch-service / user-subscription allocation).
INTER_NODE_LIMIT = {"batch-service": 100, "user-subscription": 80}


def check_vm_size(vm_size: str) -> None:
    """Raise :class:`RunnerError` when ``vm_size`` is a retired Azure size, naming what replaces it.

    Args:
        vm_size: an Azure VM size, e.g. ``Standard_NC4as_T4_v3``.
    """
    for pattern, series, date, replacement in RETIRED_VM_SIZES:
        if pattern.fullmatch(vm_size):
            raise RunnerError(f"resources.vm_size: {vm_size} belongs to the {series} series, retired by Azure on "
                              f"{date} (it can no longer be provisioned); use {replacement}")


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


def _venv_dir() -> str:
    """The node folder of this SDK version's venv (shared by the node's jobs)."""
    return f"$AZ_BATCH_NODE_SHARED_DIR/landcover-sdk/{__version__}"


def _wheel_name() -> str:
    """The file name ``pip wheel`` gives this version's pure-Python wheel."""
    return f"landcover_sdk-{__version__}-py3-none-any.whl"


def _checkout() -> Path | None:
    """The source checkout this SDK runs from (an editable install), or ``None``."""
    root = Path(__file__).resolve().parents[3]
    project = root / "pyproject.toml"
    if project.is_file() and 'name = "landcover-sdk"' in project.read_text(encoding="utf-8"):
        return root
    return None


def build_wheel(out_dir: Path, wheel: str | None = None) -> Path:
    """The wheel the nodes install: ``wheel`` as given, else one built from this checkout with ``pip wheel``.

    Args:
        out_dir: where to build.
        wheel: an existing wheel file (``RunnerConfig.sdk_wheel``).
    """
    import subprocess
    import sys

    if wheel:
        path = Path(wheel)
        if not (path.is_file() and path.suffix == ".whl"):
            raise RunnerError(f"sdk_wheel: {wheel} is not a wheel file")
        return path
    root = _checkout()
    if root is None:
        raise RunnerError("this landcover-sdk was not installed from a checkout, so no wheel can be built for the "
                          "nodes: set the runner's sdk_wheel (a wheel file) or sdk_requirement (a requirement your "
                          "nodes can install, e.g. from your own package feed)")
    log.info("building the SDK wheel for the nodes from %s", root)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                           "-w", str(out_dir), str(root)], capture_output=True, text=True, check=False)
    built = out_dir / _wheel_name()
    if proc.returncode != 0 or not built.is_file():
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise RunnerError(f"could not build the SDK wheel from {root}: {tail}")
    return built


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


class BatchAIRunner:
    """Run jobs on an Azure Batch pool; ``dry_run=True`` returns the request bodies without network access.

    ``client`` may be an existing ``azure.batch.BatchClient``; otherwise one is built from
    ``config.azure`` (``batch_account_url`` + ``batch_account_name`` + ``batch_account_key``
    for shared key, or ``DefaultAzureCredential``). ``client_options`` go to ``BatchClient``
    (azure-core pipeline options such as ``retry_total`` or ``retry_backoff_factor``).

    Args:
        config: pool, image, accounts (default: a ``RunnerConfig`` of kind ``azure-batch``);
            empty credentials are filled from the environment.
        client: an existing ``BatchClient`` (tests, or your own authentication).
        dry_run: build request bodies, never a client; :meth:`plan` and :meth:`describe` only.
        teardown: delete the job (and a pool it created) after :meth:`run`.
        storage: the Blob storage used for job files and outputs (default: from ``config.azure``).
        **client_options: passed to ``BatchClient``.
    """

    name = "azure-batch"

    def __init__(self, config: RunnerConfig | None = None, *, client: Any = None, dry_run: bool = False,
                 teardown: bool = False, storage: AzureBlobStorage | None = None, **client_options: Any) -> None:
        cfg = config or RunnerConfig(kind="azure-batch")
        self.config = cfg.model_copy(update={"azure": cfg.azure.overlay(AzureCredentials.from_env())})
        self.dry_run = dry_run
        self.teardown_after = teardown
        self._client = client
        self._storage = storage
        self.client_options = client_options
        self.state_dir = Path(self.config.work_dir) / "azure-batch"

    @classmethod
    def build(cls, config: RunnerConfig, *, dry_run: bool = False, teardown: bool = False) -> BatchAIRunner:
        """The registry's factory for kind ``azure-batch`` (see :func:`~landcover_sdk.runners.make_runner`).

        Args:
            config: pool, image, accounts.
            dry_run: build request bodies, never a client.
            teardown: delete the job (and a pool it created) after :meth:`run`.
        """
        return cls(config, dry_run=dry_run, teardown=teardown)

    def __repr__(self) -> str:
        return (f"BatchAIRunner(endpoint={self.config.azure.batch_account_url!r}, pool={self.config.pool_id!r}, "
                f"dry_run={self.dry_run})")

    # ------------------------------------------------------------------ client
    @property
    def client(self) -> Any:
        """The ``BatchClient`` (built on first use; never in dry-run mode)."""
        if self.dry_run:
            raise RunnerError("dry run: no Batch client is created")
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        az = self.config.azure
        if not az.batch_account_url:
            raise RunnerError("azure.batch_account_url is not set (or AZURE_BATCH_ACCOUNT_URL); tried: shared key "
                              "(batch_account_name + batch_account_key), DefaultAzureCredential")
        try:
            from azure.batch import BatchClient
            from azure.core.credentials import AzureNamedKeyCredential
        except ImportError:
            raise RunnerError("the Azure Batch runner needs the azure extra: "
                              "pip install 'landcover-sdk[azure]'") from None
        credential: Any
        if az.batch_account_key is not None:
            if not az.batch_account_name:
                raise RunnerError("azure.batch_account_name is required with batch_account_key")
            credential = AzureNamedKeyCredential(az.batch_account_name, az.batch_account_key.get_secret_value())
        else:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        return BatchClient(az.batch_account_url, credential, **self.client_options)

    def _storage_for(self, url: str) -> AzureBlobStorage:
        if self._storage is not None:
            return self._storage
        store = get_storage(url)
        if not isinstance(store, AzureBlobStorage):
            raise RunnerError(f"{url}: Azure Batch jobs need az:// inputs and outputs (nodes cannot read this "
                              "machine's disk)")
        return store

    # ------------------------------------------------------------------ plan
    def plan(self, spec: JobSpec, *, job_id: str | None = None) -> BatchPlan:
        """Every request body of a submission, without network access."""
        spec = spec.resolved()
        for key, url in [*spec.input_urls(), ("outputs", spec.outputs)]:
            if is_spec(url):
                continue  # nodes fetch NAIP themselves (signing tokens never travel in the job)
            if StorageURL.parse(url).scheme != "az":
                raise RunnerError(f"{'inputs.' + key if key != 'outputs' else key}: {url}: Azure Batch jobs need "
                                  "az:// URLs (nodes cannot read this machine's disk)")
        self._check_resources(spec)
        self._identity()
        if not re.fullmatch(r"[A-Za-z0-9._/=+-]*", StorageURL.parse(spec.outputs).key):
            raise RunnerError(f"outputs: {spec.outputs}: on Azure Batch the outputs path may hold only letters, digits "
                              "and . _ / = + - (it becomes part of the nodes' command lines)")
        job_id = job_id or f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        pool_id = self.config.pool_id
        spec_url = str(StorageURL.parse(spec.outputs).join("_job", f"{job_id}.yaml"))
        tasks = [self._task_body(t, spec, spec_url, job_id) for t in plan_tasks(spec)]
        install = self.sdk_install(spec, spec_url)
        return BatchPlan(job_id, pool_id, spec_url,
                         BatchRequest("POST", "/pools", self._pool_body(spec)),
                         BatchRequest("POST", "/jobs", self._job_body(spec, job_id, install)),
                         [BatchRequest("POST", f"/jobs/{job_id}/tasks", body) for body in tasks],
                         install, self.pool_template(spec))

    def _check_resources(self, spec: JobSpec) -> None:
        """Refuse what today's Azure Batch cannot provision or run, before any request."""
        r = spec.resources
        check_vm_size(r.vm_size)
        mode = self.config.pool_allocation_mode
        if r.low_priority and mode != "user-subscription":
            raise RunnerError("resources.low_priority: Batch low-priority nodes were retired on 2025-09-30 and spot "
                              "nodes exist only in Batch accounts with user-subscription pool allocation; set "
                              "runner pool_allocation_mode: user-subscription if yours is one, else use dedicated "
                              "nodes")
        if _multi_instance(spec) and r.nodes > INTER_NODE_LIMIT[mode]:
            raise RunnerError(f"resources.nodes: {r.nodes} nodes for multi-node training; pools with inter-node "
                              f"communication hold at most {INTER_NODE_LIMIT[mode]} in {mode} accounts")

    def _account(self) -> str | None:
        if self._storage is not None:
            return self._storage.account
        return AzureBlobStorage(self.config.azure).account

    def _pool_body(self, spec: JobSpec) -> dict[str, Any]:
        r = spec.resources
        img = self.config.image
        vm: dict[str, Any] = {
            "imageReference": {"publisher": img.publisher, "offer": img.offer, "sku": img.sku,
                               "version": img.version},
            "nodeAgentSKUId": img.node_agent_sku_id,
        }
        if spec.container_image:
            vm["containerConfiguration"] = {"type": "dockerCompatible", "containerImageNames": [spec.container_image]}
        body: dict[str, Any] = {
            "id": self.config.pool_id,
            "vmSize": r.vm_size,
            "virtualMachineConfiguration": vm,
            "targetDedicatedNodes": 0 if r.low_priority else r.nodes,
            "targetLowPriorityNodes": r.nodes if r.low_priority else 0,
            "taskSlotsPerNode": 1,
            # only multi-instance training needs it, and it caps the pool's size and keeps nodes allocated
            "enableInterNodeCommunication": _multi_instance(spec),
        }
        # The SDK itself is installed per job (the job preparation task, see _job_body), so that a pool runs
        # whatever version submitted the job; the start task only runs the job file's own node set-up.
        if spec.setup_command:
            body["startTask"] = {
                "commandLine": f"/bin/bash -c {_q('set -euo pipefail; ' + spec.setup_command)}",
                "userIdentity": {"autoUser": {"scope": "pool", "elevationLevel": "admin"}},
                "waitForSuccess": True,
                "maxTaskRetryCount": 2,
            }
        return body

    def _identity(self) -> str:
        """The resource id of the nodes' identity; without one no plan is made."""
        if not self.config.node_identity_id:
            raise RunnerError("node_identity_id: not set. Batch nodes reach Blob storage through a user-assigned "
                              "managed identity on their pool (and its client id, node_identity_client_id); without "
                              "one every task fails on its first az:// read. See 'First real run' in "
                              "docs/storage-and-runners.md")
        return self.config.node_identity_id

    def pool_template(self, spec: JobSpec) -> dict[str, Any]:
        """The Azure Resource Manager body that creates the pool ``spec`` needs, with the nodes' identity.

        PUT it at ``https://management.azure.com/subscriptions/<sub>/resourceGroups/<group>/providers/
        Microsoft.Batch/batchAccounts/<account>/pools/<pool_id>?api-version=2025-06-01`` (``az rest``); built
        with the ``azure-mgmt-batch`` models, so every property is one ARM knows.

        Args:
            spec: the job the pool is for.
        """
        try:
            from azure.mgmt.batch import models as arm
        except ImportError:
            raise RunnerError("pool templates need the azure extra: pip install 'landcover-sdk[azure]'") from None
        body = self._pool_body(spec)
        vm = body["virtualMachineConfiguration"]
        image = vm["imageReference"]
        containers = None
        if "containerConfiguration" in vm:
            containers = arm.ContainerConfiguration(type="DockerCompatible",
                                                    container_image_names=vm["containerConfiguration"]
                                                    ["containerImageNames"])
        start = None
        if "startTask" in body:
            start = arm.StartTask(command_line=body["startTask"]["commandLine"], wait_for_success=True,
                                  max_task_retry_count=body["startTask"]["maxTaskRetryCount"],
                                  user_identity=arm.UserIdentity(auto_user=arm.AutoUserSpecification(
                                      scope="Pool", elevation_level="Admin")))
        pool = arm.Pool(
            identity=arm.BatchPoolIdentity(type="UserAssigned", user_assigned_identities={
                self._identity(): arm.UserAssignedIdentities()}),
            properties=arm.PoolProperties(
                vm_size=body["vmSize"],
                deployment_configuration=arm.DeploymentConfiguration(
                    virtual_machine_configuration=arm.VirtualMachineConfiguration(
                        image_reference=arm.ImageReference(publisher=image["publisher"], offer=image["offer"],
                                                           sku=image["sku"], version=image["version"]),
                        node_agent_sku_id=vm["nodeAgentSKUId"], container_configuration=containers)),
                scale_settings=arm.ScaleSettings(fixed_scale=arm.FixedScaleSettings(
                    target_dedicated_nodes=body["targetDedicatedNodes"],
                    target_low_priority_nodes=body["targetLowPriorityNodes"])),
                inter_node_communication="Enabled" if body["enableInterNodeCommunication"] else "Disabled",
                task_slots_per_node=body["taskSlotsPerNode"], start_task=start))
        template: dict[str, Any] = pool.as_dict()
        return template

    def sdk_install(self, spec: JobSpec, spec_url: str) -> dict[str, str]:
        """How the nodes get landcover-sdk for this job (what ``--dry-run`` shows as ``sdk_install``).

        Args:
            spec: the job.
            spec_url: where its job file is uploaded (the wheel goes beside it).
        """
        if spec.container_image:
            return {"method": "container image", "image": spec.container_image}
        if self.config.sdk_requirement:
            return {"method": "pip requirement", "requirement": self.config.sdk_requirement,
                    "venv": _venv_dir()}
        name = Path(self.config.sdk_wheel).name if self.config.sdk_wheel else _wheel_name()
        source = self.config.sdk_wheel or f"built at submit from the checkout {_checkout() or '(none found)'}"
        wheel_url = f"{spec_url.removesuffix('.yaml')}/{name}"  # beside the job file: <outputs>/_job/<job id>/
        return {"method": "wheel", "wheel": name, "source": source, "uploaded_to": wheel_url, "venv": _venv_dir()}

    def _prep_task(self, install: dict[str, str]) -> dict[str, Any] | None:
        """The job preparation task that installs the SDK (``install``: :meth:`sdk_install`) into a per-version
        venv on each node, once."""
        if install["method"] == "container image":
            return None
        venv = install["venv"]
        if install["method"] == "wheel":
            wheel = f"sdk/{StorageURL.parse(install['uploaded_to']).key}"
            # double quotes: no nested single quotes in a command line (how the node agent splits those is
            # undocumented); blob names of job files and wheels hold no characters special inside them
            steps = (f'"{venv}/bin/python" -m pip install --quiet "{wheel}[train,azure,stac]" && '
                     f'"{venv}/bin/python" -m pip install --quiet --force-reinstall --no-deps "{wheel}"')
            files = self._resource_files(install["uploaded_to"], "sdk")
        else:
            steps = f'"{venv}/bin/python" -m pip install --quiet {_q(install["requirement"])}'
            files = []
        # one venv per SDK version and node, shared by the node's jobs; flock keeps two jobs from building it at once
        script = (f'set -euo pipefail; mkdir -p "$(dirname "{venv}")"; exec 9>"{venv}.lock"; flock 9; '
                  f'[ -x "{venv}/bin/python" ] || python3 -m venv "{venv}"; {steps}')
        return {"id": "landcover-sdk-install", "commandLine": f"/bin/bash -c {_q(script)}", "resourceFiles": files,
                "constraints": {"maxWallClockTime": "PT1H", "maxTaskRetryCount": 2}, "waitForSuccess": True,
                "userIdentity": {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}},
                "rerunOnNodeRebootAfterSuccess": True}

    def _job_body(self, spec: JobSpec, job_id: str, install: dict[str, str]) -> dict[str, Any]:
        env = {"LANDCOVER_JOB_ID": job_id, **spec.env}
        account = self._account()
        if account:
            env["AZURE_STORAGE_ACCOUNT"] = account
        if self.config.node_identity_client_id:
            env["AZURE_CLIENT_ID"] = self.config.node_identity_client_id
        return {
            "id": job_id,
            "poolInfo": {"poolId": self.config.pool_id},
            # "noaction" until the last task is added (submit() then switches it to "terminatejob"): a
            # terminatejob job with no tasks yet counts as complete and takes no more tasks
            "onAllTasksComplete": "noaction",
            "constraints": {"maxWallClockTime": _duration(job_wall_clock_minutes(spec)),
                            "maxTaskRetryCount": spec.resources.max_task_retries},
            "commonEnvironmentSettings": [{"name": k, "value": v} for k, v in sorted(env.items())],
            "metadata": [{"name": "landcover-sdk", "value": __version__}, {"name": "kind", "value": spec.kind}],
            **({"jobPreparationTask": prep} if (prep := self._prep_task(install)) else {}),
        }

    def _resource_files(self, blob_url: str, folder: str = "job") -> list[dict[str, Any]]:
        """A blob as a resource file: it lands at ``<folder>/<its full blob name>`` (Batch keeps the blob's
        folders under ``filePath``)."""
        url = StorageURL.parse(blob_url)
        return [{"storageContainerUrl": f"{self._blob_endpoint()}/{url.bucket}", "blobPrefix": url.key,
                 "filePath": folder, "identityReference": {"resourceId": self._identity()}}]

    def _blob_endpoint(self) -> str:
        """The outputs account's Blob endpoint (sovereign clouds included), never a made-up host."""
        store = self._storage or AzureBlobStorage(self.config.azure)
        if not store.endpoint:
            raise RunnerError("azure.storage_account is not set: nodes need to know which storage account holds the "
                              "job's files")
        return store.endpoint

    def _output_files(self, spec: JobSpec, task_id: str) -> list[dict[str, Any]]:
        out = StorageURL.parse(spec.outputs)
        prefix = "/".join(p for p in (out.key.strip("/"), "_logs", task_id) if p)
        return [{"filePattern": "../std*.txt",
                 "destination": {"container": {
                     "containerUrl": f"{self._blob_endpoint()}/{out.bucket}",
                     "path": prefix, "identityReference": {"resourceId": self._identity()}}},
                 "uploadOptions": {"uploadCondition": "taskcompletion"}}]

    def _task_body(self, task: TaskPlan, spec: JobSpec, spec_url: str, job_id: str) -> dict[str, Any]:
        key = f"job/{StorageURL.parse(spec_url).key}"
        multi_node = task.nodes > 1  # one multi-instance task (multi-node training)
        # A multi-instance task's own resource files reach only the primary node; its common resource files
        # reach every node, in $AZ_BATCH_TASK_SHARED_DIR. Other tasks run in the directory they land in.
        spec_file = f'"$AZ_BATCH_TASK_SHARED_DIR"/{_q(key)}' if multi_node else _q(key)
        work = "$AZ_BATCH_TASK_WORKING_DIR/work"
        worker = " ".join(spec_file if a == _JOB_FILE else _q(a) for a in task.worker_args(_JOB_FILE))
        worker += f" --work-dir {work} --no-progress"
        python = "python3" if spec.container_image else f'"{_venv_dir()}/bin/python"'
        r = spec.resources
        body: dict[str, Any] = {
            "id": task.id,
            "displayName": f"{spec.kind} {task.index + 1}/{task.count} of {job_id}",
            "resourceFiles": [] if multi_node else self._resource_files(spec_url),
            "outputFiles": self._output_files(spec, task.id),
            "constraints": {"maxWallClockTime": _duration(r.timeout_minutes), "maxTaskRetryCount": r.max_task_retries},
            "userIdentity": {"autoUser": {"scope": "pool", "elevationLevel": "nonadmin"}},
        }
        if task.world_size > 1:
            port = self.config.master_port
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
                                                 "commonResourceFiles": self._resource_files(spec_url)}
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

    # ------------------------------------------------------------------ submit / wait
    def submit(self, spec: JobSpec, *, job_id: str | None = None) -> BatchPlan:
        """Check inputs and the pool, upload the job file and the SDK, create the job and its tasks."""
        plan = self.plan(spec, job_id=job_id)
        if self.dry_run:
            return plan
        resolved = spec.resolved()
        check_inputs(resolved)  # before anything is uploaded or created
        self._require_pool(plan)
        self._storage_for(plan.spec_url).write_bytes(plan.spec_url, resolved.to_yaml().encode("utf-8"))
        if plan.sdk_install.get("method") == "wheel":
            import tempfile

            with tempfile.TemporaryDirectory(prefix="lc-wheel-") as tmp:
                wheel = build_wheel(Path(tmp), self.config.sdk_wheel)
                target = plan.sdk_install["uploaded_to"]
                self._storage_for(target).upload(wheel, target)
                log.info("uploaded %s for the nodes to %s", wheel.name, target)
        from azure.batch import models

        self._record(plan.job_id, {"pool_id": plan.pool_id, "outputs": resolved.outputs,
                                   "tasks": [t.body["id"] for t in plan.tasks],
                                   "wall_clock_minutes": job_wall_clock_minutes(resolved)})
        job = sdk_model(models.BatchJobCreateOptions, plan.job.body)
        self._call("create job", lambda: self.client.create_job(job))
        for req in plan.tasks:
            options = sdk_model(models.BatchTaskCreateOptions, req.body)
            self._call(f"create task {req.body['id']}", partial(self.client.create_task, plan.job_id, options))
        # only now may the job end when its tasks have (see _job_body)
        update = models.BatchJobUpdateOptions(all_tasks_complete_mode="terminatejob")
        self._call("update job", lambda: self.client.update_job(plan.job_id, update))
        log.info("submitted job %s: %d task(s) on pool %s", plan.job_id, len(plan.tasks), plan.pool_id)
        return plan

    def check_pool(self, spec: JobSpec) -> None:
        """Check that the pool the job needs exists, fits it and carries the nodes' identity; wait until steady.

        Args:
            spec: the job.
        """
        plan = self.plan(spec)
        if not self.dry_run:
            self._require_pool(plan)

    def _require_pool(self, plan: BatchPlan) -> None:
        pool_id = plan.pool_id
        if not self._pool_exists(pool_id):
            raise RunnerError(f"pool {pool_id} does not exist. A pool whose nodes can reach storage carries a managed "
                              "identity, which only Azure Resource Manager can attach: create it from `landcover "
                              "azure pool-template JOB --runner-config CONFIG` with `az rest --method put` (see "
                              "'First real run' in docs/storage-and-runners.md)")
        pool = self._call("get pool", lambda: self.client.get_pool(pool_id))
        self._check_reuse(pool_id, pool, plan)
        want = self._identity().lower()
        attached = [str(getattr(i, "resource_id", "")).lower()
                    for i in (getattr(getattr(pool, "identity", None), "user_assigned_identities", None) or [])]
        if want not in attached:
            raise RunnerError(f"pool {pool_id} does not carry the identity node_identity_id names "
                              f"({self.config.node_identity_id}); its nodes could not reach storage")
        log.info("using pool %s", pool_id)
        self._wait_pool(pool_id)

    @staticmethod
    def _check_reuse(pool_id: str, pool: Any, plan: BatchPlan) -> None:
        """Refuse an existing pool the job's tasks cannot run on (Batch would leave them active for ever)."""
        want = plan.pool.body
        problems = []
        if str(pool.vm_size).lower() != str(want["vmSize"]).lower():
            problems.append(f"VM size {pool.vm_size}, the job asks for {want['vmSize']}")
        multi = [t.body["multiInstanceSettings"]["numberOfInstances"] for t in plan.tasks
                 if "multiInstanceSettings" in t.body]
        if multi:
            if not pool.enable_inter_node_communication:
                problems.append("no inter-node communication, which multi-node training needs")
            if (pool.task_slots_per_node or 1) > 1:
                problems.append(f"{pool.task_slots_per_node} task slots per node (multi-instance tasks need 1)")
            size = (pool.target_dedicated_nodes or 0) + (pool.target_low_priority_nodes or 0)
            if size < max(multi):
                problems.append(f"{size} node(s) for a task on {max(multi)}")
        vm = getattr(pool, "virtual_machine_configuration", None)
        has_containers = getattr(vm, "container_configuration", None) is not None
        wants_containers = "containerConfiguration" in want["virtualMachineConfiguration"]
        if has_containers != wants_containers:
            problems.append("container configuration " + ("set; the job runs without containers" if has_containers
                                                          else "missing; the job runs in a container"))
        if problems:
            raise RunnerError(f"pool {pool_id} exists with " + "; ".join(problems) +
                              "; choose another pool_id or tear the pool down")

    def _pool_exists(self, pool_id: str) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            # azure-batch 15.1's error policy raises on the 404 that pool_exists() documents as False
            return bool(self._call("check pool", lambda: self.client.pool_exists(pool_id),
                                   passthrough=(ResourceNotFoundError,)))
        except ResourceNotFoundError:
            return False

    def _wait_pool(self, pool_id: str) -> None:
        deadline = time.monotonic() + 3600
        while True:
            pool = self._call("get pool", lambda: self.client.get_pool(pool_id))
            errors = list(getattr(pool, "resize_errors", None) or [])
            if errors:
                msgs = "; ".join(f"{e.code}: {e.message}" for e in errors)
                raise RunnerError(f"pool {pool_id} failed to allocate nodes: {msgs}")
            if _value(pool.allocation_state) == "steady":
                nodes = (pool.current_dedicated_nodes or 0) + (pool.current_low_priority_nodes or 0)
                if nodes == 0:
                    raise RunnerError(f"pool {pool_id} is steady with 0 nodes (quota or pre-emption)")
                self._check_nodes(pool_id)
                return
            if time.monotonic() > deadline:
                raise RunnerError(f"pool {pool_id} still resizing after an hour")
            log.info("pool %s: %s", pool_id, pool.allocation_state)
            time.sleep(self.config.poll_seconds)

    def _check_nodes(self, pool_id: str) -> None:
        """Fail when every node of the pool is unusable (a failed start task), with the start task's stderr."""
        nodes = self._call("list nodes", lambda: list(self.client.list_nodes(pool_id)))
        bad = [n for n in nodes if _value(n.state) in ("starttaskfailed", "unusable")]
        if not nodes or len(bad) < len(nodes):
            return
        node = bad[0]
        info = getattr(node, "start_task_info", None)
        failure = getattr(info, "failure_info", None)
        detail = f"{failure.code}: {failure.message}" if failure is not None else _value(node.state)
        try:
            stderr = b"".join(self.client.download_node_file(pool_id, node.id, "startup/stderr.txt"))
            tail = " | ".join(stderr.decode("utf-8", "replace").strip().splitlines()[-5:])
        except Exception:
            tail = ""
        raise RunnerError(redact(f"pool {pool_id}: all {len(nodes)} node(s) are {_value(node.state)} (start task "
                                 f"failed: {detail}" + (f"; stderr: {tail}" if tail else "") + "); no task can run"))

    def wait(self, job_id: str, *, timeout_s: float | None = None, progress: bool = True,
             stream_logs: bool = True) -> JobResult:
        """Poll the job's tasks until all complete; returns states, exit codes, failures and outputs.

        With ``stream_logs`` the new lines of each running task's ``stdout.txt`` are logged as they
        appear (ranged downloads), prefixed with ``[task id]``. Fails fast, saying why, when the job ends
        with tasks that never ran (its wall clock ran out, it was terminated), when every node of the pool
        failed its start task, or after ``timeout_s``.

        Args:
            job_id: the job.
            timeout_s: give up after this many seconds (default: the job's own wall-clock limit).
            progress: show a progress bar on a terminal.
            stream_logs: log the tasks' new stdout lines as they appear.
        """
        t0 = time.perf_counter()
        state = self._load(job_id)
        task_ids: list[str] = state.get("tasks") or [t.id for t in self.client.list_tasks(job_id)]
        if timeout_s is None and state.get("wall_clock_minutes"):
            timeout_s = float(state["wall_clock_minutes"]) * 60 + 600
        done: dict[str, Any] = {}
        offsets: dict[str, int] = {}
        with progress_bar(len(task_ids), enabled=progress, desc=f"job {job_id}", unit="task") as bar:
            while len(done) < len(task_ids):
                for tid in task_ids:
                    if tid in done:
                        continue
                    task = self._call(f"get task {tid}", partial(self.client.get_task, job_id, tid))
                    running = _value(task.state)
                    if stream_logs and running in ("running", "completed"):
                        self._stream(job_id, tid, offsets)
                    if running == TERMINAL_TASK_STATE:
                        done[tid] = task
                        bar.update(1)
                        log.info("task %s completed (exit code %s)", tid, _exit_code(task))
                if len(done) < len(task_ids):
                    self._check_job(job_id, [t for t in task_ids if t not in done])
                    if timeout_s is not None and time.perf_counter() - t0 > timeout_s:
                        raise RunnerError(f"job {job_id}: tasks still running after {timeout_s:.0f} s")
                    time.sleep(self.config.poll_seconds)
        results = [self._task_result(job_id, done[tid]) for tid in task_ids]
        ok = all(r.state == "succeeded" for r in results)
        outputs: list[str] = []
        if ok and state.get("outputs"):
            try:
                out = str(state["outputs"])
                outputs = [u for u in self._storage_for(out).list(out.rstrip("/") + "/") if "/_job/" not in u]
            except LandcoverError as exc:
                log.warning("could not list outputs: %s", exc)
        result = JobResult(job_id, "succeeded" if ok else "failed", results, outputs, time.perf_counter() - t0,
                           self.name)
        self._record(job_id, {**state, "result": result.to_dict()})
        return result

    def _check_job(self, job_id: str, waiting: list[str]) -> None:
        """Fail fast when the job ended (its active tasks will never run) or its pool cannot run anything."""
        job = self._call("get job", lambda: self.client.get_job(job_id))
        if _value(job.state) in ("completed", "terminating", "disabled", "deleting"):
            reason = getattr(getattr(job, "execution_info", None), "termination_reason", None) or _value(job.state)
            raise RunnerError(f"job {job_id} ended ({reason}) with task(s) {', '.join(waiting)} not complete; "
                              "Batch will not run them")
        pool_id = getattr(getattr(job, "pool_info", None), "pool_id", None) or self.config.pool_id
        self._check_nodes(pool_id)

    def describe(self, spec: JobSpec, *, job_id: str | None = None) -> dict[str, Any]:
        """The Batch REST request bodies :meth:`run` would send (:meth:`plan`), as JSON-ready data."""
        return self.plan(spec, job_id=job_id).to_dict()

    def run(self, spec: JobSpec, *, job_id: str | None = None, progress: bool = True,
            teardown: bool | None = None) -> JobResult:
        """:meth:`submit` then :meth:`wait`; with ``teardown`` delete what was created afterwards.

        Args:
            spec: the job.
            job_id: the Batch job id (default: the job's name and a timestamp).
            progress: show a progress bar on a terminal.
            teardown: delete the job (and a pool it created) afterwards; default: as constructed.
        """
        teardown = self.teardown_after if teardown is None else teardown
        plan = self.submit(spec, job_id=job_id)
        try:
            return self.wait(plan.job_id, progress=progress)
        finally:
            if teardown:
                self.teardown(plan.job_id)

    def _stream(self, job_id: str, task_id: str, offsets: dict[str, int]) -> None:
        """Log the lines a task added to its stdout since the last call."""
        from azure.core.exceptions import AzureError

        start = offsets.get(task_id, 0)
        try:
            data = b"".join(self.client.download_task_file(job_id, task_id, "stdout.txt",
                                                           ocp_range=f"bytes={start}-"))
        except AzureError:  # not created yet, or a range past the end: try again at the next poll
            return
        end = data.rfind(b"\n") + 1  # only whole lines; the rest comes with the next poll
        if end <= 0:
            return
        offsets[task_id] = start + end
        for line in data[:end].decode("utf-8", "replace").splitlines():
            task_log.info("[%s] %s", task_id, redact(line))

    def _task_result(self, job_id: str, task: Any) -> TaskResult:
        info = task.execution_info
        code = _exit_code(task)
        failure = getattr(info, "failure_info", None) if info is not None else None
        succeeded = code == 0 and failure is None
        error = None
        if not succeeded:
            parts = []
            if failure is not None:
                parts.append(f"{failure.code}: {failure.message}")
            tail = self._tail(job_id, task.id, "stderr.txt")
            if tail:
                parts.append(f"stderr: {tail}")
            node = getattr(getattr(task, "node_info", None), "node_id", None)
            if node:
                parts.append(f"node {node}")
            error = redact("; ".join(parts) or "failed")
        return TaskResult(task.id, code, "succeeded" if succeeded else "failed", error)

    def _tail(self, job_id: str, task_id: str, name: str, lines: int = 5) -> str:
        try:
            text = self.logs(job_id, task_id, name)
        except LandcoverError:
            return ""
        return " | ".join(text.strip().splitlines()[-lines:])

    # ------------------------------------------------------------------ inspection / teardown
    def status(self, job_id: str) -> dict[str, Any]:
        """The job's state and each task's state and exit code."""
        job = self._call("get job", lambda: self.client.get_job(job_id))
        tasks = {t.id: {"state": _value(t.state), "exit_code": _exit_code(t)}
                 for t in self._call("list tasks", lambda: list(self.client.list_tasks(job_id)))}
        return {"job_id": job_id, "state": _value(job.state), "tasks": tasks}

    def logs(self, job_id: str, task_id: str, name: str = "stdout.txt") -> str:
        """A task's ``stdout.txt`` / ``stderr.txt`` (secrets masked).

        Args:
            job_id: the job.
            task_id: the task.
            name: ``stdout.txt`` or ``stderr.txt``.
        """
        chunks = self._call(f"download {name} of {task_id}",
                            lambda: b"".join(self.client.download_task_file(job_id, task_id, name)))
        return redact(chunks.decode("utf-8", "replace"))

    def teardown(self, job_id: str | None = None, *, delete_pool: bool | None = None) -> list[str]:
        """Delete the job and, with ``delete_pool``, the pool (which Resource Manager created, not the runner).

        Idempotent.

        Args:
            job_id: the job (``None``: only the pool, with ``delete_pool``).
            delete_pool: also delete the pool ``pool_id``.
        """
        from azure.core.exceptions import ResourceNotFoundError

        state = self._load(job_id) if job_id else {}
        removed = []
        poll = round(self.config.poll_seconds)
        if job_id:
            try:
                self._call("delete job", lambda: self.client.begin_delete_job(job_id, polling_interval=poll).result(),
                           passthrough=(ResourceNotFoundError,))
                removed.append(f"job {job_id}")
            except ResourceNotFoundError:
                log.info("job %s already gone", job_id)
        pool_id = str(state.get("pool_id") or self.config.pool_id)
        if delete_pool:
            try:
                self._call("delete pool",
                           lambda: self.client.begin_delete_pool(pool_id, polling_interval=poll).result(),
                           passthrough=(ResourceNotFoundError,))
                removed.append(f"pool {pool_id}")
            except ResourceNotFoundError:
                log.info("pool %s already gone", pool_id)
        if job_id:
            self._record(job_id, {**state, "torn_down": True})
        return removed

    # ------------------------------------------------------------------ helpers
    def _call(self, what: str, fn: Callable[[], Any], passthrough: Iterable[type[BaseException]] = ()) -> Any:
        from azure.core.exceptions import AzureError, HttpResponseError

        keep = tuple(passthrough)
        try:
            return fn()
        except keep:
            raise
        except HttpResponseError as exc:
            code = getattr(exc, "error", None)
            detail = getattr(code, "code", None) or getattr(exc, "reason", "") or ""
            message = getattr(code, "message", None) or str(exc).splitlines()[0]
            text = f"Azure Batch: {what} failed: HTTP {exc.status_code} {detail}: {message}"
            # no chained cause: only the redacted text may leave (Azure errors can echo credentials)
            raise RunnerError(redact(text)) from None
        except AzureError as exc:
            raise RunnerError(redact(f"Azure Batch: {what} failed: {type(exc).__name__}: {exc}")) from None

    def _state_path(self, job_id: str) -> Path:
        return self.state_dir / f"{job_id}.json"

    def _record(self, job_id: str, data: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self._state_path(job_id), json.dumps(data, indent=2, default=str))

    def _load(self, job_id: str | None) -> dict[str, Any]:
        """What this machine recorded about a job (empty when it was submitted elsewhere)."""
        path = self._state_path(job_id) if job_id else None
        if path is None or not path.exists():
            return {}
        data: dict[str, Any] = json.loads(path.read_text())
        return data


def _value(state: Any) -> str:
    """An SDK enum member or its string as the REST value (``"starttaskfailed"``)."""
    return str(getattr(state, "value", state))


def sdk_model(cls: Any, body: dict[str, Any]) -> Any:
    """``cls`` built with keyword arguments from a REST-shaped ``body``, nested models included.

    The generated models accept any key when given a mapping; keyword construction refuses an unknown
    property (a typo would otherwise reach the service, or be dropped). Raises :class:`RunnerError`.

    Args:
        cls: an ``azure.batch.models`` class.
        body: the REST JSON of one.
    """
    import typing

    from azure.batch import models
    from azure.batch._utils.model_base import Model

    if "_attr_to_rest_field" not in cls.__dict__:
        cls({})  # the generated base class builds its field map on first use
    namespace = {**vars(models._models), "_models": models}
    hints = typing.get_type_hints(cls, globalns=namespace, localns=namespace)
    fields = {rf._rest_name: attr for attr, rf in cls._attr_to_rest_field.items()}

    def convert(value: Any, hint: Any) -> Any:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_origin(hint) is typing.Union and len(args) == 1:
            hint = args[0]
        if typing.get_origin(hint) is list and isinstance(value, list):
            return [convert(v, typing.get_args(hint)[0]) for v in value]
        if isinstance(hint, type) and issubclass(hint, Model) and isinstance(value, dict):
            return sdk_model(hint, value)
        return value

    kwargs = {}
    for key, value in body.items():
        if key not in fields:
            raise RunnerError(f"{cls.__name__}: {key!r} is not a Batch REST property")
        kwargs[fields[key]] = convert(value, hints.get(fields[key]))
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise RunnerError(f"{cls.__name__}: {exc}") from None


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


def _exit_code(task: Any) -> int | None:
    info = getattr(task, "execution_info", None)
    return None if info is None else info.exit_code

