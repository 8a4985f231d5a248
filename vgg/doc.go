// Package vgg runs the VGG16 and VGG19 networks of tensorflow-vgg on a
// Vulkan device, or on the pure-Go CPU reference, and returns any named
// feature map to the caller.
//
// # Semantics
//
// Exactly tensorflow-vgg's build(rgb): the input is RGB in [0,1], NHWC;
// it is scaled by 255, reordered to BGR and the mean [103.939, 116.779,
// 123.68] is subtracted. convX_Y is a 3x3 convolution with SAME padding,
// bias and ReLU (the named tensor is after the ReLU); poolX is 2x2/2 max
// pooling with SAME padding (an odd size is padded at the bottom/right);
// fc6 flattens pool5 in H, W, C order; fc6 and fc7 are before the ReLU,
// relu6 and relu7 after; fc8 is the logits and prob the softmax.
//
// # Weights
//
// LoadWeights reads tensorflow-vgg's vgg16.npy / vgg19.npy (Python-2 or
// Python-3 pickles, the dict variants, or an .npz; see package npy), or
// makes random weights for "random:vgg16" and "random:vgg19". The
// architecture is recognised from the layers present, and channel widths
// and the class count come from the file, so fine-tuned or reduced models
// load too.
//
// # Sizes
//
// The conv and pool layers take any input size from 1x1 up, batch N.
// fc6 needs pool5's H*W*C to equal its weight rows (7x7x512 for a 224x224
// input with the published weights); asking for an fc layer or prob at
// another size is an error that says which size the weights expect, and a
// run computes nothing past the deepest layer asked for.
//
// # Execution
//
// Graph describes the network as a graph.Graph (the preprocessing node is
// named bgr); a Net is a graph.Net of it, with the engine's planner and
// executor: buffers assigned by liveness (features asked for are never
// reused), a ReLU fused into the fc layer before it where nothing else
// reads that layer, a run recorded once per input shape and names into a
// few queued submissions, safe for concurrent use and cancellable (see
// package graph). With Options.FCN, fc6 runs as a 7x7 convolution and
// fc7, fc8 as 1x1 convolutions (score maps for larger inputs). Activations
// are NHWC on the GPU too, so readback needs no transposition.
package vgg
