// Package layers implements each VGG operation twice: a plain pure-Go CPU
// reference (float64 accumulation, obviously right: the specification)
// and a GPU kernel that records into a gpu.Sequence and never submits on
// its own.
//
// # Layout
//
// Activations are NHWC ([N,H,W,C], channels fastest) on the GPU as on the
// host: a 3x3 convolution is then an implicit GEMM whose K dimension
// (tap, input channel) and whose output channels are contiguous, HWIO
// weights are used as stored in tensorflow-vgg files, fc6 reads pool5
// flattened in H,W,C order with no reordering, and feature maps go back
// to users without a transpose.
//
// # Kernels
//
//   - Preprocess: RGB in [0,1] to BGR*255 minus the mean.
//   - Conv3x3: stride 1, SAME padding, bias, optional ReLU. On GPUs a
//     shared-memory tiled implicit GEMM (tile sizes are specialization
//     constants); on CPU devices such as lavapipe a register-blocked kernel
//     reading vec4 texel buffers, where loads from storage buffers and
//     shared memory cost a loop over SIMD lanes.
//   - MaxPool2x2: stride 2, TensorFlow SAME padding at the bottom/right.
//   - FC: [N,K] x [K,M] + bias with the output before and/or after the
//     ReLU; weights are stored as column blocks that each fit one binding,
//     so matrices beyond maxStorageBufferRange (fc6: 411 MB) just work.
//   - Softmax over the last axis, numerically stable.
//
// Batches whose activations exceed one binding are split into chunks of
// images automatically (by rows for fc; a softmax must fit one binding).
package layers
