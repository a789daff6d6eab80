"""Base class for configuration models: strict validation, YAML/JSON round trips, no secrets out."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from ..errors import ConfigError

T = TypeVar("T", bound="StrictModel")


_FIELD_FIRST = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*): ")


def format_validation_error(exc: ValidationError, *, prefix: str = "", source: str = "") -> str:
    """One readable message per pydantic error, each naming the dotted field path.

    Args:
        exc: the pydantic error.
        prefix: dotted path prepended to every field (e.g. ``region``).
        source: the file the data came from, prepended as ``<source>: ``.
    """
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        if prefix:
            loc = f"{prefix}.{loc}" if loc else prefix
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        named = _FIELD_FIRST.match(msg) if err["type"] == "value_error" else None
        if named:  # a model-level rule that names its field ("region_size: …") reports under that field's path
            loc = f"{loc}.{named.group(1)}" if loc else named.group(1)
            msg = msg[named.end():]
        parts.append(f"{loc or '<root>'}: {msg}")
    head = f"{source}: " if source else ""
    return head + "; ".join(parts)


class StrictModel(BaseModel):
    """A configuration model that rejects unknown keys and never serialises secrets.

    Secret fields (``SecretStr``) are written out as ``null``: a saved configuration never
    holds a credential; supply it again through the environment or at load time.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    @model_serializer(mode="wrap")
    def _drop_secrets(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in type(self).model_fields:
            if isinstance(getattr(self, name), SecretStr) and name in data:
                data[name] = None
        return data

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any], *, source: str = "") -> T:
        """Validate a mapping, raising :class:`ConfigError` with field paths on failure."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, source=source)) from None

    def updated(self: T, **changes: Any) -> T:
        """A validated copy with ``changes`` applied (``None`` values are ignored).

        Unlike pydantic's ``model_copy(update=...)`` every validator runs again, so an override
        that breaks a rule raises :class:`ConfigError` naming the field.
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        unknown = sorted(set(changes) - set(type(self).model_fields))
        if unknown:
            raise ConfigError(f"{', '.join(unknown)}: unknown key for {type(self).__name__}")
        # Secrets are dropped by to_dict(), so take the values from the live object.
        data = {name: getattr(self, name) for name in type(self).model_fields if name in self.model_fields_set}
        return type(self).from_dict({**data, **changes})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible mapping of this configuration, with secrets removed."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        """This configuration as YAML text (secrets removed)."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        """This configuration as JSON text (secrets removed)."""
        return json.dumps(self.to_dict(), indent=2)

    def save(self, path: str | Path) -> Path:
        """Write this configuration to ``path`` (YAML or JSON by extension), atomically."""
        from .._atomic import atomic_write_text

        p = Path(path)
        text = self.to_json() if p.suffix.lower() == ".json" else self.to_yaml()
        atomic_write_text(p, text)
        return p


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON configuration file into a mapping, with ``${VAR}`` expansion."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: configuration file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not a text file (byte {exc.start} is not UTF-8); configurations are YAML or "
                          "JSON") from exc
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read configuration file ({exc.strerror})") from exc
    text = os.path.expandvars(text)
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if p.suffix.lower() == ".json" else "YAML"
        raise ConfigError(f"{p}: not valid {kind} ({' '.join(str(exc).split())})") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping, got {type(data).__name__}")
    return data


def load_config(path: str | Path, cls: type[T]) -> T:
    """Load and strictly validate a YAML/JSON file as configuration model ``cls``.

    Environment variables written ``${NAME}`` are expanded first, which is how secrets are
    meant to enter a configuration file. Errors raise :class:`ConfigError` naming the file and
    each offending field path.
    """
    return cls.from_dict(read_config_file(path), source=str(path))
