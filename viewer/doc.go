// Package viewer is vkvgg's live feature-map viewer (vkvgg view), and
// the worked example of a graphics application that embeds the engine.
//
// The application side (vkapp.c, on the Vulkan loader's own entry
// points, through GLFW's window and surface) owns the instance, the
// device, the queue, the swapchain and its buffers: the photo as RGBA8
// pixels and the canvas the picture is drawn into. The engine adopts
// those handles (gpu.Adopt, with the application's queue lock), reads
// the photo straight from the application's buffer (gpu.WrapBuffer,
// graph.Net.RunOnDeviceAsync), keeps the features on the device, and
// draws the grid of channels into the canvas with a compute shader
// (viz.Drawer). It signals a semaphore of the application's when the
// drawing is done; the application's frame waits on that semaphore on
// the GPU, copies the canvas into the swapchain image and presents it.
// Nothing goes through the host but the window's title.
//
// The window can be resized: the next frame makes a new swapchain and a
// canvas of the new size (the last frame has finished by then, so the
// old canvas is free).
//
// The canvas is copied into the swapchain image rather than written by
// the shader: a storage-image swapchain is optional in Vulkan and not
// offered for sRGB formats, while transfers to it always are.
package viewer
