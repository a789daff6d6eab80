"""The runner registry: each runner kind with its configuration class and the factory that builds it.

Built-in kinds (``local``, ``azure-batch``) are registered by :mod:`landcover_sdk.runners`; a plugin registers its
own in code with :func:`register_runner`, or from its ``pyproject.toml``::

    [project.entry-points."landcover_sdk.runners"]
    my-runner = "my_package.runner:registration"   # a RunnerKind

:func:`make_runner` and :func:`runner_config` look the kind up here, so the task plan
(:mod:`landcover_sdk.runners.plan`) never imports a concrete runner.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from .._registry import Registry
from ..config.base import StrictModel, read_config_file
from ..config.models import RunnerConfig
from ..errors import ConfigError, RunnerError
from .plan import Runner

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "landcover_sdk.runners"


class RunnerFactory(Protocol):
    """Builds a runner from its validated configuration."""

    def __call__(self, config: Any, *, dry_run: bool = False, teardown: bool = False) -> Runner:
        """The runner.

        Args:
            config: an instance of the kind's configuration class.
            dry_run: describe only; send and run nothing.
            teardown: clean up what the job created after it ran (runners without cleanup reject it).
        """
        ...


@runtime_checkable
class Inspectable(Protocol):
    """A runner whose jobs can be inspected and cleaned up after submission (``landcover job status|logs|teardown``).

    Optional: a runner that finishes its jobs inside :meth:`Runner.run` (``local``) need not implement it.
    """

    def status(self, job_id: str) -> dict[str, Any]:
        """The job's state and each task's state and exit code.

        Args:
            job_id: the job.
        """
        ...

    def logs(self, job_id: str, task_id: str, name: str = "stdout.txt") -> str:
        """One task's ``stdout.txt`` or ``stderr.txt``.

        Args:
            job_id: the job.
            task_id: the task.
            name: ``stdout.txt`` or ``stderr.txt``.
        """
        ...

    def teardown(self, job_id: str | None = None, *, delete_pool: bool | None = None) -> list[str]:
        """Delete what the job created (idempotent); returns what was deleted.

        Args:
            job_id: the job.
            delete_pool: also delete the pool or cluster the runner runs on, where it has one.
        """
        ...


@dataclass(frozen=True)
class RunnerKind:
    """One registered runner kind.

    Attributes:
        kind: the name in ``runner config``'s ``kind`` and ``landcover run --runner``.
        config_cls: the pydantic model its configuration validates as (it must accept a ``kind`` field).
        factory: builds the runner from a ``config_cls`` instance.
    """

    kind: str
    config_cls: type[BaseModel]
    factory: RunnerFactory


RUNNERS: Registry[RunnerKind] = Registry("runner", ENTRY_POINT_GROUP, RunnerError)


def register_runner(kind: str, config_cls: type[BaseModel], factory: RunnerFactory) -> RunnerKind:
    """Register runner ``kind``: its configuration class and the factory that builds it.

    Args:
        kind: the name users spell (``runner config: kind: <kind>``, ``landcover run --runner <kind>``).
        config_cls: the configuration model (a :class:`~landcover_sdk.config.base.StrictModel` with a ``kind`` field).
        factory: ``factory(config, *, dry_run, teardown) -> Runner``.
    """
    if "kind" not in config_cls.model_fields:
        raise ConfigError(f"runner {kind!r}: {config_cls.__name__} has no 'kind' field")
    return RUNNERS.register(kind, RunnerKind(kind, config_cls, factory))


def unregister_runner(kind: str) -> None:
    """Forget runner ``kind`` (no error when it is not registered).

    Args:
        kind: the registered kind.
    """
    RUNNERS.unregister(kind)


def runner_kinds() -> list[str]:
    """Every registered runner kind, built-in and plugin, sorted."""
    return RUNNERS.names()


def runner_config(data: Mapping[str, Any] | BaseModel | None = None, *, source: str = "", **changes: Any) -> Any:
    """Validate a runner configuration as the configuration class its ``kind`` registered.

    Args:
        data: a mapping (a parsed runner-config file) or an existing configuration; ``None`` for the defaults
            (kind ``local``).
        source: the file the mapping came from, for messages.
        **changes: keys to set on top (``None`` values are ignored); ``kind`` switches the class.

    Raises:
        RunnerError: an unknown kind.
        ConfigError: a field the kind's configuration rejects, with its path.
    """
    if isinstance(data, BaseModel):
        # only what the caller set travels: the kind's class supplies its own defaults for the rest
        fields = {name: getattr(data, name) for name in data.model_fields_set}
        fields.setdefault("kind", getattr(data, "kind", "local"))
    else:
        fields = dict(data or {})
    fields.update({k: v for k, v in changes.items() if v is not None})
    kind = str(fields.get("kind") or "local")
    cls = RUNNERS.get(kind).config_cls
    if isinstance(data, cls) and not changes:
        return data
    # Settings of the built-in kinds that this kind lacks (an azure.yaml run with --runner local) were ignored
    # when one model held every kind's fields; they still are, and only keys no runner knows are refused.
    ignored = sorted(set(fields) - set(cls.model_fields) & set(RunnerConfig.model_fields))
    if ignored:
        log.info("runner %s ignores %s (settings of other runner kinds)", kind, ", ".join(ignored))
        fields = {k: v for k, v in fields.items() if k not in ignored}
    fields["kind"] = kind
    if issubclass(cls, StrictModel):
        return cls.from_dict(fields, source=source)
    return cls.model_validate(fields)


def load_runner_config(path: str | Path, **changes: Any) -> Any:
    """Read a runner-config file (YAML/JSON, ``${VAR}`` expanded) as the configuration class of its ``kind``.

    Args:
        path: the file.
        **changes: keys to set on top (``None`` values are ignored), e.g. ``kind`` or ``work_dir``.
    """
    return runner_config(read_config_file(path), source=str(path), **changes)


def make_runner(config: Any = None, *, dry_run: bool = False, teardown: bool = False) -> Runner:
    """The runner ``config.kind`` names, built by its registered factory.

    Args:
        config: the runner configuration (kind, work folder, the kind's own settings); a mapping is validated with
            :func:`runner_config`; ``None``: a local runner.
        dry_run: describe only (Azure Batch: build request bodies but never create a client or send anything).
        teardown: Azure Batch: delete the job (and a pool it created) after the run.
    """
    cfg = runner_config(config)
    return RUNNERS.get(cfg.kind).factory(cfg, dry_run=dry_run, teardown=teardown)
