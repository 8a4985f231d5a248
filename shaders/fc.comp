#version 450
#include "store.glsl"
// fc: partial products of a fully connected layer y = x W for one block
// of columns and one slice of K, into a partial-sum buffer that fcreduce
// adds up (with the bias and the optional ReLU).
//   part[s, r, m0 + j] = sum_{k in slice s} x[r, k] * Wblk[k, j],  j < mc
// W is stored as column blocks so that each block [K, mc] fits one binding
// (maxStorageBufferRange): block b holds columns m0..m0+mc-1, row-major.
// Bindings: 0 x [rows, K] (readonly), 1 Wblk [K, mc] (readonly),
//           2 part [slices, rows, M] (writeonly).
// Push: rows, K, M, m0, mc, kslice (K per slice), wBase, xBase (element
// offsets of the block and of x in their windows).
// Spec: 0 workgroup size WG, 1 R (rows per invocation), 2 KT (K tile).
// Dispatch: x = ceil(mc / WG), y = slices, z = ceil(rows / R).
// Each invocation owns one column and R rows; the K tile of x is staged in
// shared memory and read by all invocations at one address (a broadcast).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint R = 4;
layout(constant_id = 2) const uint KT = 64;
layout(std430, binding = 0) readonly buffer X { sfloat x[]; };
layout(std430, binding = 1) readonly buffer Wt { sfloat w[]; };
layout(std430, binding = 2) writeonly buffer Part { float part[]; };
layout(push_constant) uniform Push { uint rows, K, M, m0, mc, kslice, wBase, xBase; } p;
shared float xs[R * KT];

void main() {
    uint j = gl_GlobalInvocationID.x;
    uint s = gl_WorkGroupID.y;
    uint r0 = gl_WorkGroupID.z * R;
    uint lid = gl_LocalInvocationID.x;
    uint k0 = s * p.kslice;
    uint k1 = min(k0 + p.kslice, p.K);
    bool col = j < p.mc;
    uint jj = col ? j : 0u; // out-of-range invocations still help load xs
    float acc[R];
    for (uint r = 0u; r < R; r++) {
        acc[r] = 0.0;
    }
    for (uint kt = k0; kt < k1; kt += KT) {
        uint kn = min(KT, k1 - kt);
        for (uint e = lid; e < R * KT; e += gl_WorkGroupSize.x) {
            uint r = e / KT, kk = e % KT;
            xs[e] = (r0 + r < p.rows && kk < kn) ? float(x[p.xBase + (r0 + r) * p.K + kt + kk]) : 0.0;
        }
        barrier();
        uint wi = p.wBase + kt * p.mc + jj;
        for (uint kk = 0u; kk < kn; kk++) {
            float wv = float(w[wi]);
            wi += p.mc;
            for (uint r = 0u; r < R; r++) {
                acc[r] += xs[r * KT + kk] * wv;
            }
        }
        barrier();
    }
    if (!col) {
        return;
    }
    for (uint r = 0u; r < R; r++) {
        if (r0 + r < p.rows) {
            part[(s * p.rows + r0 + r) * p.M + p.m0 + j] = acc[r];
        }
    }
}
