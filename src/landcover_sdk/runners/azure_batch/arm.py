"""The Azure Resource Manager body of the pool a job needs, with the nodes' identity (Batch's data-plane API
cannot attach one, so pools are created through ARM: ``landcover azure pool-template``)."""

from __future__ import annotations

from typing import Any

from ...config.models import RunnerConfig
from ...errors import RunnerError
from ..spec import JobSpec
from .plan import pool_body


def pool_template(spec: JobSpec, config: RunnerConfig, identity: str) -> dict[str, Any]:
    """The Azure Resource Manager body that creates the pool ``spec`` needs, with the nodes' identity.

    PUT it at ``https://management.azure.com/subscriptions/<sub>/resourceGroups/<group>/providers/
    Microsoft.Batch/batchAccounts/<account>/pools/<pool_id>?api-version=2025-06-01`` (``az rest``); built
    with the ``azure-mgmt-batch`` models, so every property is one ARM knows.

    Args:
        spec: the job the pool is for.
        config: the runner configuration (pool id, image, allocation mode).
        identity: the resource id of the nodes' user-assigned identity.
    """
    try:
        from azure.mgmt.batch import models as arm
    except ImportError:
        raise RunnerError("pool templates need the azure extra: pip install 'landcover-sdk[azure]'") from None
    body = pool_body(spec, config)
    vm = body["virtualMachineConfiguration"]
    image = vm["imageReference"]
    containers = None
    if "containerConfiguration" in vm:
        containers = arm.ContainerConfiguration(type="DockerCompatible",
                                                container_image_names=vm["containerConfiguration"]
                                                ["containerImageNames"])
    start = None
    if "startTask" in body:
        start = arm.StartTask(command_line=body["startTask"]["commandLine"], wait_for_success=True,
                              max_task_retry_count=body["startTask"]["maxTaskRetryCount"],
                              user_identity=arm.UserIdentity(auto_user=arm.AutoUserSpecification(
                                  scope="Pool", elevation_level="Admin")))
    pool = arm.Pool(
        identity=arm.BatchPoolIdentity(type="UserAssigned", user_assigned_identities={
            identity: arm.UserAssignedIdentities()}),
        properties=arm.PoolProperties(
            vm_size=body["vmSize"],
            deployment_configuration=arm.DeploymentConfiguration(
                virtual_machine_configuration=arm.VirtualMachineConfiguration(
                    image_reference=arm.ImageReference(publisher=image["publisher"], offer=image["offer"],
                                                       sku=image["sku"], version=image["version"]),
                    node_agent_sku_id=vm["nodeAgentSKUId"], container_configuration=containers)),
            scale_settings=arm.ScaleSettings(fixed_scale=arm.FixedScaleSettings(
                target_dedicated_nodes=body["targetDedicatedNodes"],
                target_low_priority_nodes=body["targetLowPriorityNodes"])),
            inter_node_communication="Enabled" if body["enableInterNodeCommunication"] else "Disabled",
            task_slots_per_node=body["taskSlotsPerNode"], start_task=start))
    template: dict[str, Any] = pool.as_dict()
    return template
