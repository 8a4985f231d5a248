#version 450
#include "store.glsl"
// wino4_out: the output transform of the Winograd F(4x4,3x3) convolution,
// as wino_out.comp for F(2x2,3x3): the 6x6 products m of tile t become
// the 4x4 outputs A^T m A, plus the bias, with an optional ReLU; outputs
// beyond the image are not written. Each invocation takes CG groups of
// four consecutive channels of one tile, sharing the tile's integer
// divisions (done lane by lane on SIMD CPUs; GPUs take CG = 1).
// With POOL (a 2x2/2 max pooling fused in, windows from row and column
// 0), each 2x2 block of outputs is reduced to its maximum over those
// inside the image, and out is the pooled map [n,ph,pw,cout].
// Requires cout and outBase to be multiples of 4, and cout/4 of CG.
// Bindings: 0 M [36, tcount, cout] (texel buffer), 1 bias [cout]
// (readonly, vec4), 2 out [n,h,w,cout] (writeonly, vec4).
// Push: n, h, w, cout, relu (0/1), outBase, t0, tcount, ph, pw.
// Spec: 0 POOL (0/1), 1 CG.
// Dispatch: ceil(tcount*cout/4/CG / 64) workgroups of 64, 2D grid.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(binding = 0) uniform samplerBuffer mt;
layout(std430, binding = 1) readonly buffer Bias { vec4 bias[]; };
layout(std430, binding = 2) writeonly buffer Out { svec4 outp[]; };
layout(constant_id = 0) const uint POOL = 0;
layout(constant_id = 1) const uint CG = 1;
layout(push_constant) uniform Push { uint n, h, w, cout, relu, outBase, t0, tcount, ph, pw; } p;

// at applies A^T of F(4x4,3x3) (points 0, -1, 1, 1/2, -2, infinity).
void at(in vec4 m[6], out vec4 o[4]) {
    o[0] = m[0] + m[1] + m[2] + m[3] + m[4];
    o[1] = m[2] - m[1] + 0.5 * m[3] - 2.0 * m[4];
    o[2] = m[1] + m[2] + 0.25 * m[3] + 4.0 * m[4];
    o[3] = m[2] - m[1] + 0.125 * m[3] - 8.0 * m[4] + m[5];
}

// tile writes the outputs of channels 4*c4 ... 4*c4+3 of tile (tx, ty)
// of image img from the products at base.
void tile(uint c4, uint base, uint stride, uint cout4, uint tx, uint ty, uint img) {
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
    vec4 b = bias[c4];
    vec4 y4[4][4];
    for (uint r = 0u; r < 4u; r++) {
        at(s[r], y4[r]);
        for (uint c = 0u; c < 4u; c++) {
            y4[r][c] += b;
            if (p.relu != 0u) {
                y4[r][c] = max(y4[r][c], vec4(0.0));
            }
        }
    }
    if (POOL == 1u) {
        for (uint pr = 0u; pr < 2u; pr++) {
            uint py = 2u * ty + pr;
            if (py >= p.ph) {
                break;
            }
            for (uint pc = 0u; pc < 2u; pc++) {
                uint px = 2u * tx + pc;
                if (px >= p.pw) {
                    break;
                }
                vec4 m = y4[2u * pr][2u * pc]; // inside the image
                if (2u * px + 1u < p.w) {
                    m = max(m, y4[2u * pr][2u * pc + 1u]);
                }
                if (2u * py + 1u < p.h) {
                    m = max(m, y4[2u * pr + 1u][2u * pc]);
                    if (2u * px + 1u < p.w) {
                        m = max(m, y4[2u * pr + 1u][2u * pc + 1u]);
                    }
                }
                outp[p.outBase / 4u + ((img * p.ph + py) * p.pw + px) * cout4 + c4] = svec4(m);
            }
        }
        return;
    }
    for (uint r = 0u; r < 4u; r++) {
        uint y = 4u * ty + r;
        if (y >= p.h) {
            break;
        }
        uint px = (img * p.h + y) * p.w + 4u * tx;
        for (uint c = 0u; c < 4u; c++) {
            if (4u * tx + c >= p.w) {
                break;
            }
            outp[p.outBase / 4u + (px + c) * cout4 + c4] = svec4(y4[r][c]);
        }
    }
}

void main() {
    uint i = linearID();
    uint cout4 = p.cout / 4u;
    uint groups = cout4 / CG;
    if (i >= p.tcount * groups) {
        return;
    }
    uint cb = i % groups;
    uint tl = i / groups;
    uint t = p.t0 + tl;
    uint tw = (p.w + 3u) / 4u, th = (p.h + 3u) / 4u;
    uint tx = t % tw;
    uint ty = (t / tw) % th;
    uint img = t / (tw * th);
    uint stride = p.tcount * cout4;
    for (uint g = 0u; g < CG; g++) {
        uint c4 = cb * CG + g;
        tile(c4, tl * cout4 + c4, stride, cout4, tx, ty, img);
    }
}
