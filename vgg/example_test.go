package vgg_test

import (
	"context"
	"fmt"
	"log"

	"github.com/vkvgg/vkvgg/vgg"
)

// Load a network (here the built-in random VGG16; pass "vgg16.npy" for
// the real one), run a batch and read feature maps back in NHWC.
func Example() {
	net, err := vgg.Load("random:vgg16", vgg.Options{}) // the best Vulkan device; Device: "cpu" for the reference
	if err != nil {
		log.Fatal(err)
	}
	defer net.Close()

	// Two 224x224 RGB images in [0,1], NHWC, as tensorflow-vgg's build takes.
	batch := vgg.Batch{N: 2, H: 224, W: 224, Data: make([]float32, 2*224*224*3)}
	for i := range batch.Data {
		batch.Data[i] = float32(i%255) / 255
	}
	out, err := net.Run(context.Background(), batch, "conv3_3", "pool5", "fc7")
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range out.Names() {
		f, _ := out.Feature(name)
		fmt.Println(name, f.Shape)
	}
	// Output:
	// conv3_3 [2 56 56 256]
	// pool5 [2 7 7 512]
	// fc7 [2 4096]
}
