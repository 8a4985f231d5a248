#version 450
#include "store.glsl"
// conv3x3: 3x3 convolution, stride 1, SAME padding (one zero pixel on each
// side), bias and optional ReLU, NHWC, as an implicit GEMM:
//   out[p, co] = act(bias[co] + sum_{tap, ci} in[p + tap offset, ci] * w[tap, ci, co])
// with p = (n, y, x) the M = n*h*w output pixels and w the HWIO weights
// seen as a [9*cin, cout] matrix. A workgroup computes a BM x BN tile
// (pixels x output channels); K runs tap by tap and, within a tap, over
// BK input channels at a time, so no division is needed per element. The
// A tile (an im2col slice, zeros for padding) and the B tile (weights) are
// staged in shared memory; each invocation accumulates TM pixels x TN
// channels in registers. Pixels of an invocation are ty + i*TY and
// channels tx + j*TX, so neighbouring invocations touch neighbouring
// channels (coalesced loads and stores).
// Bindings: 0 in [n,h,w,cin] (readonly), 1 w [9*cin, cout] (readonly),
//           2 bias [cout] (readonly), 3 out [n,h,w,cout] (writeonly).
// Push: n, h, w, cin, cout, relu (0/1), inBase, outBase.
// Spec: 0 workgroup size = (BM/TM)*(BN/TN), 1 BM, 2 BN, 3 BK, 4 TM, 5 TN.
// Dispatch: x = ceil(cout / BN), y = ceil(n*h*w / BM).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 8;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
const uint WG = gl_WorkGroupSize.x;
const uint TX = BN / TN;
const uint TY = BM / TM;
const uint ASLOTS = (BM * BK + WG - 1) / WG;
const uint BSLOTS = (BK * BN + WG - 1) / WG;

layout(std430, binding = 0) readonly buffer In { sfloat inp[]; };
layout(std430, binding = 1) readonly buffer Wt { sfloat wt[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Out { sfloat outp[]; };
layout(push_constant) uniform Push { uint n, h, w, cin, cout, relu, inBase, outBase; } p;

shared float As[BK * BM];
shared float Bs[BK * BN];

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint tx = lid % TX, ty = lid / TX;
    uint c0 = gl_WorkGroupID.x * BN;
    uint p0 = gl_WorkGroupID.y * BM;
    uint npix = p.n * p.h * p.w;

    // The pixel each A slot of this invocation loads is the same for every
    // K step: decode it once.
    int ay[ASLOTS], ax[ASLOTS];
    uint aoff[ASLOTS];
    for (uint r = 0u; r < ASLOTS; r++) {
        uint e = lid + r * WG;
        uint pix = p0 + e / BK;
        if (e < BM * BK && pix < npix) {
            uint xx = pix % p.w;
            uint t = pix / p.w;
            ay[r] = int(t % p.h);
            ax[r] = int(xx);
            aoff[r] = p.inBase + pix * p.cin;
        } else {
            ay[r] = -1000000; // never inside the image
            ax[r] = 0;
            aoff[r] = 0u;
        }
    }

    float acc[TM][TN];
    for (uint i = 0u; i < TM; i++) {
        for (uint j = 0u; j < TN; j++) {
            acc[i][j] = 0.0;
        }
    }

    for (uint tap = 0u; tap < 9u; tap++) {
        int dy = int(tap / 3u) - 1, dx = int(tap % 3u) - 1;
        int shift = (dy * int(p.w) + dx) * int(p.cin);
        for (uint ci0 = 0u; ci0 < p.cin; ci0 += BK) {
            for (uint r = 0u; r < ASLOTS; r++) {
                uint e = lid + r * WG;
                if (e < BM * BK) {
                    uint kk = e % BK;
                    uint ci = ci0 + kk;
                    int iy = ay[r] + dy, ix = ax[r] + dx;
                    bool ok = ci < p.cin && iy >= 0 && iy < int(p.h) && ix >= 0 && ix < int(p.w);
                    As[kk * BM + e / BK] = ok ? float(inp[uint(int(aoff[r]) + shift) + ci]) : 0.0;
                }
            }
            for (uint r = 0u; r < BSLOTS; r++) {
                uint e = lid + r * WG;
                if (e < BK * BN) {
                    uint kk = e / BN, c = e % BN;
                    uint ci = ci0 + kk, co = c0 + c;
                    Bs[e] = (ci < p.cin && co < p.cout) ? float(wt[(tap * p.cin + ci) * p.cout + co]) : 0.0;
                }
            }
            barrier();
            for (uint kk = 0u; kk < BK; kk++) {
                float a[TM], b[TN];
                for (uint i = 0u; i < TM; i++) {
                    a[i] = As[kk * BM + ty + i * TY];
                }
                for (uint j = 0u; j < TN; j++) {
                    b[j] = Bs[kk * BN + tx + j * TX];
                }
                for (uint i = 0u; i < TM; i++) {
                    for (uint j = 0u; j < TN; j++) {
                        acc[i][j] = fma(a[i], b[j], acc[i][j]);
                    }
                }
            }
            barrier();
        }
    }

    for (uint i = 0u; i < TM; i++) {
        uint pix = p0 + ty + i * TY;
        if (pix >= npix) {
            continue;
        }
        for (uint j = 0u; j < TN; j++) {
            uint co = c0 + tx + j * TX;
            if (co < p.cout) {
                float v = acc[i][j] + bias[co];
                outp[p.outBase + pix * p.cout + co] = sfloat(p.relu != 0u ? max(v, 0.0) : v);
            }
        }
    }
}
