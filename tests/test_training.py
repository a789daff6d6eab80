"""Trainer: CNTK RMSProp, loss and metric, checkpoints, exact resume, data parallelism, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from landcover_sdk import ConfigError, DataConfig, EmptyDatasetError, ModelConfig, StorageError, TrainConfig
from landcover_sdk.cli import main
from landcover_sdk.data import write_scenes
from landcover_sdk.models import ModelFile, UNetModel
from landcover_sdk.training import CntkRmsProp, Trainer, error_counts, lr_for_epoch, weighted_loss
from landcover_sdk.training.checkpoint import list_checkpoints, load_checkpoint

TINY_MODEL = {"window": 64, "margin": 16, "channels": [8, 4, 4, 4], "blocks_per_stage": 1}


def test_cntk_rmsprop_matches_a_hand_computed_step() -> None:
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5, 3.0]))
    opt = CntkRmsProp([w], lr=0.1, gamma=0.95, inc=1.1, dec=0.9, max=1.1, min=0.9, l2=0.01)
    g1 = torch.tensor([0.2, -0.4, 0.0, 1.0])
    g2 = torch.tensor([0.1, 0.3, -0.2, 2.0])
    expected = w.detach().clone().double()
    avar = None
    sign = np.zeros(4)
    step = np.full(4, 0.02)
    for g in (g1, g2):
        grad = g.double().numpy() + 0.01 * expected.numpy()
        avar = grad**2 if avar is None else avar
        avar = 0.95 * avar + 0.05 * grad**2
        s = np.sign(grad)
        step = np.where(sign * s > 0, np.minimum(step * 1.1, 1.1), np.maximum(step * 0.9, 0.9))
        sign = s
        mult = step / np.sqrt(avar + 1e-6)
        expected = expected - 0.1 * torch.from_numpy(grad * mult / mult.mean())
        w.grad = g.clone()
        opt.step()
    assert torch.allclose(w.detach().double(), expected, atol=1e-6)
    # step 1: no previous sign, so 0.02 * dec is floored at min (0.9); step 2: the two elements whose
    # gradient kept its sign grow to 0.9 * inc = 0.99, the others stay at the floor.
    assert torch.allclose(opt.state[w]["step"], torch.tensor([0.99, 0.9, 0.9, 0.99]), atol=1e-6)


def test_weighted_loss_and_metric() -> None:
    scores = torch.randn(2, 5, 4, 4)
    labels = torch.randint(0, 5, (2, 4, 4))
    labels[0, 0, 0] = 0
    w = torch.tensor([0.0, 1, 1, 1, 1])
    logp = torch.log_softmax(scores, dim=1)
    manual = -(logp.gather(1, labels[:, None])[:, 0] * w[labels]).sum() / labels.numel()
    assert torch.allclose(weighted_loss(scores, labels, w), manual)
    errors, pixels = error_counts(scores, labels, 0)
    expected = (scores.argmax(1) != labels).sum() - (labels == 0).sum()
    assert float(errors) == float(expected) and float(pixels) == 32


def test_learning_rate_schedule() -> None:
    cfg = TrainConfig(data=DataConfig(root="x"))
    assert [lr_for_epoch(cfg, e) for e in (0, 29, 30, 59, 60, 500)] == [1e-4, 1e-4, 1e-5, 1e-5, 1e-6, 1e-6]


@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tiles")
    write_scenes(d, tiles=2, size=160, seed=4)
    return d


def _config(tiles: Path, out: Path, **over: object) -> TrainConfig:
    data = {"root": str(tiles), "sampling": {"window": 64, "minibatch_size": 4, "minibatches_per_image": 3}}
    base: dict[str, object] = {"data": data, "model": TINY_MODEL, "output_dir": str(out), "epochs": 3,
                               "epoch_size": 24, "seed": 3, "threads": 1}
    base.update(over)
    return TrainConfig.from_dict(base)


def test_fit_writes_model_checkpoints_and_metrics(tiles: Path, tmp_path: Path) -> None:
    cfg = _config(tiles, tmp_path / "run", keep_last=2)
    result = Trainer(cfg).fit(progress=False)
    assert [e.epoch for e in result.epochs] == [1, 2, 3]
    assert all(np.isfinite(e.loss) and 0 <= e.metric <= 1 for e in result.epochs)
    assert len(list_checkpoints(tmp_path / "run" / "checkpoints")) == 2
    mf = ModelFile.load(result.model_path)  # type: ignore[arg-type]
    assert mf.provenance.source == "training" and mf.provenance.details["epochs"] == "3"
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3 and '"samples_per_second"' in lines[0]
    with pytest.raises(ConfigError, match="holds checkpoints of an earlier run"):
        Trainer(cfg).fit(progress=False)


RUN = textwrap.dedent(
    """
    import os, signal, sys
    from landcover_sdk import load_config, TrainConfig
    from landcover_sdk.training import Trainer
    cfg = load_config(sys.argv[1], TrainConfig)
    kill_at = int(sys.argv[2])
    def killer(trainer, step):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    Trainer(cfg, callbacks=[killer]).fit(resume=sys.argv[3] == "resume", progress=False)
    """
)


def _run(cfg_path: Path, kill_at: int, resume: bool) -> int:
    proc = subprocess.run([sys.executable, "-c", RUN, str(cfg_path), str(kill_at), "resume" if resume else "fresh"],
                          capture_output=True, text=True, check=False)
    return proc.returncode


@pytest.mark.parametrize("every", [None, 4])
def test_sigkill_mid_epoch_then_resume_is_bitwise_exact(tiles: Path, tmp_path: Path, every: int | None) -> None:
    straight = _config(tiles, tmp_path / "straight", checkpoint_every_steps=every)
    straight.save(tmp_path / "straight.yaml")
    assert _run(tmp_path / "straight.yaml", -1, False) == 0
    killed = _config(tiles, tmp_path / "killed", checkpoint_every_steps=every)
    killed.save(tmp_path / "killed.yaml")
    assert _run(tmp_path / "killed.yaml", 9, False) == -signal.SIGKILL  # mid-epoch 2 (6 steps per epoch)
    assert _run(tmp_path / "killed.yaml", -1, True) == 0
    a = ModelFile.load(tmp_path / "straight" / "model.safetensors").weights
    b = ModelFile.load(tmp_path / "killed" / "model.safetensors").weights
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_corrupt_newest_checkpoint_falls_back(tiles: Path, tmp_path: Path) -> None:
    cfg = _config(tiles, tmp_path / "run", epochs=2)
    Trainer(cfg).fit(progress=False)
    ckpts = list_checkpoints(tmp_path / "run" / "checkpoints")
    data = bytearray(ckpts[-1].read_bytes())
    data[-100] ^= 0xFF  # flip a payload byte
    ckpts[-1].write_bytes(bytes(data))
    trainer = Trainer(cfg)
    trainer.fit(resume=True, epochs=2, progress=False)
    assert trainer.resumed_from == ckpts[0]
    ckpts[-1].write_bytes(ckpts[-1].read_bytes()[:1000])  # truncated
    assert load_checkpoint(ckpts[0]).epoch == 1


def test_bad_training_inputs(tiles: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyDatasetError):
        Trainer(_config(tmp_path / "empty", tmp_path / "o"))
    from landcover_sdk import TileDataset

    three_band = _config(tiles, tmp_path / "o", data={"root": str(tiles), "bands": [1, 2, 3],
                                                      "sampling": {"window": 64, "minibatch_size": 4}},
                         model={**TINY_MODEL, "in_bands": 3, "centred_bands": [0, 1, 2]})
    with pytest.raises(ConfigError, match="4 bands but the model takes 3"):
        Trainer(three_band, dataset=TileDataset.from_folder(tiles))
    with pytest.raises(ConfigError, match="class_weights"):
        _config(tiles, tmp_path / "o", model={**TINY_MODEL, "num_classes": 7})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot write training outputs"):
        Trainer(_config(tiles, blocker / "out"))
    Trainer(_config(tiles, tmp_path / "other", epochs=1)).fit(progress=False)
    other_arch = _config(tiles, tmp_path / "other", model={**TINY_MODEL, "channels": [8, 8, 8, 8]})
    with pytest.raises(ConfigError, match="different architecture"):
        Trainer(other_arch).fit(resume=True, progress=False)
    with pytest.raises(ConfigError, match="window"):
        TrainConfig.from_dict({"data": {"root": "x"}, "model": {"window": 64, "margin": 32}})
    with pytest.raises(ConfigError, match="init_from"):
        Trainer(_config(tiles, tmp_path / "i", init_from=str(tmp_path / "other" / "model.safetensors"),
                        model={**TINY_MODEL, "channels": [8, 8, 8, 8]}))


DDP = textwrap.dedent(
    """
    import os, sys, numpy as np, torch
    from landcover_sdk import load_config, TrainConfig
    from landcover_sdk.training import Trainer
    cfg = load_config(sys.argv[1], TrainConfig)
    trainer = Trainer(cfg)
    data = np.load(sys.argv[2])
    x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
    rank, world = trainer.rank, trainer.world_size
    per = x.shape[0] // world
    trainer.train_step(x[rank * per:(rank + 1) * per], y[rank * per:(rank + 1) * per])
    if rank == 0:
        trainer.model.to_model_file().save(sys.argv[3])
    """
)


def test_two_ranks_of_five_equal_one_process_of_ten(tiles: Path, tmp_path: Path) -> None:
    # Start from He-scaled weights: at the tutorial's ±1e-5 initialisation the stem's BatchNorm
    # backward cancels almost exactly, so its gradient holds only a few significant digits in any
    # float32 summation order, which would test the conditioning, not the data parallelism.
    start = UNetModel(ModelConfig(**TINY_MODEL), seed=5)
    with torch.no_grad():
        for conv in [start.stem.conv] + [b.conv2 for stage in start.blocks() for b in stage]:
            conv.weight.normal_(0.0, (2.0 / conv.weight[0].numel()) ** 0.5)
    start.save(tmp_path / "start.safetensors")
    cfg = _config(tiles, tmp_path / "ddp", data={"root": str(tiles), "sampling": {"window": 64,
                                                                                 "minibatch_size": 10}},
                  epoch_size=10, init_from=str(tmp_path / "start.safetensors"))
    cfg.save(tmp_path / "c.yaml")
    trainer = Trainer(cfg)
    x, y = trainer.sampler.load_minibatch(0)
    np.savez(tmp_path / "batch.npz", x=x, y=y)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, "-c", DDP, str(tmp_path / "c.yaml"), str(tmp_path / "batch.npz"),
                             str(tmp_path / "one.safetensors")], capture_output=True, text=True, env=env, check=False)
    assert single.returncode == 0, single.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                          "--no-python", sys.executable, "-c", DDP, str(tmp_path / "c.yaml"),
                          str(tmp_path / "batch.npz"), str(tmp_path / "two.safetensors")],
                         capture_output=True, text=True, env=env, check=False)
    assert two.returncode == 0, two.stderr[-3000:]
    a = ModelFile.load(tmp_path / "one.safetensors").weights
    b = ModelFile.load(tmp_path / "two.safetensors").weights
    changed = [k for k in a if not np.array_equal(a[k], start.weights()[k])]
    assert changed, "the step must change the weights"
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-4, atol=1e-6, err_msg=k)


def test_cli_train_two_processes(tiles: Path, tmp_path: Path) -> None:
    cfg = _config(tiles, tmp_path / "cli", epochs=1, data={"root": str(tiles), "sampling": {
        "window": 64, "minibatch_size": 4, "minibatches_per_image": 3}})
    cfg.save(tmp_path / "c.yaml")
    assert main(["train", str(tmp_path / "c.yaml"), "--nproc", "2", "--no-progress", "--epochs", "1"]) == 0
    assert (tmp_path / "cli" / "model.safetensors").exists()
    assert ModelFile.load(tmp_path / "cli" / "model.safetensors").provenance.details["processes"] == "2"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data": {"root": str(tiles)}, "epochs": 0}))
    assert main(["train", str(bad)]) == 1


def test_fine_tune_from_the_tutorial_model_on_real_pairs(tmp_path: Path) -> None:
    from landcover_sdk.inference import Predictor

    from .conftest import cntk_fixtures, real_fixtures

    real = real_fixtures() / "chesapeake-2014"
    start = UNetModel.from_cntk(cntk_fixtures() / "250epochs.model").save(tmp_path / "start.safetensors")

    def mean_accuracy(model: Path) -> float:
        p = Predictor.from_file(model)
        accs = [p.evaluate_raster(img, img.with_name(img.name.replace("_NAIP", "_LandCover")),
                                  region={"window": (64, 64, 128, 128)}, progress=False).accuracy
                for img in sorted(real.glob("*_NAIP.tif"))]
        return float(np.mean(accs))

    cfg = TrainConfig.from_dict({
        "data": {"root": str(real), "sampling": {"minibatch_size": 2, "minibatches_per_image": 1}},
        "output_dir": str(tmp_path / "ft"), "epochs": 1, "epoch_size": 4, "init_from": str(start),
        "lr_schedule": [{"lr": 1e-6}], "threads": 2,
    })
    result = Trainer(cfg).fit(progress=False)
    before, after = mean_accuracy(start), mean_accuracy(result.model_path)  # type: ignore[arg-type]
    print(f"\nfine-tuning smoke test: accuracy {before:.4f} -> {after:.4f}")
    assert after >= before - 1e-9
    assert ModelFile.load(result.model_path).provenance.details["init_from"].endswith("start.safetensors")  # type: ignore[arg-type]


def test_per_epoch_validation_on_a_held_out_tile(tiles: Path, tmp_path: Path) -> None:
    held = tmp_path / "held"
    write_scenes(held, tiles=1, size=96, seed=9)
    pair = [str(held / "synth_000_NAIP.tif"), str(held / "synth_000_LandCover.tif")]
    cfg = _config(tiles, tmp_path / "v", epochs=2, validation={"pairs": [pair], "every_epochs": 1})
    result = Trainer(cfg).fit(progress=False)
    for stats in result.epochs:
        assert set(stats.validation) == {"accuracy", "mean_true_probability", "mean_iou"}
        assert 0.0 <= stats.validation["accuracy"] <= 1.0
        assert "[Validation] accuracy" in stats.line(2)
    assert '"validation": {"accuracy"' in (tmp_path / "v" / "metrics.jsonl").read_text()
