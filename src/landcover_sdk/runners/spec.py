"""The job description: what to run (train / predict / evaluate), on which data, with what resources.

A :class:`JobSpec` is plain data: YAML in, YAML out, and the same file runs under
:class:`~landcover_sdk.runners.LocalRunner` and :class:`~landcover_sdk.runners.BatchAIRunner`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, model_validator

from ..config.base import StrictModel, load_config, read_config_file
from ..config.models import PredictConfig, TrainConfig
from ..config.region import Region
from ..errors import ConfigError, LandcoverError, RunnerError
from ..imagery.source import is_spec, parse_spec

JobKind = Literal["train", "predict", "evaluate"]

REQUIRED_INPUTS: dict[str, tuple[str, ...]] = {
    "train": ("data",),
    "predict": ("model", "images"),
    "evaluate": ("model", "image", "labels"),
}
OPTIONAL_INPUTS: dict[str, tuple[str, ...]] = {"train": ("init_from",), "predict": (), "evaluate": ()}


class Resources(StrictModel):
    """Compute a job asks for. ``nodes × processes_per_node`` processes train data-parallel."""

    nodes: PositiveInt = Field(default=1, description="machines (Batch nodes) the job uses")
    processes_per_node: PositiveInt = Field(
        default=1, description="training processes per node (one per GPU on GPU nodes)")
    gpus_per_node: NonNegativeInt = Field(default=0, description="GPUs each node has (NC4as_T4_v3: 1)")
    require_gpu: bool = Field(default=False, description="fail instead of falling back to CPUs")
    vm_size: str = Field(default="Standard_NC4as_T4_v3",
                         description="Azure VM size of the pool's nodes (default: 1 NVIDIA T4, 4 vCPUs)")
    low_priority: bool = Field(default=False, description="spot nodes (cheaper, may be pre-empted; only in Batch "
                                                          "accounts with user-subscription pool allocation)")
    max_task_retries: NonNegativeInt = Field(default=1, description="times a failed task is retried")
    timeout_minutes: float = Field(default=240.0, gt=0.0, description="wall-clock limit of each task")

    @model_validator(mode="after")
    def _possible(self) -> Resources:
        if self.require_gpu and self.gpus_per_node == 0:
            raise ValueError("require_gpu: true needs gpus_per_node >= 1")
        if self.require_gpu and self.processes_per_node > self.gpus_per_node:
            raise ValueError(f"processes_per_node: {self.processes_per_node} processes but only "
                             f"{self.gpus_per_node} GPU(s) per node (one process per GPU)")
        return self

    @property
    def world_size(self) -> int:
        """Total training processes."""
        return self.nodes * self.processes_per_node


class JobSpec(StrictModel):
    """One job: ``kind``, its configuration, input and output storage URLs, and resources.

    Inputs by kind — train: ``data`` (folder of tile pairs), optional ``init_from`` (model);
    predict: ``model`` and ``images`` (list of rasters); evaluate: ``model``, ``image``,
    ``labels``. ``config`` is a path to a YAML/JSON file or the configuration inline (train:
    :class:`TrainConfig`; predict/evaluate: :class:`PredictConfig`). Every output goes under
    the ``outputs`` URL. ``chunks`` splits a prediction across that many tasks (nodes).
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$", description="job name; Batch job id prefix")
    kind: JobKind = Field(description="train, predict or evaluate")
    config: str | dict[str, Any] | None = Field(
        default=None, description="a configuration file path, builtin:quick / builtin:tutorial, or the configuration "
                                  "inline (train: TrainConfig; predict/evaluate: PredictConfig)")
    inputs: dict[str, str | list[str]] = Field(
        default_factory=dict, description="storage URLs by name: train: data (+ init_from); predict: model, images (a"
                                          " list); evaluate: model, image, labels")
    outputs: str = Field(description="storage URL (folder) every output goes under")
    resources: Resources = Field(default_factory=Resources, description="compute the job asks for")
    chunks: PositiveInt = Field(default=1, description="prediction tasks the images are split into")
    strip_rows: PositiveInt | None = Field(default=None, description="split each image into strips of this "
                                                                     "many rows (large rasters)")
    region: Region | None = Field(default=None, description="predict/evaluate: the region of each image (default "
                                                            "the whole image); see Region")
    container_image: str | None = Field(default=None, description="Docker image the tasks run in")
    setup_command: str | None = Field(default=None, description="node start command, e.g. pip install")
    env: dict[str, str] = Field(
        default_factory=dict, description="extra environment variables of the tasks (no credentials)")

    @model_validator(mode="after")
    def _consistent(self) -> JobSpec:
        need = REQUIRED_INPUTS[self.kind]
        allowed = set(need) | set(OPTIONAL_INPUTS[self.kind])
        for key in need:
            if key not in self.inputs:
                raise ValueError(f"inputs.{key}: required for a {self.kind} job")
        for key in self.inputs:
            if key not in allowed:
                raise ValueError(f"inputs.{key}: not an input of a {self.kind} job (allowed: {sorted(allowed)})")
        for key, value in self.inputs.items():
            if isinstance(value, list) != (key == "images"):
                raise ValueError(f"inputs.{key}: {'a list of URLs' if key == 'images' else 'one URL'} expected")
            if isinstance(value, list) and not value:
                raise ValueError(f"inputs.{key}: empty list")
        if self.kind != "predict" and (self.chunks != 1 or self.strip_rows is not None):
            raise ValueError("chunks / strip_rows: only for predict jobs")
        if self.strip_rows is not None and self.region is not None and self.region.kind != "whole":
            raise ValueError("region: a job split into strip_rows predicts whole images")
        if self.kind == "train" and self.region is not None:
            raise ValueError("region: only for predict and evaluate jobs")
        naip = [url for key, url in self.input_urls() if key in ("images", "image") and is_spec(url)]
        if naip:
            for url in naip:
                try:
                    parse_spec(url)
                except LandcoverError as exc:
                    raise ValueError(f"inputs: {exc}") from None
            if self.kind != "predict":
                raise ValueError("inputs: naip: imagery is for predict jobs (labels cannot align with a fetched scene)")
            if self.region is None or self.region.kind in ("whole", "window"):
                raise ValueError("region: naip: images need a place (center_lat/center_lon + region_size, bounds or "
                                 "geometry)")
        if self.resources.require_gpu and self.kind != "train":
            raise ValueError("resources.require_gpu: only training runs on GPUs (prediction runs ONNX Runtime on "
                             "CPUs)")
        for key in self.env:
            if any(word in key.upper() for word in ("KEY", "SECRET", "PASSWORD", "TOKEN", "CONNECTION_STRING")):
                raise ValueError(f"env.{key}: looks like a credential; give credentials to the runner, "
                                 "never in a job file")
        return self

    # ------------------------------------------------------------------ helpers
    @classmethod
    def load(cls, path: str | Path) -> JobSpec:
        """Read a job file (YAML/JSON). A relative ``config`` path is resolved against the file's folder."""
        spec = load_config(path, cls)
        cfg = spec.config
        if isinstance(cfg, str) and "://" not in cfg and not cfg.startswith("builtin:") and not Path(cfg).is_absolute():
            spec = spec.model_copy(update={"config": str(Path(path).parent / cfg)})
        return spec

    def input_urls(self) -> list[tuple[str, str]]:
        """``(name, url)`` for every input, lists flattened."""
        out: list[tuple[str, str]] = []
        for key, value in self.inputs.items():
            for url in value if isinstance(value, list) else [value]:
                out.append((key, url))
        return out

    def config_dict(self) -> dict[str, Any]:
        """The configuration as a mapping (a config file is read)."""
        if self.config is None:
            return {}
        if isinstance(self.config, dict):
            return dict(self.config)
        if self.config.startswith("builtin:"):
            from ..resources import load_resource_config

            try:
                return load_resource_config(self.config.removeprefix("builtin:"))
            except FileNotFoundError:
                raise ConfigError(f"config: no packaged configuration {self.config!r} "
                                  "(builtin:quick, builtin:tutorial)") from None
        return read_config_file(self.config)

    def resolved(self) -> JobSpec:
        """This spec with its config inlined and validated, so the file alone describes the job."""
        data = self.config_dict()
        if self.kind == "train":
            if not data:
                raise RunnerError("config: a train job needs a training configuration")
            # data.root is replaced by the staged ``data`` input on the node
            data.setdefault("data", {}).setdefault("root", "staged")
            TrainConfig.from_dict(data, source="config")
        else:
            PredictConfig.from_dict(data, source="config")
        return self.model_copy(update={"config": data})

    def train_config(self, *, data_root: str | None = None, output_dir: str, init_from: str | None = None,
                     pairs: list[tuple[str, str]] | None = None) -> TrainConfig:
        """The training configuration with data, output and initial model pointed at staged paths.

        With ``resources.require_gpu`` the device is ``cuda``, so a node without a GPU fails
        instead of training on its CPUs.

        Args:
            data_root: the local folder the training tiles were staged into.
            output_dir: where checkpoints and the model go on this node.
            init_from: a local model file to start from (the staged ``init_from`` input).
            pairs: instead of ``data_root``, the tile pairs in the dataset's order (staged or remote).
        """
        data = self.config_dict()
        data.setdefault("data", {})
        # the data location is replaced by the staged one (a pairs list named paths on the submitting machine)
        where: dict[str, Any] = {"pairs": [list(p) for p in pairs]} if pairs is not None else {"root": data_root}
        data["data"] = {k: v for k, v in data["data"].items() if k not in ("pairs", "root")} | where
        cfg = TrainConfig.from_dict(data, source="config")
        return cfg.updated(output_dir=output_dir, init_from=init_from,
                           device="cuda" if self.resources.require_gpu else None)

    def predict_config(self) -> PredictConfig:
        """The prediction configuration."""
        return PredictConfig.from_dict(self.config_dict(), source="config")
