from pathlib import Path

import pytest
from pydantic import SecretStr

from landcover_sdk import ConfigError, DataConfig, ModelConfig, PredictConfig, RunnerConfig, TrainConfig, load_config
from landcover_sdk.config import AzureCredentials


def test_tutorial_defaults() -> None:
    cfg = TrainConfig(data=DataConfig(root="tiles"))
    assert cfg.data.sampling.minibatch_size == 10
    assert cfg.data.sampling.minibatches_per_image == 160
    assert cfg.epoch_size == 16_000
    assert [(s.lr, s.epochs) for s in cfg.lr_schedule] == [(1e-4, 30), (1e-5, 30), (1e-6, None)]
    assert cfg.class_weights == [0.0, 1.0, 1.0, 1.0, 1.0]
    assert cfg.l2 == 1e-5
    assert (cfg.rmsprop.gamma, cfg.rmsprop.inc, cfg.rmsprop.dec, cfg.rmsprop.max, cfg.rmsprop.min) == (
        0.95, 1.1, 0.9, 1.1, 0.9)
    assert cfg.model.channels == (64, 32, 32, 32) and cfg.model.core == 128
    assert cfg.data.scale == 1 / 256


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    cfg = TrainConfig(data=DataConfig(root="tiles", class_scheme="chesapeake-grouped"), epochs=3, seed=5)
    path = cfg.save(tmp_path / f"train{suffix}")
    again = load_config(path, TrainConfig)
    assert again == cfg


def test_unknown_key_names_the_field_path(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("data:\n  root: x\n  sampling:\n    windw: 3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: data\.sampling\.windw: unknown key"):
        load_config(p, TrainConfig)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        ({"data": {"root": "x"}, "model": {"window": 100, "margin": 64}}, "model.*window"),
        ({"data": {"root": "x", "sampling": {"minibatch_size": 0}}}, r"data\.sampling\.minibatch_size"),
        ({"data": {"root": "x"}, "lr_schedule": [{"lr": -1}]}, r"lr_schedule\.0\.lr"),
        ({"data": {}}, "give either 'root'"),
        ({"data": {"root": "x"}, "class_weights": [1, 1]}, "class_weights"),
        ({"data": {"root": "x", "class_scheme": "bogus"}}, r"data\.class_scheme.*unknown class scheme"),
    ],
)
def test_impossible_values(data: dict, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        TrainConfig.from_dict(data)


def test_secrets_never_written(tmp_path: Path) -> None:
    cfg = RunnerConfig(azure=AzureCredentials(storage_account="acct", storage_account_key=SecretStr("hunter2-key")))
    assert "hunter2" not in repr(cfg)
    assert "hunter2" not in cfg.to_yaml()
    assert "hunter2" not in cfg.to_json()
    path = cfg.save(tmp_path / "runner.yaml")
    assert "hunter2" not in path.read_text()
    assert cfg.azure.storage_account_key is not None
    assert cfg.azure.storage_account_key.get_secret_value() == "hunter2-key"
    assert load_config(path, RunnerConfig).azure.storage_account_key is None


def test_env_expansion_brings_secrets_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LC_TEST_KEY", "s3cret")
    p = tmp_path / "r.yaml"
    p.write_text("azure:\n  storage_account_key: ${LC_TEST_KEY}\n")
    cfg = load_config(p, RunnerConfig)
    assert cfg.azure.storage_account_key is not None
    assert cfg.azure.storage_account_key.get_secret_value() == "s3cret"


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml", ModelConfig)
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad, ModelConfig)
    lst = tmp_path / "list.json"
    lst.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(lst, ModelConfig)


def test_predict_config_validation() -> None:
    with pytest.raises(ConfigError, match="fast_window"):
        PredictConfig.from_dict({"fast_window": 100, "fast_halo": 64})
    assert PredictConfig().mode == "exact"
