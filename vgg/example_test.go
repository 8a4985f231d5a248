package vgg_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/vkvgg/vkvgg/gpu"
	"github.com/vkvgg/vkvgg/vgg"
)

// Load a network (here the built-in random VGG16; pass "vgg16.npy" for
// the real one), run a batch and read feature maps back in NHWC. The conv
// and pool layers take any input size; fc6 and after need 224x224.
func Example() {
	net, err := vgg.Load("random:vgg16", vgg.Options{}) // the best Vulkan device
	if errors.Is(err, gpu.ErrNoVulkan) || errors.Is(err, gpu.ErrNoDevice) {
		net, err = vgg.Load("random:vgg16", vgg.Options{Device: vgg.DeviceCPU}) // the pure-Go reference
	}
	if err != nil {
		log.Fatal(err)
	}
	defer net.Close()

	// Two 64x48 RGB images in [0,1], NHWC, as tensorflow-vgg's build takes.
	batch := vgg.Batch{N: 2, H: 64, W: 48, Data: make([]float32, 2*64*48*3)}
	for i := range batch.Data {
		batch.Data[i] = float32(i%255) / 255
	}
	out, err := net.Run(context.Background(), batch, "conv3_3", "pool5")
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range out.Names() {
		f, _ := out.Feature(name)
		fmt.Println(name, f.Shape)
	}
	// Output:
	// conv3_3 [2 16 12 256]
	// pool5 [2 2 2 512]
}
