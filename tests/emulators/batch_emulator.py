"""A local stand-in for the Azure Batch REST service, for testing the real ``BatchClient``.

It listens on 127.0.0.1 and is at least as strict as the service: every request's api-version and SharedKey
signature (the HMAC recomputed with the account key), every POST/PATCH body against the pinned azure-batch
models (``batch_schema``), ids, durations and resource-file sources. It behaves as the service documents where
the runner can go wrong: a job may name a pool that does not exist yet (its tasks wait), a multi-instance task
the pool cannot run is accepted and stays active, a job created with ``terminatejob`` and no tasks completes
at once and then refuses tasks, a job whose ``maxWallClockTime`` runs out completes with its active tasks left
active, nodes whose start task fails become ``starttaskfailed`` (with the start task's stderr on the node) and
run nothing. Pools resize, tasks go active → running → completed, given tasks fail, given calls answer 503;
every call is recorded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from .batch_schema import validate, validate_arm_pool

API_VERSION = "2025-06-01"
ACCOUNT = "lcbatch"
KEY = "c2VjcmV0LWJhdGNoLWtleS1mb3ItdGVzdHMtb25seQ=="

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DURATION_RE = re.compile(r"^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$")


@dataclass
class Call:
    """One request the emulator received."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int = 0


@dataclass
class BatchEmulator:
    """State and behaviour of the emulated account."""

    resize_polls: int = 2  # GETs a new pool answers "resizing" before "steady"
    task_polls: int = 2  # GETs per task before it completes (active, running, completed)
    failing_tasks: dict[str, str] = field(default_factory=dict)  # task id -> stderr text
    start_task_failure: str | None = None  # stderr of a start task that fails on every node
    clock: Any = time.monotonic  # the service's clock (tests may move it on)
    fail_with_503: dict[tuple[str, str], int] = field(default_factory=dict)  # (method, path) -> times
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    _range: str | None = None
    _last_body: dict[str, Any] | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> BatchEmulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                emulator.handle(self)

            do_GET = do_POST = do_DELETE = do_HEAD = do_PUT = do_PATCH = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def sequence(self) -> list[str]:
        """``METHOD path`` of every call, in order."""
        return [f"{c.method} {c.path}" for c in self.calls]

    # ------------------------------------------------------------------ request handling
    def handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlparse(h.path)
        query = parse_qs(url.query)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        problems: list[str] = []
        if raw:
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                problems.append(f"{h.command} {url.path}: body is not JSON")
        call = Call(h.command, url.path, query, body)
        with self.lock:
            self.calls.append(call)
            problems += self._check_envelope(h, url.path, query, raw)
            key = (h.command, url.path)
            if self.fail_with_503.get(key, 0) > 0:
                self.fail_with_503[key] -= 1
                self._reply(h, call, 503, {"code": "ServerBusy", "message": {"lang": "en-US",
                                                                              "value": "The server is busy."}},
                            headers={"Retry-After": "0"})
                return
            if problems:
                self.violations += problems
                auth = any("SharedKey" in p for p in problems)
                self._reply(h, call, 403 if auth else 400,
                            _error("AuthenticationFailed" if auth else "InvalidRequest", "; ".join(problems)))
                return
            schema = validate(h.command, url.path, body) if h.command in ("POST", "PATCH") else []
            if schema:
                self.violations += schema
                self._reply(h, call, 400, _error("InvalidRequestBody", "; ".join(schema)))
                return
            self._range = h.headers.get("ocp-range")
            self._last_body = body if isinstance(body, dict) else None
            status, payload = self._route(h.command, url.path, body)
        self._reply(h, call, status, payload)

    def _check_envelope(self, h: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]],
                        raw: bytes) -> list[str]:
        out = []
        if query.get("api-version") != [API_VERSION]:
            out.append(f"{h.command} {path}: api-version {query.get('api-version')} != {API_VERSION}")
        auth = h.headers.get("Authorization", "")
        if not any(hmac.compare_digest(auth, f"SharedKey {ACCOUNT}:{sig}") for sig in _signatures(h, path, query)):
            out.append(f"{h.command} {path}: SharedKey signature does not verify (missing, wrong key or "
                       "canonicalisation)")
        if KEY in auth or KEY.encode() in raw:
            out.append(f"{h.command} {path}: the account key itself was sent")
        if not h.headers.get("ocp-date"):
            out.append(f"{h.command} {path}: no ocp-date header (needed for SharedKey)")
        if h.command in ("POST", "PUT", "PATCH") and raw:
            ctype = h.headers.get("Content-Type", "")
            if not ctype.startswith("application/json"):
                out.append(f"{h.command} {path}: content type {ctype!r}")
        return out

    def _reply(self, h: BaseHTTPRequestHandler, call: Call, status: int, payload: Any,
               headers: dict[str, str] | None = None) -> None:
        call.status = status
        data = b"" if payload is None or h.command == "HEAD" else (
            payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        h.send_response(status)
        h.send_header("request-id", f"req-{len(self.calls)}")
        h.send_header("Date", formatdate(usegmt=True))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if status in (200, 201, 202) and h.command in ("POST", "DELETE"):
            h.send_header("ETag", '"0x8D"')
            h.send_header("Last-Modified", formatdate(usegmt=True))
            h.send_header("DataServiceId", f"{self.endpoint}{call.path}")
        if isinstance(payload, bytes):
            h.send_header("Content-Type", "application/octet-stream")
        elif data:
            h.send_header("Content-Type", "application/json;odata=minimalmetadata")
        h.send_header("Content-Length", str(len(data) if h.command != "HEAD" else 0))
        h.end_headers()
        if data and h.command != "HEAD":
            h.wfile.write(data)

    # ------------------------------------------------------------------ routes
    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = [q for p in path.split("/") if p for q in unquote(p).split("/")]  # file paths come %2F-encoded
        if parts == ["pools"] and method == "POST":
            return self._create_pool(body)
        if len(parts) == 2 and parts[0] == "pools":
            return self._pool(method, parts[1])
        if len(parts) == 3 and parts[0] == "pools" and parts[2] == "nodes" and method == "GET":
            return self._nodes(parts[1])
        if len(parts) >= 6 and parts[0] == "pools" and parts[2] == "nodes" and parts[4] == "files":
            node = next((n for n in self._node_list(parts[1]) if n["id"] == parts[3]), None)
            name = "/".join(parts[5:])
            if node is None or name not in node["_files"]:
                return 404, _error("FileNotFound" if node else "NodeNotFound", f"{name} not found")
            return 200, node["_files"][name].encode()
        if parts == ["jobs"] and method == "POST":
            return self._create_job(body)
        if len(parts) == 2 and parts[0] == "jobs":
            return self._job(method, parts[1])
        if len(parts) == 3 and parts[0] == "jobs" and parts[2] == "tasks":
            if method == "POST":
                return self._create_task(parts[1], body)
            if method == "GET":
                if parts[1] not in self.jobs:
                    return 404, _error("JobNotFound", "The specified job does not exist.")
                return 200, {"value": [self._task_view(t) for t in self.tasks[parts[1]].values()]}
        if len(parts) == 4 and parts[0] == "jobs" and parts[2] == "tasks" and method == "GET":
            return self._get_task(parts[1], parts[3])
        if len(parts) >= 6 and parts[0] == "jobs" and parts[2] == "tasks" and parts[4] == "files":
            task = self.tasks.get(parts[1], {}).get(parts[3])
            if task is None:
                return 404, _error("TaskNotFound", "The specified task does not exist.")
            name = "/".join(parts[5:])
            files = task["files"]
            if name not in files:
                return 404, _error("FileNotFound", f"{name} not found")
            data = files[name].encode()
            rng = re.fullmatch(r"bytes=(\d+)-(\d*)", self._range or "")
            if rng:
                start = int(rng.group(1))
                stop = int(rng.group(2)) + 1 if rng.group(2) else len(data)
                if start > len(data):
                    return 416, _error("InvalidRange", "The range specified is invalid for the current size.")
                return 200, data[start:stop]  # Batch answers a ranged file read with 200, not 206
            return 200, data
        return 400, _error("InvalidUri", f"{method} {path} is not a Batch operation the emulator knows")

    def _create_pool(self, body: dict[str, Any]) -> tuple[int, Any]:
        bad = []
        if not ID_RE.match(str(body.get("id", ""))):
            bad.append("pool.id: missing or invalid")
        nodes = int(body.get("targetDedicatedNodes", 0)) + int(body.get("targetLowPriorityNodes", 0))
        if nodes < 1:
            bad.append("pool: target nodes must be >= 1")
        start = body.get("startTask") or {}
        if start and not start.get("commandLine"):
            bad.append("pool.startTask.commandLine: required")
        if bad:
            self.violations += bad
            return 400, _error("InvalidPropertyValue", "; ".join(bad))
        if body["id"].lower() in {p.lower() for p in self.pools}:  # ids are unique case-insensitively
            return 409, _error("PoolExists", "The specified pool already exists.")
        self.pools[body["id"]] = {**body, "_polls": 0, "state": "active", "allocationState": "resizing"}
        return 201, None

    def add_pool_from_arm(self, pool_id: str, body: dict[str, Any]) -> None:
        """Create a pool as Azure Resource Manager does from ``body`` (validated against azure-mgmt-batch's
        models), identity included; through the Batch API it then looks like any other pool."""
        errors = validate_arm_pool(body)
        if errors:
            raise ValueError("; ".join(errors))
        props = body["properties"]
        vm = props["deploymentConfiguration"]["virtualMachineConfiguration"]
        scale = props.get("scaleSettings", {}).get("fixedScale", {})
        pool: dict[str, Any] = {
            "id": pool_id, "vmSize": props["vmSize"],
            "virtualMachineConfiguration": {
                "imageReference": vm["imageReference"], "nodeAgentSKUId": vm["nodeAgentSkuId"],
                **({"containerConfiguration": {"type": "dockerCompatible",
                                               "containerImageNames": vm["containerConfiguration"].get(
                                                   "containerImageNames", [])}}
                   if "containerConfiguration" in vm else {})},
            "targetDedicatedNodes": scale.get("targetDedicatedNodes", 0),
            "targetLowPriorityNodes": scale.get("targetLowPriorityNodes", 0),
            "enableInterNodeCommunication": props.get("interNodeCommunication") == "Enabled",
            "taskSlotsPerNode": props.get("taskSlotsPerNode", 1),
            "identity": {"type": "UserAssigned", "userAssignedIdentities": [
                {"resourceId": rid, "clientId": f"client-{i}", "principalId": f"principal-{i}"}
                for i, rid in enumerate(body.get("identity", {}).get("userAssignedIdentities", {}))]},
            "_polls": 0, "state": "active", "allocationState": "resizing",
        }
        if "startTask" in props:
            st = props["startTask"]
            pool["startTask"] = {"commandLine": st["commandLine"], "waitForSuccess": st.get("waitForSuccess", True)}
        with self.lock:
            self.pools[pool_id] = pool

    def _node_list(self, pool_id: str) -> list[dict[str, Any]]:
        """The pool's nodes once it is steady; every node's start task fails with ``start_task_failure``."""
        pool = self.pools.get(pool_id)
        if pool is None or pool["allocationState"] != "steady":
            return []
        if "_nodes" not in pool:
            count = int(pool.get("targetDedicatedNodes", 0)) + int(pool.get("targetLowPriorityNodes", 0))
            failing = self.start_task_failure is not None and bool(pool.get("startTask"))
            pool["_nodes"] = [{
                "id": f"tvmps_{i:04d}", "state": "starttaskfailed" if failing else "idle",
                "startTaskInfo": {"state": "completed", "exitCode": 1 if failing else 0, "retryCount": 2,
                                  "result": "failure" if failing else "success",
                                  **({"failureInfo": {"category": "usererror", "code": "FailureExitCode",
                                                      "message": "The start task exited with a non-zero code"}}
                                     if failing else {})},
                "_files": {"startup/stderr.txt": self.start_task_failure if failing else "",
                           "startup/stdout.txt": ""},
            } for i in range(count)]
        nodes: list[dict[str, Any]] = pool["_nodes"]
        return nodes

    def _nodes(self, pool_id: str) -> tuple[int, Any]:
        if pool_id not in self.pools:
            return 404, _error("PoolNotFound", "The specified pool does not exist.")
        return 200, {"value": [{k: v for k, v in n.items() if not k.startswith("_")} for n in self._node_list(pool_id)]}

    def _usable_nodes(self, pool_id: str) -> int:
        return sum(n["state"] not in ("starttaskfailed", "unusable") for n in self._node_list(pool_id))

    def _pool(self, method: str, pool_id: str) -> tuple[int, Any]:
        pool = self.pools.get(pool_id)
        if pool is None:
            return 404, _error("PoolNotFound", "The specified pool does not exist.")
        if method == "HEAD":
            return 200, None
        if method == "DELETE":
            pool["state"] = "deleting"
            return 202, None
        if method != "GET":
            return 400, _error("InvalidUri", f"{method} pool")
        if pool["state"] == "deleting":
            del self.pools[pool_id]
            return 404, _error("PoolNotFound", "The specified pool does not exist.")
        pool["_polls"] += 1
        steady = pool["_polls"] > self.resize_polls
        pool["allocationState"] = "steady" if steady else "resizing"
        view = {k: v for k, v in pool.items() if not k.startswith("_")}
        view["currentDedicatedNodes"] = pool.get("targetDedicatedNodes", 0) if steady else 0
        view["currentLowPriorityNodes"] = pool.get("targetLowPriorityNodes", 0) if steady else 0
        return 200, view

    def _create_job(self, body: dict[str, Any]) -> tuple[int, Any]:
        bad = []
        if not ID_RE.match(str(body.get("id", ""))):
            bad.append("job.id: missing or invalid")
        # a job may name a pool that does not exist yet: Batch accepts it and its tasks wait
        _check_duration(body.get("constraints", {}).get("maxWallClockTime"), "job.constraints", bad)
        if bad:
            self.violations += bad
            return 400, _error("InvalidPropertyValue", "; ".join(bad))
        if body["id"].lower() in {j.lower() for j in self.jobs}:
            return 409, _error("JobExists", "The specified job already exists.")
        self.jobs[body["id"]] = {**body, "state": "active", "_created": self.clock(), "_started": _now()}
        self.tasks[body["id"]] = {}
        self._settle_job(body["id"])
        return 201, None

    def _settle_job(self, job_id: str) -> None:
        """Apply the job's end rules: all tasks complete (with terminatejob, even none), or its clock ran out."""
        job = self.jobs[job_id]
        if job["state"] != "active":
            return
        limit = _seconds(job.get("constraints", {}).get("maxWallClockTime"))
        if limit is not None and self.clock() - job["_created"] > limit:
            job["state"] = "completed"
            job["executionInfo"] = {"startTime": job["_started"], "endTime": _now(),
                                    "terminateReason": "MaxWallClockTimeExpiry"}
            for task in self.tasks[job_id].values():
                if task["state"] == "running":  # running tasks are killed; active ones stay active
                    self._finish(task, killed=True)
            return
        tasks = self.tasks[job_id].values()
        if job.get("onAllTasksComplete") == "terminatejob" and all(t["state"] == "completed" for t in tasks):
            job["state"] = "completed"
            job["executionInfo"] = {"startTime": job["_started"], "endTime": _now(),
                                    "terminateReason": "AllTasksComplete"}

    def _job(self, method: str, job_id: str) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, _error("JobNotFound", "The specified job does not exist.")
        if method == "DELETE":
            job["state"] = "deleting"
            return 202, None
        if job["state"] == "deleting":
            del self.jobs[job_id]
            return 404, _error("JobNotFound", "The specified job does not exist.")
        if method == "PATCH":
            if job["state"] != "active":
                return 409, _error("JobCompleted", "The specified job is already in a completed state.")
            job.update(self._last_body or {})
            self._settle_job(job_id)
            return 200, None
        self._settle_job(job_id)
        return 200, {k: v for k, v in job.items() if not k.startswith("_")}

    def _create_task(self, job_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, _error("JobNotFound", "The specified job does not exist.")
        self._settle_job(job_id)
        if job["state"] != "active":
            return 409, _error("JobCompleted", "The specified job is already in a completed state.")
        bad = []
        if not ID_RE.match(str(body.get("id", ""))):
            bad.append("task.id: missing or invalid")
        multi = body.get("multiInstanceSettings") or {}
        files = [*body.get("resourceFiles", []), *multi.get("commonResourceFiles", [])]
        for rf in files:
            sources = [k for k in ("autoStorageContainerName", "storageContainerUrl", "httpUrl") if k in rf]
            if len(sources) != 1:
                bad.append(f"task.resourceFiles: exactly one source expected, got {sources}")
            if "sig=" in json.dumps(rf):
                bad.append("task.resourceFiles: a SAS signature in the request")
        _check_duration(body.get("constraints", {}).get("maxWallClockTime"), "task.constraints", bad)
        if bad:
            self.violations += bad
            return 400, _error("InvalidPropertyValue", "; ".join(bad))
        if body["id"].lower() in {t.lower() for t in self.tasks[job_id]}:
            return 409, _error("TaskExists", "The specified task already exists.")
        self.tasks[job_id][body["id"]] = {**body, "state": "active", "_polls": 0, "files": {}}
        return 201, None

    def _runnable(self, job_id: str, task: dict[str, Any]) -> bool:
        """Whether Batch would schedule the task now (else it stays active, possibly for ever)."""
        pool = self.pools.get(self.jobs[job_id]["poolInfo"]["poolId"])
        if pool is None or self._usable_nodes(pool["id"]) == 0:
            return False
        multi = task.get("multiInstanceSettings")
        if multi:
            if not pool.get("enableInterNodeCommunication") or int(pool.get("taskSlotsPerNode", 1)) > 1:
                return False  # "never scheduled--it remains indefinitely in the 'active' state"
            return int(multi.get("numberOfInstances", 1)) <= self._usable_nodes(pool["id"])
        return True

    def _get_task(self, job_id: str, task_id: str) -> tuple[int, Any]:
        task = self.tasks.get(job_id, {}).get(task_id)
        if task is None:
            return 404, _error("TaskNotFound", "The specified task does not exist.")
        self._settle_job(job_id)
        if task["state"] == "active" and (self.jobs[job_id]["state"] != "active" or not self._runnable(job_id, task)):
            return 200, self._task_view(task)
        task["_polls"] += 1
        if task["state"] != "completed":
            task["state"] = "running" if task["_polls"] <= self.task_polls else "completed"
            # stdout grows while the task runs, as on a node
            task["files"].setdefault("stdout.txt", f"running {task['id']}\n")
            task["files"]["stdout.txt"] += f"progress {task['_polls']}/{self.task_polls + 1}\n"
            if task["state"] == "completed":
                self._finish(task)
        return 200, self._task_view(task)

    def _finish(self, task: dict[str, Any], *, killed: bool = False) -> None:
        failing = killed or task["id"] in self.failing_tasks
        task["state"] = "completed"
        task["files"].setdefault("stdout.txt", "")
        task["files"]["stdout.txt"] += "done\n"
        task["files"]["stderr.txt"] = self.failing_tasks.get(task["id"], "")
        info: dict[str, Any] = {"exitCode": 1 if failing else 0, "result": "failure" if failing else "success",
                                "retryCount": 0, "requeueCount": 0}
        if failing:
            info["failureInfo"] = {"category": "usererror", "code": "FailureExitCode",
                                   "message": "The task exited with an exit code representing a failure"}
        task["executionInfo"] = info
        task["nodeInfo"] = {"nodeId": "tvmps_0001", "poolId": "?"}

    def _task_view(self, task: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in task.items() if not k.startswith("_") and k != "files"}


SIGNED_HEADERS = ("content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
                  "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range")


def _signatures(h: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]]) -> list[str]:
    """The SharedKey signatures Batch accepts for this request, recomputed with the account key.

    From "Authenticate requests to the Azure Batch service": the verb, eleven standard headers, the ``ocp-``
    headers (lower-case, sorted, ``name:value``) and ``/<account><path>`` with each query parameter
    (lower-case, sorted, ``\nname:value``). A body-less write may be signed with Content-Length 0 or empty.
    """
    headers = {k.lower(): v for k, v in h.headers.items() if v}
    lengths = [headers.get("content-length", "")]
    if h.command not in ("GET", "HEAD") and "content-length" not in headers:
        lengths.append("0")
    out = []
    for length in lengths:
        values = {**headers, "content-length": length}
        text = h.command + "\n" + "\n".join(values.get(k, "") for k in SIGNED_HEADERS) + "\n"
        text += "".join(f"{k}:{v}\n" for k, v in sorted(headers.items()) if k.startswith("ocp-"))
        text += f"/{ACCOUNT}{path}"
        text += "".join(f"\n{k.lower()}:{','.join(sorted(v))}" for k, v in sorted(query.items()) if v and v[0])
        digest = hmac.new(base64.b64decode(KEY), text.encode("utf-8"), hashlib.sha256).digest()
        out.append(base64.b64encode(digest).decode())
    return out


def _error(code: str, message: str) -> dict[str, Any]:
    return {"odata.metadata": "https://batch/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
            "code": code, "message": {"lang": "en-US", "value": message}}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _seconds(value: Any) -> float | None:
    """Seconds of an ISO 8601 duration of days, hours, minutes and seconds (``None`` for none)."""
    m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", str(value or ""))
    if not value or m is None:
        return None
    d, h, mi, sec = (float(x) if x else 0.0 for x in m.groups())
    return ((d * 24 + h) * 60 + mi) * 60 + sec


def _check_duration(value: Any, where: str, bad: list[str]) -> None:
    if value is not None and not DURATION_RE.match(str(value)):
        bad.append(f"{where}.maxWallClockTime: {value!r} is not an ISO 8601 duration")
