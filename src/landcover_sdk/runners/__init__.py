"""Runners: one job description (:class:`JobSpec`), run here (:class:`LocalRunner`) or on Azure Batch
(:class:`BatchAIRunner`)."""

from .base import JobResult, Runner, TaskPlan, TaskResult, check_inputs, make_runner, plan_tasks
from .batch import BatchAIRunner, BatchPlan, BatchRequest
from .local import LocalRunner
from .spec import JobSpec, Resources

__all__ = [
    "BatchAIRunner",
    "BatchPlan",
    "BatchRequest",
    "JobResult",
    "JobSpec",
    "LocalRunner",
    "Resources",
    "Runner",
    "TaskPlan",
    "TaskResult",
    "check_inputs",
    "make_runner",
    "plan_tasks",
]
