package npy_test

import (
	"fmt"
	"log"
	"os"

	"github.com/vkvgg/vkvgg/npy"
)

// A state dict as torch.save(model.state_dict(), path) writes it, for a
// network of Conv2d(3, 5, 3), BatchNorm2d(5), ReLU, Conv2d(5, 7, (1, 3)),
// Flatten and Linear(7, 3). Batch norm's int64 num_batches_tracked is left
// out.
func ExampleReadTorch() {
	const path = "../testdata/torch/sd_f4.pt"
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	head := make([]byte, 512)
	n, _ := f.Read(head)
	f.Close()
	if !npy.IsTorch(head[:n]) {
		log.Fatal("not a torch.save file")
	}
	entries, err := npy.ReadTorch(path)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name, e.Array.Shape)
	}
	// Output:
	// 0.weight [5 3 3 3]
	// 0.bias [5]
	// 1.weight [5]
	// 1.bias [5]
	// 1.running_mean [5]
	// 1.running_var [5]
	// 3.weight [7 5 1 3]
	// 3.bias [7]
	// 5.weight [3 7]
	// 5.bias [3]
}
