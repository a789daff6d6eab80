"""The ``azure-batch`` client: building it, calling it with errors made readable, and REST bodies turned into
the SDK's models (refusing properties Batch does not know)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ...config.models import AzureCredentials
from ...errors import RunnerError
from ...storage import redact


def make_client(az: AzureCredentials, **options: Any) -> Any:
    """A ``BatchClient`` for ``az.batch_account_url``: shared key when a key is set, else ``DefaultAzureCredential``.

    Args:
        az: the Azure credentials.
        **options: passed to ``BatchClient`` (azure-core pipeline options such as ``retry_total``).
    """
    if not az.batch_account_url:
        raise RunnerError("azure.batch_account_url is not set (or AZURE_BATCH_ACCOUNT_URL); tried: shared key "
                          "(batch_account_name + batch_account_key), DefaultAzureCredential")
    try:
        from azure.batch import BatchClient
        from azure.core.credentials import AzureNamedKeyCredential
    except ImportError:
        raise RunnerError("the Azure Batch runner needs the azure extra: "
                          "pip install 'landcover-sdk[azure]'") from None
    credential: Any
    if az.batch_account_key is not None:
        if not az.batch_account_name:
            raise RunnerError("azure.batch_account_name is required with batch_account_key")
        credential = AzureNamedKeyCredential(az.batch_account_name, az.batch_account_key.get_secret_value())
    else:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return BatchClient(az.batch_account_url, credential, **options)


def call(what: str, fn: Callable[[], Any], passthrough: Iterable[type[BaseException]] = ()) -> Any:
    """``fn()``, with Azure errors raised as :class:`RunnerError` naming ``what`` (secrets masked).

    Args:
        what: the operation, for the message (``"create job"``).
        fn: the client call.
        passthrough: exception types re-raised as they are (e.g. ``ResourceNotFoundError`` where absence is fine).
    """
    from azure.core.exceptions import AzureError, HttpResponseError

    keep = tuple(passthrough)
    try:
        return fn()
    except keep:
        raise
    except HttpResponseError as exc:
        code = getattr(exc, "error", None)
        detail = getattr(code, "code", None) or getattr(exc, "reason", "") or ""
        message = getattr(code, "message", None) or str(exc).splitlines()[0]
        text = f"Azure Batch: {what} failed: HTTP {exc.status_code} {detail}: {message}"
        # no chained cause: only the redacted text may leave (Azure errors can echo credentials)
        raise RunnerError(redact(text)) from None
    except AzureError as exc:
        raise RunnerError(redact(f"Azure Batch: {what} failed: {type(exc).__name__}: {exc}")) from None


def _value(state: Any) -> str:
    """An SDK enum member or its string as the REST value (``"starttaskfailed"``)."""
    return str(getattr(state, "value", state))


def sdk_model(cls: Any, body: dict[str, Any]) -> Any:
    """``cls`` built with keyword arguments from a REST-shaped ``body``, nested models included.

    The generated models accept any key when given a mapping; keyword construction refuses an unknown
    property (a typo would otherwise reach the service, or be dropped). Raises :class:`RunnerError`.

    Args:
        cls: an ``azure.batch.models`` class.
        body: the REST JSON of one.
    """
    import typing

    from azure.batch import models
    from azure.batch._utils.model_base import Model

    if "_attr_to_rest_field" not in cls.__dict__:
        cls({})  # the generated base class builds its field map on first use
    namespace = {**vars(models._models), "_models": models}
    hints = typing.get_type_hints(cls, globalns=namespace, localns=namespace)
    fields = {rf._rest_name: attr for attr, rf in cls._attr_to_rest_field.items()}

    def convert(value: Any, hint: Any) -> Any:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_origin(hint) is typing.Union and len(args) == 1:
            hint = args[0]
        if typing.get_origin(hint) is list and isinstance(value, list):
            return [convert(v, typing.get_args(hint)[0]) for v in value]
        if isinstance(hint, type) and issubclass(hint, Model) and isinstance(value, dict):
            return sdk_model(hint, value)
        return value

    kwargs = {}
    for key, value in body.items():
        if key not in fields:
            raise RunnerError(f"{cls.__name__}: {key!r} is not a Batch REST property")
        kwargs[fields[key]] = convert(value, hints.get(fields[key]))
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise RunnerError(f"{cls.__name__}: {exc}") from None


def _exit_code(task: Any) -> int | None:
    info = getattr(task, "execution_info", None)
    return None if info is None else info.exit_code
