package vgg

import (
	"fmt"
	"strings"
)

// Arch is a VGG architecture.
type Arch int

// The architectures of tensorflow-vgg.
const (
	VGG16 Arch = 16
	VGG19 Arch = 19
)

func (a Arch) String() string { return fmt.Sprintf("VGG%d", int(a)) }

// convsPerBlock is the number of conv layers in each of the 5 blocks.
func (a Arch) convsPerBlock() [5]int {
	if a == VGG19 {
		return [5]int{2, 2, 4, 4, 4}
	}
	return [5]int{2, 2, 3, 3, 3}
}

// opKind is what a step of the network computes.
type opKind int

const (
	opConv opKind = iota
	opPool
	opFC      // fcN before the ReLU
	opReLU    // reluN after fcN (computed by the fc step on the GPU)
	opSoftmax // prob
)

// step is one named tensor of the network.
type step struct {
	name  string
	kind  opKind
	param string // weight entry for conv and fc steps
}

// steps lists the named tensors in order, as tensorflow-vgg's build makes them.
func (a Arch) steps() []step {
	var s []step
	for b, n := range a.convsPerBlock() {
		for i := 1; i <= n; i++ {
			name := fmt.Sprintf("conv%d_%d", b+1, i)
			s = append(s, step{name, opConv, name})
		}
		s = append(s, step{fmt.Sprintf("pool%d", b+1), opPool, ""})
	}
	for _, n := range []int{6, 7} {
		fc := fmt.Sprintf("fc%d", n)
		s = append(s, step{fc, opFC, fc}, step{fmt.Sprintf("relu%d", n), opReLU, fc})
	}
	return append(s, step{"fc8", opFC, "fc8"}, step{"prob", opSoftmax, ""})
}

// LayerNames returns the names of every tensor a Net can return, in
// network order: conv1_1 ... pool5, fc6, relu6, fc7, relu7, fc8, prob.
func (a Arch) LayerNames() []string {
	var out []string
	for _, s := range a.steps() {
		out = append(out, s.name)
	}
	return out
}

// ParamNames returns the weight entries the architecture needs.
func (a Arch) ParamNames() []string {
	var out []string
	for _, s := range a.steps() {
		if s.kind == opConv || s.kind == opFC {
			out = append(out, s.param)
		}
	}
	return out
}

// index returns the position of a layer name, or an error naming the
// valid names.
func (a Arch) index(name string) (int, error) {
	for i, s := range a.steps() {
		if s.name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("vgg: unknown layer %q for %v (layers: %s)", name, a, strings.Join(a.LayerNames(), ", "))
}

// ParseArch reads "vgg16" or "vgg19" (any case).
func ParseArch(s string) (Arch, error) {
	switch strings.ToLower(s) {
	case "vgg16", "16":
		return VGG16, nil
	case "vgg19", "19":
		return VGG19, nil
	}
	return 0, fmt.Errorf("vgg: unknown architecture %q (vgg16 or vgg19)", s)
}
