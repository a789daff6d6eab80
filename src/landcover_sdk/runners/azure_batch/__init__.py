"""The Azure Batch runner, cut by job: :mod:`.plan` (the request bodies, pure), :mod:`.arm` (the pool's Resource
Manager template), :mod:`.client` (the ``azure-batch`` client and its errors) and :mod:`.runner`
(:class:`BatchAIRunner`: submit, wait, stream, status, logs, teardown, state files)."""

from .plan import BatchPlan, BatchRequest, job_wall_clock_minutes
from .runner import BatchAIRunner

__all__ = ["BatchAIRunner", "BatchPlan", "BatchRequest", "job_wall_clock_minutes"]
