"""Batch REST request bodies checked against the pinned ``azure-batch`` SDK's generated models.

``azure-batch`` 15.1 is generated from the TypeSpec of the Batch data-plane API (2025-06-01), so its models
carry each property's REST name, type, whether it is required and whether it is read-only. A body is
refused for an unknown property, a read-only one, a missing required one, a value outside an enum, a JSON
type that does not match, or a duration that is not ISO 8601 — what the real service refuses with 400.
"""

from __future__ import annotations

import datetime
import enum
import re
import sys
import typing
from typing import Any

from azure.batch import models as M  # noqa: N812
from azure.batch._utils.model_base import Model
from azure.mgmt.batch import models as A  # noqa: N812
from azure.mgmt.batch._utils.model_base import Model as ArmModel

ISO_DURATION = re.compile(r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
BODY_MODELS = {"/pools": M.BatchPoolCreateOptions, "/jobs": M.BatchJobCreateOptions}


def _is_model(hint: Any) -> bool:
    """A generated model class (azure-batch's or azure-mgmt-batch's: the same generator, two base classes)."""
    return isinstance(hint, type) and (issubclass(hint, Model) or issubclass(hint, ArmModel))


def _fields(cls: type) -> dict[str, tuple[Any, bool, bool]]:
    """REST name -> (type hint, read-only, optional)."""
    if "_attr_to_rest_field" not in cls.__dict__:
        cls({})  # the generated base class builds its field map on first use
    module = sys.modules[cls.__module__]
    namespace = {**vars(module), "_models": sys.modules[module.__name__.rsplit(".", 1)[0]]}
    hints = typing.get_type_hints(cls, globalns=namespace, localns=namespace)
    out = {}
    for attr, rest_field in cls._attr_to_rest_field.items():  # type: ignore[attr-defined]
        visibility = getattr(rest_field, "_visibility", None) or []
        hint = hints.get(attr)
        out[rest_field._rest_name] = (hint, "read" in visibility and "create" not in visibility
                                      and "update" not in visibility, _optional(hint))
    return out


def _optional(hint: Any) -> bool:
    return typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint)


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) is typing.Union:
        args = tuple(a for a in typing.get_args(hint) if a is not type(None))
        return args[0] if len(args) == 1 else typing.Union[args]  # noqa: UP007
    return hint


def _check(value: Any, hint: Any, path: str, errors: list[str]) -> None:
    hint = _strip_optional(hint)
    origin = typing.get_origin(hint)
    if origin is typing.Union:  # e.g. Union[str, SomeEnum]: the enum's values, case-sensitive
        enums = [a for a in typing.get_args(hint) if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums and value not in [m.value for m in enums[0]]:
            errors.append(f"{path}: {value!r} is not one of {[m.value for m in enums[0]]}")
        elif not enums and not isinstance(value, str):
            errors.append(f"{path}: expected a string, got {value!r}")
        return
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        if value not in [m.value for m in hint]:
            errors.append(f"{path}: {value!r} is not one of {[m.value for m in hint]}")
        return
    if origin is list:
        if not isinstance(value, list):
            errors.append(f"{path}: expected an array, got {value!r}")
            return
        for i, item in enumerate(value):
            _check(item, typing.get_args(hint)[0], f"{path}[{i}]", errors)
        return
    if origin is dict:
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object, got {value!r}")
            return
        for key, item in value.items():
            _check(item, typing.get_args(hint)[1], f"{path}[{key!r}]", errors)
        return
    if _is_model(hint):
        _check_model(value, hint, path, errors)
        return
    wrong = {str: not isinstance(value, str), bool: not isinstance(value, bool),
             int: not isinstance(value, int) or isinstance(value, bool),
             float: not isinstance(value, int | float) or isinstance(value, bool),
             datetime.timedelta: not (isinstance(value, str) and ISO_DURATION.match(value))}.get(hint, False)
    if wrong:
        errors.append(f"{path}: {value!r} is not a valid {getattr(hint, '__name__', hint)}")


def _check_model(value: Any, cls: type, path: str, errors: list[str]) -> None:
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object, got {value!r}")
        return
    fields = _fields(cls)
    for key, item in value.items():
        if key not in fields:
            errors.append(f"{path}.{key}: not a property of {cls.__name__}")
        elif fields[key][1]:
            errors.append(f"{path}.{key}: read-only in {cls.__name__}")
        else:
            _check(item, fields[key][0], f"{path}.{key}", errors)
    for key, (_, read_only, optional) in fields.items():
        if not read_only and not optional and key not in value:
            errors.append(f"{path}.{key}: required by {cls.__name__}")


def model_for(method: str, path: str) -> type | None:
    """The SDK model of a POST body at ``path`` (pools, jobs, tasks), a PATCH of a job, else ``None``."""
    if method == "POST":
        if path in BODY_MODELS:
            return BODY_MODELS[path]
        if re.fullmatch(r"/jobs/[^/]+/tasks", path):
            return M.BatchTaskCreateOptions
    if method == "PATCH" and re.fullmatch(r"/jobs/[^/]+", path):
        return M.BatchJobUpdateOptions
    return None


def validate(method: str, path: str, body: Any) -> list[str]:
    """What the Batch REST shapes refuse in ``body`` (empty when it is valid)."""
    cls = model_for(method, path)
    if cls is None:
        return []
    errors: list[str] = []
    _check_model(body, cls, cls.__name__, errors)
    return errors


def validate_arm_pool(body: Any) -> list[str]:
    """What Azure Resource Manager refuses in a Batch pool body (``PUT .../batchAccounts/<a>/pools/<p>``)."""
    errors: list[str] = []
    _check_model(body, A.Pool, "Pool", errors)
    return errors
