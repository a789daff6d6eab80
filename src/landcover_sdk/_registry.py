"""One registry pattern for every extension point: built-ins registered by name, plugins found through entry points.

Storage backends (``landcover_sdk.storage``), runners (``landcover_sdk.runners``), named imagery sources
(``landcover_sdk.imagery``) and prediction outputs (``landcover_sdk.outputs``) are each a :class:`Registry`. A plugin
package declares, in its own ``pyproject.toml``::

    [project.entry-points."landcover_sdk.runners"]
    my-runner = "my_package.runner:registration"

and the object the entry point names is registered under the entry point's name the first time the registry is
looked up. A plugin that fails to import is logged and skipped, never allowed to break the built-ins; a name
registered in code wins over an entry point of the same name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from .errors import ConfigError, LandcoverError

log = logging.getLogger(__name__)

T = TypeVar("T")


class Registry(Generic[T]):
    """Named entries of one kind, from code and from an entry-point group.

    Args:
        what: what an entry is, for messages (``"runner"``, ``"imagery source"``).
        group: the entry-point group plugins register under.
        error: the :class:`LandcoverError` subclass raised for an unknown name.
    """

    def __init__(self, what: str, group: str, error: type[LandcoverError] = ConfigError) -> None:
        self.what = what
        self.group = group
        self._error = error
        self._entries: dict[str, T] = {}
        self._lock = threading.Lock()
        self._plugins_loaded = False

    def register(self, name: str, entry: T) -> T:
        """Register ``entry`` under ``name`` (case-insensitive), replacing an earlier one; returns ``entry``.

        Args:
            name: the name users spell (``"azure-batch"``, ``"planetary-computer"``).
            entry: what the name stands for (a factory, a class, a registration record).
        """
        with self._lock:
            self._entries[name.lower()] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Forget ``name`` (no error when it is not registered).

        Args:
            name: the registered name.
        """
        with self._lock:
            self._entries.pop(name.lower(), None)

    def get(self, name: str) -> T:
        """The entry registered under ``name``.

        Args:
            name: the registered name (case-insensitive).

        Raises:
            LandcoverError: the registry's error type, naming the unknown name and every known one.
        """
        with self._lock:
            self._load_plugins()
            entry = self._entries.get(name.lower())
            if entry is None:
                known = ", ".join(sorted(self._entries)) or "none"
                raise self._error(f"unknown {self.what} {name!r} (known: {known})")
            return entry

    def names(self) -> list[str]:
        """Every registered name, built-in and plugin, sorted."""
        with self._lock:
            self._load_plugins()
            return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self.names()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            if ep.name.lower() in self._entries:
                continue
            try:
                entry = ep.load()
            except Exception as exc:  # a broken plugin must not break the built-ins
                log.warning("%s plugin %s (%s) failed to load: %s", self.what, ep.name, ep.value, exc)
                continue
            self._entries[ep.name.lower()] = entry
