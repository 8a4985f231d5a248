#version 450
// wino4_out: the output transform of the Winograd F(4x4,3x3) convolution,
// as wino_out.comp for F(2x2,3x3): the 6x6 products m of tile t become
// the 4x4 outputs A^T m A, plus the bias, with an optional ReLU; outputs
// beyond the image are not written. Four channels per invocation.
// Requires cout and outBase to be multiples of 4.
// Bindings: 0 M [36, tcount, cout] (texel buffer), 1 bias [cout]
// (readonly, vec4), 2 out [n,h,w,cout] (writeonly, vec4).
// Push: n, h, w, cout, relu (0/1), outBase, t0, tcount.
// Dispatch: ceil(tcount*cout/4 / 64) workgroups of 64, 2D grid.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer mt;
layout(std430, binding = 1) readonly buffer Bias { vec4 bias[]; };
layout(std430, binding = 2) writeonly buffer Out { vec4 outp[]; };
layout(push_constant) uniform Push { uint n, h, w, cout, relu, outBase, t0, tcount; } p;

// at applies A^T of F(4x4,3x3) (points 0, -1, 1, 1/2, -2, infinity).
void at(in vec4 m[6], out vec4 o[4]) {
    o[0] = m[0] + m[1] + m[2] + m[3] + m[4];
    o[1] = m[2] - m[1] + 0.5 * m[3] - 2.0 * m[4];
    o[2] = m[1] + m[2] + 0.25 * m[3] + 4.0 * m[4];
    o[3] = m[2] - m[1] + 0.125 * m[3] - 8.0 * m[4] + m[5];
}

void main() {
    uint i = linearID();
    uint cout4 = p.cout / 4u;
    if (i >= p.tcount * cout4) {
        return;
    }
    uint cg = i % cout4;
    uint tl = i / cout4;
    uint t = p.t0 + tl;
    uint tw = (p.w + 3u) / 4u, th = (p.h + 3u) / 4u;
    uint tx = t % tw;
    uint ty = (t / tw) % th;
    uint img = t / (tw * th);
    uint stride = p.tcount * cout4;
    uint base = tl * cout4 + cg;
    vec4 s[4][6]; // A^T m, by row
    for (int c = 0; c < 6; c++) {
        vec4 col[6];
        for (int r = 0; r < 6; r++) {
            col[r] = texelFetch(mt, int(base + uint(6 * r + c) * stride));
        }
        vec4 o[4];
        at(col, o);
        for (int r = 0; r < 4; r++) {
            s[r][c] = o[r];
        }
    }
    vec4 b = bias[cg];
    for (uint r = 0u; r < 4u; r++) {
        uint y = 4u * ty + r;
        if (y >= p.h) {
            break;
        }
        vec4 o[4];
        at(s[r], o);
        uint px = (img * p.h + y) * p.w + 4u * tx;
        for (uint c = 0u; c < 4u; c++) {
            if (4u * tx + c >= p.w) {
                break;
            }
            vec4 v = o[c] + b;
            outp[p.outBase / 4u + (px + c) * cout4 + cg] = p.relu != 0u ? max(v, vec4(0.0)) : v;
        }
    }
}
