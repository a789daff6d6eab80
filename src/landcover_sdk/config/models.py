"""Configuration models for data, model, training, prediction and runners.

Defaults are the tutorial's settings (see ``docs/tutorial-mapping.md``). Every model rejects
unknown keys; :func:`~landcover_sdk.config.load_config` reports errors with field paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from .base import StrictModel
from .schemes import BUILTIN_SCHEMES, ClassScheme

PositiveInt = Annotated[int, Field(gt=0)]

SchemeSpec = Annotated[
    str | ClassScheme,
    Field(description="'auto', a built-in scheme name, or a full scheme mapping"),
]


def _check_scheme_name(v: str | ClassScheme) -> str | ClassScheme:
    if isinstance(v, str) and v != "auto" and v not in BUILTIN_SCHEMES:
        raise ValueError(f"unknown class scheme {v!r} (choose 'auto' or one of {', '.join(BUILTIN_SCHEMES)})")
    return v


class SamplingConfig(StrictModel):
    """How training windows are drawn from tiles (the tutorial's minibatch source)."""

    window: PositiveInt = Field(
        default=256, description="side of each training window in pixels (the tutorial: 256; must equal model.window)")
    minibatch_size: PositiveInt = Field(
        default=10, description="windows per minibatch, summed over all processes (the tutorial: 10)")
    minibatches_per_image: PositiveInt = Field(
        default=160, description="minibatches drawn from one tile before moving to the next (the tutorial: 160)")
    rare_classes: list[int] = Field(
        default_factory=lambda: [1, 4], description="classes whose presence keeps a window (the tutorial: water 1 and"
                                                    " barren 4)")
    rare_fraction: float = Field(
        default=0.003, ge=0.0, le=1.0, description="a window is always kept when rare classes cover more than this "
                                                   "share of it (0.003)")
    keep_probability: float = Field(
        default=0.5, ge=0.0, le=1.0, description="probability of keeping a window without enough rare classes (0.5)")
    max_tiles_per_worker: PositiveInt | None = Field(
        default=5, description="tiles each worker draws from (the tutorial: 5); None for all of its share")
    seed: int = Field(
        default=0, description="seed of the counter-based sampler (window i is a pure function of seed, rank and i)")


class DataConfig(StrictModel):
    """Where the tile pairs are and how to read them."""

    root: str | None = Field(default=None, description="folder or storage URL holding the tile pairs")
    pairs: list[tuple[str, str]] | None = Field(default=None, description="explicit (image, label) paths")
    image_suffix: str = Field(default="_NAIP.tif", description="file-name ending of imagery files (<name>_NAIP.tif)")
    label_suffix: str = Field(
        default="_LandCover.tif", description="file-name ending of label files (<name>_LandCover.tif)")
    bands: list[PositiveInt] = Field(default_factory=lambda: [1, 2, 3, 4], description="1-based image bands")
    scale: float = Field(default=1.0 / 256.0, gt=0.0, description="imagery is multiplied by this (tutorial: 1/256)")
    class_scheme: SchemeSpec = "auto"
    cache: Literal["auto", "memory", "windowed"] = Field(
        default="auto", description="'memory' loads whole tiles, 'windowed' reads windows from disk, 'auto' picks by "
                                    "cache_max_megapixels")
    cache_max_megapixels: PositiveInt = Field(
        default=64, description="'auto' cache: tiles up to this size are held in memory")
    check_labels: bool = Field(
        default=True, description="read every label value up front and refuse codes outside the class scheme")
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="how training windows are drawn")

    @field_validator("class_scheme")
    @classmethod
    def _scheme_name(cls, v: str | ClassScheme) -> str | ClassScheme:
        return _check_scheme_name(v)

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if self.root is None and not self.pairs:
            raise ValueError("give either 'root' (a folder of tile pairs) or 'pairs'")
        if len(set(self.bands)) != len(self.bands):
            raise ValueError(f"bands: repeated band in {self.bands}")
        return self


class ModelConfig(StrictModel):
    """The tutorial network's architecture (defaults reproduce the tutorial exactly)."""

    num_classes: int = Field(default=5, ge=2, description="output classes (the tutorial: 5, class 0 = no data)")
    in_bands: PositiveInt = Field(
        default=4, description="input bands (the tutorial: 4 = red, green, blue, near-infrared)")
    channels: tuple[PositiveInt, PositiveInt, PositiveInt, PositiveInt] = Field(
        default=(64, 32, 32, 32), description="feature channels of the four encoder stages (the tutorial: 64, 32, 32,"
                                              " 32)")
    blocks_per_stage: PositiveInt = Field(
        default=2, description="residual blocks in each encoder stage (the tutorial: 2)")
    window: PositiveInt = Field(
        default=256, description="side of the window the network sees (the tutorial: 256; a multiple of 8)")
    margin: int = Field(
        default=64, ge=0, description="pixels cropped from every side of a window's output (the tutorial: 64, keeping"
                                      " a 128 core)")
    centred_bands: list[int] = Field(
        default_factory=lambda: [0, 1, 2],
        description="0-based bands from which each window's mean is subtracted inside the network (the tutorial: "
                    "red, green, blue); the name is kept because model files store it")
    bn_eps: float = Field(default=1e-5, gt=0.0, description="BatchNorm epsilon (CNTK's default 1e-5)")

    @model_validator(mode="after")
    def _geometry(self) -> ModelConfig:
        if self.window % 8:
            raise ValueError(f"window: {self.window} must be a multiple of 8 (three stride-2 stages)")
        if self.window <= 2 * self.margin:
            raise ValueError(f"window: {self.window} must exceed twice the margin ({2 * self.margin})")
        bad = [b for b in self.centred_bands if not 0 <= b < self.in_bands]
        if bad:
            raise ValueError(f"centred_bands: {bad} outside 0..{self.in_bands - 1}")
        return self

    @property
    def core(self) -> int:
        """Side of the output centre kept from each window (tutorial: 128)."""
        return self.window - 2 * self.margin


class LrStage(StrictModel):
    """One stage of the learning-rate schedule: ``lr`` per minibatch for ``epochs`` epochs."""

    lr: float = Field(gt=0.0, description="learning rate per minibatch (CNTK's unit) during this stage")
    epochs: PositiveInt | None = Field(default=None, description="None: for the rest of training")


class RmsPropConfig(StrictModel):
    """CNTK's RMSProp constants (tutorial: gamma 0.95, inc 1.1, dec 0.9, max 1.1, min 0.9)."""

    gamma: float = Field(
        default=0.95, gt=0.0, lt=1.0, description="decay of the running mean of squared gradients (CNTK's gamma, 0.95)")
    inc: float = Field(
        default=1.1, ge=1.0, description="factor by which a per-weight step grows while the gradient sign is stable "
                                         "(1.1)")
    dec: float = Field(
        default=0.9, gt=0.0, le=1.0, description="factor by which a per-weight step shrinks when the gradient sign "
                                                 "flips (0.9)")
    max: float = Field(default=1.1, gt=0.0, description="largest per-weight step multiplier (1.1)")
    min: float = Field(default=0.9, gt=0.0, description="smallest per-weight step multiplier (0.9)")

    @model_validator(mode="after")
    def _bounds(self) -> RmsPropConfig:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self


class ValidationConfig(StrictModel):
    """Optional per-epoch validation on held-out tile pairs (grid-sampled)."""

    pairs: list[tuple[str, str]] = Field(
        default_factory=list, description="(image, label) paths or URLs evaluated on the tutorial's grid after "
                                          "training epochs")
    every_epochs: PositiveInt = Field(default=1, description="validate after every N epochs")


class TrainConfig(StrictModel):
    """A training run: data, model, the tutorial's recipe, and where outputs go."""

    data: DataConfig = Field(description="the tile pairs and how windows are drawn from them")
    model: ModelConfig = Field(default_factory=ModelConfig, description="the network's architecture")
    output_dir: str = Field(
        default="runs/train", description="folder for checkpoints, metrics.jsonl and the final model.safetensors")
    epochs: PositiveInt = Field(default=1, description="total epochs to train")
    epoch_size: PositiveInt = Field(default=16_000, description="windows per epoch")
    lr_schedule: list[LrStage] = Field(
        default_factory=lambda: [LrStage(lr=1e-4, epochs=30), LrStage(lr=1e-5, epochs=30), LrStage(lr=1e-6)],
        description="learning-rate stages (the tutorial: 1e-4 for 30 epochs, 1e-5 for 30, then 1e-6)")
    optimizer: Literal["cntk-rmsprop", "adam", "adamw"] = Field(
        default="cntk-rmsprop", description="'cntk-rmsprop' reproduces the tutorial's optimizer; 'adam'/'adamw' are "
                                            "PyTorch's")
    rmsprop: RmsPropConfig = Field(default_factory=RmsPropConfig, description="CNTK RMSProp constants")
    l2: float = Field(
        default=1e-5, ge=0.0, description="L2 regularisation weight per sample (CNTK's l2_regularization_weight)")
    bn_time_constant: float = Field(
        default=4096.0, gt=0.0,
        description="BatchNorm running statistics time constant in samples (CNTK's normalization_time_constant)")
    class_weights: list[float] = Field(
        default_factory=lambda: [0.0, 1.0, 1.0, 1.0, 1.0], description="loss weight of each class (the tutorial: 0 "
                                                                       "for no data, 1 for the rest)")
    seed: int = Field(default=0, description="seed of weight initialisation and sampling")
    keep_last: PositiveInt | None = Field(
        default=None, description="keep only the newest N checkpoints (None keeps all)")
    checkpoint_every_steps: PositiveInt | None = Field(
        default=None, description="also checkpoint every N minibatches (besides every epoch)")
    init_from: str | None = Field(
        default=None, description="a model to start from (fine-tuning) instead of fresh weights: a .safetensors "
                                  "or CNTK .model file, or builtin:tutorial-250epochs")
    validation: ValidationConfig | None = Field(
        default=None, description="optional per-epoch validation on held-out pairs")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        default="fp32", description="compute precision: fp32, or mixed bf16/fp16 autocast on GPUs")
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="'auto' uses a GPU when there is one; 'cuda' fails without one")
    threads: PositiveInt | None = Field(default=None, description="CPU threads for torch (default: torch's choice)")

    @property
    def sampler_seed(self) -> int:
        """The window sampler's seed (also what draws tiles when workers outnumber them)."""
        return self.seed + self.data.sampling.seed

    @field_validator("class_weights")
    @classmethod
    def _weights(cls, v: list[float]) -> list[float]:
        if any(w < 0 for w in v):
            raise ValueError("class weights must be non-negative")
        if not any(w > 0 for w in v):
            raise ValueError("at least one class weight must be positive")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if len(self.class_weights) != self.model.num_classes:
            raise ValueError(
                f"class_weights: {len(self.class_weights)} weights for {self.model.num_classes} classes"
            )
        if len(self.data.bands) != self.model.in_bands:
            raise ValueError(f"data.bands: {len(self.data.bands)} bands but model.in_bands is {self.model.in_bands}")
        if self.data.sampling.window != self.model.window:
            raise ValueError(
                f"data.sampling.window: {self.data.sampling.window} differs from model.window {self.model.window}"
            )
        if self.epoch_size % self.data.sampling.minibatch_size:
            raise ValueError(
                f"epoch_size: {self.epoch_size} is not a multiple of the minibatch size "
                f"{self.data.sampling.minibatch_size}"
            )
        stages = self.lr_schedule
        if not stages:
            raise ValueError("lr_schedule: needs at least one stage")
        if any(s.epochs is None for s in stages[:-1]):
            raise ValueError("lr_schedule: only the last stage may omit 'epochs'")
        return self


class PredictConfig(StrictModel):
    """How a predictor tiles a raster and where it computes."""

    mode: Literal["exact", "fast"] = Field(
        default="exact", description="'exact' reproduces the tutorial's windows bit for bit; 'fast' runs larger "
                                     "windows (~3x faster, ~99.9 % the same classes)")
    backend: Literal["onnxruntime", "torch"] = Field(
        default="onnxruntime", description="'onnxruntime' (core install, no torch) or 'torch' (train extra)")
    device: str = Field(
        default="cpu",
        description="where the network runs: 'cpu', or 'cuda' / 'cuda:N' (onnxruntime: needs onnxruntime-gpu; "
                    "torch: a CUDA build)")
    autocast: Literal["fp16", "bf16"] | None = Field(
        default=None, description="torch backend only: run the network under torch.autocast in this precision "
                                  "(approximate: never labelled exact)")
    batch_size: PositiveInt = Field(default=2, description="256x256 windows per call (larger windows: fewer)")
    threads: PositiveInt | None = Field(default=None, description="compute threads (default: every CPU)")
    fast_window: PositiveInt = Field(
        default=576, description="fast-mode window side (576: 512-pixel cores, fastest measured on CPU; int8 "
                                 "models default to 640 with a 64-pixel halo)")
    fast_halo: int = Field(default=32, ge=0, description="context kept around each fast-mode core; the input "
                                                         "is still read with the model's 64-pixel margin")
    memory_arena: bool = Field(default=True, description="ONNX Runtime's CPU memory arena (faster; more memory)")
    edge_mode: Literal["reflect", "symmetric", "edge", "constant"] = Field(
        default="reflect", description="how margins beyond the raster's edges are filled (numpy.pad mode)")
    block_size: PositiveInt = Field(default=1024, description="output block side for whole-raster prediction "
                                                          "(peak memory grows with its square)")
    queue_size: PositiveInt = Field(default=2, description="blocks read ahead of the computation (bounds memory)")
    probabilities: bool = Field(
        default=False, description="job files: also write each image's per-class probability COG "
                                   "(<name>_probabilities.tif)")
    nodata_to_class0: bool = Field(default=True, description="pixels with no input data get the no-data class (0)")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(r"cpu|cuda(:[0-9]+)?", value):
            raise ValueError(f"{value!r} is not 'cpu', 'cuda' or 'cuda:N'")
        return value

    @model_validator(mode="after")
    def _fast_geometry(self) -> PredictConfig:
        if self.autocast is not None and self.backend != "torch":
            raise ValueError(f"autocast: {self.autocast} needs backend 'torch' (ONNX Runtime runs the model in the "
                             "precision it was saved in)")
        if self.fast_window <= 2 * self.fast_halo:
            raise ValueError(f"fast_window: {self.fast_window} must exceed twice fast_halo ({2 * self.fast_halo})")
        if self.fast_window % 8 or self.fast_halo % 4:
            raise ValueError(f"fast_window ({self.fast_window}) must be a multiple of 8 and fast_halo "
                             f"({self.fast_halo}) a multiple of 4")
        return self


class AzureCredentials(StrictModel):
    """Ways to authenticate to Azure; secrets are never written back out.

    Leave every secret empty to use ``DefaultAzureCredential`` (managed identity, Azure CLI,
    environment variables).
    """

    storage_account: str | None = Field(
        default=None, description="storage account name (with a key, a SAS or DefaultAzureCredential)")
    storage_connection_string: SecretStr | None = Field(
        default=None, description="storage connection string (secret; never saved)")
    storage_account_key: SecretStr | None = Field(default=None, description="storage account key (secret; never saved)")
    storage_sas_token: SecretStr | None = Field(
        default=None, description="shared access signature for the storage account or container (secret; never saved)")
    blob_endpoint: str | None = Field(default=None, description="override, e.g. an Azurite URL")
    batch_account_url: str | None = Field(
        default=None, description="Batch account endpoint, e.g. https://<account>.<region>.batch.azure.com")
    batch_account_name: str | None = Field(
        default=None, description="Batch account name (for shared-key authentication)")
    batch_account_key: SecretStr | None = Field(
        default=None, description="Batch account key (secret; never saved); without it DefaultAzureCredential is used")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AzureCredentials:
        """Credentials from the usual Azure environment variables (the names GDAL and az CLI use).

        ``AZURE_STORAGE_CONNECTION_STRING``, ``AZURE_STORAGE_ACCOUNT``, ``AZURE_STORAGE_KEY`` (or
        ``AZURE_STORAGE_ACCESS_KEY``), ``AZURE_STORAGE_SAS_TOKEN``, ``AZURE_STORAGE_BLOB_ENDPOINT``,
        ``AZURE_BATCH_ACCOUNT_URL``, ``AZURE_BATCH_ACCOUNT_NAME``, ``AZURE_BATCH_ACCESS_KEY``.
        """
        env = os.environ if environ is None else environ

        def get(*names: str) -> str | None:
            for name in names:
                if env.get(name):
                    return env[name]
            return None

        def secret(*names: str) -> SecretStr | None:
            value = get(*names)
            return SecretStr(value) if value else None

        return cls(
            storage_account=get("AZURE_STORAGE_ACCOUNT"),
            storage_connection_string=secret("AZURE_STORAGE_CONNECTION_STRING"),
            storage_account_key=secret("AZURE_STORAGE_KEY", "AZURE_STORAGE_ACCESS_KEY"),
            storage_sas_token=secret("AZURE_STORAGE_SAS_TOKEN"),
            blob_endpoint=get("AZURE_STORAGE_BLOB_ENDPOINT"),
            batch_account_url=get("AZURE_BATCH_ACCOUNT_URL", "AZURE_BATCH_ENDPOINT"),
            batch_account_name=get("AZURE_BATCH_ACCOUNT_NAME", "AZURE_BATCH_ACCOUNT"),
            batch_account_key=secret("AZURE_BATCH_ACCESS_KEY", "AZURE_BATCH_ACCOUNT_KEY"),
        )

    def overlay(self, other: AzureCredentials) -> AzureCredentials:
        """These credentials with every field this object leaves empty taken from ``other``."""
        values = {name: getattr(self, name) if getattr(self, name) is not None else getattr(other, name)
                  for name in type(self).model_fields}
        return type(self)(**values)


class BatchImage(StrictModel):
    """The marketplace image of Batch pool nodes (default: Ubuntu HPC 22.04 with GPU drivers)."""

    publisher: str = Field(default="microsoft-dsvm", description="marketplace image publisher")
    offer: str = Field(default="ubuntu-hpc", description="marketplace image offer")
    sku: str = Field(default="2204", description="marketplace image SKU")
    version: str = Field(default="latest", description="marketplace image version")
    node_agent_sku_id: str = Field(
        default="batch.node.ubuntu 22.04", description="Batch node agent SKU matching the image")


class LocalRunnerConfig(StrictModel):
    """The ``local`` runner's settings: only where job state and logs go."""

    kind: Literal["local"] = Field(default="local", description="the runner kind: 'local' (this machine)")
    work_dir: str = Field(default="runs/jobs", description="local folder for job state, logs and results")

    def describe(self) -> dict[str, Any]:
        """A loggable summary (no secrets)."""
        return self.to_dict()


class RunnerConfig(StrictModel):
    """The built-in runners' settings in one model: ``kind`` picks the runner, the Azure fields matter to
    ``azure-batch`` only.

    What runner-config files held before each kind had its own class, and still what ``RunnerConfig(...)`` builds;
    :func:`~landcover_sdk.runners.make_runner` narrows it to the kind's own class (:class:`LocalRunnerConfig`,
    :class:`AzureBatchRunnerConfig`, or a plugin's), which is what the runners receive.
    """

    kind: Literal["local", "azure-batch"] = Field(
        default="local", description="where jobs run: 'local' (this machine) or 'azure-batch'")
    work_dir: str = Field(default="runs/jobs", description="local folder for job state, logs and results")
    azure: AzureCredentials = Field(
        default_factory=AzureCredentials, description="Azure credentials (secrets come from the environment, never "
                                                      "from files)")
    pool_id: str = Field(default="landcover-pool", description="Batch pool to create or reuse")
    pool_allocation_mode: Literal["batch-service", "user-subscription"] = Field(
        default="batch-service", description="the Batch account's pool allocation mode; spot nodes "
                                             "(resources.low_priority) exist only in 'user-subscription' accounts")
    poll_seconds: float = Field(default=10.0, gt=0.0, description="seconds between Batch status polls")
    image: BatchImage = Field(default_factory=BatchImage, description="the pool nodes' operating-system image")
    sdk_wheel: str | None = Field(
        default=None, description="a landcover-sdk wheel file the nodes install (default: one built from this "
                                  "checkout when the job is submitted)")
    sdk_requirement: str | None = Field(
        default=None, description="install this pip requirement on the nodes instead of shipping a wheel (e.g. a "
                                  "release on your own package feed)")
    node_identity_id: str | None = Field(
        default=None, description="resource id of a user-assigned identity on the pool, for Blob access")
    node_identity_client_id: str | None = Field(default=None, description="its client id (DefaultAzureCredential)")
    master_port: int = Field(default=29500, ge=1024, le=65535, description="torchrun rendezvous port")

    def describe(self) -> dict[str, Any]:
        """A loggable summary (no secrets)."""
        return self.to_dict()


class AzureBatchRunnerConfig(RunnerConfig):
    """The ``azure-batch`` runner's settings: the pool, its image, the accounts and the nodes' identity."""

    kind: Literal["azure-batch"] = Field(
        default="azure-batch", description="the runner kind: 'azure-batch'")
