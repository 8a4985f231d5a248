#!/usr/bin/python3
"""Writes gpu/testdata/half.bin: float32 values and numpy's float16 of
each, the oracle of gpu.Half.

The values are random bit patterns, every float32 exactly halfway between
two neighbouring halves (the ties, normal and subnormal), their float32
neighbours, and the edges (overflow, underflow, infinities, NaN, zeros).
Each record is a little-endian uint32 (the float32's bits) and a uint16
(numpy's half bits).

Run: /usr/bin/python3 tools/golden/half.py
"""
import numpy as np

rng = np.random.default_rng(16)
vals = [rng.integers(0, 2**32, 6000, dtype=np.uint64).astype(np.uint32).view(np.float32)]
# Ties and their neighbours: the midpoint of each half and the next.
h = rng.integers(0, 0x7bff, 1500, dtype=np.uint16)
h = np.concatenate([h, np.arange(0, 16, dtype=np.uint16), np.array([0x03ff, 0x0400, 0x7bfe], dtype=np.uint16)])
lo = h.view(np.float16).astype(np.float64)
hi = (h + 1).view(np.float16).astype(np.float64)
mid = ((lo + hi) / 2).astype(np.float32)
for m in (mid, -mid):
    vals += [m, np.nextafter(m, np.float32(np.inf)), np.nextafter(m, np.float32(-np.inf))]
edges = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 65504, 65519.99, 65520, 1e6, 2.0**-24,
                  2.0**-25, 2.0**-25 * 1.0000001, 2.0**-26, 1e-30, 6.1035156e-05, -6.1035156e-05], dtype=np.float32)
vals.append(edges)
f = np.concatenate(vals).astype(np.float32)
with np.errstate(over="ignore"):
    half = f.astype(np.float16)
rec = np.zeros(len(f), dtype=[("f", "<u4"), ("h", "<u2")])
rec["f"] = f.view(np.uint32)
rec["h"] = half.view(np.uint16)
rec.tofile("gpu/testdata/half.bin")
print(len(f), "values")
