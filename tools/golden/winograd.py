#!/usr/bin/python3
"""Derives the Winograd F(4x4,3x3) matrices that shaders/wino4_*.comp and
shaders/wino_weights.comp use, checks them, and compares their float32
error with the usual points.

A^T and G follow the Toom-Cook construction for finite points a_j and
infinity; B^T is then the unique solution of the identity
y = A^T [(G g) * (B^T d)] for every input d and kernel g, found as a
linear system and checked to be exact. The float32 error is that of one
4x4 output tile summed over 256 input channels, against float64.

Run: /usr/bin/python3 tools/golden/winograd.py
"""
from fractions import Fraction as F

import numpy as np


def matrices(points, m=4, r=3):
    n = m + r - 1
    a = [F(p) for p in points]
    at = [[a[j] ** i for j in range(n - 1)] + [F(int(i == m - 1))] for i in range(m)]
    g = []
    for j in range(n - 1):
        f = F(1)
        for l in range(n - 1):
            if l != j:
                f *= a[j] - a[l]
        g.append([a[j] ** k / f for k in range(r)])
    g.append([F(0)] * (r - 1) + [F(1)])
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for l in range(n):
                row = np.zeros(n * n)
                for j in range(n):
                    row[j * n + l] = float(at[i][j] * g[j][k])
                rows.append(row)
                rhs.append(float(l == i + k))
    bt, _, rank, _ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    assert rank == n * n
    return np.array(at, float), g, bt.reshape(n, n)


def exact(at, g, bt):
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(100):
        d, k = rng.standard_normal(6), rng.standard_normal(3)
        y = at @ ((np.array(g, float) @ k) * (bt @ d))
        want = [sum(d[i + j] * k[j] for j in range(3)) for i in range(4)]
        worst = max(worst, np.abs(y - want).max())
    return worst


def f32_error(at, g, bt, cin=256, trials=20):
    rng = np.random.default_rng(1)
    a32, g32, b32 = at.astype(np.float32), np.array(g, float).astype(np.float32), bt.astype(np.float32)
    errs = []
    for _ in range(trials):
        d = rng.standard_normal((cin, 6, 6)).astype(np.float32)
        k = (rng.standard_normal((cin, 3, 3)) / np.sqrt(9 * cin)).astype(np.float32)
        u = np.einsum("ij,cjk,lk->cil", g32, k, g32)
        v = np.einsum("ij,cjk,lk->cil", b32, d, b32)
        y = a32 @ (u * v).sum(0, dtype=np.float32) @ a32.T
        want = np.array([[(d[:, i:i + 3, j:j + 3].astype(np.float64) * k).sum() for j in range(4)] for i in range(4)])
        errs.append(np.linalg.norm(y - want) / np.linalg.norm(want))
    return float(np.mean(errs))


if __name__ == "__main__":
    np.set_printoptions(precision=6, suppress=True)
    for points in ([0, 1, -1, 2, -2], [0, -1, 1, F(1, 2), -2]):
        at, g, bt = matrices(points)
        print("points", [str(p) for p in points], "and infinity")
        print("B^T =\n", bt)
        print("G =", [[str(x) for x in row] for row in g])
        print("A^T =\n", at)
        print("largest error of the identity in float64: %.1e" % exact(at, g, bt))
        print("normalised float32 error of a tile over 256 channels: %.2e\n" % f32_error(at, g, bt))
