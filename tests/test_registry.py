"""The registry behind every extension point: names from code and from entry points."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from landcover_sdk import _registry
from landcover_sdk._registry import Registry
from landcover_sdk.errors import ConfigError, StorageError


class _EntryPoint:
    def __init__(self, name: str, value: Any, *, broken: bool = False) -> None:
        self.name = name
        self.value = f"plugin:{name}"
        self._loaded = value
        self._broken = broken

    def load(self) -> Any:
        if self._broken:
            raise ImportError("plugin missing")
        return self._loaded


@given(st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True))
def test_names_are_case_insensitive(name: str) -> None:
    reg: Registry[int] = Registry("thing", "landcover_sdk.test-none")
    reg.register(name, 1)
    assert reg.get(name.upper()) == reg.get(name.lower()) == 1
    assert name.lower() in reg.names()
    assert name.swapcase() in reg


def test_an_unknown_name_raises_the_registry_error_listing_every_known_name() -> None:
    reg: Registry[int] = Registry("storage backend", "landcover_sdk.test-none", StorageError)
    reg.register("file", 1)
    reg.register("az", 2)
    with pytest.raises(StorageError, match=r"unknown storage backend 's3' \(known: az, file\)"):
        reg.get("s3")
    with pytest.raises(ConfigError, match="known: none"):
        Registry[int]("runner", "landcover_sdk.test-none").get("x")


def test_plugins_load_once_broken_ones_are_skipped_and_code_wins(monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def fake_entry_points(group: str) -> list[_EntryPoint]:
        calls.append(group)
        return [_EntryPoint("plug", 10), _EntryPoint("broken", 0, broken=True), _EntryPoint("local", 99)]

    monkeypatch.setattr(_registry, "entry_points", fake_entry_points)
    reg: Registry[int] = Registry("runner", "landcover_sdk.runners")
    reg.register("local", 1)
    assert reg.names() == ["local", "plug"]
    assert reg.get("plug") == 10
    assert reg.get("local") == 1
    assert calls == ["landcover_sdk.runners"]
    assert "runner plugin broken" in caplog.text
    reg.unregister("plug")
    assert "plug" not in reg
