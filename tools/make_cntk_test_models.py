"""Write small CNTK 2.7 models (and their outputs) for landcover-sdk's tests.

Run in the CNTK 2.7 reference environment (../shared/tools/cntk-reference/setup.sh):
    LD_LIBRARY_PATH=.../shim .../venv/bin/python tools/make_cntk_test_models.py tests/data/cntk

Writes
  tiny.model      the tutorial architecture at channels (8, 4, 4, 4), 1 block per stage, 64-px window
  residual.model  the same but with the residual shortcut the tutorial left out (must be refused)
  tiny_ref.npz    inputs and CNTK's outputs of tiny.model (keys input, output)
The graph is written from the architecture description in docs/tutorial-mapping.md.
"""
import os
import sys

import cntk
import numpy as np
from cntk.initializer import bilinear, he_normal, uniform
from cntk.layers import BatchNormalization, Convolution, ConvolutionTranspose


def conv_bn(x, n, strides=(1, 1), init=None):
    c = Convolution((3, 3), n, activation=None, init=init or uniform(0.00001), pad=True, strides=strides,
                    bias=False)(x)
    return BatchNormalization(map_rank=1, normalization_time_constant=4096, use_cntk_engine=True)(c)


def block(x, n, strides=(1, 1), residual=False):
    c1 = cntk.relu(conv_bn(x, n, strides, he_normal()))
    c2 = conv_bn(c1, n)
    return cntk.relu(c2 + x) if residual else cntk.relu(c2)


def network(x, channels, classes, size, residual=False):
    bands = [cntk.slice(x, 0, i, i + 1) for i in range(4)]
    centred = [b - cntk.reduce_mean(b) for b in bands[:3]] + [bands[3]]
    xin = cntk.splice(cntk.splice(cntk.splice(centred[0], centred[1], axis=0), centred[2], axis=0), centred[3],
                      axis=0)
    stem = conv_bn(xin, channels[0])
    r1 = block(stem, channels[0], residual=residual)
    r2 = block(r1, channels[1], (2, 2))
    r3 = block(r2, channels[2], (2, 2))
    r4 = block(r3, channels[3], (2, 2))
    up = lambda t, n, s: ConvolutionTranspose((3, 3), n, strides=2, output_shape=(s, s), pad=True, bias=False,  # noqa: E731
                                              init=bilinear(3, 3))(t)
    o3 = cntk.relu(Convolution((1, 1), channels[2])(r3) + Convolution((1, 1), channels[2])(up(r4, channels[3],
                                                                                                size // 4)))
    o2 = cntk.relu(Convolution((1, 1), channels[1])(r2) + Convolution((1, 1), channels[1])(up(o3, channels[2],
                                                                                                size // 2)))
    o1 = cntk.relu(Convolution((3, 3), channels[0], pad=True)(xin) + Convolution((1, 1), channels[0])(r1)
                   + Convolution((1, 1), channels[0])(up(o2, channels[1], size)))
    out = Convolution((3, 3), classes, pad=True, activation=cntk.relu)(o1)
    m = size // 4
    full = cntk.reshape(out, (classes, size, size))
    return cntk.slice(cntk.slice(full, 1, m, size - m), 2, m, size - m)


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    cntk.cntk_py.set_fixed_random_seed(1)
    size = 64
    x = cntk.input_variable((4, size, size), np.float32)
    tiny = network(x, (8, 4, 4, 4), 5, size)
    rs = np.random.RandomState(3)
    # Give the BatchNorm statistics and weights non-trivial values so parity is a real check.
    for p in tiny.parameters:
        p.value = (rs.normal(0, 0.5, p.shape) + (1.0 if p.name == "scale" else 0.0)).astype(np.float32)
    for c in tiny.constants:
        if c.name == "aggregate_variance":
            c.value = rs.uniform(0.5, 2.0, c.shape).astype(np.float32)
        elif c.name == "aggregate_mean":
            c.value = rs.normal(0, 0.3, c.shape).astype(np.float32)
    tiny.save(os.path.join(out_dir, "tiny.model"))
    inp = (np.round(rs.uniform(0, 255, (3, 4, size, size))) / 256).astype(np.float32)
    outp = np.asarray(tiny.eval({tiny.arguments[0]: inp}), dtype=np.float32)
    np.savez_compressed(os.path.join(out_dir, "tiny_ref.npz"), input=inp, output=outp)
    y = cntk.input_variable((4, size, size), np.float32)
    network(y, (8, 4, 4, 4), 5, size, residual=True).save(os.path.join(out_dir, "residual.model"))
    print("wrote", sorted(os.listdir(out_dir)), "output", outp.shape)


if __name__ == "__main__":
    main()
