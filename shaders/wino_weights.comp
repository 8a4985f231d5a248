#version 450
#include "store.glsl"
// wino_weights: the weight transform of Winograd F(2x2,3x3) (A = 4) or
// F(4x4,3x3) (A = 6): U[xi, ci, co] = (G g G^T)[xi / A][xi % A] for the
// 3x3 kernel g of input channel ci and output channel co, done once on
// the device when a layer first takes that algorithm.
// Bindings: 0 w [3, 3, cin, cout] (HWIO, readonly), 1 U [A*A, cin, cout]
// (writeonly).
// Push: cin, cout. Spec: 0 A (4 or 6).
// Dispatch: ceil(cin*cout / 64) workgroups of 64, 2D grid.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const uint A = 4;
layout(std430, binding = 0) readonly buffer W { sfloat w[]; };
layout(std430, binding = 1) writeonly buffer U { sfloat u[]; };
layout(push_constant) uniform Push { uint cin, cout; } p;

const float G2[4][3] = float[4][3](
    float[3](1.0, 0.0, 0.0), float[3](0.5, 0.5, 0.5), float[3](0.5, -0.5, 0.5), float[3](0.0, 0.0, 1.0));
// F(4x4,3x3) for the points 0, -1, 1, 1/2, -2 (see wino4_in.comp).
const float G4[6][3] = float[6][3](
    float[3](1.0, 0.0, 0.0),
    float[3](-1.0 / 3.0, 1.0 / 3.0, -1.0 / 3.0),
    float[3](1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0),
    float[3](-16.0 / 15.0, -8.0 / 15.0, -4.0 / 15.0),
    float[3](1.0 / 15.0, -2.0 / 15.0, 4.0 / 15.0),
    float[3](0.0, 0.0, 1.0));

float gm(uint r, uint j) {
    return A == 4u ? G2[r][j] : G4[r][j];
}

void main() {
    uint i = linearID();
    if (i >= p.cin * p.cout) {
        return;
    }
    uint co = i % p.cout;
    uint ci = i / p.cout;
    float g[3][3];
    for (uint ky = 0u; ky < 3u; ky++) {
        for (uint kx = 0u; kx < 3u; kx++) {
            g[ky][kx] = float(w[((ky * 3u + kx) * p.cin + ci) * p.cout + co]);
        }
    }
    for (uint r = 0u; r < A; r++) {
        float gk[3]; // (G g)[r][.]
        for (uint c = 0u; c < 3u; c++) {
            gk[c] = gm(r, 0u) * g[0][c] + gm(r, 1u) * g[1][c] + gm(r, 2u) * g[2][c];
        }
        for (uint c = 0u; c < A; c++) {
            u[((r * A + c) * p.cin + ci) * p.cout + co] = sfloat(gk[0] * gm(c, 0u) + gk[1] * gm(c, 1u) + gk[2] * gm(c, 2u));
        }
    }
}
