#!/usr/bin/python3
"""Writers for tensorflow-vgg weight files in every layout vkvgg reads.

tensorflow-vgg's vgg16.npy and vgg19.npy are np.save of a Python dict
{layer_name: [W, b]}: an .npy holding a 0-d object array whose payload is a
pickle. The published files were written by Python 2 (protocol 2, byte-string
keys and data), which Python 3 numpy loads only with encoding='latin1'.

    import tfvggfiles
    tfvggfiles.write_weights("w.npy", {"conv1_1": (W, b)}, "py2", dtype="f4")

write_weights writes one file and reads it back with numpy to prove numpy
agrees with it (raising AssertionError if not). The 'py2' and 'py3np2' pickles
are emitted opcode by opcode by the small Pickle class below, since neither
Python 2 nor numpy 2 is on this machine. For Python 3 at protocols 2, 3 and 4
its output is byte-identical to pickle.dumps of the same numpy 1.x objects
(checked for {name: [W, b]} dicts); with core="numpy._core" it differs only in
that module name, as numpy 2.x pickles do.

Importing this module also lets this machine's numpy 1.x unpickle numpy 2.x
pickles: it aliases the module names numpy._core, numpy._core.multiarray and
numpy._core.numeric to numpy.core, numpy.core.multiarray and numpy.core.numeric
when they do not exist (numpy 2 ships the reverse alias).
"""

import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

FORMATS = ("py2", "py3np1", "py3np2", "dict01", "dictwb", "npz_wb", "npz_01")
DTYPES = {"f2": np.float16, "f4": np.float32, "f8": np.float64}


def _alias_numpy_core():
    if "numpy._core" in sys.modules:
        return
    try:
        import numpy._core  # noqa: F401  (numpy 2.x)
        return
    except ImportError:
        pass
    import numpy.core
    import numpy.core.multiarray
    import numpy.core.numeric
    sys.modules.setdefault("numpy._core", numpy.core)
    sys.modules.setdefault("numpy._core.multiarray", numpy.core.multiarray)
    sys.modules.setdefault("numpy._core.numeric", numpy.core.numeric)


_alias_numpy_core()


class Pickle:
    """Emits pickle opcodes one by one, the way a given Python would.

    py2=True: Python 2 cPickle protocol 2 (byte strings as SHORT_BINSTRING or
    BINSTRING, BINPUT memo). py2=False: Python 3 at protocol proto (2: bytes via
    _codecs.encode; 3: BINBYTES; 4: FRAME, STACK_GLOBAL, SHORT_BINUNICODE,
    MEMOIZE).
    """

    def __init__(self, proto=2, py2=False, core="numpy.core"):
        self.proto = proto
        self.py2 = py2
        self.core = core  # numpy.core (numpy 1.x) or numpy._core (numpy 2.x)
        self.out = bytearray()
        self.nmemo = 0
        self.memo = {}  # key -> memo index, for objects pickled twice (globals, dtypes)

    # Low-level opcodes.

    def op(self, b):
        self.out += b

    def put(self, key=None):
        """Memoize the top of the stack, as every pickler does after each object."""
        i = self.nmemo
        self.nmemo += 1
        if self.proto >= 4:
            self.op(b"\x94")  # MEMOIZE
        elif i < 256:
            self.op(b"q" + bytes([i]))  # BINPUT
        else:
            self.op(b"r" + struct.pack("<I", i))  # LONG_BINPUT
        if key is not None:
            self.memo[key] = i

    def get(self, key):
        i = self.memo[key]
        if i < 256:
            self.op(b"h" + bytes([i]))  # BINGET
        else:
            self.op(b"j" + struct.pack("<I", i))  # LONG_BINGET

    def int(self, v):
        if 0 <= v < 256:
            self.op(b"K" + bytes([v]))  # BININT1
        elif 0 <= v < 65536:
            self.op(b"M" + struct.pack("<H", v))  # BININT2
        else:
            self.op(b"J" + struct.pack("<i", v))  # BININT

    def bool(self, v):
        self.op(b"\x88" if v else b"\x89")  # NEWTRUE / NEWFALSE

    def none(self):
        self.op(b"N")

    def text(self, s, shared=False):
        """A str: a byte string in Python 2, a unicode string in Python 3.
        shared: the same (interned) object each time, so later ones come from the memo."""
        key = ("text", s)
        if shared and key in self.memo:
            self.get(key)
            return
        self._text(s)
        if shared:
            self.memo[key] = self.nmemo - 1

    def _text(self, s):
        if self.py2:
            self._binstring(s.encode("latin1"))
            return
        b = s.encode("utf-8")
        if self.proto >= 4 and len(b) < 256:
            self.op(b"\x8c" + bytes([len(b)]) + b)  # SHORT_BINUNICODE
        else:
            self.op(b"X" + struct.pack("<I", len(b)) + b)  # BINUNICODE
        self.put()

    def _binstring(self, b):
        if len(b) < 256:
            self.op(b"U" + bytes([len(b)]) + b)  # SHORT_BINSTRING
        else:
            self.op(b"T" + struct.pack("<I", len(b)) + b)  # BINSTRING
        self.put()

    def bytes(self, b):
        """A bytes object (array data, the 'b' typecode)."""
        if self.py2:
            self._binstring(b)
        elif self.proto >= 3:
            if len(b) < 256:
                self.op(b"C" + bytes([len(b)]) + b)  # SHORT_BINBYTES
            elif len(b) < 1 << 32:
                self.op(b"B" + struct.pack("<I", len(b)) + b)  # BINBYTES
            else:
                self.op(b"\x8e" + struct.pack("<Q", len(b)) + b)  # BINBYTES8
            self.put()
        elif len(b) == 0:
            self.glob("__builtin__", "bytes")
            self.op(b")R")
            self.put()
        else:
            # Python 3 at protocol 2: _codecs.encode(bytes.decode('latin1'), 'latin1')
            self.glob("_codecs", "encode")
            self.tuple([lambda: self.text(b.decode("latin1")), lambda: self.text("latin1", shared=True)])
            self.op(b"R")  # REDUCE
            self.put()

    def glob(self, module, name):
        key = ("global", module, name)
        if key in self.memo:
            self.get(key)
        elif self.proto >= 4:
            self.text(module, shared=True)
            self.text(name, shared=True)
            self.op(b"\x93")  # STACK_GLOBAL
            self.put(key)
        else:
            self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")  # GLOBAL
            self.put(key)

    def tuple(self, items):
        """items: list of callables that each push one object."""
        if not items:
            self.op(b")")  # EMPTY_TUPLE (never memoized)
            return
        if len(items) > 3:
            self.op(b"(")
        for f in items:
            f()
        self.op({1: b"\x85", 2: b"\x86", 3: b"\x87"}.get(len(items), b"t"))
        self.put()

    # Objects.

    def obj(self, v):
        if v is None:
            self.none()
        elif isinstance(v, bool):
            self.bool(v)
        elif isinstance(v, int):
            self.int(v)
        elif isinstance(v, str):
            self.text(v)
        elif isinstance(v, bytes):
            self.bytes(v)
        elif isinstance(v, np.ndarray):
            self.ndarray(v)
        elif isinstance(v, dict):
            self.dict(v)
        elif isinstance(v, list):
            self.list(v)
        elif isinstance(v, tuple):
            self.tuple([lambda x=x: self.obj(x) for x in v])
        else:
            raise TypeError("cannot pickle %r" % type(v))

    def dict(self, d):
        self.op(b"}")  # EMPTY_DICT
        self.put()
        if len(d) == 1:
            for k, v in d.items():
                self.obj(k)
                self.obj(v)
            self.op(b"s")  # SETITEM
        elif d:
            self.op(b"(")
            for k, v in d.items():
                self.obj(k)
                self.obj(v)
            self.op(b"u")  # SETITEMS
        return

    def list(self, items):
        self.op(b"]")  # EMPTY_LIST
        self.put()
        if len(items) == 1:
            self.obj(items[0])
            self.op(b"a")  # APPEND
        elif items:
            self.op(b"(")
            for x in items:
                self.obj(x)
            self.op(b"e")  # APPENDS

    def dtype(self, dt):
        """numpy.dtype(descr, False, True) with BUILD state (3, endian, ...)."""
        key = ("dtype", dt.str)
        if key in self.memo:
            self.get(key)
            return
        descr = "%s%d" % (dt.kind, dt.itemsize)
        endian = dt.byteorder if dt.byteorder in "<>|" else ("<" if sys.byteorder == "little" else ">")
        if dt.itemsize == 1 or dt.kind == "O":
            endian = "|"
        self.glob("numpy", "dtype")
        flag = self.int if self.py2 else self.bool
        self.tuple([lambda: self.text(descr), lambda: flag(0), lambda: flag(1)])
        self.op(b"R")  # REDUCE
        self.put(key)
        flags = 63 if dt.kind == "O" else 0
        self.tuple([lambda: self.int(3), lambda: self.text(endian), self.none, self.none, self.none,
                    lambda: self.int(-1), lambda: self.int(-1), lambda: self.int(flags)])
        self.op(b"b")  # BUILD

    def typecode(self):
        """The b'b' typecode of _reconstruct: one object, pickled once, then fetched from the memo."""
        if ("typecode",) in self.memo:
            self.get(("typecode",))
            return
        self.bytes(b"b")
        self.memo[("typecode",)] = self.nmemo - 1

    def ndarray(self, a):
        """_reconstruct(ndarray, (0,), b'b') with BUILD state (1, shape, dtype, False, data)."""
        self.glob(self.core + ".multiarray", "_reconstruct")
        self.tuple([lambda: self.glob("numpy", "ndarray"), lambda: self.tuple([lambda: self.int(0)]),
                    self.typecode])
        self.op(b"R")  # REDUCE
        self.put()
        if a.dtype.kind == "O":
            data = lambda: self.list(list(a.reshape(-1)))  # noqa: E731
        else:
            data = lambda: self.bytes(np.ascontiguousarray(a).tobytes())  # noqa: E731
        shape = lambda: self.tuple([lambda d=d: self.int(d) for d in a.shape])  # noqa: E731
        self.tuple([lambda: self.int(1), shape, lambda: self.dtype(a.dtype),
                    lambda: self.bool(False), data])
        self.op(b"b")  # BUILD

    def dumps(self, obj):
        """The whole pickle of obj: PROTO, (FRAME,) obj, STOP."""
        self.obj(obj)
        self.op(b".")
        body = bytes(self.out)
        head = b"\x80" + bytes([self.proto])
        if self.proto >= 4:
            head += b"\x95" + struct.pack("<Q", len(body))  # one FRAME around everything
        return head + body


def npy_header(descr, fortran, shape, version=(1, 0), keys=("descr", "fortran_order", "shape")):
    """The .npy magic and header of numpy's format, padded to 64 bytes."""
    vals = {"descr": repr(descr), "fortran_order": repr(bool(fortran)),
            "shape": repr(tuple(int(d) for d in shape))}
    h = "{" + "".join("'%s': %s, " % (k, vals[k]) for k in keys) + "}"
    lenfmt = "<H" if version[0] == 1 else "<I"
    pre = 6 + 2 + struct.calcsize(lenfmt)
    h += " " * ((64 - (pre + len(h) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY" + bytes(version) + struct.pack(lenfmt, len(h)) + h.encode("latin1")


def pickled_npy(obj, pickler):
    """An .npy holding a 0-d object array of obj, pickled by pickler."""
    a = np.empty((), dtype=object)
    a[()] = obj
    return npy_header("|O", False, ()) + pickler.dumps(a)


def _layers(params, dtype):
    want = DTYPES[dtype]
    return {name: (np.asarray(w).astype(want), np.asarray(b).astype(want)) for name, (w, b) in params.items()}


def write_weights(path, params, fmt, dtype="f4"):
    """params: dict name -> (W ndarray, b ndarray). fmt one of:
    'py2'    : Python-2-style protocol-2 pickle in an .npy (SHORT_BINSTRING keys, BINSTRING data, numpy.core), hand-written byte by byte
    'py3np1' : np.save(allow_pickle) by this machine's numpy 1.x of {name: [W, b]}
    'py3np2' : same content but as numpy 2.x writes it (numpy._core.multiarray._reconstruct etc.), hand-crafted
    'dict01' : {name: {0: W, 1: b}}      'dictwb': {name: {'weights': W, 'biases': b}}
    'npz_wb' : .npz with name_W, name_b  'npz_01': .npz with name/0, name/1
    dtype: 'f2' | 'f4' | 'f8' (storage dtype)"""
    if fmt not in FORMATS:
        raise ValueError("unknown format %r (want one of %s)" % (fmt, ", ".join(FORMATS)))
    if dtype not in DTYPES:
        raise ValueError("unknown dtype %r (want f2, f4 or f8)" % (dtype,))
    layers = _layers(params, dtype)
    if fmt == "py2":
        data = pickled_npy({k: [w, b] for k, (w, b) in layers.items()}, Pickle(proto=2, py2=True))
        with open(path, "wb") as f:
            f.write(data)
    elif fmt == "py3np2":
        # numpy 2.x np.save pickles object arrays at protocol 4.
        data = pickled_npy({k: [w, b] for k, (w, b) in layers.items()},
                           Pickle(proto=4, core="numpy._core"))
        with open(path, "wb") as f:
            f.write(data)
    elif fmt in ("py3np1", "dict01", "dictwb"):
        if fmt == "py3np1":
            d = {k: [w, b] for k, (w, b) in layers.items()}
        elif fmt == "dict01":
            d = {k: {0: w, 1: b} for k, (w, b) in layers.items()}
        else:
            d = {k: {"weights": w, "biases": b} for k, (w, b) in layers.items()}
        with open(path, "wb") as f:
            np.save(f, d, allow_pickle=True)
    else:
        arrays = {}
        for k, (w, b) in layers.items():
            if fmt == "npz_wb":
                arrays[k + "_W"], arrays[k + "_b"] = w, b
            else:
                arrays[k + "/0"], arrays[k + "/1"] = w, b
        with open(path, "wb") as f:
            savez(f, arrays)
    verify(path, layers, fmt)


def load_weights(path):
    """name -> (W, b) as numpy loads them (encoding='latin1' for Python 2 pickles)."""
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic.startswith(b"PK"):
        out = {}
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                if "/" in key:
                    name, part = key.rsplit("/", 1)
                else:
                    name, part = key.rsplit("_", 1)
                idx = {"0": 0, "W": 0, "1": 1, "b": 1}[part]
                out.setdefault(name, [None, None])[idx] = z[key]
        return {k: tuple(v) for k, v in out.items()}
    d = np.load(path, allow_pickle=True, encoding="latin1").item()
    out = {}
    for name, v in d.items():
        if isinstance(name, bytes):
            name = name.decode("latin1")
        if isinstance(v, dict):
            v = {(k.decode("latin1") if isinstance(k, bytes) else k): x for k, x in v.items()}
            v = (v["weights"], v["biases"]) if "weights" in v else (v[0], v[1])
        out[name] = (v[0], v[1])
    return out


def verify(path, layers, fmt):
    """Assert numpy reads path back as layers (name -> (W, b) at storage dtype)."""
    if fmt == "py2":
        try:
            np.load(path, allow_pickle=True)
        except UnicodeError:  # numpy re-raises the UnicodeDecodeError as UnicodeError
            pass
        else:
            raise AssertionError("%s: a Python 2 pickle loaded without encoding='latin1'" % path)
    got = load_weights(path)
    assert sorted(got) == sorted(layers), (path, sorted(got), sorted(layers))
    for name, (w, b) in layers.items():
        gw, gb = got[name]
        for g, x in ((gw, w), (gb, b)):
            assert g.dtype == x.dtype and g.shape == x.shape, (path, name, g.dtype, g.shape, x.dtype, x.shape)
            assert np.array_equal(g, x), (path, name)


def savez(f, arrays, compress=False):
    """np.savez(f, **arrays) (compress: np.savez_compressed), but with a fixed
    timestamp on every member so that equal arrays give equal files."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, "w", method, allowZip64=True) as z:
        for key, val in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with z.open(info, "w", force_zip64=True) as fid:
                np.lib.format.write_array(fid, np.asanyarray(val), allow_pickle=False)


def npz_bytes(members, compress=False):
    """A zip of raw members {name: bytes} (compress: deflated), for malformed archives."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            z.writestr(info, data)
    return buf.getvalue()


if __name__ == "__main__":
    # Smoke test: every format and dtype into a temporary directory.
    import tempfile
    rng = np.random.default_rng(0)
    p = {"conv1_1": (rng.standard_normal((3, 3, 3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)),
         "fc6": (rng.standard_normal((8, 5)).astype(np.float32), rng.standard_normal(5).astype(np.float32))}
    with tempfile.TemporaryDirectory() as d:
        for fmt in FORMATS:
            for dt in DTYPES:
                write_weights(os.path.join(d, "w_%s_%s" % (fmt, dt)), p, fmt, dt)
    print("ok: %d formats x %d dtypes" % (len(FORMATS), len(DTYPES)))
