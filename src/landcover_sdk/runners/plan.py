"""What every runner shares: the :class:`Runner` protocol, the task plan, the input checks and the results.

Pure of any concrete runner: :func:`~landcover_sdk.runners.make_runner` looks kinds up in
:mod:`landcover_sdk.runners.registry`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from ..errors import LandcoverError, RunnerError
from ..imagery.source import is_spec
from ..models.builtin import builtin_model, is_builtin
from ..storage import get_storage
from .spec import JobSpec

log = logging.getLogger(__name__)

JobState = Literal["succeeded", "failed"]


@dataclass(frozen=True)
class TaskPlan:
    """One task of a job: ``index`` of ``count``, on ``nodes`` nodes × ``processes_per_node``.

    Attributes:
        id: the task id (``train``, ``predict-000``, ``evaluate``).
        index: this task's number.
        count: tasks in the job.
        nodes: nodes the task spans (multi-node training).
        processes_per_node: training processes on each node.
    """

    id: str
    index: int
    count: int
    nodes: int = 1
    processes_per_node: int = 1

    @property
    def world_size(self) -> int:
        """Processes of this task in all."""
        return self.nodes * self.processes_per_node

    def worker_args(self, spec_path: str) -> list[str]:
        """Arguments of ``landcover`` that run this task on a node."""
        return ["job", "exec", spec_path, "--task", f"{self.index}/{self.count}"]


def plan_tasks(spec: JobSpec) -> list[TaskPlan]:
    """The tasks a job is made of: one (multi-node) training task, ``chunks`` prediction tasks, one evaluation."""
    if spec.kind == "train":
        r = spec.resources
        return [TaskPlan("train", 0, 1, r.nodes, r.processes_per_node)]
    if spec.kind == "predict":
        return [TaskPlan(f"predict-{i:03d}", i, spec.chunks) for i in range(spec.chunks)]
    return [TaskPlan("evaluate", 0, 1)]


def check_inputs(spec: JobSpec) -> None:
    """Raise :class:`RunnerError` naming the first input that does not exist (before any work starts)."""
    for key, url in spec.input_urls():
        if is_spec(url):
            continue  # fetched by the task itself (the job file was checked to name a place)
        if is_builtin(url):
            try:
                builtin_model(url)
            except LandcoverError as exc:
                raise RunnerError(f"inputs.{key}: {exc}") from None
            continue
        store = get_storage(url)
        try:
            # a training data input is a folder: it exists when something is under it
            found = bool(store.list(url.rstrip("/") + "/")) if key == "data" else store.exists(url)
        except LandcoverError as exc:
            raise RunnerError(f"inputs.{key}: {exc}") from None
        if not found:
            raise RunnerError(f"inputs.{key}: {url} does not exist")
    try:
        get_storage(spec.outputs).check_container(spec.outputs.rstrip("/") + "/x")
    except LandcoverError as exc:
        raise RunnerError(f"outputs: {exc}") from None


@dataclass
class TaskResult:
    """How one task ended.

    Attributes:
        id: the task id.
        exit_code: the process's exit code (``None`` if it never ended, e.g. timed out).
        state: ``succeeded`` or ``failed``.
        error: the last error line, when it failed.
        log_path: where its output was saved.
    """

    id: str
    exit_code: int | None
    state: str
    error: str | None = None
    log_path: str | None = None


@dataclass
class JobResult:
    """How a job ended: its state, each task's exit code, the output URLs and the duration.

    Attributes:
        job_id: the job's id.
        state: ``succeeded`` or ``failed``.
        tasks: each task's result.
        outputs: the output URLs found under the job's outputs.
        duration_s: wall-clock seconds.
        runner: the runner's kind.
    """

    job_id: str
    state: JobState
    tasks: list[TaskResult] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    runner: str = "local"

    @property
    def exit_codes(self) -> dict[str, int | None]:
        """Exit code per task id."""
        return {t.id: t.exit_code for t in self.tasks}

    @property
    def ok(self) -> bool:
        """Whether every task succeeded."""
        return self.state == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return asdict(self)

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(), indent=2)

    def raise_for_state(self) -> JobResult:
        """Raise :class:`RunnerError` naming the failed tasks, or return self."""
        if not self.ok:
            failed = [f"{t.id} (exit {t.exit_code}{': ' + t.error if t.error else ''})"
                      for t in self.tasks if t.state != "succeeded"]
            raise RunnerError(f"job {self.job_id} failed: {'; '.join(failed)}")
        return self


class Runner(Protocol):
    """What runs a :class:`JobSpec`: :class:`~landcover_sdk.runners.LocalRunner`,
    :class:`~landcover_sdk.runners.BatchAIRunner` or a registered plugin (build any with
    :func:`~landcover_sdk.runners.make_runner`)."""

    #: The runner's kind, as registered with :func:`~landcover_sdk.runners.register_runner`.
    name: str

    def describe(self, spec: JobSpec, *, job_id: str | None = None) -> dict[str, Any]:
        """What :meth:`run` would do, as JSON-ready data; sends and runs nothing."""
        ...

    def run(self, spec: JobSpec, *, job_id: str | None = None) -> JobResult:
        """Run the job to the end; failed tasks are reported in the result, not raised."""
        ...
