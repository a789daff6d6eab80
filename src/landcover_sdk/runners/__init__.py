"""Runners: one job description (:class:`JobSpec`), run here (:class:`LocalRunner`), on Azure Batch
(:class:`BatchAIRunner`) or by a runner registered with :func:`register_runner`."""

from ..config.models import AzureBatchRunnerConfig, LocalRunnerConfig
from .azure_batch import BatchAIRunner, BatchPlan, BatchRequest
from .local import LocalRunner
from .plan import JobResult, Runner, TaskPlan, TaskResult, check_inputs, plan_tasks
from .registry import (
    RUNNERS,
    Inspectable,
    RunnerKind,
    load_runner_config,
    make_runner,
    register_runner,
    runner_config,
    runner_kinds,
    unregister_runner,
)
from .spec import JobSpec, Resources

register_runner("local", LocalRunnerConfig, LocalRunner.build)
register_runner("azure-batch", AzureBatchRunnerConfig, BatchAIRunner.build)

__all__ = [
    "RUNNERS",
    "BatchAIRunner",
    "BatchPlan",
    "BatchRequest",
    "Inspectable",
    "JobResult",
    "JobSpec",
    "LocalRunner",
    "Resources",
    "Runner",
    "RunnerKind",
    "TaskPlan",
    "TaskResult",
    "check_inputs",
    "load_runner_config",
    "make_runner",
    "plan_tasks",
    "register_runner",
    "runner_config",
    "runner_kinds",
    "unregister_runner",
]
