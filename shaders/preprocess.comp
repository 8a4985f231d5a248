#version 450
// preprocess: tensorflow-vgg's input transform, NHWC.
//   out[p, 0..2] = (in[p, 2] * 255 - 103.939, in[p, 1] * 255 - 116.779, in[p, 0] * 255 - 123.68)
// i.e. RGB in [0,1] -> BGR in [0,255] minus the BGR mean.
// With outC = 4 the output has a fourth channel of zeros, so that conv1_1
// can run as a 4-channel layer (vec4 loads) with a zero weight row.
// Bindings: 0 in (RGB, readonly), 1 out (BGR, writeonly).
// Push: pixels, inBase, outBase (element offsets into the bound windows),
// outC (3 or 4).
// Spec: 0 workgroup size. Dispatch: ceil(pixels / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer In { float x[]; };
layout(std430, binding = 1) writeonly buffer Out { float y[]; };
layout(push_constant) uniform Push { uint pixels; uint inBase; uint outBase; uint outC; } p;

void main() {
    uint i = linearID();
    if (i >= p.pixels) {
        return;
    }
    uint s = p.inBase + 3u * i;
    uint d = p.outBase + p.outC * i;
    float r = x[s], g = x[s + 1u], b = x[s + 2u];
    y[d] = b * 255.0 - 103.939;
    y[d + 1u] = g * 255.0 - 116.779;
    y[d + 2u] = r * 255.0 - 123.68;
    if (p.outC == 4u) {
        y[d + 3u] = 0.0;
    }
}
