"""The public surface: complete, small, one import style, and documented down to every parameter."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import landcover_sdk
from landcover_sdk.config.base import StrictModel

REPO = Path(__file__).resolve().parents[1]
TORCH_NAMES = {"UNetModel", "Trainer"}


def test_dir_shows_every_exported_name_and_each_resolves() -> None:
    assert sorted(dir(landcover_sdk)) == sorted(landcover_sdk.__all__)
    for name in ("Predictor", "Trainer", "import_cntk", "ModelFile", "PredictionResult", "EvaluationReport",
                 "Region", "TileDataset", "JobSpec"):
        assert name in dir(landcover_sdk)
    for name in landcover_sdk.__all__:
        if name not in TORCH_NAMES:
            assert getattr(landcover_sdk, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Predicter'"):
        landcover_sdk.Predicter  # noqa: B018


def test_importing_the_top_level_names_needs_no_torch() -> None:
    code = ("import sys, landcover_sdk as l; names = [n for n in l.__all__ if n not in ('UNetModel', 'Trainer')]; "
            "[getattr(l, n) for n in names]; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_readme_docs_and_examples_import_top_level_names_from_the_top() -> None:
    top = set(landcover_sdk.__all__)
    deep = re.compile(r"from landcover_sdk\.[\w.]+ import ([\w, ]+)")
    offenders = []
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "examples").glob("*.py"))]
    for f in files:
        for m in deep.finditer(f.read_text()):
            names = {n.strip() for n in m.group(1).split(",")}
            if names & top:
                offenders.append(f"{f.name}: {m.group(0)}")
    assert not offenders, offenders


def _strict_models() -> Iterator[type[StrictModel]]:
    importlib.import_module("landcover_sdk.runners.spec")
    stack: list[type[StrictModel]] = [StrictModel]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            stack.append(sub)
            yield sub


def test_every_config_field_is_described() -> None:
    missing = [f"{cls.__name__}.{name}" for cls in _strict_models() for name, field in cls.model_fields.items()
               if not field.description]
    assert not missing, missing


def _public_callables() -> Iterator[tuple[str, Callable[..., Any], object]]:
    """``(qualified name, callable, object whose docstring documents it)`` for the library's public API."""
    for info in pkgutil.walk_packages(landcover_sdk.__path__, "landcover_sdk."):
        parts = info.name.split(".")[1:]
        if any(p.startswith("_") for p in parts) or parts[0] == "cli":
            continue
        try:
            mod = importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
        for name, obj in vars(mod).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                continue
            if inspect.isfunction(obj):
                yield f"{mod.__name__}.{name}", obj, obj
            elif inspect.isclass(obj) and not issubclass(obj, Exception):
                own_init = "__init__" in vars(obj) or dataclasses.is_dataclass(obj)
                if own_init and not issubclass(obj, BaseModel):
                    yield f"{mod.__name__}.{name}", obj.__init__, obj
                for attr, member in vars(obj).items():
                    func = member.__func__ if isinstance(member, classmethod | staticmethod) else member
                    if not attr.startswith("_") and inspect.isfunction(func):
                        yield f"{mod.__name__}.{name}.{attr}", func, func


def test_every_public_callable_with_three_or_more_parameters_documents_each() -> None:
    problems = []
    for qual, func, doc_of in _public_callables():
        params = [p for p in inspect.signature(func).parameters.values()
                  if p.name not in ("self", "cls") and p.kind is not inspect.Parameter.VAR_POSITIONAL]
        if len(params) < 3:
            continue
        doc = inspect.getdoc(doc_of) or ""
        section = "Args:" if "Args:" in doc else "Attributes:" if "Attributes:" in doc else None
        if section is None:
            problems.append(f"{qual}: no Args/Attributes section")
            continue
        body = doc.split(section, 1)[1]
        for p in params:
            label = f"**{p.name}" if p.kind is inspect.Parameter.VAR_KEYWORD else p.name
            if not re.search(rf"^\s+{re.escape(label)}( \(.*\))?:", body, re.M):
                problems.append(f"{qual}: parameter {label} undocumented")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["Predictor", "TileDataset", "Trainer", "import_cntk"])
def test_the_main_entry_points_carry_an_example(name: str) -> None:
    if name in TORCH_NAMES:
        pytest.importorskip("torch")
    assert "Example:" in (inspect.getdoc(getattr(landcover_sdk, name)) or "")


def test_translated_third_party_errors_keep_their_cause(tmp_path: Path) -> None:
    from rasterio.errors import RasterioIOError

    from landcover_sdk import InvalidRasterError, ModelFile, ModelFormatError
    from landcover_sdk.data import read_info

    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00" + b"\x00" * 64)
    with pytest.raises(InvalidRasterError, match=r"bad\.tif: not a readable raster") as raster_err:
        read_info(bad)
    assert isinstance(raster_err.value.__cause__, RasterioIOError)
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ModelFormatError, match="header is not JSON") as model_err:
        ModelFile.load(model)
    assert model_err.value.__cause__ is not None
