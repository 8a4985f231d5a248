#!/usr/bin/python3
"""Fixtures for package npy: tiny weight files in every layout and dtype,
plain .npy arrays, and malformed files, with the expected values (as float32
bit patterns) and expected errors in fixtures.json.

Run from the repository root with Debian's Python (numpy 1.x):

    /usr/bin/python3 testdata/npy/gen.py

Running it again gives byte-identical files.
"""

import io
import json
import os
import pickle
import struct
import sys
import warnings
from collections import OrderedDict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "golden"))
import tfvggfiles as tf  # noqa: E402

OUT = HERE


def params():
    """A fake three-layer VGG. fc6's W is over 4096 bytes in every dtype but
    float16, so readers take their large-payload path."""
    rng = np.random.default_rng(7)
    p = OrderedDict()
    for name, wshape in (("conv1_1", (3, 3, 2, 4)), ("conv2_1", (3, 3, 4, 3)), ("fc6", (40, 30))):
        w = rng.standard_normal(wshape).astype(np.float32)
        b = rng.standard_normal(wshape[-1]).astype(np.float32)
        p[name] = (w, b)
    w = p["conv1_1"][0].reshape(-1)
    # Values float16 must round, flush or saturate: -0, a float16 subnormal, beyond float16 range.
    w[:6] = [-0.0, 6e-8, 1e-5, 65504.0, 3.0e5, -1.0 / 3]
    return p


def bits(a):
    a = np.asarray(a, dtype=np.float32)
    return {"shape": list(a.shape), "bits": [int(x) for x in np.ascontiguousarray(a).reshape(-1).view(np.uint32)]}


def expected_layers(p, dtype):
    want = tf.DTYPES[dtype]
    return {k: {"W": bits(w.astype(want)), "b": bits(b.astype(want))} for k, (w, b) in p.items()}


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def save_bytes(obj):
    f = io.BytesIO()
    np.save(f, obj, allow_pickle=True)
    return f.getvalue()


def object_npy(obj, proto):
    """np.save of a 0-d object array holding obj, pickled at protocol proto."""
    a = np.empty((), dtype=object)
    a[()] = obj
    return tf.npy_header("|O", False, ()) + pickle.dumps(a, protocol=proto)


def check_loads(name, p, dtype):
    got = tf.load_weights(os.path.join(OUT, name))
    for k, (w, b) in p.items():
        gw, gb = got[k]
        assert np.array_equal(gw.astype(np.float32), w.astype(tf.DTYPES[dtype]).astype(np.float32)), name
        assert np.array_equal(gb.astype(np.float32), b.astype(tf.DTYPES[dtype]).astype(np.float32)), name


def main():
    # 3e5 overflowing float16 to inf is on purpose.
    warnings.filterwarnings("ignore", "overflow encountered in cast", RuntimeWarning)
    for f in os.listdir(OUT):
        if f.endswith((".npy", ".npz", ".pkl")):
            os.remove(os.path.join(OUT, f))
    p = params()
    manifest = {"layers": {d: expected_layers(p, d) for d in ("f2", "f4")}, "weights": [], "arrays": [], "errors": []}

    def weights(name, values):
        manifest["weights"].append({"file": name, "values": values})

    # Every format and dtype, through tfvggfiles (which checks numpy agrees).
    for fmt in tf.FORMATS:
        for dt in ("f2", "f4", "f8"):
            name = "w_%s_%s.%s" % (fmt, dt, "npz" if fmt.startswith("npz") else "npy")
            tf.write_weights(os.path.join(OUT, name), p, fmt, dt)
            weights(name, "f2" if dt == "f2" else "f4")

    lists = {k: [w, b] for k, (w, b) in p.items()}
    # Python 3 pickles at other protocols: 0 (text opcodes, UNICODE data),
    # 1, 2 (bytes via _codecs.encode, fc6 W's latin1 text over 4096 bytes), 4,
    # 5 (_frombuffer, BYTEARRAY8).
    for proto in (0, 1, 2, 4, 5):
        name = "w_py3p%d_f4.npy" % proto
        write(name, object_npy(lists, proto))
        check_loads(name, p, "f4")
        weights(name, "f4")
    # numpy 2.x at protocol 2 (numpy._core names, GLOBAL opcodes).
    name = "w_np2p2_f4.npy"
    write(name, tf.pickled_npy(lists, tf.Pickle(proto=2, core="numpy._core")))
    check_loads(name, p, "f4")
    weights(name, "f4")
    # Python 2 with an OrderedDict would need copy_reg; Python 3's:
    name = "w_ordered_f4.npy"
    write(name, save_bytes(OrderedDict((k, [w, b]) for k, (w, b) in p.items())))
    check_loads(name, p, "f4")
    weights(name, "f4")
    name = "w_tuple_f4.npy"
    write(name, save_bytes({k: (w, b) for k, (w, b) in p.items()}))
    check_loads(name, p, "f4")
    weights(name, "f4")
    for dt in ("f2", "f4", "f8"):
        name = "w_bigendian_%s.npy" % dt
        be = np.dtype(">" + dt)
        write(name, save_bytes({k: [w.astype(be), b.astype(be)] for k, (w, b) in p.items()}))
        check_loads(name, p, dt)
        weights(name, "f2" if dt == "f2" else "f4")
    name = "w_fortran_f4.npy"
    write(name, save_bytes({k: [np.asfortranarray(w), b] for k, (w, b) in p.items()}))
    check_loads(name, p, "f4")
    weights(name, "f4")
    name = "w_py2fortran_f4.npy"
    write(name, tf.pickled_npy({k: [np.asfortranarray(w), b] for k, (w, b) in p.items()},
                               Crafted(proto=2, py2=True)))
    check_loads(name, p, "f4")
    weights(name, "f4")
    name = "w_npzdeflate_f4.npz"
    with open(os.path.join(OUT, name), "wb") as f:
        tf.savez(f, {k + s: a for k, (w, b) in p.items() for s, a in (("_W", w), ("_b", b))}, compress=True)
    check_loads(name, p, "f4")
    weights(name, "f4")
    name = "w_bare_f4.pkl"
    write(name, pickle.dumps(lists, protocol=2))
    weights(name, "f4")

    # Plain arrays for ReadNPY.
    rng = np.random.default_rng(11)
    base = rng.standard_normal((2, 3, 4)).astype(np.float32)
    special16 = np.array([0, 0x8000, 1, 0x3ff, 0x400, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x7c01, 0xfe17, 0x3c00,
                          0x3555, 0xc000], dtype=np.uint16).view(np.float16)

    def array(name, a, data=None):
        if data is None:
            f = io.BytesIO()
            np.save(f, a)
            data = f.getvalue()
        write(name, data)
        got = np.load(os.path.join(OUT, name))
        assert got.shape == a.shape and np.array_equal(got, a, equal_nan=True), name
        manifest["arrays"].append({"file": name, **bits(a)})

    for dt in ("f2", "f4", "f8"):
        array("a_%s.npy" % dt, base.astype(dt))
        array("a_be_%s.npy" % dt, base.astype(">" + dt))
    array("a_f2_special.npy", special16)
    array("a_fortran_f4.npy", np.asfortranarray(base))
    array("a_fortran_f2.npy", np.asfortranarray(base.astype(np.float16)))
    array("a_scalar_f4.npy", np.float32(2.5).reshape(()))
    array("a_empty_f4.npy", np.zeros((0, 3), np.float32))
    array("a_1d_f4.npy", base.reshape(-1))
    for v in ((2, 0), (3, 0)):
        f = io.BytesIO()
        np.lib.format.write_array(f, base, version=v)
        array("a_v%d_f4.npy" % v[0], base, f.getvalue())
    array("a_reordered_f4.npy", base,
          tf.npy_header("<f4", False, base.shape, keys=("shape", "fortran_order", "descr")) + base.tobytes())
    array("a_native_f4.npy", base, tf.npy_header("=f4", False, base.shape) + base.tobytes())
    # Python 2 numpy wrote 3L for long dimensions.
    h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L, 4L), }"
    h += b" " * (64 - 10 - len(h) - 1) + b"\n"
    array("a_py2long_f4.npy", base, b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + base.tobytes())

    # Malformed files: (file, reader, sentinel, text the error must contain).
    def bad(name, data, reader, sentinel, contains):
        write(name, data)
        manifest["errors"].append({"file": name, "reader": reader, "sentinel": sentinel, "contains": contains})

    py2 = open(os.path.join(OUT, "w_py2_f4.npy"), "rb").read()
    fc6 = p["fc6"][0].tobytes()
    at_fc6 = py2.index(fc6)
    bad("bad_trunc_magic.npy", py2[:4], "weights", "ErrTruncated", "npy magic")
    bad("bad_trunc_header.npy", py2[:40], "weights", "ErrTruncated", "npy header")
    bad("bad_trunc_opcode.npy", py2[:128 + 50], "weights", "ErrTruncated", "truncated pickle")
    bad("bad_trunc_data.npy", py2[:at_fc6 + 100], "weights", "ErrTruncated", "announces 4800 bytes")
    bad("bad_trunc_nostop.npy", py2[:-1], "weights", "ErrTruncated", "no STOP")
    bad("bad_magic.npy", b"XNUMPY" + py2[6:], "weights", "ErrFormat", "not an npy or npz file")
    bad("bad_empty.npy", b"", "weights", "ErrTruncated", "empty")
    bad("bad_list.npy", object_npy([p["fc6"][0], p["fc6"][1]], 3),
        "weights", "ErrFormat", "pickle holds a list of 2 items, not a dict")
    bad("bad_int64.npy", save_bytes({"conv1_1": [np.arange(6, dtype=np.int64), p["conv1_1"][1]]}),
        "weights", "ErrDType", "int64")
    bad("bad_complex.npy", save_bytes({"conv1_1": [p["conv1_1"][0], np.ones(4, np.complex64)]}),
        "weights", "ErrDType", "complex64")
    evil = tf.npy_header("|O", False, ()) + b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    bad("bad_global.npy", evil, "weights", "ErrFormat", "os.system")
    bad("bad_entry3.npy", save_bytes({"fc6": [p["fc6"][0], p["fc6"][1], p["fc6"][1]]}),
        "weights", "ErrFormat", "entry is a list of 3 items")
    bad("bad_entrykeys.npy", save_bytes({"fc6": {"w": p["fc6"][0], "b": p["fc6"][1]}}),
        "weights", "ErrFormat", "dict with keys")
    bad("bad_entrynotarray.npy", save_bytes({"fc6": [p["fc6"][0], 3]}),
        "weights", "ErrFormat", "b is an int, not an array")
    bad("bad_notpickle.npy", tf.npy_header("|O", False, ()) + b"\xffhello, world", "weights", "ErrFormat",
        "not a pickle")
    short = Crafted(proto=2, py2=True)
    bad("bad_datalen.npy", tf.pickled_npy({"fc6": [ShortArray(p["fc6"][0]), p["fc6"][1]]}, short),
        "weights", "ErrFormat", "array data has 4796 bytes, but shape [40 30] of float32 (<f4) needs 4800")
    bad("bad_single.npy", (lambda f: (np.save(f, base), f.getvalue())[1])(io.BytesIO()),
        "weights", "ErrFormat", "not a pickled dict")
    bad("bad_nolayers.npy", save_bytes({}), "weights", "ErrFormat", "no layers")
    bad("bad_protocol.npy", tf.npy_header("|O", False, ()) + b"\x80\x09N.", "weights", "ErrFormat",
        "pickle protocol 9")
    bad("bad_npz_member.npz", tf.npz_bytes({"foo.npy": npy(base)}), "weights", "ErrFormat",
        "npz member \"foo.npy\" is not")
    bad("bad_npz_missing.npz", tf.npz_bytes({"fc6_W.npy": npy(base)}), "weights", "ErrFormat",
        "npz layer \"fc6\" has no b")
    npz = open(os.path.join(OUT, "w_npz_wb_f4.npz"), "rb").read()
    bad("bad_npz_trunc.npz", npz[:len(npz) // 2], "weights", "ErrFormat", "zip")
    bad("bad_npz_int.npz", tf.npz_bytes({"fc6_W.npy": npy(base), "fc6_b.npy": npy(np.arange(3))}),
        "weights", "ErrDType", "int64")

    hdr = tf.npy_header("<f4", False, (10 ** 8,))
    bad("bad_a_huge.npy", hdr + b"\0" * (128 - len(hdr)), "npy", "ErrTruncated", "needs 400000000 bytes")
    bad("bad_a_negshape.npy", tf.npy_header("<f4", False, (-1, 3)) + b"\0" * 12, "npy", "ErrFormat",
        "negative dimension -1")
    bad("bad_a_overflow.npy", tf.npy_header("<f4", False, (2 ** 40, 2 ** 40)), "npy", "ErrFormat",
        "more than")
    bad("bad_a_int64.npy", npy(np.arange(6)), "npy", "ErrDType", "int64")
    bad("bad_a_bool.npy", npy(np.ones(3, bool)), "npy", "ErrDType", "bool")
    bad("bad_a_object.npy", save_bytes({"a": 1}), "npy", "ErrDType", "object")
    bad("bad_a_structured.npy", npy(np.zeros(2, dtype=[("x", "<f4"), ("y", "<f4")])), "npy", "ErrDType",
        "structured")
    bad("bad_a_missingkey.npy", header_raw(b"{'descr': '<f4', 'fortran_order': False, }"), "npy", "ErrFormat",
        "missing key 'shape'")
    bad("bad_a_extrakey.npy", header_raw(b"{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}"),
        "npy", "ErrFormat", "unexpected key 'x'")
    bad("bad_a_malformed.npy", header_raw(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "), "npy",
        "ErrFormat", "bad npy header")
    bad("bad_a_truncdata.npy", npy(base)[:-10], "npy", "ErrTruncated", "needs 96 bytes of data")
    bad("bad_a_version.npy", b"\x93NUMPY\x04\x00" + npy(base)[8:], "npy", "ErrFormat", "version 4.0")
    bad("bad_a_hdrlen.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 60000) + b"{" * 90, "npy", "ErrTruncated",
        "claims 60000 bytes")
    bad("bad_a_magic.npy", b"\x93NUMPX" + npy(base)[6:], "npy", "ErrFormat", "bad magic")

    with open(os.path.join(OUT, "fixtures.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote %d weight files, %d arrays, %d malformed files" %
          (len(manifest["weights"]), len(manifest["arrays"]), len(manifest["errors"])))


def npy(a):
    f = io.BytesIO()
    np.save(f, a, allow_pickle=False)
    return f.getvalue()


def header_raw(d):
    """An .npy with the header dictionary d, padded, and no data."""
    d += b" " * ((64 - (10 + len(d) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d


class ShortArray:
    """Stands for an array whose pickled data lacks its last 4 bytes."""

    def __init__(self, a):
        self.a = a


class Crafted(tf.Pickle):
    """tfvggfiles' pickler plus what only fixtures need: Fortran-order arrays
    (is_fortran True, data in Fortran order) and ShortArray."""

    def obj(self, v):
        if isinstance(v, ShortArray):
            self.array(v.a, False, v.a.tobytes()[:-4])
        else:
            super().obj(v)

    def ndarray(self, a):
        if a.flags.f_contiguous and not a.flags.c_contiguous:
            self.array(a, True, a.tobytes(order="F"))
        else:
            super().ndarray(a)

    def array(self, a, fortran, data):
        self.glob(self.core + ".multiarray", "_reconstruct")
        self.tuple([lambda: self.glob("numpy", "ndarray"), lambda: self.tuple([lambda: self.int(0)]),
                    self.typecode])
        self.op(b"R")  # REDUCE
        self.put()
        shape = lambda: self.tuple([lambda d=d: self.int(d) for d in a.shape])  # noqa: E731
        self.tuple([lambda: self.int(1), shape, lambda: self.dtype(a.dtype), lambda: self.bool(fortran),
                    lambda: self.bytes(data)])
        self.op(b"b")  # BUILD


if __name__ == "__main__":
    main()
