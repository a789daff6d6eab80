"""Former name of :mod:`landcover_sdk.runners.plan` (kept so that old imports work); ``make_runner`` now lives in
:mod:`landcover_sdk.runners.registry`."""

from .plan import JobResult, JobState, Runner, TaskPlan, TaskResult, check_inputs, plan_tasks
from .registry import make_runner

__all__ = ["JobResult", "JobState", "Runner", "TaskPlan", "TaskResult", "check_inputs", "make_runner", "plan_tasks"]
