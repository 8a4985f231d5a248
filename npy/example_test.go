package npy_test

import (
	"bytes"
	"fmt"
	"log"
	"sort"

	"github.com/vkvgg/vkvgg/npy"
)

// A tensorflow-vgg weight file as Python 2 wrote it: an .npy of a pickled
// {name: [W, b]} dict.
func ExampleReadWeights() {
	layers, err := npy.ReadWeights("../testdata/npy/w_py2_f4.npy")
	if err != nil {
		log.Fatal(err)
	}
	names := make([]string, 0, len(layers))
	for name := range layers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Println(name, layers[name].W.Shape, layers[name].B.Shape)
	}
	// Output:
	// conv1_1 [3 3 2 4] [4]
	// conv2_1 [3 3 4 3] [3]
	// fc6 [40 30] [30]
}

func ExampleWriteNPY() {
	var buf bytes.Buffer
	a := npy.Array{Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}
	if err := npy.WriteNPY(&buf, a); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q\n", buf.Bytes()[10:69])
	b, err := npy.ReadNPY(&buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(b.Shape, b.Data)
	// Output:
	// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	// [2 3] [1 2 3 4 5 6]
}
