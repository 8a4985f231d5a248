package torchvision

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/vkvgg/vkvgg/internal/parallel"
	"github.com/vkvgg/vkvgg/internal/randw"
	"github.com/vkvgg/vkvgg/npy"
)

// Names lists the networks Random makes.
func Names() []string {
	return []string{"alexnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "vgg11", "vgg13", "vgg16", "vgg19"}
}

// Random makes a deterministic random state dict of the full-size
// torchvision network name (see Names), 1000 classes: He-uniform
// weights with each unit's weights shifted to sum to zero (so that a deep
// random network responds to how images differ instead of mapping all of
// them to one class), random biases, batch norms with random statistics
// and the last one of each residual branch scaled down (as a trained
// ResNet's are), so that activations keep their scale through the depth.
func Random(name string, seed uint64) (StateDict, error) {
	specs, err := shapes(strings.ToLower(name))
	if err != nil {
		return nil, err
	}
	// Biases and batch norms from one stream per module; weights in
	// chunks of whole rows (units), one stream each (randw), filled on
	// every core.
	sd := StateDict{}
	type chunk struct {
		sp       spec
		w        []float32
		from, to int // units
		index    int
	}
	var chunks []chunk
	for _, sp := range specs {
		for k, a := range sp.make(randw.Stream(seed, sp.name, 0)) {
			sd[k] = a
		}
		if sp.kind == kBN {
			continue
		}
		w := make([]float32, sp.units()*sp.fanIn())
		sd[sp.name+".weight"] = npy.Array{Shape: append([]int(nil), sp.shape...), Data: w}
		step := max(1, randw.Chunk/sp.fanIn())
		for from, i := 0, 0; from < sp.units(); from, i = from+step, i+1 {
			chunks = append(chunks, chunk{sp, w, from, min(sp.units(), from+step), i})
		}
	}
	parallel.For(len(chunks), func(k int) {
		c := chunks[k]
		c.sp.fill(c.w, c.from, c.to, randw.Stream(seed, c.sp.name, c.index+1))
	})
	return sd, nil
}

// spec is one module of a network and how to fill its parameters.
type spec struct {
	name  string
	kind  int // conv, bn, linear
	shape []int
	gain  float64 // bn: gamma scale; conv/linear: weight scale
	bias  bool
}

const (
	kConv = iota
	kBN
	kLinear
)

// units is a conv's or linear's outputs.
func (sp spec) units() int { return sp.shape[0] }

// limit bounds a conv's or linear's random weights: He-uniform's, times
// the gain.
func (sp spec) limit() float64 { return math.Sqrt(6/float64(sp.fanIn())) * sp.gain }

// fanIn is a conv's or linear's inputs per unit.
func (sp spec) fanIn() int {
	n := 1
	for _, d := range sp.shape[1:] {
		n *= d
	}
	return n
}

// fill fills units [from, to) of a conv's or linear's weights w: uniform
// within the He limit times the gain (randw.Uniform), each unit's weights
// shifted to sum to zero.
func (sp spec) fill(w []float32, from, to int, rng *rand.Rand) {
	fanIn := sp.fanIn()
	randw.Uniform(w[from*fanIn:to*fanIn], sp.limit(), rng)
	for u := from; u < to; u++ {
		row := w[u*fanIn : (u+1)*fanIn]
		var sum float64
		for _, v := range row {
			sum += float64(v)
		}
		mean := float32(sum / float64(fanIn))
		for j := range row {
			row[j] -= mean
		}
	}
}

// make makes a module's biases or batch norm parameters (weights: fill).
func (sp spec) make(rng *rand.Rand) map[string]npy.Array {
	u := func(n int, lo, hi float64) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(lo + float64((hi-lo)*rng.Float64())) // the conversion keeps the product unfused
		}
		return out
	}
	out := map[string]npy.Array{}
	switch sp.kind {
	case kBN:
		c := sp.shape[0]
		out[sp.name+".weight"] = npy.Array{Shape: []int{c}, Data: u(c, 0.8*sp.gain, 1.2*sp.gain)}
		out[sp.name+".bias"] = npy.Array{Shape: []int{c}, Data: u(c, -0.1, 0.1)}
		out[sp.name+".running_mean"] = npy.Array{Shape: []int{c}, Data: u(c, -0.1, 0.1)}
		out[sp.name+".running_var"] = npy.Array{Shape: []int{c}, Data: u(c, 0.8, 1.2)}
		return out
	}
	o := sp.units()
	if sp.bias {
		out[sp.name+".bias"] = npy.Array{Shape: []int{o}, Data: u(o, -0.1, 0.1)}
	}
	return out
}

// shapes lists the modules of a network.
func shapes(name string) ([]spec, error) {
	conv := func(n string, o, i, k int, bias bool) spec {
		return spec{name: n, kind: kConv, shape: []int{o, i, k, k}, gain: 1.35, bias: bias}
	}
	lin := func(n string, o, i int) spec {
		return spec{name: n, kind: kLinear, shape: []int{o, i}, gain: 1.35, bias: true}
	}
	bn := func(n string, c int, gain float64) spec { return spec{name: n, kind: kBN, shape: []int{c}, gain: gain} }
	var s []spec
	switch name {
	case "alexnet":
		s = []spec{conv("features.0", 64, 3, 11, true), conv("features.3", 192, 64, 5, true), conv("features.6", 384, 192, 3, true),
			conv("features.8", 256, 384, 3, true), conv("features.10", 256, 256, 3, true),
			lin("classifier.1", 4096, 256*36), lin("classifier.4", 4096, 4096), lin("classifier.6", 1000, 4096)}
		s[0].gain = 1
		return s, nil
	case "vgg11", "vgg13", "vgg16", "vgg19":
		cfg := map[string][]int{
			"vgg11": {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0},
			"vgg13": {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0},
			"vgg16": {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0},
			"vgg19": {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0},
		}[name]
		i, cin := 0, 3
		for _, v := range cfg {
			if v == 0 {
				i++
				continue
			}
			s = append(s, conv(fmt.Sprintf("features.%d", i), v, cin, 3, true))
			i += 2
			cin = v
		}
		s[0].gain = 1
		return append(s, lin("classifier.0", 4096, 512*49), lin("classifier.3", 4096, 4096), lin("classifier.6", 1000, 4096)), nil
	}
	blocks := map[string][4]int{"resnet18": {2, 2, 2, 2}, "resnet34": {3, 4, 6, 3}, "resnet50": {3, 4, 6, 3}, "resnet101": {3, 4, 23, 3}, "resnet152": {3, 8, 36, 3}}
	nb, ok := blocks[name]
	if !ok {
		names := Names()
		sort.Strings(names)
		return nil, fmt.Errorf("torchvision: no network %q (%s)", name, strings.Join(names, ", "))
	}
	bottleneck := name != "resnet18" && name != "resnet34"
	s = []spec{conv("conv1", 64, 3, 7, false), bn("bn1", 64, 1)}
	s[0].gain = 1
	cin := 64
	for st := range 4 {
		planes := 64 << st
		for b := range nb[st] {
			p := fmt.Sprintf("layer%d.%d", st+1, b)
			if bottleneck {
				s = append(s, conv(p+".conv1", planes, cin, 1, false), bn(p+".bn1", planes, 1),
					conv(p+".conv2", planes, planes, 3, false), bn(p+".bn2", planes, 1),
					conv(p+".conv3", planes*4, planes, 1, false), bn(p+".bn3", planes*4, 0.3))
			} else {
				s = append(s, conv(p+".conv1", planes, cin, 3, false), bn(p+".bn1", planes, 1),
					conv(p+".conv2", planes, planes, 3, false), bn(p+".bn2", planes, 0.3))
			}
			out := planes
			if bottleneck {
				out *= 4
			}
			if b == 0 && (st > 0 || cin != out) {
				s = append(s, conv(p+".downsample.0", out, cin, 1, false), bn(p+".downsample.1", out, 1))
			}
			cin = out
		}
	}
	// Global average pooling shrinks the spread between images: a larger
	// fc gain gives logits of a trained network's scale.
	fc := lin("fc", 1000, cin)
	fc.gain = 6
	return append(s, fc), nil
}
