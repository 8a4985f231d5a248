#version 450
// wino_gemm_tiled: the A*A products of a Winograd convolution, as
// wino_gemm.comp computes them,
//   M[xi, t, co] = sum_ci V[xi, t, ci] * U[xi, ci, co],
// tiled for GPUs as conv3x3.comp tiles its implicit GEMM: a workgroup
// computes a BM x BN block (tiles x output channels) of one product xi;
// K (the input channels) runs BK at a time through shared memory, where
// the A block (V) and the B block (U) are staged as vec4 texel fetches;
// each invocation accumulates TM tiles x TN channels in registers, tiles
// ty + i*TY and channels tx + j*TX, so neighbouring invocations touch
// neighbouring channels (coalesced stores).
// Requires cin and cout to be multiples of 4, and BK and BN of 4.
// Bindings: 0 V [A*A, tcount, cin] (texel buffer), 1 U [A*A, cin, cout]
// (texel buffer), 2 M [A*A, tcount, cout] (writeonly).
// Push: tcount, cin, cout.
// Spec: 0 workgroup size = (BM/TM)*(BN/TN), 1 BM, 2 BN, 3 BK, 4 TM, 5 TN.
// Dispatch: x = ceil(cout / BN), y = ceil(tcount / BM), z = A*A.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 8;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
const uint WG = gl_WorkGroupSize.x;
const uint TX = BN / TN;
const uint TY = BM / TM;
const uint BK4 = BK / 4u;
const uint BN4 = BN / 4u;
const uint ASLOTS = (BM * BK4 + WG - 1u) / WG;
const uint BSLOTS = (BK * BN4 + WG - 1u) / WG;

layout(binding = 0) uniform samplerBuffer vt;
layout(binding = 1) uniform samplerBuffer ut;
layout(std430, binding = 2) writeonly buffer M { float m[]; };
layout(push_constant) uniform Push { uint tcount, cin, cout; } p;

shared float As[BK * BM];
shared float Bs[BK * BN];

void main() {
    uint lid = gl_LocalInvocationID.x;
    uint tx = lid % TX, ty = lid / TX;
    uint c0 = gl_WorkGroupID.x * BN;
    uint t0 = gl_WorkGroupID.y * BM;
    uint xi = gl_WorkGroupID.z;
    uint cin4 = p.cin / 4u, cout4 = p.cout / 4u;
    uint vbase = xi * p.tcount * cin4; // texel of V[xi, 0, 0]
    uint ubase = xi * p.cin * cout4;   // texel of U[xi, 0, 0]

    float acc[TM][TN];
    for (uint i = 0u; i < TM; i++) {
        for (uint j = 0u; j < TN; j++) {
            acc[i][j] = 0.0;
        }
    }

    for (uint k0 = 0u; k0 < p.cin; k0 += BK) {
        // A block: BM tiles x BK channels, BK/4 texels per tile.
        for (uint r = 0u; r < ASLOTS; r++) {
            uint e = lid + r * WG;
            if (e < BM * BK4) {
                uint row = e / BK4, kq = e % BK4;
                uint t = t0 + row, k4 = k0 / 4u + kq;
                vec4 a = (t < p.tcount && k4 < cin4) ? texelFetch(vt, int(vbase + t * cin4 + k4)) : vec4(0.0);
                As[(4u * kq) * BM + row] = a.x;
                As[(4u * kq + 1u) * BM + row] = a.y;
                As[(4u * kq + 2u) * BM + row] = a.z;
                As[(4u * kq + 3u) * BM + row] = a.w;
            }
        }
        // B block: BK channels x BN outputs, BN/4 texels per channel.
        for (uint r = 0u; r < BSLOTS; r++) {
            uint e = lid + r * WG;
            if (e < BK * BN4) {
                uint kk = e / BN4, cq = e % BN4;
                uint k = k0 + kk, c4 = c0 / 4u + cq;
                vec4 b = (k < p.cin && c4 < cout4) ? texelFetch(ut, int(ubase + k * cout4 + c4)) : vec4(0.0);
                uint o = kk * BN + 4u * cq;
                Bs[o] = b.x;
                Bs[o + 1u] = b.y;
                Bs[o + 2u] = b.z;
                Bs[o + 3u] = b.w;
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

    for (uint i = 0u; i < TM; i++) {
        uint t = t0 + ty + i * TY;
        if (t >= p.tcount) {
            continue;
        }
        for (uint j = 0u; j < TN; j++) {
            uint co = c0 + tx + j * TX;
            if (co < p.cout) {
                m[(xi * p.tcount + t) * p.cout + co] = acc[i][j];
            }
        }
    }
}
