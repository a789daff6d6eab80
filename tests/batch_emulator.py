"""A local stand-in for the Azure Batch REST service, for testing the real ``BatchClient``.

It listens on 127.0.0.1, checks every request (method, path, api-version, shared-key
authorisation, content type, and the JSON body against the Batch REST shapes), answers like
Batch does (201/200/202/404 with Batch error bodies), moves pools from resizing to steady and
tasks from active to running to completed, can fail a task or answer 503 a given number of times,
and records every call.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

API_VERSION = "2025-06-01"
ACCOUNT = "lcbatch"
KEY = "c2VjcmV0LWJhdGNoLWtleS1mb3ItdGVzdHMtb25seQ=="

POOL_KEYS = {"id", "displayName", "vmSize", "virtualMachineConfiguration", "targetDedicatedNodes",
             "targetLowPriorityNodes", "taskSlotsPerNode", "enableInterNodeCommunication", "startTask",
             "metadata", "taskSchedulingPolicy", "networkConfiguration", "mountConfiguration"}
JOB_KEYS = {"id", "displayName", "poolInfo", "onAllTasksComplete", "onTaskFailure", "constraints",
            "commonEnvironmentSettings", "metadata", "priority", "usesTaskDependencies"}
TASK_KEYS = {"id", "displayName", "commandLine", "resourceFiles", "outputFiles", "environmentSettings",
             "constraints", "userIdentity", "multiInstanceSettings", "containerSettings", "exitConditions",
             "dependsOn", "requiredSlots", "affinityInfo"}
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
    fail_with_503: dict[tuple[str, str], int] = field(default_factory=dict)  # (method, path) -> times
    calls: list[Call] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    _range: str | None = None

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
                self._reply(h, call, 400, _error("InvalidRequest", "; ".join(problems)))
                return
            self._range = h.headers.get("ocp-range")
            status, payload = self._route(h.command, url.path, body)
        self._reply(h, call, status, payload)

    def _check_envelope(self, h: BaseHTTPRequestHandler, path: str, query: dict[str, list[str]],
                        raw: bytes) -> list[str]:
        out = []
        if query.get("api-version") != [API_VERSION]:
            out.append(f"{h.command} {path}: api-version {query.get('api-version')} != {API_VERSION}")
        auth = h.headers.get("Authorization", "")
        if not re.fullmatch(rf"SharedKey {ACCOUNT}:[A-Za-z0-9+/=]{{40,}}", auth):
            out.append(f"{h.command} {path}: missing or malformed SharedKey authorisation")
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
        parts = [p for p in path.split("/") if p]
        if parts == ["pools"] and method == "POST":
            return self._create_pool(body)
        if len(parts) == 2 and parts[0] == "pools":
            return self._pool(method, parts[1])
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
        bad = _unknown(body, POOL_KEYS, "pool")
        vm = body.get("virtualMachineConfiguration") or {}
        if not ID_RE.match(str(body.get("id", ""))):
            bad.append("pool.id: missing or invalid")
        if not body.get("vmSize"):
            bad.append("pool.vmSize: required")
        if not {"publisher", "offer", "sku"} <= set(vm.get("imageReference") or {}):
            bad.append("pool.virtualMachineConfiguration.imageReference: publisher/offer/sku required")
        if not vm.get("nodeAgentSKUId"):
            bad.append("pool.virtualMachineConfiguration.nodeAgentSKUId: required")
        nodes = int(body.get("targetDedicatedNodes", 0)) + int(body.get("targetLowPriorityNodes", 0))
        if nodes < 1:
            bad.append("pool: target nodes must be >= 1")
        start = body.get("startTask") or {}
        if start and not start.get("commandLine"):
            bad.append("pool.startTask.commandLine: required")
        if bad:
            self.violations += bad
            return 400, _error("InvalidPropertyValue", "; ".join(bad))
        if body["id"] in self.pools:
            return 409, _error("PoolExists", "The specified pool already exists.")
        self.pools[body["id"]] = {**body, "_polls": 0, "state": "active", "allocationState": "resizing"}
        return 201, None

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
        bad = _unknown(body, JOB_KEYS, "job")
        if not ID_RE.match(str(body.get("id", ""))):
            bad.append("job.id: missing or invalid")
        pool_id = (body.get("poolInfo") or {}).get("poolId")
        if pool_id not in self.pools:
            bad.append(f"job.poolInfo.poolId: pool {pool_id!r} does not exist")
        for s in body.get("commonEnvironmentSettings", []):
            if set(s) - {"name", "value"} or not s.get("name"):
                bad.append(f"job.commonEnvironmentSettings: bad entry {s}")
        _check_duration(body.get("constraints", {}).get("maxWallClockTime"), "job.constraints", bad)
        if bad:
            self.violations += bad
            return 400, _error("InvalidPropertyValue", "; ".join(bad))
        if body["id"] in self.jobs:
            return 409, _error("JobExists", "The specified job already exists.")
        self.jobs[body["id"]] = {**body, "state": "active"}
        self.tasks[body["id"]] = {}
        return 201, None

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
        tasks = self.tasks[job_id].values()
        if tasks and all(t["state"] == "completed" for t in tasks) and job.get("onAllTasksComplete") == "terminatejob":
            job["state"] = "completed"
        return 200, {k: v for k, v in job.items() if not k.startswith("_")}

    def _create_task(self, job_id: str, body: dict[str, Any]) -> tuple[int, Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, _error("JobNotFound", "The specified job does not exist.")
        bad = _unknown(body, TASK_KEYS, "task")
        if not ID_RE.match(str(body.get("id", ""))):
            bad.append("task.id: missing or invalid")
        if not body.get("commandLine"):
            bad.append("task.commandLine: required")
        for rf in body.get("resourceFiles", []):
            sources = [k for k in ("autoStorageContainerName", "storageContainerUrl", "httpUrl") if k in rf]
            if len(sources) != 1:
                bad.append(f"task.resourceFiles: exactly one source expected, got {sources}")
            if "sig=" in json.dumps(rf):
                bad.append("task.resourceFiles: a SAS signature in the request")
        for of in body.get("outputFiles", []):
            if not of.get("filePattern") or "container" not in (of.get("destination") or {}):
                bad.append("task.outputFiles: filePattern and destination.container required")
        _check_duration(body.get("constraints", {}).get("maxWallClockTime"), "task.constraints", bad)
        multi = body.get("multiInstanceSettings")
        pool = self.pools.get(job["poolInfo"]["poolId"], {})
        if multi:
            n = multi.get("numberOfInstances", 0)
            total = int(pool.get("targetDedicatedNodes", 0)) + int(pool.get("targetLowPriorityNodes", 0))
            if not 1 <= n <= total:
                bad.append(f"task.multiInstanceSettings.numberOfInstances: {n} with {total} node(s) in the pool")
            if not pool.get("enableInterNodeCommunication"):
                bad.append("multi-instance task on a pool without enableInterNodeCommunication")
        if bad:
            self.violations += bad
            return 400, _error("InvalidPropertyValue", "; ".join(bad))
        if body["id"] in self.tasks[job_id]:
            return 409, _error("TaskExists", "The specified task already exists.")
        self.tasks[job_id][body["id"]] = {**body, "state": "active", "_polls": 0, "files": {}}
        return 201, None

    def _get_task(self, job_id: str, task_id: str) -> tuple[int, Any]:
        task = self.tasks.get(job_id, {}).get(task_id)
        if task is None:
            return 404, _error("TaskNotFound", "The specified task does not exist.")
        task["_polls"] += 1
        if task["state"] != "completed":
            task["state"] = "running" if task["_polls"] <= self.task_polls else "completed"
            # stdout grows while the task runs, as on a node
            task["files"].setdefault("stdout.txt", f"running {task['id']}\n")
            task["files"]["stdout.txt"] += f"progress {task['_polls']}/{self.task_polls + 1}\n"
            if task["state"] == "completed":
                self._finish(task)
        return 200, self._task_view(task)

    def _finish(self, task: dict[str, Any]) -> None:
        failing = task["id"] in self.failing_tasks
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


def _error(code: str, message: str) -> dict[str, Any]:
    return {"odata.metadata": "https://batch/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
            "code": code, "message": {"lang": "en-US", "value": message}}


def _unknown(body: Any, allowed: set[str], what: str) -> list[str]:
    if not isinstance(body, dict):
        return [f"{what}: body must be a JSON object"]
    return [f"{what}.{k}: not a Batch REST property" for k in sorted(set(body) - allowed)]


def _check_duration(value: Any, where: str, bad: list[str]) -> None:
    if value is not None and not DURATION_RE.match(str(value)):
        bad.append(f"{where}.maxWallClockTime: {value!r} is not an ISO 8601 duration")
