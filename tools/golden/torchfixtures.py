#!/usr/bin/python3
"""Writes testdata/torch/: torch.save files for npy.ReadTorch, and their values.

Run from the repository root with Debian's Python (python3-torch,
python3-numpy):

    /usr/bin/python3 tools/golden/torchfixtures.py

Each *.pt file is written by torch.save itself (no hand-made pickles), except
sd_f4_bigendian.pt, which rewrites sd_f4.pt as a big-endian machine would
(PyTorch 2.x's <folder>/byteorder member says "big", the storages hold
big-endian values). expected.npz, written by numpy, holds for every file the
float tensors npy.ReadTorch must return, as float32 in C order, in state dict
order, under "<file stem>/<key>"; integer tensors (num_batches_tracked) are
absent, as ReadTorch skips them. The values come from torch (.float() of the
tensor, which widens float16 and bfloat16 exactly and rounds float64 to
nearest) and np.array(order="C"), independently of the Go code.

Every file is read back with torch.load and compared with what was saved
before expected.npz is written. A second run gives byte-identical files
(fixed seeds), except the legacy-format ones, whose storage keys are memory
addresses. torch 1.x names the zip's top folder after the file.
"""

import io
import os
import pickle
import sys
import zipfile

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "testdata", "torch")


def model(seed):
    """A small conv/bn/linear network with odd shapes, its weights seeded."""
    torch.manual_seed(seed)
    m = torch.nn.Sequential(
        torch.nn.Conv2d(3, 5, kernel_size=3),
        torch.nn.BatchNorm2d(5),
        torch.nn.ReLU(),
        torch.nn.Conv2d(5, 7, kernel_size=(1, 3)),
        torch.nn.Flatten(),
        torch.nn.Linear(7, 3),
    )
    # Batch norm buffers other than 0 and 1, and a counter other than 0.
    with torch.no_grad():
        m[1].running_mean.copy_(torch.randn(5) * 0.1)
        m[1].running_var.copy_(torch.rand(5) + 0.5)
        m[1].num_batches_tracked.fill_(7)
    return m


def cases():
    """Yields (file name, object to save, torch.save keyword arguments)."""
    sd = model(1).state_dict()
    yield "sd_f4.pt", sd, {}
    yield "sd_f2.pt", {k: (v.half() if v.is_floating_point() else v) for k, v in model(2).state_dict().items()}, {}
    yield "sd_f8.pt", {k: (v.double() if v.is_floating_point() else v) for k, v in model(3).state_dict().items()}, {}
    yield "sd_bf16.pt", {k: (v.bfloat16() if v.is_floating_point() else v) for k, v in model(4).state_dict().items()}, {}

    torch.manual_seed(5)
    base = torch.randn(4, 7)
    cube = torch.randn(2, 3, 5)
    wide = torch.randn(5, 9)
    row = torch.randn(1, 4)
    strided = {
        "transposed": base.t(),                  # (7, 4), stride (1, 7)
        "permuted": cube.permute(2, 0, 1),       # (5, 2, 3), stride (1, 15, 5)
        "columns": wide[:, 2:4],                 # (5, 2), stride (9, 1), offset 2
        "every_other": wide[::2, ::3],           # (3, 3), stride (18, 3)
        "expanded": row.expand(3, 4),            # (3, 4), stride (0, 1)
        "contiguous": torch.randn(2, 3),
    }
    for k, v in strided.items():
        assert k == "contiguous" or not v.is_contiguous(), k
    yield "sd_strided.pt", strided, {}

    torch.manual_seed(6)
    flat = torch.randn(23)
    shared = {
        "first": flat[2:8].view(2, 3),           # offset 2
        "second": flat[5:17].view(3, 4),         # offset 5, overlaps first
        "tail": flat[20:],                       # offset 20
        "whole": flat,
    }
    assert len({v.storage().data_ptr() for v in shared.values()}) == 1
    yield "sd_shared.pt", shared, {}

    # Tensors as nn.Parameter (saved through _rebuild_parameter), a scalar
    # and an empty tensor.
    torch.manual_seed(7)
    yield "sd_param.pt", {
        "w": torch.nn.Parameter(torch.randn(3, 2)),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "ints": torch.arange(4),
    }, {}

    yield "sd_legacy.pt", model(1).state_dict(), {"_use_new_zipfile_serialization": False}
    yield "sd_legacy_strided.pt", strided, {"_use_new_zipfile_serialization": False}
    yield "sd_legacy_p4.pt", shared, {"_use_new_zipfile_serialization": False, "pickle_protocol": 4}
    yield "sd_p4.pt", model(1).state_dict(), {"pickle_protocol": 4}


def expected_arrays(obj):
    """The float tensors of a saved dict, as ReadTorch returns them."""
    out = []
    for k, v in obj.items():
        if not v.is_floating_point():
            continue
        # np.array, not np.ascontiguousarray, which makes 0-d arrays 1-d.
        a = np.array(v.detach().float().numpy(), dtype=np.float32, order="C")
        out.append((k, a))
    return out


def same(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride() and torch.equal(a, b)


def bigendian(src, dst):
    """Rewrites a torch zip as a big-endian machine writes it."""
    zin = zipfile.ZipFile(src)
    prefix = zin.namelist()[0].split("/")[0]
    stem = os.path.splitext(os.path.basename(dst))[0]
    # Element size of each storage key, from the persistent ids of data.pkl.
    sizes = {}

    class Keys(pickle.Unpickler):
        def persistent_load(self, pid):
            storage = pid[1](pid[4])  # torch.FloatStorage(numel), ...
            sizes[pid[2]] = storage.element_size()
            return storage

    Keys(io.BytesIO(zin.read(prefix + "/data.pkl"))).load()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            rest = info.filename.split("/", 1)[1]
            data = zin.read(info)
            if rest.startswith("data/"):
                n = sizes[rest[len("data/"):]]
                data = b"".join(data[i:i + n][::-1] for i in range(0, len(data), n))
            zi = zipfile.ZipInfo(stem + "/" + rest, date_time=(1980, 1, 1, 0, 0, 0))
            zout.writestr(zi, data)
            if rest == "data.pkl":
                zout.writestr(zipfile.ZipInfo(stem + "/byteorder", date_time=(1980, 1, 1, 0, 0, 0)), b"big")
    with open(dst, "wb") as f:
        f.write(buf.getvalue())


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name.endswith(".pt") or name == "expected.npz":
            os.remove(os.path.join(OUT, name))
    expected = {}
    for name, obj, kw in cases():
        path = os.path.join(OUT, name)
        torch.save(obj, path, **kw)
        back = torch.load(path)
        assert list(back) == list(obj), name
        for k in obj:
            assert same(back[k], obj[k].detach()), (name, k)
        stem = os.path.splitext(name)[0]
        for k, a in expected_arrays(obj):
            expected[stem + "/" + k] = a
        kind = "zip" if zipfile.is_zipfile(path) else "legacy"
        print("%-22s %-6s %5d bytes, %d float tensors of %d" % (
            name, kind, os.path.getsize(path), len(expected_arrays(obj)), len(obj)))

    # The big-endian rewrite of sd_f4.pt holds the same values.
    be = os.path.join(OUT, "sd_f4_bigendian.pt")
    bigendian(os.path.join(OUT, "sd_f4.pt"), be)
    for k, a in expected_arrays(model(1).state_dict()):
        expected["sd_f4_bigendian/" + k] = a
    print("%-22s %-6s %5d bytes" % ("sd_f4_bigendian.pt", "zip", os.path.getsize(be)))

    np.savez(os.path.join(OUT, "expected.npz"), **expected)
    with np.load(os.path.join(OUT, "expected.npz")) as z:
        assert z.files == list(expected), "npz order"
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    assert total < 200 * 1024, total
    print("testdata/torch: %d bytes in all; torch %s, numpy %s, Python %s" % (
        total, torch.__version__, np.__version__, sys.version.split()[0]))


if __name__ == "__main__":
    main()
