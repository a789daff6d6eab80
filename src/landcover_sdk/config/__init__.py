"""Configuration: pydantic models, YAML/JSON loading, class schemes."""

from .base import StrictModel, load_config, read_config_file
from .models import (
    AzureBatchRunnerConfig,
    AzureCredentials,
    BatchImage,
    DataConfig,
    LocalRunnerConfig,
    LrStage,
    ModelConfig,
    PredictConfig,
    RmsPropConfig,
    RunnerConfig,
    SamplingConfig,
    TrainConfig,
    ValidationConfig,
)
from .region import Region
from .schemes import BUILTIN_SCHEMES, ClassDef, ClassScheme, get_scheme, infer_scheme

__all__ = [
    "BUILTIN_SCHEMES",
    "AzureBatchRunnerConfig",
    "AzureCredentials",
    "BatchImage",
    "ClassDef",
    "ClassScheme",
    "DataConfig",
    "LocalRunnerConfig",
    "LrStage",
    "ModelConfig",
    "PredictConfig",
    "Region",
    "RmsPropConfig",
    "RunnerConfig",
    "SamplingConfig",
    "StrictModel",
    "TrainConfig",
    "ValidationConfig",
    "get_scheme",
    "infer_scheme",
    "load_config",
    "read_config_file",
]
