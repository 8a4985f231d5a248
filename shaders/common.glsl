// Shared helpers of vkvgg's compute shaders.
//
// Large tensors are bound as windows whose start is aligned down to the
// device's storage offset alignment; kernels add a base element offset
// (a push constant) to every index into such a window.

// linearID flattens a 2D grid of workgroups: the host spreads more than
// 65535 workgroups over y. It is a macro, not a function: glslang folds
// gl_WorkGroupSize where it reads it, and a function parsed before the
// shader's layout(local_size_x_id = 0) saw the default size of 1 (rows
// of the grid then overlapped and the end of large tensors was never
// written; TestLinearGrid).
#define linearID() (gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x)
