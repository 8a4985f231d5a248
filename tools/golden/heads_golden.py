"""Reference for the classification heads of package heads.

Writes testdata/heads/blobs.npz: features of 5 overlapping classes (so
that no classifier is perfect), a fixed train/validation split, and the
validation accuracy of scikit-learn's LogisticRegression trained on the
standardised training split. The Go test trains a linear head on the same
features and split and must come within 2 points of that accuracy.

Run: /usr/bin/python3 tools/golden/heads_golden.py  (Debian's python3-numpy
and python3-sklearn).
"""
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

rng = np.random.default_rng(20261130)
K, D, PER = 5, 40, 120
centres = rng.normal(0, 1.0, (K, D))
X, y = [], []
for k in range(K):
    # ReLU-like features: non-negative, with a class-dependent mean.
    f = np.maximum(centres[k] + rng.normal(0, 1.6, (PER, D)), 0)
    X.append(f)
    y += [k] * PER
X = np.concatenate(X).astype(np.float32)
y = np.array(y, dtype=np.int32)
order = rng.permutation(len(y))
X, y = X[order], y[order]
# Stratified split: 20% of each class to validation.
val = []
for k in range(K):
    idx = np.flatnonzero(y == k)
    val += list(rng.choice(idx, size=len(idx) // 5, replace=False))
val = np.array(sorted(val), dtype=np.int32)
train = np.array(sorted(set(range(len(y))) - set(val.tolist())), dtype=np.int32)

sc = StandardScaler().fit(X[train])
clf = LogisticRegression(max_iter=5000).fit(sc.transform(X[train]), y[train])
acc = clf.score(sc.transform(X[val]), y[val])
print(f"scikit-learn {sklearn.__version__}: LogisticRegression validation accuracy {acc:.4f}")
np.savez("testdata/heads/blobs.npz", X=X, y=y, train=train, val=val,
         sklearn_val_acc=np.array([acc], dtype=np.float32))
