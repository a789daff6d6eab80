"""Runners: one job description (:class:`JobSpec`), run here (:class:`LocalRunner`) or on Azure Batch
(:class:`BatchAIRunner`)."""

from .base import JobResult, TaskPlan, TaskResult, check_inputs, plan_tasks
from .batch import BatchAIRunner, BatchPlan, BatchRequest
from .local import LocalRunner
from .spec import JobSpec, Region, Resources

__all__ = [
    "BatchAIRunner",
    "BatchPlan",
    "BatchRequest",
    "JobResult",
    "JobSpec",
    "LocalRunner",
    "Region",
    "Resources",
    "TaskPlan",
    "TaskResult",
    "check_inputs",
    "plan_tasks",
]
