"""The ``naip:`` source-name language and the one table of named imagery sources.

``naip:`` followed by where, then ``?option=value&…``: where is a registered name (``SOURCES``:
``planetary-computer``, ``earth-search``, a plugin's), a STAC API URL, or a static catalog (a path
or URL ending in ``.json``). Adding a named catalog is one :meth:`Registry.register` call (or an
entry point in the ``landcover_sdk.imagery`` group naming a :class:`NamedSource`); the parser, the
constructor and both CLI help texts read from the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .._registry import Registry
from ..errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .source import NaipSource

#: What every NAIP source name starts with.
SOURCE_PREFIX = "naip:"
#: The name an empty ``naip:`` stands for.
DEFAULT_SOURCE = "planetary-computer"


@dataclass(frozen=True)
class NamedSource:
    """A named imagery source: how to build it and how to describe it.

    Args:
        factory: ``factory(year=..., collection=..., **options) -> NaipSource``.
        summary: a few words for help texts (``"the Planetary Computer"``).
        listed: whether help texts list the name (``False`` for aliases such as ``pc``).
    """

    factory: Callable[..., NaipSource]
    summary: str = ""
    listed: bool = True


#: Named imagery sources (``naip:<name>``); plugins register under the ``landcover_sdk.imagery`` entry points.
SOURCES: Registry[NamedSource] = Registry("imagery source", "landcover_sdk.imagery")


def register_source(name: str, factory: Callable[..., NaipSource], summary: str = "", *,
                    listed: bool = True) -> NamedSource:
    """Register a named imagery source, usable as ``naip:<name>`` everywhere an image is named.

    Args:
        name: the name (``"my-state-ortho"``).
        factory: ``factory(year=..., collection=..., **options) -> NaipSource``.
        summary: a few words for help texts.
        listed: whether help texts list the name.
    """
    return SOURCES.register(name, NamedSource(factory, summary, listed))


def source_names(*, listed_only: bool = True) -> list[str]:
    """The registered source names, the default first.

    Args:
        listed_only: leave out aliases.
    """
    names = [n for n in SOURCES.names() if not listed_only or SOURCES.get(n).listed]
    return sorted(names, key=lambda n: (n != DEFAULT_SOURCE, n))


def source_help(*, prefixed: bool = False) -> str:
    """The sources a help text lists: every listed name, a STAC API URL and a static catalog.

    Args:
        prefixed: spell each with ``naip:``.
    """
    if prefixed:
        return ", ".join([*(SOURCE_PREFIX + n for n in source_names()), f"{SOURCE_PREFIX}<STAC API URL>",
                          f"{SOURCE_PREFIX}<catalog.json>"])
    names = [n + (" (default)" if n == DEFAULT_SOURCE else "") for n in source_names()]
    return ", ".join(names) + ", a STAC API URL or a static catalog.json"


def _option(key: str, value: str) -> Any:
    if key == "year":
        if not value.isdigit():
            raise ConfigError(f"naip: year={value!r} is not a year")
        return int(value)
    if key in ("allow_mixed_years", "allow_partial"):
        if value.lower() not in ("", "1", "true", "yes", "0", "false", "no"):
            raise ConfigError(f"naip: {key}={value!r} is not true or false")
        return value.lower() in ("", "1", "true", "yes")
    if key == "resolution":
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"naip: resolution={value!r} is not a number") from None
    if key in ("resampling", "collection", "asset"):
        return value
    raise ConfigError(f"naip: unknown option {key!r} (year, allow_mixed_years, allow_partial, resolution, "
                      "resampling, collection, asset)")


def parse_source_name(spec: str) -> tuple[str, dict[str, Any]]:
    """Split a ``naip:`` source name into where and options, checking both (no catalog is contacted).

    Args:
        spec: e.g. ``naip:planetary-computer?year=2018``.

    Raises:
        ConfigError: not a NAIP source, or an unknown or malformed option.
    """
    if not spec.startswith(SOURCE_PREFIX):
        raise ConfigError(f"{spec!r}: a NAIP source starts with {SOURCE_PREFIX!r}")
    where, _, query = spec[len(SOURCE_PREFIX):].partition("?")
    if (where and where not in SOURCES and not where.endswith(".json")
            and not where.startswith(("http://", "https://"))):
        raise ConfigError(f"{spec!r}: not a NAIP source (naip:, {source_help(prefixed=True)})")
    opts = {key: _option(key, value) for key, value in parse_qsl(query, keep_blank_values=True)}
    return where, opts


def is_source_name(value: object) -> bool:
    """Whether ``value`` names a NAIP source (``naip:…``) rather than a file.

    Args:
        value: an image argument.
    """
    return isinstance(value, str) and value.startswith(SOURCE_PREFIX)


# The names before review 2 (``spec`` also meant job specs and parameter shapes).
SPEC_PREFIX = SOURCE_PREFIX
parse_spec = parse_source_name
is_spec = is_source_name

__all__ = ["DEFAULT_SOURCE", "SOURCES", "SOURCE_PREFIX", "NamedSource", "is_source_name", "parse_source_name",
           "register_source", "source_help", "source_names"]
