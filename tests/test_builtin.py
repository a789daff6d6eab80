"""Built-in models and real samples: shipped in the package, bit-identical to their sources, usable by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from landcover_sdk import JobSpec, LocalRunner, ModelFile, ModelFormatError, Predictor, Region, RunnerError, import_cntk
from landcover_sdk.cli import main
from landcover_sdk.models.builtin import BUILTIN_MODELS, builtin_model, resolve_model
from landcover_sdk.models.file import sha256_file
from landcover_sdk.samples import ATTRIBUTION, chesapeake_2014, chesapeake_2014_folder, chesapeake_2014_pairs

from .conftest import cntk_fixtures, real_fixtures

BUILTIN = "builtin:tutorial-250epochs"


def test_shipped_weights_equal_a_fresh_import_bit_for_bit() -> None:
    source = cntk_fixtures() / "250epochs.model"
    fresh = import_cntk(source)
    shipped = ModelFile.load(builtin_model(BUILTIN).path)
    assert shipped.config == fresh.config and shipped.scheme == fresh.scheme
    assert sorted(shipped.weights) == sorted(fresh.weights)
    for name, array in fresh.weights.items():
        assert shipped.weights[name].dtype == array.dtype and shipped.weights[name].tobytes() == array.tobytes(), name
    details = shipped.provenance.details
    assert shipped.provenance.source == "cntk" and details["cntk_sha256"] == sha256_file(source)
    assert details["licence"] == "MIT" and "Microsoft" in details["copyright"]
    assert "pixel_level_land_classification" in details["origin"]


def test_builtin_names_resolve_and_unknown_names_fail_clearly() -> None:
    assert resolve_model(BUILTIN) == BUILTIN_MODELS["tutorial-250epochs"].path
    assert resolve_model("model.safetensors") == "model.safetensors"
    assert BUILTIN_MODELS["tutorial-250epochs"].licence_path.read_text().startswith("MIT License")
    with pytest.raises(ModelFormatError, match=r"builtin:tutorial-500epochs: no such built-in model .*"
                                               r"builtin:tutorial-250epochs"):
        Predictor.from_file("builtin:tutorial-500epochs")


def test_samples_are_the_real_fixtures_with_their_licence() -> None:
    pairs = chesapeake_2014_pairs()
    assert len(pairs) == 8
    fixtures = real_fixtures() / "chesapeake-2014"
    for pair in pairs:
        for path in (pair.image, pair.label):
            assert Path(path).read_bytes() == (fixtures / Path(path).name).read_bytes()
    readme = (chesapeake_2014_folder() / "README.md").read_text()
    assert "CC0-1.0" in readme and "public domain" in readme and "CC0-1.0" in ATTRIBUTION
    ds = chesapeake_2014()
    assert len(ds) == 8 and ds.scheme.name == "chesapeake-grouped" and ds.scheme.num_classes == 5


def test_builtin_model_on_the_real_samples_scores_like_the_tutorial() -> None:
    predictor = Predictor.from_file(BUILTIN)
    accuracies = []
    for pair in chesapeake_2014_pairs():
        report = predictor.evaluate_raster(pair.image, pair.label, region=Region.from_window((64, 64, 128, 128)),
                                           progress=False)
        accuracies.append(report.accuracy)
    assert float(np.mean(accuracies)) >= 0.90


def test_cli_model_list_info_and_predict_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "list"]) == 0
    out = capsys.readouterr().out
    assert BUILTIN in out and "MIT" in out and "trees and shrubs" in out and "0.904" in out
    assert main(["model", "info", BUILTIN]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["provenance"]["licence"] == "MIT" and info["provenance"]["source"] == "cntk"
    image = chesapeake_2014_pairs()[0].image
    assert main(["predict", BUILTIN, image, str(tmp_path / "classes.tif"), "--no-progress"]) == 0
    with rasterio.open(tmp_path / "classes.tif") as ds:
        assert ds.shape == (256, 256) and ds.colormap(1)[2] == (0, 127, 0, 255)  # trees: the tutorial's (0, .5, 0)


def test_predict_by_name_needs_no_torch(tmp_path: Path) -> None:
    code = ("import sys; from landcover_sdk.cli import main; "
            f"rc = main(['predict', '{BUILTIN}', sys.argv[1], sys.argv[2], '--no-progress']); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    subprocess.run([sys.executable, "-c", code, chesapeake_2014_pairs()[1].image, str(tmp_path / "c.tif")],
                   check=True)
    assert (tmp_path / "c.tif").exists()


def test_fine_tuning_from_the_builtin_model_is_one_config_line(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from landcover_sdk import TrainConfig, Trainer

    pairs = chesapeake_2014_pairs()
    cfg = TrainConfig.from_dict({
        "data": {"pairs": [[p.image, p.label] for p in pairs[:6]], "class_scheme": "chesapeake-grouped",
                 "sampling": {"minibatch_size": 2, "minibatches_per_image": 1, "rare_classes": [], "seed": 1}},
        "init_from": BUILTIN, "epochs": 1, "epoch_size": 2, "output_dir": str(tmp_path / "run"),
        "lr_schedule": [{"lr": 1e-6}]})
    result = Trainer(cfg).fit(progress=False)
    assert result.model_path is not None
    tuned = ModelFile.load(result.model_path)
    assert tuned.provenance.details["init_from"] == BUILTIN
    assert tuned.provenance.details["init_from_sha256"] == sha256_file(builtin_model(BUILTIN).path)


def test_job_files_accept_builtin_models(tmp_path: Path) -> None:
    pair = chesapeake_2014_pairs()[2]
    spec = JobSpec(name="real", kind="evaluate", inputs={"model": BUILTIN, "image": pair.image, "labels": pair.label},
                   outputs=str(tmp_path / "out"), region=Region.from_window((64, 64, 128, 128)))
    result = LocalRunner(tmp_path / "jobs").run(spec)
    assert result.ok, result.to_json()
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["pixels"] <= 128 * 128 and report["accuracy"] > 0.5
    bad = spec.model_copy(update={"inputs": {**spec.inputs, "model": "builtin:nope"}})
    with pytest.raises(RunnerError, match=r"inputs\.model: builtin:nope: no such built-in model"):
        LocalRunner(tmp_path / "jobs").run(bad)
