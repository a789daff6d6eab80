"""CNTK model import: parity with CNTK's own outputs, refusal of other architectures, hostile bytes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landcover_sdk import ModelFormatError
from landcover_sdk.cli import main
from landcover_sdk.inference import load_backend
from landcover_sdk.models import UNetModel
from landcover_sdk.models.cntk.importer import decode_bytes, import_cntk_bytes
from landcover_sdk.models.cntk.wire import WireError, iter_fields

from .conftest import cntk_fixtures

TINY = Path(__file__).parent / "data" / "cntk"
TINY_BYTES = (TINY / "tiny.model").read_bytes()


def _rel_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(1.0, float(np.abs(b).max())))


def test_tiny_model_matches_cntk() -> None:
    m = UNetModel.from_cntk(TINY / "tiny.model")
    assert m.config.channels == (8, 4, 4, 4) and m.config.blocks_per_stage == 1 and m.config.window == 64
    ref = np.load(TINY / "tiny_ref.npz")
    with torch.no_grad():
        out = m(torch.from_numpy(ref["input"])).numpy()
    assert _rel_err(out, ref["output"]) < 1e-5
    assert (out.argmax(1) == ref["output"].argmax(1)).all()
    assert m.provenance.source == "cntk" and len(m.provenance.details["cntk_sha256"]) == 64


def test_other_architecture_is_refused() -> None:
    with pytest.raises(ModelFormatError, match=r"residual\.model: not the tutorial architecture at node Plus\d+"):
        UNetModel.from_cntk(TINY / "residual.model")


def test_not_cntk_and_empty(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="empty file"):
        import_cntk_bytes(b"")
    with pytest.raises(ModelFormatError, match="not a valid CNTK model"):
        import_cntk_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    p = tmp_path / "x.model"
    p.write_bytes(b"")
    with pytest.raises(ModelFormatError, match=r"x\.model: empty file"):
        UNetModel.from_cntk(p)
    with pytest.raises(ModelFormatError, match="not found"):
        UNetModel.from_cntk(tmp_path / "missing.model")
    # A valid protobuf that is not a CNTK model.
    with pytest.raises(ModelFormatError, match="not a CNTK v2 model"):
        import_cntk_bytes(bytes([0x08, 0x01]))


def test_every_prefix_is_refused() -> None:
    for n in range(len(TINY_BYTES)):
        with pytest.raises(ModelFormatError):
            import_cntk_bytes(TINY_BYTES[:n])


def test_absurd_length_is_refused_without_allocation() -> None:
    # field 2, length-delimited, claiming 2**62 bytes
    data = bytes([0x12]) + bytes([0xFF] * 8 + [0x3F]) + b"abc"
    with pytest.raises(ModelFormatError, match="claims"):
        decode_bytes(data)


def test_deep_nesting_is_refused() -> None:
    def value_of_dict(inner: bytes) -> bytes:
        entry = b"\x0a\x01k" + b"\x12" + _varint(len(inner)) + inner  # key "k", value
        dictionary = b"\x12" + _varint(len(entry)) + entry
        return b"\x62" + _varint(len(dictionary)) + dictionary  # DictionaryValue field 12

    payload = b""
    for _ in range(200):
        payload = value_of_dict(payload)
    top = b"\x12" + _varint(len(b"\x0a\x01r\x12" + _varint(len(payload)) + payload)) + b"\x0a\x01r\x12" + _varint(
        len(payload)) + payload
    with pytest.raises(ModelFormatError, match="nesting deeper"):
        decode_bytes(top)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_wrong_wire_types_and_bad_varints() -> None:
    with pytest.raises(ModelFormatError, match="wire type 3"):
        decode_bytes(bytes([0x0B]))
    with pytest.raises(ModelFormatError, match="varint longer"):
        decode_bytes(bytes([0x08] + [0xFF] * 11))
    with pytest.raises(WireError, match="field number 0"):
        list(iter_fields(memoryview(bytes([0x00, 0x01]))))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(st.integers(0, len(TINY_BYTES) - 1), st.sampled_from(["flip", "delete", "insert"]),
                  st.integers(0, 255)),
        min_size=1,
        max_size=8,
    )
)
def test_fuzzed_files_fail_cleanly(edits: list[tuple[int, str, int]]) -> None:
    data = bytearray(TINY_BYTES)
    for pos, kind, byte in edits:
        pos = min(pos, len(data) - 1)
        if kind == "flip":
            data[pos] ^= byte or 1
        elif kind == "delete":
            del data[pos]
        else:
            data.insert(pos, byte)
    with contextlib.suppress(ModelFormatError):  # the only acceptable failure
        import_cntk_bytes(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_fail_cleanly(data: bytes) -> None:
    with contextlib.suppress(ModelFormatError):
        import_cntk_bytes(data)


def test_cli_import_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.safetensors"
    assert main(["model", "import-cntk", str(TINY / "tiny.model"), str(out)]) == 0
    assert main(["model", "export-onnx", str(out), str(tmp_path / "tiny.onnx")]) == 0
    assert main(["model", "info", str(out)]) == 0
    assert '"source": "cntk"' in capsys.readouterr().out
    assert main(["model", "import-cntk", str(TINY / "residual.model"), str(tmp_path / "r.safetensors")]) == 1
    assert not (tmp_path / "r.safetensors").exists()


# ---------------------------------------------------------------- the tutorial's own 250-epoch model
@pytest.fixture(scope="module")
def tutorial_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[UNetModel, dict[str, np.ndarray], Path]:
    folder = cntk_fixtures()
    model = UNetModel.from_cntk(folder / "250epochs.model")
    ref = dict(np.load(folder / "ref_250epochs.npz"))
    path = model.save(tmp_path_factory.mktemp("m") / "250epochs.safetensors")
    return model, ref, path


CASES = ["uniform_0", "uniform_1", "uniform_2", "scene_0", "scene_1"]


def test_250epochs_torch_parity(tutorial_model: tuple[UNetModel, dict[str, np.ndarray], Path]) -> None:
    model, ref, _ = tutorial_model
    assert model.num_parameters() == 314_373
    with torch.no_grad():
        for case in CASES:
            out = model(torch.from_numpy(ref[f"input_{case}"][None]))[0].numpy()
            want = ref[f"output_{case}"]
            assert np.abs(out - want).max() <= 1e-4, case
            assert (out.argmax(0) == want.argmax(0)).all(), case
        out = model(torch.from_numpy(ref["input_batch"])).numpy()
    assert np.abs(out - ref["output_batch"]).max() <= 1e-4
    assert (out.argmax(1) == ref["output_batch"].argmax(1)).all()


def test_250epochs_onnxruntime_parity(tutorial_model: tuple[UNetModel, dict[str, np.ndarray], Path],
                                      tmp_path: Path) -> None:
    model, ref, path = tutorial_model
    onnx_path = model.export_onnx(tmp_path / "250.onnx")
    for backend in (load_backend(path), load_backend(onnx_path)):
        for case in [*CASES, "batch"]:
            x = ref[f"input_{case}"]
            x = x if x.ndim == 4 else x[None]
            out = backend.run(x)
            out = out[:, :, 64:192, 64:192]
            want = ref[f"output_{case}"]
            want = want if want.ndim == 4 else want[None]
            assert np.abs(out - want).max() <= 1e-4, case
            assert (out.argmax(1) == want.argmax(1)).all(), case
