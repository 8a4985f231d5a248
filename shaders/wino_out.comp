#version 450
#include "store.glsl"
// wino_out: the output transform of the Winograd F(2x2,3x3) convolution:
// the 4x4 products m of tile t (wino_gemm's M[xi, tl, co]) become the 2x2
// outputs A^T m A, plus the bias, with an optional ReLU; outputs beyond
// an odd height or width are not written. Four channels per invocation.
// With POOL (a 2x2/2 max pooling fused in, windows from row and column
// 0), the 2x2 outputs are reduced to their maximum over those inside the
// image, and out is the pooled map [n,ph,pw,cout].
// Requires cout and outBase to be multiples of 4.
// Bindings: 0 M [16, tcount, cout] (texel buffer), 1 bias [cout]
// (readonly, vec4), 2 out [n,h,w,cout] (writeonly, vec4).
// Push: n, h, w, cout, relu (0/1), outBase, t0, tcount, ph, pw.
// Spec: 0 POOL (0/1).
// Dispatch: ceil(tcount*cout/4 / 64) workgroups of 64, 2D grid.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer mt;
layout(std430, binding = 1) readonly buffer Bias { vec4 bias[]; };
layout(std430, binding = 2) writeonly buffer Out { svec4 outp[]; };
layout(constant_id = 0) const uint POOL = 0;
layout(push_constant) uniform Push { uint n, h, w, cout, relu, outBase, t0, tcount, ph, pw; } p;

void main() {
    uint i = linearID();
    uint cout4 = p.cout / 4u;
    if (i >= p.tcount * cout4) {
        return;
    }
    uint cg = i % cout4;
    uint tl = i / cout4;
    uint t = p.t0 + tl;
    uint tw = (p.w + 1u) / 2u, th = (p.h + 1u) / 2u;
    uint tx = t % tw;
    uint ty = (t / tw) % th;
    uint img = t / (tw * th);
    uint stride = p.tcount * cout4;
    uint o = tl * cout4 + cg;
    vec4 m[4][4];
    for (int r = 0; r < 4; r++) {
        for (int c = 0; c < 4; c++) {
            m[r][c] = texelFetch(mt, int(o + uint(4 * r + c) * stride));
        }
    }
    vec4 s[2][4];
    for (int c = 0; c < 4; c++) {
        s[0][c] = m[0][c] + m[1][c] + m[2][c];
        s[1][c] = m[1][c] - m[2][c] - m[3][c];
    }
    vec4 b = bias[cg];
    vec4 y2[2][2];
    for (uint r = 0u; r < 2u; r++) {
        y2[r][0] = s[r][0] + s[r][1] + s[r][2] + b;
        y2[r][1] = s[r][1] - s[r][2] - s[r][3] + b;
        if (p.relu != 0u) {
            y2[r][0] = max(y2[r][0], vec4(0.0));
            y2[r][1] = max(y2[r][1], vec4(0.0));
        }
    }
    if (POOL == 1u) {
        if (ty >= p.ph || tx >= p.pw) {
            return;
        }
        vec4 m = y2[0][0]; // (2ty, 2tx) is inside the image
        if (2u * tx + 1u < p.w) {
            m = max(m, y2[0][1]);
        }
        if (2u * ty + 1u < p.h) {
            m = max(m, y2[1][0]);
            if (2u * tx + 1u < p.w) {
                m = max(m, y2[1][1]);
            }
        }
        outp[p.outBase / 4u + ((img * p.ph + ty) * p.pw + tx) * cout4 + cg] = svec4(m);
        return;
    }
    for (uint r = 0u; r < 2u; r++) {
        uint y = 2u * ty + r;
        if (y >= p.h) {
            break;
        }
        uint px = (img * p.h + y) * p.w + 2u * tx;
        outp[p.outBase / 4u + px * cout4 + cg] = svec4(y2[r][0]);
        if (2u * tx + 1u < p.w) {
            outp[p.outBase / 4u + (px + 1u) * cout4 + cg] = svec4(y2[r][1]);
        }
    }
}
