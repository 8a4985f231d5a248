#version 450
// wino4_in: the input transform of the Winograd F(4x4,3x3) convolution
// (3x3, stride 1, padding 1), as wino_in.comp for F(2x2,3x3): each 6x6
// input patch d of tile t (outputs rows 4ty ... 4ty+3, columns 4tx ...
// 4tx+3; patch from row 4ty-1 and column 4tx-1, zero outside the image)
// becomes B^T d B, 36 values per channel, stored as V[xi, tl, c] for
// xi = 6*row + column (tw = ceil(w/4), th = ceil(h/4)). Each invocation
// transforms CG consecutive groups of four channels of one tile (groups
// cb*CG ... cb*CG + CG-1): the tile's coordinates take six integer
// divisions, which SIMD CPUs do lane by lane, so the CPU devices share
// them among several groups; GPUs take CG = 1.
// Requires cin and inBase to be multiples of 4, and cin/4 of CG.
// Bindings: 0 in [n,h,w,cin] (texel buffer), 1 V [36, tcount, cin]
// (writeonly, vec4).
// Push: n, h, w, cin, inBase, t0, tcount.
// Spec: 0 CG. Dispatch: ceil(tcount*cin/4/CG / 64) workgroups of 64, 2D
// grid.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint CG = 1;
layout(binding = 0) uniform samplerBuffer inp;
layout(std430, binding = 1) writeonly buffer V { vec4 v[]; };
layout(push_constant) uniform Push { uint n, h, w, cin, inBase, t0, tcount; } p;

// bt applies B^T of F(4x4,3x3) for the interpolation points 0, -1, 1,
// 1/2, -2 and infinity: in float32 they give about 0.6 of the error of
// the usual 0, 1, -1, 2, -2 (tools/golden/winograd.py derives both).
void bt(in vec4 d[6], out vec4 o[6]) {
    o[0] = d[0] - 1.5 * d[1] - 2.0 * d[2] + 1.5 * d[3] + d[4];
    o[1] = d[1] - 2.5 * d[2] + 0.5 * d[3] + d[4];
    o[2] = -d[1] + 0.5 * d[2] + 2.5 * d[3] + d[4];
    o[3] = -2.0 * d[1] - d[2] + 2.0 * d[3] + d[4];
    o[4] = 0.5 * d[1] - d[2] - 0.5 * d[3] + d[4];
    o[5] = d[1] - 1.5 * d[2] - 2.0 * d[3] + 1.5 * d[4] + d[5];
}

void main() {
    uint i = linearID();
    uint cin4 = p.cin / 4u;
    uint groups = cin4 / CG;
    if (i >= p.tcount * groups) {
        return;
    }
    uint cb = i % groups;
    uint tl = i / groups;
    uint t = p.t0 + tl;
    uint tw = (p.w + 3u) / 4u, th = (p.h + 3u) / 4u;
    int tx = int(t % tw);
    int ty = int((t / tw) % th);
    uint img = t / (tw * th);
    uint stride = p.tcount * cin4;
    for (uint g = 0u; g < CG; g++) {
        uint c4 = cb * CG + g;
        vec4 s[6][6]; // B^T d, by row
        for (int c = 0; c < 6; c++) {
            int x = 4 * tx - 1 + c;
            vec4 col[6];
            for (int r = 0; r < 6; r++) {
                int y = 4 * ty - 1 + r;
                bool ok = y >= 0 && y < int(p.h) && x >= 0 && x < int(p.w);
                uint pix = ok ? (img * p.h + uint(y)) * p.w + uint(x) : img * p.h * p.w;
                col[r] = mix(vec4(0.0), texelFetch(inp, int(p.inBase / 4u + pix * cin4 + c4)), bvec4(ok));
            }
            vec4 o[6];
            bt(col, o);
            for (int r = 0; r < 6; r++) {
                s[r][c] = o[r];
            }
        }
        uint base = tl * cin4 + c4;
        for (int r = 0; r < 6; r++) {
            vec4 o[6];
            bt(s[r], o);
            for (int c = 0; c < 6; c++) {
                v[base + uint(6 * r + c) * stride] = o[c];
            }
        }
    }
}
