"""Every Batch request body the runner builds, checked against the pinned azure-batch models — and the checker
itself kept strict by the bodies a review found the previous emulator accepted."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .emulators.batch_plans import IDENTITY, PLANS
from .emulators.batch_plans import plan as _plan
from .emulators.batch_schema import validate, validate_arm_pool


@pytest.mark.parametrize("name", sorted(PLANS))
def test_every_body_the_runner_builds_matches_the_rest_shapes(name: str) -> None:
    plan = _plan(name)
    for request in [plan.pool, *plan.requests]:
        assert validate(request.method, request.path, request.body) == [], request.to_dict()
    assert validate_arm_pool(plan.pool_template) == [], plan.pool_template
    assert plan.pool_template["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}


def test_the_checker_refuses_what_resource_manager_refuses() -> None:
    template = _plan("train on 2 GPU nodes").pool_template
    for path, value, message in (("properties.interNodeCommunication", True, "is not one of"),
                                 ("properties.vmSizes", "x", "vmSizes: not a property of PoolProperties"),
                                 ("identity.type", "userAssigned", "is not one of")):
        assert any(message in e for e in validate_arm_pool(_mutate(template, path, value))), path


def _mutate(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    *parents, last = path.split(".")
    node: Any = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return out


DELETE = object()

# (request, dotted path, new value, what the checker must say) — the review's invalid bodies
MUTATIONS = [
    ("pool", "startTask.userIdentity.autoUser.elevationLevel", "root", "elevationLevel: 'root' is not one of"),
    ("pool", "virtualMachineConfiguration.containerConfiguration", {"containerImageNames": ["x"]},
     "containerConfiguration.type: required"),
    ("job", "onAllTasksComplete", "terminate", "onAllTasksComplete: 'terminate' is not one of"),
    ("job", "constraints.maxTaskRetryCount", "1", "maxTaskRetryCount: '1' is not a valid int"),
    ("task", "outputFiles", [{"filePattern": "../std*.txt", "destination": {"container": {
        "containerUrl": "https://a.blob.core.windows.net/c", "path": "p"}}}], "uploadOptions: required"),
    ("task", "outputFiles", [{"filePattern": "x", "destination": {"container": {"path": "p"}},
                              "uploadOptions": {"uploadCondition": "taskcompletion"}}], "containerUrl: required"),
    ("task", "outputFiles", [{"filePattern": "x", "destination": {"container": {
        "containerUrl": "https://a.blob.core.windows.net/c"}}, "uploadOptions": {"uploadCondition": "always"}}],
     "uploadCondition: 'always' is not one of"),
    ("task", "commonResourceFiles", [], "commonResourceFiles: not a property of BatchTaskCreateOptions"),
    ("task", "userIdentity.autoUser.scope", "node", "scope: 'node' is not one of"),
    ("task", "containerSettings", {"containerRunOptions": "--rm"}, "imageName: required"),
    ("job", "onAllTasksComplete", "terminateJob", "onAllTasksComplete: 'terminateJob' is not one of"),
    ("task", "resourceFiles", [{"storageContainerUrl": "https://a.blob.core.windows.net/c",
                                "identityReference": {"id": "/x"}}], "identityReference.id: not a property"),
    ("pool", "identity", {"type": "UserAssigned"}, "identity: not a property of BatchPoolCreateOptions"),
    ("task", "id", DELETE, "id: required by BatchTaskCreateOptions"),
    ("job", "constraints.maxWallClockTime", "2 hours", "maxWallClockTime: '2 hours' is not a valid timedelta"),
]


@pytest.mark.parametrize(("which", "path", "value", "message"), MUTATIONS,
                         ids=[f"{m[0]}.{m[1]}={m[2]!r}"[:60] for m in MUTATIONS])
def test_the_checker_refuses_what_batch_refuses(which: str, path: str, value: Any, message: str) -> None:
    plan = _plan("train on 2 GPU nodes")
    request = {"pool": plan.pool, "job": plan.job, "task": plan.tasks[0]}[which]
    errors = validate(request.method, request.path, _mutate(request.body, path, value))
    assert any(message in e for e in errors), errors
