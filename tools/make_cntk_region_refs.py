"""CNTK 2.7 outputs of the tutorial's evaluation loop over small regions, for predictor parity tests.

Run in the CNTK reference environment:
    LD_LIBRARY_PATH=.../shim .../venv/bin/python tools/make_cntk_region_refs.py MODEL REGION OUT.npz SEED

The loop is the tutorial's: a REGION x REGION area read with a window/4 margin on every side,
windows of the model's size at stride window/2, each window's centre kept. Saves the uint8 imagery
(``naip``, with margin), the region size and CNTK's stitched scores (``scores``).
"""
import sys

import cntk
import numpy as np


def main():
    model = cntk.load_model(sys.argv[1])
    region, out, seed = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    arg = model.arguments[0]
    window = arg.shape[1]
    margin, core = window // 4, window // 2
    rs = np.random.RandomState(seed)
    # smooth-ish uint8 imagery: blocky random fields plus noise, like quantised aerial imagery
    side = region + 2 * margin
    base = np.kron(rs.uniform(20, 220, (4, side // 16 + 1, side // 16 + 1)), np.ones((16, 16)))[:, :side, :side]
    naip = np.clip(np.rint(base + rs.normal(0, 12, base.shape)), 0, 255).astype(np.uint8)
    x = naip.astype(np.float32) / 256.0
    n = region // core
    scores = np.zeros((model.outputs[0].shape[0], region, region), np.float32)
    for r in range(n):
        for c in range(n):
            win = np.ascontiguousarray(x[:, r * core:r * core + window, c * core:c * core + window])
            y = np.asarray(model.eval({arg: [win]})).reshape(-1, core, core)
            scores[:, r * core:(r + 1) * core, c * core:(c + 1) * core] = y
    np.savez_compressed(out, naip=naip, region=region, scores=scores)
    print("wrote", out, scores.shape)


if __name__ == "__main__":
    main()
