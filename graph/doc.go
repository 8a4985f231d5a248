// Package graph runs networks described as data on a Vulkan device or on
// the pure-Go CPU reference.
//
// A Graph is a list of nodes, each a layers.Op with a name and the names
// of the earlier nodes it reads (or Input, the [N,H,W,3] RGB batch), plus
// aliases (other names of a node's output). Nothing here knows a layer by
// its name or an op by its kind: models (package vgg, package
// torchvision) build graphs, and the ops describe themselves through the
// layers.Op interface and its optional interfaces.
//
// # Planning
//
// For an input size and a set of requested names, a plan keeps only the
// nodes those names need, fuses a ReLU into the op before it when nothing
// else reads that op's output (layers.ReLUFuser, layers.ReLUKernel),
// gives views (Flatten) their input's memory, and assigns buffers by
// liveness: a tensor's buffer goes back to a free list after its last
// reader, is never shared by an op's input and output, and is never
// reused when the tensor was requested. Net.Plan reports the activation
// memory against the sum of all tensors. On a device the plan is recorded
// once into a few submissions (about 24, grouped by estimated work) and
// reused by every run of the same shape and names; a Net keeps its four
// most recent plans.
//
// # Concurrency and cancellation
//
// A Net is safe for concurrent use; runs are serialised. A device run
// keeps two submissions queued, or as many as take about 20 ms at the
// last run's pace (all of them on a fast GPU, which then never waits for
// the host between them), and starts no further one once its context is
// done, so a cancelled run returns ctx.Err() within about two
// submissions' time or 20 ms, and the Net stays usable.
// RunOnDeviceAsync queues all of them. The CPU reference checks the context
// inside every long layer.
package graph
