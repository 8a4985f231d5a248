// Shared helpers of vkvgg's compute shaders.
//
// Large tensors are bound as windows whose start is aligned down to the
// device's storage offset alignment; kernels add a base element offset
// (a push constant) to every index into such a window.

// linearID flattens a 2D grid of workgroups: the host spreads more than
// 65535 workgroups over y.
uint linearID() {
    return gl_GlobalInvocationID.x + gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x;
}
