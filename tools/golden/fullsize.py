#!/usr/bin/python3
"""Writes a full-size VGG16 or VGG19 weight file of random values in the
layout of tensorflow-vgg's published files (a Python-2 protocol-2 pickle,
528 MB for VGG16), to measure loading time and memory without the real
file:

    /usr/bin/python3 tools/golden/fullsize.py vgg16 /tmp/vgg16.npy
    /usr/bin/time -v go run ./tools/vkvgg bench --weights /tmp/vgg16.npy --batches 1 --iters 1
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tfvggfiles  # noqa: E402


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("vgg16", "vgg19"):
        sys.exit("usage: fullsize.py vgg16|vgg19 OUT.npy")
    blocks = (2, 2, 3, 3, 3) if sys.argv[1] == "vgg16" else (2, 2, 4, 4, 4)
    widths = (64, 128, 256, 512, 512)
    rng = np.random.default_rng(0)
    params, prev = {}, 3
    for b, (n, w) in enumerate(zip(blocks, widths)):
        for i in range(n):
            std = np.sqrt(2.0 / (9 * prev))
            params["conv%d_%d" % (b + 1, i + 1)] = (
                rng.standard_normal((3, 3, prev, w), dtype=np.float32) * std,
                np.zeros(w, np.float32))
            prev = w
    for name, (fin, fout) in (("fc6", (25088, 4096)), ("fc7", (4096, 4096)), ("fc8", (4096, 1000))):
        params[name] = (rng.standard_normal((fin, fout), dtype=np.float32) * np.sqrt(2.0 / fin),
                        np.zeros(fout, np.float32))
    tfvggfiles.write_weights(sys.argv[2], params, "py2", dtype="f4")
    print("%s: %.0f MB" % (sys.argv[2], os.path.getsize(sys.argv[2]) / 1e6))


if __name__ == "__main__":
    main()
