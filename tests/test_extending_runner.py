"""The runner worked example (examples/extending/echo_runner.py), registered and run for real through
``landcover run`` and :func:`make_runner`."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from landcover_sdk import ConfigError
from landcover_sdk.cli import main
from landcover_sdk.data import write_scenes
from landcover_sdk.runners import JobSpec, make_runner, register_runner, runner_kinds, unregister_runner

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "extending" / "echo_runner.py"
MODEL = "builtin:tutorial-250epochs"


@pytest.fixture()
def echo() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("extending_echo_runner", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    register_runner("echo", module.EchoRunnerConfig, module.EchoRunner.build)
    yield module
    unregister_runner("echo")
    sys.modules.pop(spec.name, None)


def _job(tmp_path: Path) -> Path:
    pairs = write_scenes(tmp_path / "tiles", tiles=1, size=256, seed=7)
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"name": "echo-predict", "kind": "predict", "chunks": 1,
                                   "inputs": {"model": MODEL, "images": [str(pairs[0].image)]},
                                   "outputs": str(tmp_path / "out")}))
    return job


def test_a_job_file_runs_under_a_registered_runner(echo: ModuleType, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    job = _job(tmp_path)
    cfg = tmp_path / "echo.yaml"
    cfg.write_text(yaml.safe_dump({"kind": "echo", "work_dir": str(tmp_path / "work")}))
    assert "echo" in runner_kinds()
    assert main(["run", str(job), "--runner-config", str(cfg), "--job-id", "e1"]) == 0
    out = capsys.readouterr().out
    assert '"runner": "echo"' in out and '"state": "succeeded"' in out
    assert (tmp_path / "out" / "synth_000_classes.tif").is_file()
    assert (tmp_path / "work" / "e1" / "predict-000").is_dir()

    # --runner picks the kind without a file; --dry-run describes only
    assert main(["run", str(job), "--runner", "echo", "--dry-run", "--job-id", "e2"]) == 0
    assert '"tasks": [\n    "predict-000"\n  ]' in capsys.readouterr().out

    # the same from Python: a mapping validated as the kind's own configuration class
    runner = make_runner({"kind": "echo", "work_dir": str(tmp_path / "py")})
    assert isinstance(runner, echo.EchoRunner)
    assert runner.run(JobSpec.load(job), job_id="e3").ok


def test_the_kind_brings_its_own_fields_and_no_others(echo: ModuleType, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="poll_interval: unknown key"):
        make_runner({"kind": "echo", "poll_interval": 3})
    # another kind's settings (an azure.yaml run with --runner echo) are ignored, as the built-in kinds do
    assert make_runner({"kind": "echo", "pool_id": "lc-pool"}).name == "echo"
    assert make_runner({"kind": "echo", "stop_on_failure": False}).config.stop_on_failure is False  # type: ignore[attr-defined]
    job = _job(tmp_path)
    assert main(["run", str(job), "--runner", "echo", "--teardown"]) == 1
    assert "nothing to tear down" in capsys.readouterr().err
    assert main(["job", "status", "e1", "--runner", "echo"]) == 1
    assert "keeps no jobs to inspect" in capsys.readouterr().err


def test_an_unregistered_kind_is_refused_naming_the_known_ones(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    job = _job(tmp_path)
    with pytest.raises(SystemExit):
        main(["run", str(job), "--runner", "echo"])
    assert "invalid choice: 'echo'" in capsys.readouterr().err
    cfg = tmp_path / "echo.yaml"
    cfg.write_text("kind: echo\n")
    assert main(["run", str(job), "--runner-config", str(cfg)]) == 1
    assert "unknown runner 'echo' (known: azure-batch, local)" in capsys.readouterr().err


def test_the_built_in_kinds_each_get_their_own_config_class(tmp_path: Path) -> None:
    from landcover_sdk.config import AzureBatchRunnerConfig, LocalRunnerConfig, RunnerConfig
    from landcover_sdk.runners import load_runner_config, runner_config

    batch = runner_config(RunnerConfig(kind="azure-batch", pool_id="p", poll_seconds=1.0))
    assert type(batch) is AzureBatchRunnerConfig and (batch.pool_id, batch.poll_seconds) == ("p", 1.0)
    local = runner_config(batch, kind="local", work_dir=str(tmp_path))
    assert type(local) is LocalRunnerConfig and local.work_dir == str(tmp_path)
    assert type(runner_config()) is LocalRunnerConfig
    path = AzureBatchRunnerConfig(pool_id="q").save(tmp_path / "azure.yaml")
    assert load_runner_config(path).pool_id == "q"
    with pytest.raises(ConfigError, match="poll_seconds"):
        load_runner_config(path, poll_seconds=-1)
