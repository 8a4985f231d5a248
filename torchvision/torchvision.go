// Package torchvision describes torchvision's classification networks as
// graphs, from the state dict a `torch.save(model.state_dict(), path)`
// file holds: VGG (11, 13, 16, 19, with or without batch norm), AlexNet
// and ResNet (18, 34, 50, 101, 152).
//
// # Semantics
//
// Those of torchvision: the input, RGB in [0,1], is normalised with the
// ImageNet mean (0.485, 0.456, 0.406) and standard deviation (0.229,
// 0.224, 0.225); pooling rounds down; an adaptive average pooling (7x7
// for VGG, 6x6 for AlexNet, 1x1 for ResNet) lets any input of at least
// 32x32 (63x63 for AlexNet) through. PyTorch flattens maps in C,H,W
// order, this engine in H,W,C order: the weights of the first linear
// layer are permuted once at load time, activations are never moved.
// Batch normalisations are folded into the convolution before them.
//
// # Names
//
// Layer names are torchvision's module paths, as
// torchvision.models.feature_extraction.create_feature_extractor names
// them, plus "normalize" (the normalised input) and "prob" (the softmax
// of the last layer):
//
//   - VGG: features.0 ... features.30 (VGG16), avgpool, classifier.0 ...
//     classifier.6. A ReLU module gives the value after the ReLU, a
//     convolution the value before it; a Dropout is the identity.
//   - AlexNet: features.0 ... features.12, avgpool, classifier.1 ...
//     classifier.6.
//   - ResNet: conv1, bn1, relu, maxpool, layer1.0.conv1, layer1.0.bn1,
//     layer1.0.relu (after bn1), layer1.0.conv2, ..., layer1.0.downsample
//     (= layer1.0.downsample.1), layer1.0.add (the residual sum, before its
//     ReLU), layer1.0.relu_1 (BasicBlock) or layer1.0.relu_2 (Bottleneck)
//     after it, layer1.0 (the block's output), layer1 ... layer4, avgpool
//     (flattened to [N,C]; also named flatten), fc.
//
// A convolution whose batch norm is folded into it gives the value after
// the batch norm: conv1 equals bn1. Maps are NHWC, vectors [N,F].
package torchvision

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/vkvgg/vkvgg/graph"
	"github.com/vkvgg/vkvgg/layers"
	"github.com/vkvgg/vkvgg/npy"
)

// bnEps is torchvision's BatchNorm2d epsilon.
const bnEps = 1e-5

// StateDict is a state dict by name.
type StateDict map[string]npy.Array

// FromEntries makes a StateDict of a file's entries.
func FromEntries(entries []npy.TorchEntry) StateDict {
	sd := StateDict{}
	for _, e := range entries {
		sd[e.Name] = e.Array
	}
	return sd
}

// CheckShape bounds the shape of a state-dict entry before its data is
// read (npy.ReadTorchChecked): at most 4 dimensions and 2^28 elements
// (the largest torchvision layer, VGG's classifier.0, has 1.03e8), so a
// hostile file costs no more than about its own size.
func CheckShape(name string, shape []int) error {
	if len(shape) > 4 {
		return fmt.Errorf("torchvision: %s has %d dimensions; these networks use at most 4", name, len(shape))
	}
	n := 1
	for _, d := range shape {
		if d < 0 || d > 1<<28 || n*max(d, 1) > 1<<28 {
			return fmt.Errorf("torchvision: %s has shape %v, larger than any layer of these networks", name, shape)
		}
		n *= max(d, 1)
	}
	return nil
}

// Model is a recognised network: its name ("resnet50"), its graph and its
// number of classes.
type Model struct {
	Name    string
	Graph   *graph.Graph
	Classes int
}

// Build recognises the network from the keys and shapes of a state dict
// and describes it as a graph whose ops share the dict's arrays.
func Build(sd StateDict) (*Model, error) {
	switch {
	case sd.has("layer1.0.conv1.weight") && sd.has("conv1.weight"):
		return buildResNet(sd)
	case sd.has("features.0.weight") && sd.has("classifier.6.weight"):
		if w, ok := sd["features.0.weight"]; ok && len(w.Shape) == 4 && w.Shape[2] == 11 {
			return buildAlexNet(sd)
		}
		return buildVGG(sd)
	}
	keys := sd.keys()
	if len(keys) > 6 {
		keys = append(keys[:6], "...")
	}
	return nil, fmt.Errorf("torchvision: the state dict matches no known network (vgg, alexnet, resnet): keys %s", strings.Join(keys, ", "))
}

func (sd StateDict) has(k string) bool { _, ok := sd[k]; return ok }

func (sd StateDict) keys() []string {
	var k []string
	for n := range sd {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// get returns an entry checked against a shape (-1 matches any size).
func (sd StateDict) get(name string, shape ...int) (npy.Array, error) {
	a, ok := sd[name]
	if !ok {
		return npy.Array{}, fmt.Errorf("torchvision: missing %s", name)
	}
	if len(a.Shape) != len(shape) {
		return npy.Array{}, fmt.Errorf("torchvision: %s has shape %v, want %d dimensions %v", name, a.Shape, len(shape), shape)
	}
	n := 1
	for i, d := range shape {
		if d >= 0 && a.Shape[i] != d || a.Shape[i] < 1 {
			return npy.Array{}, fmt.Errorf("torchvision: %s has shape %v, want %v", name, a.Shape, shape)
		}
		n *= a.Shape[i]
	}
	if len(a.Data) != n {
		return npy.Array{}, fmt.Errorf("torchvision: %s has %d values for shape %v", name, len(a.Data), a.Shape)
	}
	if i := npy.NonFinite(a.Data); i >= 0 {
		return npy.Array{}, fmt.Errorf("torchvision: %s value %d is %v: weights must be finite", name, i, a.Data[i])
	}
	return a, nil
}

// builder accumulates a graph.
type builder struct {
	g           *graph.Graph
	sd          StateDict
	used        map[string]bool
	lastConvOut int // channels of the last block's output
}

func newBuilder(name string, sd StateDict) *builder {
	b := &builder{g: &graph.Graph{Name: name + " (torchvision)", Aliases: map[string]string{}}, sd: sd, used: map[string]bool{}}
	b.add("normalize", layers.TorchInput(), graph.Input)
	return b
}

func (b *builder) add(name string, op layers.Op, in ...string) string {
	b.g.Nodes = append(b.g.Nodes, graph.Node{Name: name, Op: op, Inputs: in})
	return name
}

func (b *builder) alias(name, target string) { b.g.Aliases[name] = target }

func (b *builder) get(name string, shape ...int) (npy.Array, error) {
	b.used[name] = true
	return b.sd.get(name, shape...)
}

// conv makes a convolution from name.weight [out,in,kh,kw] (and
// name.bias, when present) as HWIO, with the given stride and padding.
func (b *builder) conv(name string, cin, stride, pad int) (*layers.Conv, error) {
	w, err := b.get(name+".weight", -1, cin, -1, -1)
	if err != nil {
		return nil, err
	}
	out, kh, kw := w.Shape[0], w.Shape[2], w.Shape[3]
	// OIHW to HWIO, 32 outputs at a time: the reads follow 32 rows of
	// the source in order and the writes fill whole cache lines.
	hwio := make([]float32, len(w.Data))
	taps := kh * kw
	for o0 := 0; o0 < out; o0 += 32 {
		o1 := min(out, o0+32)
		for i := 0; i < cin; i++ {
			for t := 0; t < taps; t++ {
				dst := hwio[(t*cin+i)*out:]
				for o := o0; o < o1; o++ {
					dst[o] = w.Data[(o*cin+i)*taps+t]
				}
			}
		}
	}
	c := &layers.Conv{Window: layers.Window{KH: kh, KW: kw, SH: stride, SW: stride, Pad: [4]int{pad, pad, pad, pad}}, Cin: cin, Cout: out, W: hwio}
	if b.sd.has(name + ".bias") {
		bias, err := b.get(name+".bias", out)
		if err != nil {
			return nil, err
		}
		c.B = append([]float32(nil), bias.Data...)
	} else {
		c.B = make([]float32, out)
	}
	return c, nil
}

// foldBN folds the batch norm at name into c.
func (b *builder) foldBN(c *layers.Conv, name string) error {
	var p [4][]float32
	for i, k := range []string{"weight", "bias", "running_mean", "running_var"} {
		a, err := b.get(name+"."+k, c.Cout)
		if err != nil {
			return err
		}
		p[i] = a.Data
	}
	b.used[name+".num_batches_tracked"] = true
	if err := c.FoldBatchNorm(p[0], p[1], p[2], p[3], bnEps); err != nil {
		return fmt.Errorf("torchvision: %s: %w", name, err)
	}
	return nil
}

// linear makes an fc layer from name.weight [out,in] and name.bias; with
// chw, the input is a c x h x w map that PyTorch flattened in C,H,W order.
func (b *builder) linear(name string, in int, chw *[3]int) (*layers.FC, error) {
	w, err := b.get(name+".weight", -1, in)
	if err != nil {
		return nil, err
	}
	out := w.Shape[0]
	bias, err := b.get(name+".bias", out)
	if err != nil {
		return nil, err
	}
	// [out, in] to [in, out], 32 outputs at a time (see conv).
	t := make([]float32, len(w.Data))
	for o0 := 0; o0 < out; o0 += 32 {
		o1 := min(out, o0+32)
		for i := 0; i < in; i++ {
			dst := t[i*out:]
			for o := o0; o < o1; o++ {
				dst[o] = w.Data[o*in+i]
			}
		}
	}
	if chw != nil {
		if t, err = layers.PermuteCHW(t, chw[0], chw[1], chw[2], out); err != nil {
			return nil, err
		}
	}
	return &layers.FC{In: in, Out: out, W: t, B: append([]float32(nil), bias.Data...)}, nil
}

// finish checks that every entry of the dict was used and returns the model.
func (b *builder) finish(name string, classes int) (*Model, error) {
	var extra []string
	for k := range b.sd {
		if !b.used[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		if len(extra) > 5 {
			extra = append(extra[:5], "...")
		}
		return nil, fmt.Errorf("torchvision: %s: unexpected entries %s", name, strings.Join(extra, ", "))
	}
	if err := b.g.Validate(); err != nil {
		return nil, err
	}
	return &Model{Name: name, Graph: b.g, Classes: classes}, nil
}

var featureKey = regexp.MustCompile(`^features\.(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)$`)

// buildVGG recognises torchvision's VGG from the convolutions present in
// features: conv, [batch norm,] ReLU, and a 2x2 max pooling wherever the
// next index leaves room for one.
func buildVGG(sd StateDict) (*Model, error) {
	var convs []int
	bn := false
	for k := range sd {
		m := featureKey.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		if m[2] == "weight" {
			if a := sd[k]; len(a.Shape) == 4 {
				convs = append(convs, i)
			}
		}
		if m[2] == "running_mean" {
			bn = true
		}
	}
	sort.Ints(convs)
	name := map[int]string{8: "vgg11", 10: "vgg13", 13: "vgg16", 16: "vgg19"}[len(convs)]
	if name == "" {
		return nil, fmt.Errorf("torchvision: %d convolutions in features: not a VGG (11, 13, 16 or 19 layers)", len(convs))
	}
	if bn {
		name += "_bn"
	}
	b := newBuilder(name, sd)
	per := 2 // modules per conv: conv, ReLU (and a batch norm between)
	if bn {
		per = 3
	}
	prev, cin := "normalize", 3
	pools := 0
	for j, i := range convs {
		if j == 0 && i != 0 || j > 0 && i < convs[j-1]+per {
			return nil, fmt.Errorf("torchvision: %s: features.%d is not where a convolution can be", name, i)
		}
		c, err := b.conv(fmt.Sprintf("features.%d", i), cin, 1, 1)
		if err != nil {
			return nil, err
		}
		if c.KH != 3 || c.KW != 3 {
			return nil, fmt.Errorf("torchvision: %s: features.%d is %dx%d, VGG's convolutions are 3x3", name, i, c.KH, c.KW)
		}
		conv := b.add(fmt.Sprintf("features.%d", i), c, prev)
		if bn {
			if err := b.foldBN(c, fmt.Sprintf("features.%d", i+1)); err != nil {
				return nil, err
			}
			b.alias(fmt.Sprintf("features.%d", i+1), conv)
		}
		prev = b.add(fmt.Sprintf("features.%d", i+per-1), layers.ReLU{}, conv)
		next := i + per
		if j+1 == len(convs) || convs[j+1] == next+1 {
			prev = b.add(fmt.Sprintf("features.%d", next), &layers.Pool{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2}}, prev)
			pools++
		} else if convs[j+1] != next {
			return nil, fmt.Errorf("torchvision: %s: unexpected gap before features.%d", name, convs[j+1])
		}
		cin = c.Cout
	}
	if pools != 5 {
		return nil, fmt.Errorf("torchvision: %s: %d max poolings, VGG has 5", name, pools)
	}
	return b.classifier(name, prev, cin, 7, []int{0, 3, 6}, []int{1, 4}, []int{2, 5})
}

// classifier adds avgpool (adaptive, size x size) and the three linear
// layers at the given classifier indices, each but the last followed by a
// ReLU (relus) and possibly a dropout (drops, -1 for none; a dropout
// before a linear layer is not a layer of its own here).
func (b *builder) classifier(name, prev string, c, size int, fcs, relus, drops []int) (*Model, error) {
	prev = b.add("avgpool", &layers.Pool{Avg: true, Adaptive: true, OH: size, OW: size}, prev)
	in := c * size * size
	chw := &[3]int{c, size, size}
	classes := 0
	for j, i := range fcs {
		f, err := b.linear(fmt.Sprintf("classifier.%d", i), in, chw)
		if err != nil {
			return nil, err
		}
		chw = nil
		prev = b.add(fmt.Sprintf("classifier.%d", i), f, prev)
		in, classes = f.Out, f.Out
		if j < len(relus) {
			prev = b.add(fmt.Sprintf("classifier.%d", relus[j]), layers.ReLU{}, prev)
		}
		if j < len(drops) && drops[j] > i {
			b.alias(fmt.Sprintf("classifier.%d", drops[j]), prev)
		}
	}
	b.add("prob", &layers.Softmax{}, prev)
	return b.finish(name, classes)
}

// buildAlexNet describes torchvision's AlexNet.
func buildAlexNet(sd StateDict) (*Model, error) {
	b := newBuilder("alexnet", sd)
	prev, cin := "normalize", 3
	geo := []struct{ idx, stride, pad, pool int }{{0, 4, 2, 2}, {3, 1, 2, 5}, {6, 1, 1, -1}, {8, 1, 1, -1}, {10, 1, 1, 12}}
	for _, g := range geo {
		name := fmt.Sprintf("features.%d", g.idx)
		c, err := b.conv(name, cin, g.stride, g.pad)
		if err != nil {
			return nil, err
		}
		prev = b.add(name, c, prev)
		prev = b.add(fmt.Sprintf("features.%d", g.idx+1), layers.ReLU{}, prev)
		if g.pool > 0 {
			prev = b.add(fmt.Sprintf("features.%d", g.pool), &layers.Pool{Window: layers.Window{KH: 3, KW: 3, SH: 2, SW: 2}}, prev)
		}
		cin = c.Cout
	}
	return b.classifier("alexnet", prev, cin, 6, []int{1, 4, 6}, []int{2, 5}, []int{3, -1})
}

// buildResNet describes torchvision's ResNet: BasicBlock (18, 34) or
// Bottleneck (50, 101, 152) from the keys, blocks per stage counted.
func buildResNet(sd StateDict) (*Model, error) {
	bottleneck := sd.has("layer1.0.conv3.weight")
	var blocks [4]int
	for s := range 4 {
		for sd.has(fmt.Sprintf("layer%d.%d.conv1.weight", s+1, blocks[s])) {
			blocks[s]++
		}
		if blocks[s] == 0 {
			return nil, fmt.Errorf("torchvision: resnet: no blocks in layer%d", s+1)
		}
	}
	depth := 2
	per := 2
	if bottleneck {
		per = 3
	}
	for _, n := range blocks {
		depth += per * n
	}
	name := fmt.Sprintf("resnet%d", depth)
	b := newBuilder(name, sd)
	c, err := b.conv("conv1", 3, 2, 3)
	if err != nil {
		return nil, err
	}
	if err := b.foldBN(c, "bn1"); err != nil {
		return nil, err
	}
	b.add("conv1", c, "normalize")
	b.alias("bn1", "conv1")
	b.add("relu", layers.ReLU{}, "conv1")
	prev := b.add("maxpool", &layers.Pool{Window: layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, Pad: [4]int{1, 1, 1, 1}}}, "relu")
	cin := c.Cout
	for s := range 4 {
		for i := range blocks[s] {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			p := fmt.Sprintf("layer%d.%d", s+1, i)
			out, err := b.block(p, prev, cin, stride, bottleneck)
			if err != nil {
				return nil, err
			}
			b.alias(p, out)
			prev = out
			cin = b.lastConvOut
		}
		b.alias(fmt.Sprintf("layer%d", s+1), prev)
	}
	b.add("avgpool", &layers.Pool{Avg: true, Adaptive: true, OH: 1, OW: 1, Flat: true}, prev)
	b.alias("flatten", "avgpool")
	f, err := b.linear("fc", cin, nil)
	if err != nil {
		return nil, err
	}
	b.add("fc", f, "avgpool")
	b.add("prob", &layers.Softmax{}, "fc")
	return b.finish(name, f.Out)
}

// block adds one residual block and returns the name of its output.
func (b *builder) block(p, in string, cin, stride int, bottleneck bool) (string, error) {
	convs := 2
	if bottleneck {
		convs = 3
	}
	prev, c := in, cin
	relus := []string{p + ".relu", p + ".relu_1", p + ".relu_2"}
	for k := 1; k <= convs; k++ {
		// torchvision puts the stride of a Bottleneck in its 3x3 conv2
		// (ResNet v1.5), of a BasicBlock in conv1.
		s, pad := 1, 1
		if bottleneck && k != 2 {
			pad = 0
		}
		if bottleneck && k == 2 || !bottleneck && k == 1 {
			s = stride
		}
		name := fmt.Sprintf("%s.conv%d", p, k)
		cv, err := b.conv(name, c, s, pad)
		if err != nil {
			return "", err
		}
		if err := b.foldBN(cv, fmt.Sprintf("%s.bn%d", p, k)); err != nil {
			return "", err
		}
		b.add(name, cv, prev)
		b.alias(fmt.Sprintf("%s.bn%d", p, k), name)
		prev, c = name, cv.Cout
		if k < convs {
			prev = b.add(relus[k-1], layers.ReLU{}, name)
		}
	}
	b.lastConvOut = c
	short := in
	if b.sd.has(p + ".downsample.0.weight") {
		ds, err := b.conv(p+".downsample.0", cin, stride, 0)
		if err != nil {
			return "", err
		}
		if err := b.foldBN(ds, p+".downsample.1"); err != nil {
			return "", err
		}
		short = b.add(p+".downsample.0", ds, in)
		b.alias(p+".downsample.1", short)
		b.alias(p+".downsample", short)
	} else if stride != 1 || cin != c {
		return "", fmt.Errorf("torchvision: %s changes the shape (stride %d, %d -> %d channels) without a downsample", p, stride, cin, c)
	}
	sum := b.add(p+".add", &layers.Add{}, prev, short)
	return b.add(relus[convs-1], layers.ReLU{}, sum), nil
}
