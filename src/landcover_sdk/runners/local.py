"""``LocalRunner``: run a :class:`JobSpec` on this machine as subprocesses (torchrun for data-parallel training)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._atomic import atomic_write_text
from ..config.models import LocalRunnerConfig, RunnerConfig
from ..errors import RunnerError
from ..storage import get_storage
from .plan import JobResult, JobState, TaskPlan, TaskResult, check_inputs, plan_tasks
from .spec import JobSpec

log = logging.getLogger(__name__)
task_log = logging.getLogger("landcover_sdk.runners.task")


class LocalRunner:
    """Run jobs here: each task is a ``landcover job exec`` subprocess, training tasks under torchrun.

    Nodes are simulated: a training job asking for ``nodes × processes_per_node`` processes runs
    that many processes on this machine (gloo on CPU). Each task's output lines are logged with a
    ``[task]`` prefix (torchrun adds ``[rank]``) and saved under ``work_dir/<job>/logs``. Inputs are
    checked before anything runs; storage credentials reach the tasks through the environment.

    Args:
        work_dir: where job state, logs and results go.
        env: extra environment variables of the tasks (e.g. credentials; never written to files).
        python: the interpreter that runs the tasks.
        progress: let tasks draw progress bars.
    """

    name = "local"

    def __init__(self, work_dir: str | Path = "runs/jobs", *, env: Mapping[str, str] | None = None,
                 python: str = sys.executable, progress: bool = False) -> None:
        self.work_dir = Path(work_dir)
        self.env = dict(env or {})
        self.python = python
        self.progress = progress

    @classmethod
    def from_config(cls, config: LocalRunnerConfig | RunnerConfig) -> LocalRunner:
        """A local runner keeping its state and logs under ``config.work_dir``."""
        return cls(config.work_dir)

    @classmethod
    def build(cls, config: LocalRunnerConfig, *, dry_run: bool = False, teardown: bool = False) -> LocalRunner:
        """The registry's factory for kind ``local`` (see :func:`~landcover_sdk.runners.make_runner`).

        Args:
            config: the runner configuration.
            dry_run: unused here (:meth:`describe` runs nothing either way).
            teardown: rejected: a local job leaves nothing to tear down.
        """
        if teardown:
            raise RunnerError("--teardown is for --runner azure-batch: a local job leaves nothing to tear down")
        return cls.from_config(config)

    def __repr__(self) -> str:
        return f"LocalRunner(work_dir={str(self.work_dir)!r})"

    def describe(self, spec: JobSpec, *, job_id: str | None = None) -> dict[str, Any]:
        """What :meth:`run` would do: the resolved job and each task's command line; runs nothing."""
        spec = spec.resolved()
        job_id = job_id or f"{spec.name}-<timestamp>"
        job_dir = self.work_dir / job_id
        return {"runner": self.name, "job_id": job_id, "job": spec.to_dict(),
                "tasks": [{"id": t.id, "command": self.command(t, job_dir / "job.yaml", job_dir / "work" / t.id)}
                          for t in plan_tasks(spec)]}

    def command(self, task: TaskPlan, spec_path: Path, task_dir: Path) -> list[str]:
        """The command line that runs ``task``.

        Args:
            task: the task.
            spec_path: the resolved job file.
            task_dir: the task's working folder.
        """
        tail = [*task.worker_args(str(spec_path)), "--work-dir", str(task_dir)]
        if not self.progress:
            tail.append("--no-progress")
        if task.world_size > 1:
            return [self.python, "-m", "torch.distributed.run", "--standalone",
                    f"--nproc-per-node={task.world_size}", "--tee", "3", "-m", "landcover_sdk", *tail]
        return [self.python, "-m", "landcover_sdk", *tail]

    def run(self, spec: JobSpec, *, job_id: str | None = None) -> JobResult:
        """Run every task of ``spec`` in turn; returns the :class:`JobResult` (failed tasks do not raise)."""
        t0 = time.perf_counter()
        spec = spec.resolved()
        check_inputs(spec)
        job_id = job_id or f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        job_dir = self.work_dir / job_id
        (job_dir / "logs").mkdir(parents=True, exist_ok=True)
        spec_path = job_dir / "job.yaml"
        atomic_write_text(spec_path, spec.to_yaml())
        tasks = plan_tasks(spec)
        log.info("job %s: %d task(s) of kind %s, outputs %s", job_id, len(tasks), spec.kind, spec.outputs)
        results = []
        for task in tasks:
            results.append(self._run_task(task, spec, spec_path, job_dir))
            if results[-1].state != "succeeded":
                log.error("task %s failed (exit code %s); later tasks are skipped", task.id, results[-1].exit_code)
                break
        ok = len(results) == len(tasks) and all(r.state == "succeeded" for r in results)
        state: JobState = "succeeded" if ok else "failed"
        outputs = get_storage(spec.outputs).list(spec.outputs.rstrip("/") + "/") if ok else []
        result = JobResult(job_id, state, results, outputs, time.perf_counter() - t0, self.name)
        atomic_write_text(job_dir / "result.json", result.to_json())
        log.info("job %s %s in %.1f s", job_id, state, result.duration_s)
        return result

    def _run_task(self, task: TaskPlan, spec: JobSpec, spec_path: Path, job_dir: Path) -> TaskResult:
        cmd = self.command(task, spec_path, job_dir / "work" / task.id)
        env = {**os.environ, **spec.env, **self.env, "PYTHONUNBUFFERED": "1"}
        log_path = job_dir / "logs" / f"{task.id}.log"
        timeout = spec.resources.timeout_minutes * 60.0
        attempts = spec.resources.max_task_retries + 1
        code: int | None = None
        error: str | None = None
        for attempt in range(1, attempts + 1):
            log.info("task %s (attempt %d/%d): %s", task.id, attempt, attempts, " ".join(cmd[1:]))
            code, error = self._run_process(cmd, env, log_path, task.id, timeout)
            if code == 0:
                return TaskResult(task.id, 0, "succeeded", None, str(log_path))
        return TaskResult(task.id, code, "failed", error, str(log_path))

    def _run_process(self, cmd: list[str], env: dict[str, str], log_path: Path, prefix: str,
                     timeout: float) -> tuple[int | None, str | None]:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        except OSError as exc:
            raise RunnerError(f"cannot start {cmd[0]}: {exc.strerror}") from exc
        last_error: list[str] = []

        def pump() -> None:
            assert proc.stdout is not None
            with open(log_path, "ab") as fh:
                for raw in iter(proc.stdout.readline, b""):
                    fh.write(raw)
                    line = raw.decode("utf-8", "replace").rstrip()
                    task_log.info("[%s] %s", prefix, line)
                    if "error" in line.lower():
                        last_error[:] = [line]

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            reader.join(timeout=5)
            return None, f"timed out after {timeout / 60:.1f} min"
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        reader.join(timeout=5)
        return code, (last_error[0][-300:] if last_error and code != 0 else None)
