"""06 — Migrate from CNTK: import the tutorial's trained models, check them, export ONNX.

The tutorial shipped trained CNTK models (``1epoch.model``, ``250epochs.model``). CNTK is retired
and does not install on current Python; landcover-sdk reads the CNTK model format itself (no CNTK,
no torch), saves the weights as safetensors, checks them against outputs CNTK 2.7 computed, and
exports ONNX for any ONNX runtime.

    python examples/06_cntk_migration.py --model 250epochs.model --reference ref_250epochs.npz
    python examples/06_cntk_migration.py          # $LANDCOVER_CNTK_FIXTURES, else the small test model
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort

from landcover_sdk import ModelFile, import_cntk
from landcover_sdk.inference import load_backend
from landcover_sdk.models import save_onnx, trainable_count

REPO = Path(__file__).resolve().parents[1]


def reference_pairs(ref: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, input batch, CNTK output batch) for every input/output pair in a reference file."""
    pairs = []
    for key in sorted(ref):
        if key.startswith("input"):
            out_key = "output" + key[len("input"):]
            if out_key in ref:
                x, y = ref[key], ref[out_key]
                pairs.append((key, x if x.ndim == 4 else x[None], y if y.ndim == 4 else y[None]))
    return pairs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, nargs="*", default=None, help="CNTK .model file(s)")
    ap.add_argument("--reference", type=Path, default=None, help="CNTK outputs (.npz with input*/output* keys)")
    ap.add_argument("--out", type=Path, default=Path("runs/example-cntk"))
    ap.add_argument("--quick", action="store_true", help="the small test model only (CI smoke test)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)

    fixtures = Path(os.environ.get("LANDCOVER_CNTK_FIXTURES", REPO.parent / "shared" / "fixtures" / "cntk"))
    models, reference = args.model, args.reference
    if not models:
        if not args.quick and (fixtures / "250epochs.model").exists():
            models, reference = [fixtures / "250epochs.model"], fixtures / "ref_250epochs.npz"
        else:
            models, reference = [REPO / "tests/data/cntk/tiny.model"], REPO / "tests/data/cntk/tiny_ref.npz"

    for src in models:
        mf = import_cntk(src)
        st = mf.save(args.out / f"{src.stem}.safetensors")
        onnx_path = save_onnx(ModelFile.load(st), args.out / f"{src.stem}.onnx")
        print(f"{src.name}: {trainable_count(mf.config):,} parameters -> {st.name}, {onnx_path.name}")
        if reference is not None and reference.exists() and len(models) == 1:
            backend = load_backend(st)  # ONNX Runtime, graph built from the safetensors weights
            m = mf.config.margin
            worst = 0.0
            for name, x, want in reference_pairs(dict(np.load(reference))):
                got = backend.run(x.astype(np.float32))[:, :, m:-m, m:-m]
                # relative to the output's magnitude (the tutorial's scores reach ~10)
                diff = float(np.abs(got - want).max() / max(1.0, float(np.abs(want).max())))
                same = bool((got.argmax(1) == want.argmax(1)).all())
                worst = max(worst, diff)
                print(f"  {name:<18} max |ours - CNTK| / max(1, |CNTK|) = {diff:.2e}, argmax identical: {same}")
            print(f"  worst difference {worst:.2e} ({'OK' if worst <= 1e-4 else 'MISMATCH'}, tolerance 1e-4)")
        # the exported file runs in a plain ONNX Runtime session: what other apps would do
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        x = np.random.default_rng(0).integers(0, 256, (1, 4, 256, 256)).astype(np.float32) / 256.0
        y = sess.run(None, {sess.get_inputs()[0].name: x})[0]
        print(f"  {onnx_path.name}: input {sess.get_inputs()[0].shape} -> output {list(y.shape)}")


if __name__ == "__main__":
    main()
