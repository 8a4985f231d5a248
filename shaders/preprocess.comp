#version 450
#include "store.glsl"
// preprocess: the input transform of a network, NHWC, 3 channels:
//   out[p, c] = in[p, perm[c]] * mul[c] + add[c]
// tensorflow-vgg: RGB in [0,1] -> BGR * 255 minus the BGR mean
// (perm 2,1,0; mul 255; add -mean); torchvision: (RGB - mean) / std
// (perm 0,1,2; mul 1/std; add -mean/std).
// Bindings: 0 in (RGB, readonly), 1 out (writeonly).
// Push: pixels, inBase, outBase (element offsets into the bound windows),
// perm0..2, mul0..2, add0..2 (floats).
// Spec: 0 workgroup size. Dispatch: ceil(pixels / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer In { sfloat x[]; };
layout(std430, binding = 1) writeonly buffer Out { sfloat y[]; };
layout(push_constant) uniform Push {
    uint pixels, inBase, outBase;
    uint perm0, perm1, perm2;
    float mul0, mul1, mul2;
    float add0, add1, add2;
} p;

void main() {
    uint i = linearID();
    if (i >= p.pixels) {
        return;
    }
    uint s = p.inBase + 3u * i;
    uint d = p.outBase + 3u * i;
    y[d] = sfloat(float(x[s + p.perm0]) * p.mul0 + p.add0);
    y[d + 1u] = sfloat(float(x[s + p.perm1]) * p.mul1 + p.add1);
    y[d + 2u] = sfloat(float(x[s + p.perm2]) * p.mul2 + p.add2);
}
