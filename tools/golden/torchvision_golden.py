#!/usr/bin/python3
"""Golden reference data for vkvgg's torchvision models (VGG16, AlexNet, ResNet-18/50).

Run from the repository root with Debian's Python (python3-torch,
python3-torchvision, python3-numpy):

    /usr/bin/python3 tools/golden/torchvision_golden.py

Independent of the Go engine and of golden.py: the networks are torchvision's
OWN model classes (torchvision.models.vgg16, alexnet, resnet18, resnet50 built
with weights=None) and their own forward code. Each one is made thin in place
(every Conv2d, BatchNorm2d and Linear replaced by one of the same kind and
hyper-parameters with channel counts divided by THIN), given deterministic
random weights, and saved as a float32 state dict (`torch.save`, the default
zip format). Expected outputs are computed in float64 from exactly those
float32 values with torchvision.models.feature_extraction.
create_feature_extractor, for the layer names in MODELS (module paths as
create_feature_extractor names them) plus "prob", the softmax of the logits.

Checks (asserts) before anything is kept:
- every requested name resolves to the graph node the manifest states
  (NODE_NOTES below), and the extractor output equals the module's output
  captured by a forward hook in an ordinary eager forward of the same model;
- the model's own forward gives the same logits, and prob sums to 1 and is not
  one-hot; no layer is all zero; ReLU outputs are partly zero and partly not;
- with torchvision's inplace=True ReLUs the extractor would return post-ReLU
  values for a conv (shown on vgg16's features.0), which is why every ReLU is
  set to inplace=False first;
- a fresh thin model loaded from the saved .pth (float32 -> float64)
  reproduces the expected values exactly;
- the float32 model is compared against float64 for every model (normalised
  error max|f32 - f64| / max|f64| per layer, printed);
- the folder stays under 12 MB (12,000,000 bytes; it is about 11.6 MB).

Running it again gives byte-identical files (fixed seeds; .npz members and the
.pth zip carry fixed timestamps).

Cases: "224" (1x224x224x3) and "odd" (3x65x97x3), per model. To fit the size
budget the 224 case leaves out the maps of more than MAX_VALUES_224 values
(vgg16 features.0/1/4, the ResNet stems conv1/bn1/relu, resnet50's layer1.0.bn3,
layer1.0.downsample and layer1); the odd case has every layer. The manifest
lists, per model and case, the layers kept and omitted and their shapes.

Output layout (testdata/tv/): maps NHWC [N,H,W,C] (transposed from torch's
NCHW), vectors [N,F]; ResNet's avgpool is flattened to [N,C]; VGG's and
AlexNet's avgpool stay maps [N,7,7,C] / [N,6,6,C]. Everything float32.
"""

import hashlib
import io
import json
import os
import re
import sys
import zipfile

import numpy as np
import torch
import torch.nn as nn
import torchvision
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "testdata", "tv")

THIN = 8          # channel counts divided by this (input channels 3 stay 3)
HIDDEN = 64       # VGG/AlexNet classifier hidden width (4096 in the full models)
CLASSES = 10      # final Linear outputs (1000 in the full models)
MAX_BYTES = 12 * 1000 * 1000  # everything in testdata/tv/

# torchvision's preprocessing (transforms.Normalize of the ImageNet weights).
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

# Input cases: NHWC RGB in [0,1]. The odd one is odd in both dimensions and not
# square. 65x97 is about the smallest size that keeps the final maps of 75x109
# (VGG pool5 2x3, so avgpool's 7x7 bins overlap; AlexNet features.12 1x2; AlexNet
# needs at least 63x63), and in ResNet every stride-2 layer then sees an odd
# height (65 -> 33 -> 17 -> 9 -> 5 -> 3). 75x109 did not fit the size budget.
CASES = {"224": (1, 224, 224, 3), "odd": (3, 65, 97, 3)}

# To stay under MAX_BYTES the 224 case leaves out every map of more than this
# many values (224x224x8, 112x112x8, 56x56x32: vgg16 features.0/1/4, the ResNet
# stems conv1/bn1/relu, resnet50's 56x56x32 maps). The odd case has every layer.
MAX_VALUES_224 = 100000

# Residual branches end in a BatchNorm and are added to the identity; with
# variance-preserving weights each block would double the variance. The last
# conv of each branch (BasicBlock.conv2, Bottleneck.conv3) is scaled by this so
# that activations grow slowly with depth and the logits stay moderate.
RESIDUAL_SCALE = 0.5
# Scale of the final Linear's weights relative to He-uniform, so that prob is
# neither uniform nor one-hot.
LOGIT_SCALE = {"vgg16": 0.5, "alexnet": 0.5, "resnet18": 0.3, "resnet50": 0.1}

MODELS = {
    "vgg16": {
        "seed": 1601,
        "layers": ["features.0", "features.1", "features.4", "features.16", "features.29",
                   "features.30", "avgpool", "classifier.0", "classifier.1", "classifier.4",
                   "classifier.6"],
    },
    "alexnet": {
        "seed": 1701,
        "layers": ["features.0", "features.1", "features.2", "features.5", "features.12",
                   "avgpool", "classifier.1", "classifier.2", "classifier.5", "classifier.6"],
    },
    "resnet18": {
        "seed": 1801,
        "layers": ["conv1", "bn1", "relu", "maxpool", "layer1.0.relu", "layer1.0", "layer1",
                   "layer2.0.downsample.1", "layer2", "layer3.1.bn2", "layer4", "avgpool", "fc"],
    },
    "resnet50": {
        "seed": 5001,
        "layers": ["conv1", "bn1", "relu", "maxpool", "layer1.0.conv1", "layer1.0.bn3",
                   "layer1.0.downsample", "layer1", "layer2.0", "layer3.5", "layer4",
                   "avgpool", "fc"],
    },
}

# What each name means, as create_feature_extractor resolves it. A name that is
# a whole submodule (layer1, layer1.0, layer1.0.downsample) gives the output of
# that submodule's LAST graph node; a ReLU module called more than once in a
# block gets one node per call: "layer1.0.relu" is the FIRST call only (after
# bn1), the next ones are "layer1.0.relu_1" (and "_2" in a Bottleneck).
# main() checks the resolved node of every name against the first element.
NODE_NOTES = {
    "vgg16": {
        "features.0": ("features.0", "conv1_1 (Conv2d 3x3 p1), before its ReLU"),
        "features.1": ("features.1", "ReLU of conv1_1"),
        "features.4": ("features.4", "pool1 (MaxPool2d 2x2 s2)"),
        "features.16": ("features.16", "pool3"),
        "features.29": ("features.29", "ReLU of conv5_3"),
        "features.30": ("features.30", "pool5"),
        "avgpool": ("avgpool", "AdaptiveAvgPool2d((7,7)), a map (before torch.flatten)"),
        "classifier.0": ("classifier.0", "fc6 Linear (input: avgpool flattened in C,H,W order)"),
        "classifier.1": ("classifier.1", "ReLU of fc6 (classifier.2 is Dropout, identity in eval)"),
        "classifier.4": ("classifier.4", "ReLU of fc7 (classifier.3 is fc7 Linear)"),
        "classifier.6": ("classifier.6", "fc8 Linear, the logits"),
    },
    "alexnet": {
        "features.0": ("features.0", "Conv2d 11x11 s4 p2, before its ReLU"),
        "features.1": ("features.1", "ReLU of features.0"),
        "features.2": ("features.2", "MaxPool2d 3x3 s2 (overlapping)"),
        "features.5": ("features.5", "MaxPool2d after the 5x5 conv"),
        "features.12": ("features.12", "last MaxPool2d"),
        "avgpool": ("avgpool", "AdaptiveAvgPool2d((6,6)), a map (before torch.flatten)"),
        "classifier.1": ("classifier.1", "fc6 Linear (classifier.0 is Dropout; input: avgpool "
                                         "flattened in C,H,W order)"),
        "classifier.2": ("classifier.2", "ReLU of fc6"),
        "classifier.5": ("classifier.5", "ReLU of fc7 (classifier.4 is fc7 Linear)"),
        "classifier.6": ("classifier.6", "fc8 Linear, the logits"),
    },
    "resnet18": {
        "conv1": ("conv1", "Conv2d 7x7 s2 p3, no bias"),
        "bn1": ("bn1", "BatchNorm2d (eval: running statistics), before ReLU"),
        "relu": ("relu", "ReLU of bn1"),
        "maxpool": ("maxpool", "MaxPool2d 3x3 s2 p1"),
        "layer1.0.relu": ("layer1.0.relu", "FIRST call of layer1.0's ReLU module: relu(bn1(conv1(x)))"
                                           " inside the block, not the block output"),
        "layer1.0": ("layer1.0.relu_1", "output of BasicBlock layer1.0: relu(bn2(...) + x)"),
        "layer1": ("layer1.1.relu_1", "output of layer1 (= output of its last block)"),
        "layer2.0.downsample.1": ("layer2.0.downsample.1",
                                  "BatchNorm2d of the 1x1 s2 projection shortcut"),
        "layer2": ("layer2.1.relu_1", "output of layer2"),
        "layer3.1.bn2": ("layer3.1.bn2", "second BatchNorm of layer3.1, before the residual add"),
        "layer4": ("layer4.1.relu_1", "output of layer4"),
        "avgpool": ("avgpool", "AdaptiveAvgPool2d((1,1)), saved flattened to [N,C]"),
        "fc": ("fc", "Linear, the logits"),
    },
    "resnet50": {
        "conv1": ("conv1", "Conv2d 7x7 s2 p3, no bias"),
        "bn1": ("bn1", "BatchNorm2d, before ReLU"),
        "relu": ("relu", "ReLU of bn1"),
        "maxpool": ("maxpool", "MaxPool2d 3x3 s2 p1"),
        "layer1.0.conv1": ("layer1.0.conv1", "1x1 Conv2d of the first Bottleneck"),
        "layer1.0.bn3": ("layer1.0.bn3", "third BatchNorm of layer1.0, before the residual add"),
        "layer1.0.downsample": ("layer1.0.downsample.1",
                                "projection shortcut of layer1.0 (1x1 conv s1 + BatchNorm)"),
        "layer1": ("layer1.2.relu_2", "output of layer1"),
        "layer2.0": ("layer2.0.relu_2", "output of Bottleneck layer2.0 (stride 2 in its 3x3 conv2,"
                                        " torchvision's ResNet v1.5)"),
        "layer3.5": ("layer3.5.relu_2", "output of the last block of layer3"),
        "layer4": ("layer4.2.relu_2", "output of layer4"),
        "avgpool": ("avgpool", "AdaptiveAvgPool2d((1,1)), saved flattened to [N,C]"),
        "fc": ("fc", "Linear, the logits"),
    },
}

LAST = {"vgg16": "classifier.6", "alexnet": "classifier.6", "resnet18": "fc", "resnet50": "fc"}


# ---------------------------------------------------------------- thin models

def replace(model, qualname, new):
    parent_name, _, leaf = qualname.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, leaf, new)


def thin_model(name):
    """torchvision's model with every Conv2d/BatchNorm2d/Linear replaced by a thin one."""
    model = getattr(torchvision.models, name)(weights=None)
    before = [(q, type(m)) for q, m in model.named_modules()]
    keys = list(model.state_dict())
    linears = [q for q, m in model.named_modules() if isinstance(m, nn.Linear)]
    last_conv_out = None
    for qual, m in list(model.named_modules()):
        if isinstance(m, nn.Conv2d):
            assert m.groups == 1 and m.dilation == (1, 1) and m.padding_mode == "zeros", qual
            cin = 3 if m.in_channels == 3 else m.in_channels // THIN
            assert m.out_channels % THIN == 0 and (cin == 3 or m.in_channels % THIN == 0), qual
            new = nn.Conv2d(cin, m.out_channels // THIN, m.kernel_size, stride=m.stride,
                            padding=m.padding, dilation=m.dilation, groups=m.groups,
                            bias=m.bias is not None, padding_mode=m.padding_mode)
            last_conv_out = new.out_channels
        elif isinstance(m, nn.BatchNorm2d):
            new = nn.BatchNorm2d(m.num_features // THIN, eps=m.eps, momentum=m.momentum,
                                 affine=m.affine, track_running_stats=m.track_running_stats)
        elif isinstance(m, nn.Linear):
            if qual == linears[0] and hasattr(model, "features"):
                # VGG/AlexNet fc6: flattened avgpool map of the (thin) last conv.
                oh, ow = model.avgpool.output_size
                fin = last_conv_out * oh * ow
                assert fin * THIN == m.in_features, (qual, fin, m.in_features)
            elif m.in_features == 4096:
                fin = HIDDEN
            else:
                fin = m.in_features // THIN
            fout = CLASSES if qual == linears[-1] else (HIDDEN if m.out_features == 4096 else None)
            assert fout is not None, qual
            new = nn.Linear(fin, fout, bias=m.bias is not None)
        else:
            continue
        replace(model, qual, new)
    # Same module names and kinds, same state dict keys: only the sizes changed.
    assert [(q, type(m)) for q, m in model.named_modules()] == before, name
    assert list(model.state_dict()) == keys, name
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False  # each module's own output, see check_inplace
    return model.eval()


def init_weights(name, model):
    """Deterministic random weights (float32 values), in named_modules order.

    Conv and Linear weights are He-uniform, U(-a, a) with a = sqrt(6 / fan_in)
    (the last conv of each residual branch times RESIDUAL_SCALE, the final
    Linear times LOGIT_SCALE); biases U(-0.05, 0.05) + 0.02; BatchNorm gamma
    U(0.5, 1.5), beta N(0, 0.1), running_mean N(0, 0.1), running_var U(0.5, 2).
    """
    rng = np.random.default_rng(MODELS[name]["seed"])
    last_linear = [q for q, m in model.named_modules() if isinstance(m, nn.Linear)][-1]

    def put(t, a):
        with torch.no_grad():
            t.copy_(torch.from_numpy(np.asarray(a, dtype=np.float32)))

    for qual, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = m.weight
            fan_in = w[0].numel()
            a = np.sqrt(6.0 / fan_in)
            if isinstance(m, nn.Conv2d) and re.search(r"^layer\d\.\d+\.conv(2|3)$", qual):
                last = "conv3" if name == "resnet50" else "conv2"
                if qual.endswith(last):
                    a *= RESIDUAL_SCALE
            if qual == last_linear:
                a *= LOGIT_SCALE[name]
            put(w, rng.uniform(-a, a, size=tuple(w.shape)))
            if m.bias is not None:
                put(m.bias, rng.uniform(-0.05, 0.05, size=tuple(m.bias.shape)) + 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            put(m.weight, rng.uniform(0.5, 1.5, size=c))
            put(m.bias, rng.normal(0.0, 0.1, size=c))
            put(m.running_mean, rng.normal(0.0, 0.1, size=c))
            put(m.running_var, rng.uniform(0.5, 2.0, size=c))
    return model


# ---------------------------------------------------------------- evaluation

def preprocess(rgb, dtype):
    """NHWC RGB in [0,1] -> torchvision-normalised NCHW tensor."""
    x = rgb.astype(dtype)
    x = (x - np.array(MEAN, dtype=dtype)) / np.array(STD, dtype=dtype)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def to_layout(name, t):
    """torch tensor -> numpy in the golden layout (maps NHWC, vectors [N,F])."""
    a = t.detach().numpy()
    if a.ndim == 4 and a.shape[2:] == (1, 1) and name == "avgpool":
        return a.reshape(a.shape[0], -1)  # ResNet's avgpool, flattened as its forward does
    if a.ndim == 4:
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1))
    assert a.ndim == 2, (name, a.shape)
    return a


def softmax(logits):
    return torch.softmax(logits, dim=-1)


def extract(name, model, x):
    """Outputs of every requested layer plus prob, in network order, golden layout."""
    layers = MODELS[name]["layers"]
    fx = create_feature_extractor(model, return_nodes={k: k for k in layers})
    with torch.no_grad():
        got = fx(x)
    assert set(got) == set(layers), (sorted(got), layers)
    out = {k: to_layout(k, got[k]) for k in layers}
    out["prob"] = softmax(got[LAST[name]]).numpy()
    return out


def eager_hooks(name, model, x):
    """The same layers from the model's ordinary forward, via forward hooks.

    Outputs are cloned as soon as they are produced, so later in-place ops of
    the forward (ResNet's `out += identity`) cannot change them. A ReLU module
    called several times keeps its first call. Returns (outputs, logits).
    """
    layers = MODELS[name]["layers"]
    seen = {}
    handles = []
    for k in layers:
        def hook(mod, inp, out, k=k):
            seen.setdefault(k, out.detach().clone())
        handles.append(model.get_submodule(k).register_forward_hook(hook))
    with torch.no_grad():
        logits = model(x)
    for h in handles:
        h.remove()
    return {k: to_layout(k, seen[k]) for k in layers}, logits


def resolved_nodes(name, model):
    """The graph node create_feature_extractor returns for each name (same rule as torchvision 0.14)."""
    _, nodes = get_graph_node_names(model)
    res = {}
    for q in MODELS[name]["layers"]:
        depth = q.count(".")
        hits = [n for n in nodes if ".".join(n.split(".")[:depth + 1]) == q]
        res[q] = hits[-1]
    return res


def is_relu(name, model, k):
    """Whether layer k is a ReLU's output (a ReLU module, or a block ending in one)."""
    node = NODE_NOTES[name][k][0]
    return isinstance(model.get_submodule(k), nn.ReLU) or node.rsplit(".", 1)[-1].startswith("relu")


def rel_err(a, b):
    scale = np.max(np.abs(b))
    return np.max(np.abs(a.astype(np.float64) - b)) / scale if scale > 0 else np.max(np.abs(a))


def check_inplace():
    """Why every ReLU is made inplace=False: torchvision's default corrupts conv outputs."""
    model = init_weights("vgg16", thin_model("vgg16")).double()
    x = preprocess(np.random.default_rng(7).uniform(0, 1, size=(1, 32, 32, 3)), np.float64)
    fx = create_feature_extractor(model, return_nodes=["features.0", "features.1"])
    with torch.no_grad():
        clean = fx(x)
        for m in model.modules():
            if isinstance(m, nn.ReLU):
                m.inplace = True
        fx = create_feature_extractor(model, return_nodes=["features.0", "features.1"])
        dirty = fx(x)
    assert clean["features.0"].min() < 0
    assert torch.equal(dirty["features.0"], dirty["features.1"])
    assert torch.equal(dirty["features.1"], clean["features.1"])
    print("inplace=True ReLUs: vgg16 features.0 from create_feature_extractor equals features.1 "
          "(post-ReLU); with inplace=False it has negative values, as a conv output should")


# ---------------------------------------------------------------- files

FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def npy_bytes(a):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def save_npz_compressed(path, arrays):
    """np.savez_compressed's format (zip, deflate, one <name>.npy member per array) with fixed
    timestamps, so that reruns are byte-identical."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, a in arrays.items():
            info = zipfile.ZipInfo(name + ".npy", date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, npy_bytes(a), compresslevel=9)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# ---------------------------------------------------------------- main

def main():
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):  # regenerate from scratch: no stale files survive
        if f.endswith((".npy", ".npz", ".pth")) or f == "manifest.json":
            os.remove(os.path.join(OUT, f))

    check_inplace()
    manifest_models = {}
    f32_report = {}
    for mi, name in enumerate(MODELS):
        layers = MODELS[name]["layers"]
        model32 = init_weights(name, thin_model(name))
        with torch.no_grad():  # the model runs at all, at both sizes
            for shape in CASES.values():
                model32(preprocess(np.zeros(shape, np.float32), np.float32))

        # Names resolve to the nodes the manifest states.
        nodes = resolved_nodes(name, model32)
        for k in layers:
            assert nodes[k] == NODE_NOTES[name][k][0], (name, k, nodes[k], NODE_NOTES[name][k][0])

        pth = name + ".pth"
        pth_path = os.path.join(OUT, pth)
        torch.save(model32.float().state_dict(), pth_path)

        # float64 from the saved float32 values, through a fresh thin model.
        sd = torch.load(pth_path)
        for k, v in model32.state_dict().items():
            assert sd[k].dtype == v.dtype and torch.equal(sd[k], v), (name, k)
        model64 = thin_model(name)
        model64.load_state_dict(sd)
        model64 = model64.double().eval()

        cases = {}
        print("%s (thin 1/%d, %d parameters, %s %d bytes):"
              % (name, THIN, sum(p.numel() for p in model32.parameters()), pth,
                 os.path.getsize(pth_path)))
        for ci, (case, shape) in enumerate(CASES.items()):
            seed = 100 * (mi + 1) + ci
            rgb = np.random.default_rng(seed).uniform(0.0, 1.0, size=shape).astype(np.float32)
            x64 = preprocess(rgb, np.float64)
            out = extract(name, model64, x64)

            # Independent path: the model's own eager forward with hooks.
            hooked, logits = eager_hooks(name, model64, x64)
            for k in layers:
                assert out[k].shape == hooked[k].shape, (name, case, k, out[k].shape, hooked[k].shape)
                assert rel_err(out[k], hooked[k]) < 1e-12, (name, case, k, rel_err(out[k], hooked[k]))
            assert rel_err(out[LAST[name]], logits.numpy()) < 1e-12
            prob = out["prob"]
            assert np.allclose(prob.sum(axis=-1), 1.0)
            assert prob.max() < 0.99 and prob.max() > 1.5 / CLASSES, (name, case, prob.max())

            # float32 model on the float32-preprocessed input, against float64.
            out32 = extract(name, model32, preprocess(rgb, np.float32))
            print("  %s: input %s seed %d" % (case, "x".join(map(str, shape)), seed))
            worst = 0.0
            kept = [k for k in layers
                    if case != "224" or out[k].size <= MAX_VALUES_224] + ["prob"]
            for k in layers + ["prob"]:
                v = out[k]
                assert np.all(np.isfinite(v)) and np.any(v != 0), (name, case, k)
                nz = np.count_nonzero(v) / v.size
                if k != "prob" and is_relu(name, model64, k):
                    assert 0.05 < nz < 0.95, (name, case, k, nz)
                e32 = rel_err(out32[k], v)
                worst = max(worst, e32)
                print("    %-22s %-14s nonzero %.3f  max|x| %9.4g  f32 vs f64 %.1e%s"
                      % (k, "x".join(map(str, v.shape)), nz, np.max(np.abs(v)), e32,
                         "" if k in kept else "  (not saved: too large for this case)"))
            assert worst < 1e-4, (name, case, worst)
            f32_report["%s/%s" % (name, case)] = worst
            print("    prob max %.3f; worst float32 vs float64 normalised error %.1e"
                  % (prob.max(), worst))

            inp = "%s_%s_input.npy" % (name, case)
            exp = "%s_%s_expected.npz" % (name, case)
            with open(os.path.join(OUT, inp), "wb") as f:
                f.write(npy_bytes(rgb))
            save_npz_compressed(os.path.join(OUT, exp),
                                {k: out[k].astype(np.float32) for k in kept})
            cases[case] = {
                "input": inp, "input_shape": list(shape), "input_seed": seed,
                "expected": exp,
                "layers": kept,
                "omitted": [k for k in layers if k not in kept],
                "shapes": {k: list(out[k].shape) for k in kept},
                "expected_f64": out,  # dropped before writing; used for the reload check
            }

        # A fresh model from the saved file reproduces the saved expected values exactly.
        again = thin_model(name)
        again.load_state_dict(torch.load(pth_path))
        again = again.double().eval()
        for case, c in cases.items():
            rgb = np.load(os.path.join(OUT, c["input"]))
            out = extract(name, again, preprocess(rgb, np.float64))
            with np.load(os.path.join(OUT, c["expected"])) as z:
                assert list(z.keys()) == c["layers"], (list(z.keys()), c["layers"])
                for k in c["layers"]:
                    assert np.array_equal(z[k], out[k].astype(np.float32)), (name, case, k)
                    assert np.array_equal(out[k], c["expected_f64"][k]), (name, case, k)
            del c["expected_f64"]

        manifest_models[name] = {
            "constructor": "torchvision.models.%s(weights=None), thinned" % name,
            "weights": pth,
            "cases": cases,
            "layers": layers + ["prob"],
            "nodes": {k: {"graph_node": NODE_NOTES[name][k][0], "meaning": NODE_NOTES[name][k][1]}
                      for k in layers},
            "classes": CLASSES,
            "state_dict": {k: list(v.shape) for k, v in sd.items()},
        }

    manifest = {
        "generator": "tools/golden/torchvision_golden.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": np.__version__,
        "thin": THIN,
        "thin_rule": "every Conv2d/BatchNorm2d/Linear replaced in place by the same kind and "
                     "hyper-parameters with channel counts / %d (input channels 3 stay 3); "
                     "VGG/AlexNet classifier hidden 4096 -> %d; final Linear -> %d classes; "
                     "VGG/AlexNet first Linear in_features = last conv channels * 7*7 / 6*6"
                     % (THIN, HIDDEN, CLASSES),
        "preprocess": {"mean": list(MEAN), "std": list(STD),
                       "rule": "input RGB in [0,1] NHWC; model input (x - mean) / std as NCHW"},
        "layout": "maps NHWC [N,H,W,C] (transposed from NCHW), vectors [N,F]; ResNet avgpool "
                  "flattened to [N,C]; VGG/AlexNet avgpool stays a map; prob = softmax of the "
                  "last layer; expected float32, computed in float64 from the float32 weights "
                  "of the .pth (torch.save zip format of the model's state_dict); every ReLU "
                  "inplace=False so that each name is that module's own output",
        "cases": {c: {"input_shape": list(s)} for c, s in CASES.items()},
        "max_values_224": MAX_VALUES_224,
        "state_dict_note": "float32 tensors, except BatchNorm num_batches_tracked (int64 scalars, "
                           "shape []), which inference does not use",
        "float32_vs_float64": {k: float("%.2g" % v) for k, v in f32_report.items()},
        "models": manifest_models,
    }
    text = json.dumps(manifest, indent=1)

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
        print("  %-30s %9d bytes" % (f, size))
    print("wrote %d files, %d bytes (%.2f MiB), to %s"
          % (len(os.listdir(OUT)), total, total / 2.0 ** 20, os.path.relpath(OUT, ROOT)))
    assert total < MAX_BYTES, "testdata/tv over 12 MB"
    print("torch %s, torchvision %s, numpy %s" % (torch.__version__, torchvision.__version__,
                                                 np.__version__))


if __name__ == "__main__":
    main()
