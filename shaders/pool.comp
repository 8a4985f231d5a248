#version 450
#include "store.glsl"
// pool: max or average pooling over windows of any size, stride and
// padding, or adaptive windows, NHWC. One invocation per output element.
// Fixed windows (flags bit 1 clear): output (oy, ox) covers input rows
// oy*sh - padT ... + kh - 1 and columns ox*sw - padL ... + kw - 1; only
// pixels inside the image are compared or summed (padding never wins a
// max). The average divides by the pixels inside the image, or with
// flags bit 2 (PyTorch's count_include_pad) by the window clipped to the
// padded image, min(y0 + kh, h + padB) - y0 rows times the same for
// columns.
// Adaptive windows (flags bit 1 set, PyTorch's AdaptiveAvg/MaxPool2d):
// rows floor(oy*h/oh) to ceil((oy+1)*h/oh) - 1, columns likewise.
// Bindings: 0 in [n,h,w,c] (readonly), 1 out [n,oh,ow,c] (writeonly).
// Push: n, h, w, c, oh, ow, inBase, outBase, kh, kw, sh, sw, padT, padL,
//       padB, padR, flags (bit 0 average, bit 1 adaptive, bit 2 count padding).
// Spec: 0 workgroup size, 1 FLAGS (the push constant flags, so that the
// compiler drops the branches), 2 KH, 3 KW (fixed windows: the loops
// unroll; 0 for adaptive windows).
// Dispatch: ceil(n*oh*ow*c / wg) workgroups, 2D grid.
#include "common.glsl"
#define T float
#define S sfloat
#include "pool.glsl"
