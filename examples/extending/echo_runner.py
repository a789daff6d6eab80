"""A runner in one file: ``echo`` runs every task of a job in this process, one after another, and logs each step.

It shows the whole contract of a runner plugin: a configuration class (a ``StrictModel`` with a ``kind`` field and
its own settings), a class with ``name``, ``describe()`` and ``run()``, and one registration line. Register it in
code::

    from landcover_sdk.runners import register_runner
    register_runner("echo", EchoRunnerConfig, EchoRunner.build)

or, from your own package, with an entry point naming a ``RunnerKind`` (no import needed; ``landcover`` finds it)::

    [project.entry-points."landcover_sdk.runners"]
    echo = "my_package.echo_runner:REGISTRATION"

Then a runner config file ``{kind: echo}`` selects it: ``landcover run job.yaml --runner-config echo.yaml`` (or
``--runner echo``), and :func:`landcover_sdk.runners.make_runner` builds it from Python.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from landcover_sdk import RunnerError
from landcover_sdk.config import StrictModel
from landcover_sdk.runners import JobResult, JobSpec, RunnerKind, TaskResult, check_inputs, plan_tasks
from landcover_sdk.runners.worker import execute
from landcover_sdk.storage import get_storage

log = logging.getLogger(__name__)


class EchoRunnerConfig(StrictModel):
    """The ``echo`` runner's settings: only its own fields, nothing of Azure's."""

    kind: Literal["echo"] = Field(default="echo", description="the runner kind ('echo')")
    work_dir: str = Field(default="runs/echo", description="where each task's working folder goes")
    stop_on_failure: bool = Field(default=True, description="skip the remaining tasks once one has failed")


class EchoRunner:
    """Run each task of a job here, in this process (no subprocess, so single-process tasks only).

    Args:
        config: the runner's settings.
    """

    name = "echo"

    def __init__(self, config: EchoRunnerConfig | None = None) -> None:
        self.config = config or EchoRunnerConfig()

    @classmethod
    def build(cls, config: EchoRunnerConfig, *, dry_run: bool = False, teardown: bool = False) -> EchoRunner:
        """The factory :func:`~landcover_sdk.runners.register_runner` is given.

        Args:
            config: the validated ``EchoRunnerConfig``.
            dry_run: nothing to do: :meth:`describe` never runs anything.
            teardown: refused: an in-process job leaves nothing behind to tear down.
        """
        if teardown:
            raise RunnerError("--teardown: the echo runner leaves nothing to tear down")
        return cls(config)

    def describe(self, spec: JobSpec, *, job_id: str | None = None) -> dict[str, Any]:
        """The resolved job and its tasks; runs nothing.

        Args:
            spec: the job.
            job_id: the job's id (default: its name).
        """
        spec = spec.resolved()
        return {"runner": self.name, "job_id": job_id or spec.name, "job": spec.to_dict(),
                "tasks": [t.id for t in plan_tasks(spec)]}

    def run(self, spec: JobSpec, *, job_id: str | None = None) -> JobResult:
        """Run every task in turn; a failed task is reported in the result, not raised.

        Args:
            spec: the job.
            job_id: the job's id (default: its name and a timestamp).
        """
        t0 = time.perf_counter()
        spec = spec.resolved()
        check_inputs(spec)
        job_id = job_id or f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        tasks = plan_tasks(spec)
        results: list[TaskResult] = []
        for task in tasks:
            if task.world_size > 1:
                raise RunnerError(f"{task.id}: {task.world_size} processes; the echo runner runs one process per "
                                  "task (use the local runner for data-parallel training)")
            log.info("echo: job %s task %s (%d/%d)", job_id, task.id, task.index + 1, task.count)
            try:
                urls = execute(spec, f"{task.index}/{task.count}", Path(self.config.work_dir) / job_id / task.id)
            except Exception as exc:  # the task's failure is the job's result, as under the other runners
                results.append(TaskResult(task.id, 1, "failed", f"{type(exc).__name__}: {exc}"))
                if self.config.stop_on_failure:
                    break
                continue
            log.info("echo: task %s wrote %d file(s)", task.id, len(urls))
            results.append(TaskResult(task.id, 0, "succeeded"))
        ok = len(results) == len(tasks) and all(r.state == "succeeded" for r in results)
        outputs = get_storage(spec.outputs).list(spec.outputs.rstrip("/") + "/") if ok else []
        return JobResult(job_id, "succeeded" if ok else "failed", results, outputs, time.perf_counter() - t0,
                         self.name)


#: What an entry point in ``landcover_sdk.runners`` names (the registry takes the record as it is).
REGISTRATION = RunnerKind("echo", EchoRunnerConfig, EchoRunner.build)
