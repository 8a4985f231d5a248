#version 450
#include "store.glsl"
// rgba8: unpacks RGBA8 pixels (one 32-bit word each, red in the low byte,
// as a renderer's or camera's R8G8B8A8 image stores them) into float RGB
// in [0,1], NHWC; alpha is dropped.
// Bindings: 0 in [pixels] words (readonly), 1 out [pixels, 3] (writeonly).
// Push: pixels, inBase (words), outBase (floats).
// Spec: 0 workgroup size. Dispatch: ceil(pixels / wg) workgroups, 2D grid.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) readonly buffer In { uint px[]; };
layout(std430, binding = 1) writeonly buffer Out { sfloat y[]; };
layout(push_constant) uniform Push { uint pixels, inBase, outBase; } p;

void main() {
    uint i = linearID();
    if (i >= p.pixels) {
        return;
    }
    uint v = px[p.inBase + i];
    uint d = p.outBase + 3u * i;
    y[d] = sfloat(float(v & 255u) / 255.0);
    y[d + 1u] = sfloat(float((v >> 8u) & 255u) / 255.0);
    y[d + 2u] = sfloat(float((v >> 16u) & 255u) / 255.0);
}
