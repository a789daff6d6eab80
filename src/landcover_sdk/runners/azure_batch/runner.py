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
import re
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

from ..._atomic import atomic_write_text
from ..._util import progress_bar
from ...config.models import AzureBatchRunnerConfig, AzureCredentials, RunnerConfig
from ...errors import LandcoverError, RunnerError
from ...imagery.source import is_spec
from ...storage import StorageURL, get_storage, redact
from ...storage.azure_blob import AzureBlobStorage
from ..plan import JobResult, TaskResult, check_inputs, plan_tasks
from ..sdk_install import build_wheel, sdk_install
from ..spec import JobSpec
from .arm import pool_template
from .client import _exit_code, _value, call, make_client, sdk_model
from .plan import (
    BatchPlan,
    BatchRequest,
    Endpoints,
    check_resources,
    job_body,
    job_wall_clock_minutes,
    pool_body,
    task_body,
)

log = logging.getLogger(__name__)
task_log = logging.getLogger("landcover_sdk.runners.task")

TERMINAL_TASK_STATE = "completed"


class BatchAIRunner:
    """Run jobs on an Azure Batch pool; ``dry_run=True`` returns the request bodies without network access.

    ``client`` may be an existing ``azure.batch.BatchClient``; otherwise one is built from
    ``config.azure`` (``batch_account_url`` + ``batch_account_name`` + ``batch_account_key``
    for shared key, or ``DefaultAzureCredential``). ``client_options`` go to ``BatchClient``
    (azure-core pipeline options such as ``retry_total`` or ``retry_backoff_factor``).

    Args:
        config: pool, image, accounts (an :class:`AzureBatchRunnerConfig`, or a ``RunnerConfig`` of kind
            ``azure-batch``; default: the defaults);
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
        cfg = config or AzureBatchRunnerConfig()
        self.config = cfg.model_copy(update={"azure": cfg.azure.overlay(AzureCredentials.from_env())})
        self.dry_run = dry_run
        self.teardown_after = teardown
        self._client = client
        self._storage = storage
        self.client_options = client_options
        self.state_dir = Path(self.config.work_dir) / "azure-batch"

    @classmethod
    def build(cls, config: AzureBatchRunnerConfig, *, dry_run: bool = False, teardown: bool = False) -> BatchAIRunner:
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
        return make_client(self.config.azure, **self.client_options)

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
        check_resources(spec, self.config)
        self._identity()
        if not re.fullmatch(r"[A-Za-z0-9._/=+-]*", StorageURL.parse(spec.outputs).key):
            raise RunnerError(f"outputs: {spec.outputs}: on Azure Batch the outputs path may hold only letters, digits "
                              "and . _ / = + - (it becomes part of the nodes' command lines)")
        job_id = job_id or f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        pool_id = self.config.pool_id
        spec_url = str(StorageURL.parse(spec.outputs).join("_job", f"{job_id}.yaml"))
        ends = Endpoints(self._blob_endpoint(), self._identity(), self._account())
        tasks = [task_body(t, spec, self.config, spec_url, job_id, ends) for t in plan_tasks(spec)]
        install = self.sdk_install(spec, spec_url)
        return BatchPlan(job_id, pool_id, spec_url,
                         BatchRequest("POST", "/pools", pool_body(spec, self.config)),
                         BatchRequest("POST", "/jobs", job_body(spec, self.config, job_id, install, ends)),
                         [BatchRequest("POST", f"/jobs/{job_id}/tasks", body) for body in tasks],
                         install, self.pool_template(spec))

    def _account(self) -> str | None:
        if self._storage is not None:
            return self._storage.account
        return AzureBlobStorage(self.config.azure).account

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
        return pool_template(spec, self.config, self._identity())

    def sdk_install(self, spec: JobSpec, spec_url: str) -> dict[str, str]:
        """How the nodes get landcover-sdk for this job (what ``--dry-run`` shows as ``sdk_install``).

        Args:
            spec: the job.
            spec_url: where its job file is uploaded (the wheel goes beside it).
        """
        return sdk_install(spec, self.config, spec_url)

    def _blob_endpoint(self) -> str:
        """The outputs account's Blob endpoint (sovereign clouds included), never a made-up host."""
        store = self._storage or AzureBlobStorage(self.config.azure)
        if not store.endpoint:
            raise RunnerError("azure.storage_account is not set: nodes need to know which storage account holds the "
                              "job's files")
        return store.endpoint

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
        return call(what, fn, passthrough)

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
