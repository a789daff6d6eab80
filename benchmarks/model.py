"""Forward-pass speed of the tutorial network: torch and ONNX Runtime, single window and batch of 8.

Prints the median time per call and the achieved GMAC/s (11.74 GMAC per 256x256 window), and the
ratio to the throughput of a dense 3x3 convolution (64 -> 64 channels at 256x256, bias-free)
measured in the same run on the same engine: the practical limit of this machine.
Target: ONNX Runtime or torch reaches >= 80 % of that dense-convolution throughput on single windows.

usage: python benchmarks/model.py [--repeats 7] [--threads N]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import onnxruntime as ort
import torch
from _common import median_time
from onnx import TensorProto, helper, numpy_helper

from landcover_sdk.config import ModelConfig
from landcover_sdk.inference import OnnxBackend
from landcover_sdk.models import UNetModel, macs_per_window


def dense_conv_onnx(threads: int) -> tuple[ort.InferenceSession, float]:
    w = np.random.default_rng(0).standard_normal((64, 64, 3, 3)).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    shape = [1, 64, 256, 256]
    graph = helper.make_graph([node], "dense", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
                              initializer=[numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return session, 64 * 64 * 9 * 256 * 256


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gmac = macs_per_window(ModelConfig()) / 1e9
    model = UNetModel(seed=0).eval()
    onnx_backend = OnnxBackend(model.to_model_file(), threads=args.threads)
    rng = np.random.default_rng(0)
    x1 = rng.random((1, 4, 256, 256), dtype=np.float32)
    x8 = rng.random((8, 4, 256, 256), dtype=np.float32)

    def torch_run(x: np.ndarray) -> None:
        with torch.inference_mode():
            model.forward_full(torch.from_numpy(x))

    dense_sess, dense_macs = dense_conv_onnx(args.threads)
    dx = rng.random((1, 64, 256, 256), dtype=np.float32)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).eval()
    t_dense_ort = median_time(lambda: dense_sess.run(None, {"x": dx}), args.repeats)
    with torch.inference_mode():
        t_dense_torch = median_time(lambda: conv(torch.from_numpy(dx)), args.repeats)
    dense = {"onnxruntime": dense_macs / t_dense_ort / 1e9, "torch": dense_macs / t_dense_torch / 1e9}

    print(f"tutorial network forward ({gmac:.2f} GMAC per 256x256 window), {args.threads} thread(s), "
          f"median of {args.repeats}")
    print(f"  dense 3x3 conv 64->64 @256^2: onnxruntime {dense['onnxruntime']:.1f} GMAC/s, "
          f"torch {dense['torch']:.1f} GMAC/s")
    best_ratio = 0.0
    for engine, run in (("onnxruntime", onnx_backend.run), ("torch", torch_run)):
        for label, x in (("1 window", x1), ("batch of 8", x8)):
            t = median_time(lambda run=run, x=x: run(x), args.repeats)
            rate = gmac * x.shape[0] / t
            ratio = rate / dense[engine]
            if label == "1 window":
                best_ratio = max(best_ratio, ratio)
            print(f"  {engine:<12} {label:<11} {1000 * t:8.1f} ms/call  {rate:6.1f} GMAC/s  "
                  f"{100 * ratio:5.1f} % of dense conv")
    verdict = "meets" if best_ratio >= 0.8 else "misses"
    print(f"best single-window ratio to dense conv: {100 * best_ratio:.1f} % ({verdict} the >= 80 % target)")


if __name__ == "__main__":
    main()
