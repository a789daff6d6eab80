"""Configuration: pydantic models, YAML/JSON loading, class schemes."""

from .base import StrictModel, load_config, read_config_file
from .models import (
    AzureCredentials,
    BatchImage,
    DataConfig,
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
    "AzureCredentials",
    "BatchImage",
    "ClassDef",
    "ClassScheme",
    "DataConfig",
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
