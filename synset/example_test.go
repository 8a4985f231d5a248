package synset_test

import (
	"fmt"

	"github.com/vkvgg/vkvgg/synset"
)

func ExampleLookup() {
	c, err := synset.Lookup(281)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.WNID, c.Name)
	// Output: n02123045 tabby, tabby cat
}

func ExampleTopK() {
	probs := make([]float32, synset.Count())
	probs[281], probs[282], probs[285] = 0.62, 0.30, 0.05
	top, err := synset.TopK(probs, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range top {
		fmt.Println(p)
	}
	// Output:
	// 0.620 n02123045 tabby, tabby cat
	// 0.300 n02123159 tiger cat
	// 0.050 n02124075 Egyptian cat
}
