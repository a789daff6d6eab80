"""Former home of the Azure Batch runner, kept so that old imports work: the code lives in
:mod:`landcover_sdk.runners.azure_batch` (``plan``, ``arm``, ``client``, ``runner``), with the SDK install in
:mod:`landcover_sdk.runners.sdk_install` and the VM-size facts in :mod:`landcover_sdk.runners.azure_vm`."""

from .azure_batch.client import call, make_client, sdk_model
from .azure_batch.plan import RENDEZVOUS_TIMEOUT_S, BatchPlan, BatchRequest, Endpoints, job_wall_clock_minutes
from .azure_batch.runner import TERMINAL_TASK_STATE, BatchAIRunner
from .azure_vm import INTER_NODE_LIMIT, RETIRED_VM_SIZES, check_vm_size
from .sdk_install import _checkout, build_wheel

__all__ = [
    "INTER_NODE_LIMIT",
    "RENDEZVOUS_TIMEOUT_S",
    "RETIRED_VM_SIZES",
    "TERMINAL_TASK_STATE",
    "BatchAIRunner",
    "BatchPlan",
    "BatchRequest",
    "Endpoints",
    "_checkout",
    "build_wheel",
    "call",
    "check_vm_size",
    "job_wall_clock_minutes",
    "make_client",
    "sdk_model",
]
