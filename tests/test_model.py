"""UNetModel, model files, ONNX export and the torch-free runtime."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from landcover_sdk import ClassScheme, ModelConfig, ModelFormatError
from landcover_sdk.inference import load_backend
from landcover_sdk.models import ModelFile, UNetModel, macs_per_window, trainable_count
from landcover_sdk.models.unet import bilinear_kernel

TINY = Path(__file__).parent / "data" / "cntk"


def test_tutorial_architecture_size() -> None:
    m = UNetModel(seed=0)
    assert m.num_parameters() == trainable_count(ModelConfig()) == 314_373
    assert abs(macs_per_window(ModelConfig()) / 1e9 - 11.74) < 0.01
    x = torch.rand(2, 4, 256, 256)
    with torch.no_grad():
        assert m.eval()(x).shape == (2, 5, 128, 128)
        assert m.forward_full(x).shape == (2, 5, 256, 256)
        assert m.forward_full(torch.rand(1, 4, 512, 384)).shape == (1, 5, 512, 384)


def test_fresh_init_is_the_tutorials() -> None:
    m = UNetModel(seed=3)
    k = bilinear_kernel(3)
    assert torch.allclose(k, torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]))
    for up in m.up:
        assert torch.equal(up.weight[0, 0], k) and torch.count_nonzero(up.weight[0, 1]) == 0
    assert float(m.stem.conv.weight.detach().abs().max()) <= 1e-5
    assert float(m.stages[0][0].conv1.weight.detach().std()) > 0.01
    again = UNetModel(seed=3)
    assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), again.state_dict().values(), strict=True))


def test_mean_centring_of_rgb_only() -> None:
    m = UNetModel(seed=0).eval()
    x = torch.rand(1, 4, 64, 64)
    shifted = x.clone()
    shifted[:, :3] += 0.2  # a constant shift of red/green/blue is removed by the centring
    with torch.no_grad():
        assert torch.allclose(m.forward_full(x), m.forward_full(shifted), atol=1e-4)
        nir = x.clone()
        nir[:, 3] += 0.2
        assert not torch.allclose(m.forward_full(x), m.forward_full(nir), atol=1e-4)


def test_bad_input_shapes() -> None:
    from landcover_sdk import DataError

    m = UNetModel(seed=0)
    with pytest.raises(DataError, match="multiples of 8"):
        m(torch.rand(1, 4, 100, 100))
    with pytest.raises(DataError, match=r"\(N, 4, H, W\)"):
        m(torch.rand(1, 3, 64, 64))


def test_safetensors_round_trip(tmp_path: Path) -> None:
    m = UNetModel(seed=1)
    path = m.save(tmp_path / "m.safetensors", extra={"run": "unit-test"})
    back = UNetModel.load(path)
    assert back.config == m.config and back.scheme == m.scheme
    assert back.provenance.details["run"] == "unit-test"
    for k, v in m.weights().items():
        assert np.array_equal(v, back.weights()[k])
    header_len = int.from_bytes(path.read_bytes()[:8], "little")
    meta = json.loads(path.read_bytes()[8 : 8 + header_len])["__metadata__"]
    assert meta["input_scale"] == repr(1 / 256) and json.loads(meta["band_order"]) == ["red", "green", "blue", "nir"]
    assert json.loads(meta["class_scheme"])["name"] == "tutorial"


def _tampered(tmp_path: Path, mutate: object) -> Path:
    mf = UNetModel(seed=0).to_model_file()
    weights = dict(mf.weights)
    meta = mf.metadata()
    mutate(weights, meta)  # type: ignore[operator]
    from safetensors.numpy import save

    p = tmp_path / "bad.safetensors"
    p.write_bytes(save(weights, metadata=meta))
    return p


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda w, m: w.pop("head.bias"), "missing tensor.*head.bias"),
        (lambda w, m: w.__setitem__("head.bias", np.zeros(6, np.float32)), r"head\.bias has shape \(6,\)"),
        (lambda w, m: w.__setitem__("extra", np.zeros(1, np.float32)), "unexpected tensor.*extra"),
        (lambda w, m: m.__setitem__("model_config", json.dumps({"num_classes": 7})), "class scheme .* 5 classes"),
        (lambda w, m: m.pop("class_scheme"), "metadata key 'class_scheme' missing"),
        (lambda w, m: m.__setitem__("format", "other"), "not a landcover-sdk model"),
        (lambda w, m: w.__setitem__("head.bias", np.full(5, np.nan, np.float32)), "NaN"),
        (lambda w, m: m.__setitem__("model_config", '{"window": 12}'), "bad metadata"),
    ],
)
def test_bad_model_files(tmp_path: Path, mutate: object, pattern: str) -> None:
    with pytest.raises(ModelFormatError, match=pattern):
        ModelFile.load(_tampered(tmp_path, mutate))


def test_non_safetensors_files_are_refused(tmp_path: Path) -> None:
    pickled = tmp_path / "m.safetensors"
    torch.save(UNetModel(seed=0).state_dict(), pickled)  # a pickle must never be loaded
    with pytest.raises(ModelFormatError, match="not a safetensors file"):
        ModelFile.load(pickled)
    empty = tmp_path / "e.safetensors"
    empty.write_bytes(b"")
    with pytest.raises(ModelFormatError, match="too short"):
        ModelFile.load(empty)
    with pytest.raises(ModelFormatError, match="not found"):
        ModelFile.load(tmp_path / "none.safetensors")


def test_onnx_export_structure(tmp_path: Path) -> None:
    m = UNetModel(seed=2).eval()
    path = m.export_onnx(tmp_path / "m.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert model.opset_import[0].version >= 17
    init_names = {i.name for i in model.graph.initializer}
    assert [i.name for i in model.graph.input] == ["image"] and not init_names & {"image"}
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N"
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["class_scheme"])["name"] == "tutorial" and props["input_scale"] == repr(1 / 256)
    backend = load_backend(path)
    x = np.random.default_rng(0).random((3, 4, 256, 256), dtype=np.float32)
    with torch.no_grad():
        expected = m(torch.from_numpy(x)).numpy()
    got = backend.run(x)[:, :, 64:192, 64:192]
    assert got.shape == (3, 5, 128, 128)
    assert np.abs(got - expected).max() <= 1e-4
    assert np.abs(backend.run(x[:1])[:, :, 64:192, 64:192] - expected[:1]).max() <= 1e-4
    from onnxruntime import InferenceSession

    session = InferenceSession(str(path), providers=["CPUExecutionProvider"])
    direct = session.run(None, {"image": x})[0]
    assert direct.shape == (3, 5, 128, 128) and np.abs(direct - expected).max() <= 1e-4


def test_model_scheme_mismatch() -> None:
    with pytest.raises(ModelFormatError, match="7 classes"):
        UNetModel(ModelConfig(), scheme=ClassScheme.chesapeake())


NO_TORCH = textwrap.dedent(
    """
    import sys, importlib.abc
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
    sys.meta_path.insert(0, Block())
    import numpy as np
    from landcover_sdk.inference import load_backend
    backend = load_backend(sys.argv[1])
    ref = np.load(sys.argv[2])
    x, want = ref[sys.argv[3]], ref[sys.argv[4]]
    out = backend.run(x)
    m = backend.config.margin
    out = out[:, :, m:out.shape[2] - m, m:out.shape[3] - m]
    assert "torch" not in sys.modules
    print(float(np.abs(out - want).max() / max(1.0, float(np.abs(want).max()))))
    """
)


def test_safetensors_model_runs_without_torch(tmp_path: Path) -> None:
    path = UNetModel.from_cntk(TINY / "tiny.model").save(tmp_path / "tiny.safetensors")
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, str(path), str(TINY / "tiny_ref.npz"), "input", "output"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert float(proc.stdout.strip()) < 1e-4
