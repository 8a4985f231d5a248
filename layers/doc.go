// Package layers implements the operations of a network, each as a
// layers.Op: a plain pure-Go CPU reference (float64 accumulation,
// obviously right: the specification) and GPU kernels that record into a
// gpu.Sequence and never submit on their own. Package graph runs graphs
// of Ops; nothing outside an Op's own code switches on its kind.
//
// # The Op interface
//
// An Op gives its output shape for its input shapes, lists its parameters,
// computes itself on the CPU (checking a context inside long loops), and
// uploads itself to a Kit's device as a Kernel. Optional interfaces tell a
// planner more: ReLUFuser and ReLUKernel (a following ReLU costs nothing),
// Activation (this op is a ReLU), Viewer (the output is the input's memory),
// Vectorer (the output is a vector per image), Releaser (host parameters
// can go once uploaded), Coster (estimated FLOPs), PoolKernel and AddKernel
// (a following max pooling, or a residual sum, applied as the kernel
// writes its output), Residual (this op is such a sum). layertest.CheckOp
// is the conformance suite every Op and kernel variant runs.
//
// # Layout
//
// Activations are NHWC ([N,H,W,C], channels fastest) on the GPU as on the
// host: a convolution is then an implicit GEMM whose K dimension (tap,
// input channel) and whose output channels are contiguous, HWIO weights are
// used as stored in tensorflow-vgg files, an fc layer reads a map flattened
// in H,W,C order with no reordering (PermuteCHW reorders weights trained on
// PyTorch's C,H,W order once, at load time), and feature maps go back to
// users without a transpose. Vectors are Shape{N, 1, 1, F}.
//
// # Ops
//
//   - Preprocess: per-channel affine input transform (VGGInput: BGR*255
//     minus the mean; TorchInput: RGB normalised by mean and std).
//   - Conv: any KHxKW window, stride and padding (explicit or TensorFlow
//     SAME), bias, optional ReLU; FoldBatchNorm folds an inference batch
//     norm into it. 3x3 stride-1 layers use the Conv3x3 kernels, others
//     GConv. Each has two families: on GPUs a shared-memory tiled implicit
//     GEMM (tile sizes are specialization constants; GConv times 32x32
//     tiles against 64x64 where the latter make few workgroups); on CPU devices such as
//     lavapipe a register-blocked kernel reading vec4 texel buffers, where
//     loads from storage buffers and shared memory cost a loop over SIMD
//     lanes (a 3-channel input is padded to 4 for it, a small copy), and
//     GConv times it against im2col rows and the 1x1 kernel over them.
//     3x3 stride-1 layers whose channels are multiples of 4 may also run as
//     Winograd F(2x2,3x3) or F(4x4,3x3) (input transform, batched GEMM,
//     output transform); KernelOptions.Winograd chooses, by default by
//     timing the three once per layer, input shape and device, kept
//     beside the device's pipeline cache (Kit.Tuning).
//   - Pool: max or average, fixed windows (SAME, explicit, ceil mode) or
//     adaptive ones (global pooling is adaptive 1x1, optionally flat).
//   - FC: [N,K] x [K,M] + bias, optional ReLU; weights are stored as column
//     blocks that each fit one binding, so matrices beyond
//     maxStorageBufferRange (fc6: 411 MB) just work. CPU devices read them
//     as vec4 texel buffers, four columns per invocation or 32; GPUs also
//     have a kernel of scalar storage-buffer loads. Each device times its
//     candidates per shape and keeps the fastest (Kit.Tuning).
//   - Add (optional ReLU), ReLU: element-wise, four at a time where the
//     bases align.
//   - Softmax over each image's vector, or over the channels of each pixel.
//   - Flatten: a view.
//
// Batches whose activations exceed one binding are split into chunks of
// images automatically (by rows for fc and softmax). An image that alone
// exceeds one binding (maxStorageBufferRange: 128 MiB on lavapipe and on
// many integrated and mobile GPUs, so VGG16's conv1_1 output above
// 724x724), or whose output rows exceed one dispatch's workgroups, runs
// in row bands: each band of output rows is a layer of its own over the
// input rows it reads, with the image's padding only at the image's
// edges (bands.go). Convolutions (3x3 ones through the general kernel),
// fixed-window pooling, bilinear resizing, preprocessing and channel
// padding band; element-wise layers split anywhere. A 3x3 convolution
// followed by a 2x2/2 max pooling fuses the pooling band by band there,
// so that its whole output never exists (VGG's conv1_2 at 2000x1500 is
// 768 MB). Adaptive and global pooling of one image over a binding is
// refused with an error that says so.
package layers
