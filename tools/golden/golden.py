#!/usr/bin/python3
"""Golden reference data for vkvgg, following tensorflow-vgg's build(rgb).

Run from the repository root with Debian's Python (numpy and torch):

    /usr/bin/python3 tools/golden/golden.py

It builds reduced-width VGG16 and VGG19 networks with deterministic random
weights, evaluates every named layer twice in float64 (once with
torch.nn.functional, once with plain numpy), asserts the two agree, and then
writes inputs, expected outputs, weight files in every tensorflow-vgg file
format and testdata/golden/manifest.json. Running it again gives byte-identical
files. tools/golden/README.md documents the layout.
"""

import io
import json
import os
import re
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tfvggfiles  # noqa: E402  (tools/golden/tfvggfiles.py, the weight file writer)

ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "testdata", "golden")

# tensorflow-vgg's BGR means, subtracted after scaling rgb by 255.
VGG_MEAN_BGR = (103.939, 116.779, 123.68)

# Torch and numpy must agree to this relative error (max |t-n| / max |n|, per layer).
AGREE_RTOL = 1e-10

# Reduced widths. None is a multiple of 4 (so none of 8 either): vectorised
# kernels must handle channel tails.
MODELS = {
    "vgg16": {
        "blocks": (2, 2, 3, 3, 3),
        "widths": (5, 7, 9, 11, 13),
        "fc": (17, 15, 10),  # fc6 out, fc7 out, fc8 classes
        "seed": 16,
    },
    "vgg19": {
        "blocks": (2, 2, 4, 4, 4),
        "widths": (3, 5, 11, 7, 9),
        "fc": (21, 11, 7),
        "seed": 19,
    },
}

# Which weight files each model gets: (format, dtype).
FORMATS_ALL = ("py2", "py3np1", "py3np2", "dict01", "dictwb", "npz_wb", "npz_01")
WEIGHT_FILES = {
    "vgg16": [(f, "f4") for f in FORMATS_ALL] + [("py3np1", "f2"), ("py3np1", "f8")],
    "vgg19": [("py2", "f4")],
}

# Bias shift added to every conv/fc6/fc7 bias, so that at these small widths
# activations are neither mostly zero nor mostly positive.
BIAS_SHIFT = 0.05


def layer_names(model, trunk_only=False):
    """Named tensors of build(rgb), in network order."""
    names = []
    for i, n in enumerate(MODELS[model]["blocks"]):
        names += ["conv%d_%d" % (i + 1, j + 1) for j in range(n)]
        names.append("pool%d" % (i + 1))
    if not trunk_only:
        names += ["fc6", "relu6", "fc7", "relu7", "fc8", "prob"]
    return names


def pooled(n, times=5):
    """Spatial size after `times` TensorFlow SAME 2x2/2 pools: ceil halving."""
    for _ in range(times):
        n = (n + 1) // 2
    return n


def make_params(model, fc6_rows):
    """Deterministic random weights as float32-representable float64 arrays.

    Weights are He-scaled, std sqrt(2/fan_in); conv1_1 is additionally divided
    by 75 (about the RMS of the mean-subtracted 0..255 input) so that every
    layer sees activations of order one, biases are small and never zero, and
    fc8 logits stay moderate so that prob is not a one-hot vector.
    """
    cfg = MODELS[model]
    rng = np.random.default_rng(cfg["seed"])
    params = {}
    cin = 3
    for i, n in enumerate(cfg["blocks"]):
        cout = cfg["widths"][i]
        for j in range(n):
            name = "conv%d_%d" % (i + 1, j + 1)
            std = np.sqrt(2.0 / (9 * cin))
            if name == "conv1_1":
                std /= 75.0
            w = rng.normal(0.0, std, size=(3, 3, cin, cout))
            params[name] = (w, bias(rng, cout, BIAS_SHIFT))
            cin = cout
    fin = fc6_rows
    for k, fout in zip((6, 7, 8), cfg["fc"]):
        w = rng.normal(0.0, np.sqrt(2.0 / fin), size=(fin, fout))
        shift = BIAS_SHIFT if k != 8 else 0.0
        params["fc%d" % k] = (w, bias(rng, fout, shift))
        fin = fout
    return {k: (w.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64))
            for k, (w, b) in params.items()}


def bias(rng, n, shift):
    b = rng.normal(0.0, 0.05, size=n)
    b = np.where(np.abs(b) < 1e-3, 1e-3, b) + shift  # never exactly zero
    assert np.all(b != 0)
    return b


def round_params(params, dtype):
    """Round every array to dtype and back to float64 (what a reader of that file sees)."""
    return {k: (w.astype(dtype).astype(np.float64), b.astype(dtype).astype(np.float64))
            for k, (w, b) in params.items()}


# ---------------------------------------------------------------- torch (1)

def build_torch(model, params, rgb, trunk_only):
    """tensorflow-vgg build(rgb) with torch.nn.functional, float64, NCHW inside."""
    x = torch.from_numpy(rgb.astype(np.float64))  # N,H,W,3
    x = x * 255.0
    r, g, b = x[..., 0:1], x[..., 1:2], x[..., 2:3]
    bgr = torch.cat([b - VGG_MEAN_BGR[0], g - VGG_MEAN_BGR[1], r - VGG_MEAN_BGR[2]], dim=3)
    h = bgr.permute(0, 3, 1, 2)  # NCHW
    out = {}

    def keep(name, t):
        out[name] = t.permute(0, 2, 3, 1).contiguous().numpy() if t.dim() == 4 else t.numpy()

    for i, n in enumerate(MODELS[model]["blocks"]):
        for j in range(n):
            name = "conv%d_%d" % (i + 1, j + 1)
            w, b = params[name]
            wt = torch.from_numpy(w).permute(3, 2, 0, 1)  # HWIO -> OIHW
            h = F.relu(F.conv2d(h, wt, torch.from_numpy(b), stride=1, padding=1))
            keep(name, h)
        # TensorFlow SAME pooling: pad one row/column at the end when odd, with
        # -inf so that padding never wins.
        ph, pw = h.shape[2] % 2, h.shape[3] % 2
        h = F.pad(h, (0, pw, 0, ph), value=float("-inf"))
        h = F.max_pool2d(h, kernel_size=2, stride=2)
        keep("pool%d" % (i + 1), h)
    if trunk_only:
        return out
    flat = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)  # NHWC flatten, as tf.reshape
    w, b = params["fc6"]
    fc6 = flat @ torch.from_numpy(w) + torch.from_numpy(b)
    keep("fc6", fc6)
    relu6 = F.relu(fc6)
    keep("relu6", relu6)
    w, b = params["fc7"]
    fc7 = relu6 @ torch.from_numpy(w) + torch.from_numpy(b)
    keep("fc7", fc7)
    relu7 = F.relu(fc7)
    keep("relu7", relu7)
    w, b = params["fc8"]
    fc8 = relu7 @ torch.from_numpy(w) + torch.from_numpy(b)
    keep("fc8", fc8)
    keep("prob", torch.softmax(fc8, dim=-1))
    return out


# ---------------------------------------------------------------- numpy (2)

def np_conv3x3_same(x, w, b):
    """x N,H,W,C; w 3,3,C,O (HWIO); cross-correlation with one zero pixel each side."""
    n, hh, ww, _ = x.shape
    xp = np.zeros((n, hh + 2, ww + 2, x.shape[3]))
    xp[:, 1:-1, 1:-1, :] = x
    y = np.zeros((n, hh, ww, w.shape[3]))
    for dy in range(3):
        for dx in range(3):
            y += np.einsum("nhwc,co->nhwo", xp[:, dy:dy + hh, dx:dx + ww, :], w[dy, dx])
    return y + b


def np_maxpool_same(x, pad_start=False):
    n, hh, ww, c = x.shape
    oh, ow = -(-hh // 2), -(-ww // 2)
    xp = np.full((n, 2 * oh, 2 * ow, c), -np.inf)
    if pad_start:  # a wrong variant, see WRONG_VARIANTS
        xp[:, 2 * oh - hh:, 2 * ow - ww:, :] = x
    else:
        xp[:, :hh, :ww, :] = x
    return xp.reshape(n, oh, 2, ow, 2, c).max(axis=(2, 4))


# Plausible engine mistakes. The numpy build can make each on purpose, and
# evaluate asserts that the golden data tells every one of them apart.
WRONG_VARIANTS = (
    "rgb_order",      # channels left in RGB order (means still subtracted B,G,R)
    "no_255",         # input not scaled by 255
    "conv_flipped",   # true convolution (kernel flipped) instead of cross-correlation
    "kernel_wh",      # kernel read as W,H instead of H,W
    "pool_pad_start", # SAME pool padding at the top/left instead of bottom/right
    "fc6_chw",        # pool5 flattened in C,H,W order (PyTorch/Caffe) instead of H,W,C
)


def build_numpy(model, params, rgb, trunk_only, wrong=None):
    """tensorflow-vgg build(rgb) in plain numpy float64, NHWC throughout.

    wrong, if set, names one of WRONG_VARIANTS to build instead.
    """
    assert wrong is None or wrong in WRONG_VARIANTS, wrong
    x = rgb.astype(np.float64) * (1.0 if wrong == "no_255" else 255.0)
    order = (0, 1, 2) if wrong == "rgb_order" else (2, 1, 0)
    h = np.stack([x[..., order[k]] - VGG_MEAN_BGR[k] for k in range(3)], axis=-1)
    out = {}
    for i, n in enumerate(MODELS[model]["blocks"]):
        for j in range(n):
            name = "conv%d_%d" % (i + 1, j + 1)
            w, b = params[name]
            if wrong == "conv_flipped":
                w = w[::-1, ::-1]
            elif wrong == "kernel_wh":
                w = w.transpose(1, 0, 2, 3)
            h = np.maximum(np_conv3x3_same(h, w, b), 0.0)
            out[name] = h
        h = np_maxpool_same(h, pad_start=(wrong == "pool_pad_start"))
        out["pool%d" % (i + 1)] = h
    if trunk_only:
        return out
    if wrong == "fc6_chw":
        h = h.transpose(0, 3, 1, 2)
    h = h.reshape(h.shape[0], -1)
    for k in (6, 7):
        w, b = params["fc%d" % k]
        h = h @ w + b
        out["fc%d" % k] = h
        h = np.maximum(h, 0.0)
        out["relu%d" % k] = h
    w, b = params["fc8"]
    logits = h @ w + b
    out["fc8"] = logits
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    out["prob"] = e / e.sum(axis=-1, keepdims=True)
    return out


# ---------------------------------------------------------------- checks

def expected_shapes(model, shape, trunk_only):
    n, hh, ww, _ = shape
    cfg = MODELS[model]
    shapes = {}
    for i, blocks in enumerate(cfg["blocks"]):
        for j in range(blocks):
            shapes["conv%d_%d" % (i + 1, j + 1)] = (n, hh, ww, cfg["widths"][i])
        hh, ww = (hh + 1) // 2, (ww + 1) // 2
        shapes["pool%d" % (i + 1)] = (n, hh, ww, cfg["widths"][i])
    if not trunk_only:
        for name, f in zip(("fc6", "fc7", "fc8"), cfg["fc"]):
            shapes[name] = (n, f)
        shapes["relu6"], shapes["relu7"], shapes["prob"] = shapes["fc6"], shapes["fc7"], shapes["fc8"]
    return shapes


def evaluate(case, model, params, rgb, trunk_only, check_activity):
    """Run both implementations, check them against each other; return float64 outputs."""
    t = build_torch(model, params, rgb, trunk_only)
    n = build_numpy(model, params, rgb, trunk_only)
    names = layer_names(model, trunk_only)
    shapes = expected_shapes(model, rgb.shape, trunk_only)
    assert list(t) == names and list(n) == names, (list(t), list(n), names)
    worst = 0.0
    print("%s (%s, input %s):" % (case, model, "x".join(map(str, rgb.shape))))
    for name in names:
        a, b = t[name], n[name]
        assert a.shape == shapes[name] == b.shape, (name, a.shape, b.shape, shapes[name])
        assert np.all(np.isfinite(a)) and np.all(np.isfinite(b)), name
        scale = np.max(np.abs(b))
        assert scale > 0, "%s: all zero" % name
        rel = np.max(np.abs(a - b)) / scale
        worst = max(worst, rel)
        nz = np.count_nonzero(b) / b.size
        print("  %-7s %-16s nonzero %.3f  max|x| %9.4g  torch-numpy rel %.2e"
              % (name, "x".join(map(str, b.shape)), nz, scale, rel))
        assert rel < AGREE_RTOL, "%s %s: torch and numpy differ, rel %.3g" % (case, name, rel)
        if check_activity and (name.startswith("conv") or name.startswith("relu")):
            assert 0.1 < nz < 0.9, "%s %s: nonzero fraction %.3f" % (case, name, nz)
    if "prob" in n:
        assert np.allclose(n["prob"].sum(axis=-1), 1.0)
        assert n["prob"].max() < 0.99, "prob saturated"
    if check_activity:
        # Each plausible mistake must move the last layer by far more than any
        # float32 tolerance, or this case would not catch it.
        last = names[-1]
        seen = []
        for wrong in WRONG_VARIANTS:
            v = build_numpy(model, params, rgb, trunk_only, wrong=wrong)[last]
            rel = np.max(np.abs(v - n[last])) / np.max(np.abs(n[last]))
            seen.append("%s %.2g" % (wrong, rel))
            assert rel > 1e-3, "%s: %s is not detected at %s (rel %.3g)" % (case, wrong, last, rel)
        print("  wrong variants, relative change of %s: %s" % (last, ", ".join(seen)))
    print("  worst torch-numpy relative difference: %.2e" % worst)
    return n, worst


# ---------------------------------------------------------------- deterministic files

FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def npy_bytes(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def save_npy(path, a):
    with open(path, "wb") as f:
        f.write(npy_bytes(a))


def save_npz(path, arrays):
    """Like np.savez (stored, uncompressed) but with fixed timestamps, so reruns are byte-identical."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        for name, a in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=FIXED_DATE)
            info.external_attr = 0o644 << 16
            z.writestr(info, npy_bytes(a))


def weight_file_name(model, fmt, dtype):
    ext = ".npz" if fmt.startswith("npz") else ".npy"
    return "%s_%s_%s%s" % (model, fmt, dtype, ext)


def main():
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):  # regenerate from scratch: no stale files survive
        if f.endswith((".npy", ".npz")) or f == "manifest.json":
            os.remove(os.path.join(OUT, f))

    inputs = {
        "vgg16": (2, 37, 45, 3),
        "vgg19": (3, 33, 20, 3),
    }
    params = {}
    for model, shape in inputs.items():
        c5 = MODELS[model]["widths"][-1]
        params[model] = make_params(model, pooled(shape[1]) * pooled(shape[2]) * c5)
    assert params["vgg16"]["fc6"][0].shape[0] == 52  # pool5 2x2x13 for 37x45
    assert params["vgg19"]["fc6"][0].shape[0] == 18  # pool5 2x1x9 for 33x20

    # (case, model, input shape or the case whose input it shares, weights as rounded to, trunk only)
    cases = [
        ("vgg16", "vgg16", inputs["vgg16"], "f4", False,
         "every named layer; the f4 and f8 weight files hold the same values"),
        ("vgg16_f2", "vgg16", "vgg16", "f2", False,
         "input of case vgg16; expected values computed from the float16-rounded weights "
         "of the f2 file (they differ from case vgg16 by about 1e-3 relative)"),
        ("vgg19", "vgg19", inputs["vgg19"], "f4", False, "every named layer"),
        ("vgg16_trunk_7x5", "vgg16", (1, 7, 5, 3), "f4", True,
         "conv and pool layers only: pool5 is 1x1x13, so fc6 (52 rows) must be refused"),
        ("vgg16_trunk_1x1", "vgg16", (1, 1, 1, 3), "f4", True,
         "conv and pool layers only: every map is 1x1, so each conv uses only its centre tap"),
    ]

    # Weight files first, so each case can list the files it applies to.
    weights = {}  # (model, dtype) -> list of manifest entries
    for model, files in WEIGHT_FILES.items():
        for fmt, dtype in files:
            name = weight_file_name(model, fmt, dtype)
            path = os.path.join(OUT, name)
            tfvggfiles.write_weights(path, {k: (w, b) for k, (w, b) in params[model].items()},
                                     fmt, dtype=dtype)
            if name.endswith(".npz"):
                fix_zip_times(path)
            check_weight_file(path, fmt, dtype, params[model])
            # f8 files hold the same (float32-representable) values as f4 ones,
            # so one expected file serves both.
            key = (model, "f2" if dtype == "f2" else "f4")
            weights.setdefault(key, []).append({"file": name, "format": fmt, "dtype": dtype})

    manifest_cases = []
    agreement = {}
    expected = {}
    input_seed = 1000
    for case, model, shape, wdtype, trunk_only, note in cases:
        p = params[model] if wdtype == "f4" else round_params(params[model], np.float16)
        if isinstance(shape, str):
            input_file = shape + "_input.npy"
            rgb = np.load(os.path.join(OUT, input_file))
        else:
            # The next seed whose input leaves no layer entirely zero (tiny
            # inputs at these widths can switch off every channel of a layer).
            while True:
                input_seed += 1
                rgb = np.random.default_rng(input_seed).uniform(0.0, 1.0, size=shape).astype(np.float32)
                if all(np.any(v) for v in build_numpy(model, p, rgb, trunk_only).values()):
                    break
            input_file = case + "_input.npy"
            save_npy(os.path.join(OUT, input_file), rgb)
        out, worst = evaluate(case, model, p, rgb, trunk_only,
                              check_activity=(case in ("vgg16", "vgg19")))
        agreement[case] = worst
        expected[case] = out
        expected_file = case + "_expected.npz"
        save_npz(os.path.join(OUT, expected_file),
                 {k: v.astype(np.float32) for k, v in out.items()})
        manifest_cases.append({
            "case": case,
            "model": model,
            "weights": weights[(model, wdtype)],
            "input": input_file,
            "input_seed": input_seed,
            "input_shape": list(rgb.shape),
            "trunk_only": trunk_only,
            "note": note,
            "expected": expected_file,
            "layers": layer_names(model, trunk_only),
            "shapes": {k: list(v.shape) for k, v in out.items()},
        })

    a, b = expected["vgg16"], expected["vgg16_f2"]
    rel = max(np.max(np.abs(a[k] - b[k])) / np.max(np.abs(a[k])) for k in a)
    print("vgg16_f2 differs from vgg16 by up to %.2g relative (float16 weight rounding)" % rel)
    assert rel > 1e-4, "f2 rounding too small to tell the two expected files apart"

    manifest = {
        "generator": "tools/golden/golden.py",
        "layout": "maps NHWC [N,H,W,C], fc layers [N,F]; expected values float32, "
                  "computed in float64 from the weights as stored in the listed files",
        "models": {m: {"blocks": list(c["blocks"]), "widths": list(c["widths"]),
                       "fc": list(c["fc"]), "fc6_rows": int(params[m]["fc6"][0].shape[0])}
                   for m, c in MODELS.items()},
        "cases": manifest_cases,
    }
    text = json.dumps(manifest, indent=1)
    # Lists of scalars and flat objects on one line each, to keep the manifest readable.
    def one_line(m):
        t = re.sub(r"\s*\n\s*", " ", m.group(0))
        return t.replace("[ ", "[").replace(" ]", "]").replace("{ ", "{").replace(" }", "}")
    text = re.sub(r"\[[^\[\]{}]*\]", one_line, text)
    text = re.sub(r"\{[^\[\]{}]*\}", one_line, text)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        f.write(text + "\n")

    total = 0
    for f in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, f))
        total += size
    print("wrote %d files, %d bytes, to %s" % (len(os.listdir(OUT)), total, os.path.relpath(OUT, ROOT)))
    assert total < 3 << 20, "testdata/golden over 3 MB"
    print("torch-numpy agreement (max relative difference per case): " +
          ", ".join("%s %.1e" % kv for kv in agreement.items()))
    print("numpy %s, torch %s" % (np.__version__, torch.__version__))


def check_weight_file(path, fmt, dtype, params):
    """Read a written weight file back with numpy and compare it with params."""
    want = tfvggfiles.DTYPES[dtype]
    if fmt == "py2":
        try:
            np.load(path, allow_pickle=True)
        except UnicodeError as e:  # numpy re-raises the UnicodeDecodeError as UnicodeError
            print("%s: numpy refuses it without encoding='latin1' (%s: %s)"
                  % (os.path.basename(path), type(e).__name__, str(e).splitlines()[0][:60]))
        else:
            raise AssertionError("%s: py2 file loads without encoding='latin1'" % path)
    got = tfvggfiles.load_weights(path)
    assert list(got) == list(params), (path, list(got), list(params))
    for name, (w, b) in params.items():
        gw, gb = got[name]
        assert gw.dtype == want and gb.dtype == want, (path, name, gw.dtype, gb.dtype)
        assert gw.shape == w.shape and gb.shape == b.shape, (path, name, gw.shape, w.shape)
        assert np.array_equal(gw, w.astype(want)) and np.array_equal(gb, b.astype(want)), (path, name)


def fix_zip_times(path):
    """Set every member's DOS date and time in a zip to 1980-01-01 00:00, in place.

    np.savez stamps members with the current local time; everything else about
    the file (zip64 extras, order, data) is kept as numpy wrote it.
    """
    with open(path, "rb") as f:
        data = bytearray(f.read())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        infos = z.infolist()
    dos_time, dos_date = 0, (0 << 9) | (1 << 5) | 1
    for info in infos:
        off = info.header_offset
        assert data[off:off + 4] == b"PK\x03\x04", path
        struct.pack_into("<HH", data, off + 10, dos_time, dos_date)
    off = data.rindex(b"PK\x05\x06")
    count, _, cd = struct.unpack_from("<HII", data, off + 10)
    if cd == 0xFFFFFFFF:  # zip64 end of central directory
        loc = data.rindex(b"PK\x06\x07")
        z64 = struct.unpack_from("<Q", data, loc + 8)[0]
        count, cd = struct.unpack_from("<Q", data, z64 + 32)[0], struct.unpack_from("<Q", data, z64 + 48)[0]
    assert count == len(infos), path
    for _ in range(count):
        assert data[cd:cd + 4] == b"PK\x01\x02", path
        struct.pack_into("<HH", data, cd + 12, dos_time, dos_date)
        n, m, k = struct.unpack_from("<HHH", data, cd + 28)
        cd += 46 + n + m + k
    with open(path, "wb") as f:
        f.write(bytes(data))


if __name__ == "__main__":
    main()
