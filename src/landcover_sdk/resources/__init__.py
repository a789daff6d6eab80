"""Configurations shipped with the package (``quick.yaml``, ``tutorial.yaml``)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml


def load_resource_config(name: str) -> dict[str, Any]:
    """The mapping in a packaged YAML configuration (e.g. ``"quick"``)."""
    text = files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data
