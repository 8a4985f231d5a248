package synset

import (
	_ "embed"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// synsetTxt is tensorflow-vgg's synset.txt: 1000 lines "WNID names", in
// class-index order. The tests check its length, order and first and last ids.
//
//go:embed synset.txt
var synsetTxt string

// classes is synsetTxt parsed once at start-up. The file is part of the binary
// and checked by the tests, so a malformed line is a build defect: parse panics.
var classes = parse(synsetTxt)

func parse(txt string) []Class {
	lines := strings.Split(strings.TrimSuffix(txt, "\n"), "\n")
	cs := make([]Class, len(lines))
	for i, line := range lines {
		wnid, name, ok := strings.Cut(line, " ")
		if !ok || wnid == "" || name == "" {
			panic(fmt.Sprintf("synset: malformed embedded line %d: %q", i+1, line))
		}
		cs[i] = Class{Index: i, WNID: wnid, Name: name}
	}
	return cs
}

// Class is one ImageNet class.
type Class struct {
	// Index is the class's position in the network's output vector.
	Index int
	// WNID is the WordNet id, such as "n01440764"; empty for the classes of a
	// model that is not the 1000-class ImageNet one.
	WNID string
	// Name is the comma-separated list of names, such as
	// "tench, Tinca tinca".
	Name string
}

// String returns the class as synset.txt writes it: "n01440764 tench, Tinca
// tinca", or just the name where there is no WordNet id.
func (c Class) String() string {
	if c.WNID == "" {
		return c.Name
	}
	return c.WNID + " " + c.Name
}

// Count returns the number of ImageNet classes, 1000.
func Count() int { return len(classes) }

// Lookup returns the class with index i, in [0, Count()).
func Lookup(i int) (Class, error) {
	if i < 0 || i >= len(classes) {
		return Class{}, fmt.Errorf("synset: class index %d out of range [0, %d)", i, len(classes))
	}
	return classes[i], nil
}

// Prediction is a class with the probability a network gave it.
type Prediction struct {
	Class
	// Prob is the probability, as in the probability vector given to TopK.
	Prob float32
}

// String returns the prediction as "0.812 n02123045 tabby, tabby cat".
func (p Prediction) String() string {
	return strconv.FormatFloat(float64(p.Prob), 'f', 3, 32) + " " + p.Class.String()
}

// TopK returns the k classes of probs with the highest probabilities, sorted by
// descending probability; equal probabilities are ordered by index. If k is
// larger than len(probs), all len(probs) classes are returned.
//
// For a vector of 1000 probabilities the classes are the ImageNet ones. For
// any other length (a fine-tuned model) the classes are named "class N", N the
// index, with an empty WNID.
//
// TopK returns an error if probs is empty, k < 1 or a probability is NaN.
func TopK(probs []float32, k int) ([]Prediction, error) {
	if len(probs) == 0 {
		return nil, fmt.Errorf("synset: TopK: empty probability vector")
	}
	if k < 1 {
		return nil, fmt.Errorf("synset: TopK: k = %d, want k >= 1", k)
	}
	for i, p := range probs {
		// NaN compares false with everything, so it would make the order
		// undefined; it also means the network's output is broken.
		if math.IsNaN(float64(p)) {
			return nil, fmt.Errorf("synset: TopK: probability %d is NaN", i)
		}
	}
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case probs[a] > probs[b]:
			return -1
		case probs[a] < probs[b]:
			return 1
		}
		return a - b
	})
	k = min(k, len(probs))
	imagenet := len(probs) == len(classes)
	out := make([]Prediction, k)
	for j, i := range idx[:k] {
		c := Class{Index: i, Name: "class " + strconv.Itoa(i)}
		if imagenet {
			c = classes[i]
		}
		out[j] = Prediction{Class: c, Prob: probs[i]}
	}
	return out, nil
}
