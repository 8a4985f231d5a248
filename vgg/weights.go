package vgg

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/vkvgg/vkvgg/internal/parallel"
	"github.com/vkvgg/vkvgg/internal/randw"
	"github.com/vkvgg/vkvgg/npy"
)

// RandomPrefix introduces a built-in weight source: "random:vgg16" or
// "random:vgg19" stands for deterministic random weights of the real
// shapes in place of a file.
const RandomPrefix = "random:"

// Param is one layer's weights: W is HWIO [3,3,in,out] for conv layers
// and [in,out] for fc layers, B is [out].
type Param struct {
	W, B []float32
	In   int // input channels (conv) or features (fc)
	Out  int
	IsFC bool
}

// Weights are checked parameters of a VGG network.
type Weights struct {
	Arch   Arch
	Params map[string]*Param
	Random bool // generated, not loaded: results mean nothing
	Source string
}

// Classes is the number of classes of fc8.
func (w *Weights) Classes() int { return w.Params["fc8"].Out }

// FC6Inputs is the number of pool5 values fc6 takes (H*W*C).
func (w *Weights) FC6Inputs() int { return w.Params["fc6"].In }

// ErrWeightShape marks a weight file that declares an array no layer of
// VGG16 or VGG19 can have (see CheckShape), or an unknown layer.
var ErrWeightShape = errors.New("vgg: implausible weight shape")

// Bounds of CheckShape, wider than any VGG of use. They refuse absurd
// declarations early; what a file that passes can make the reader
// allocate is bounded by package npy (about the file's size).
const (
	maxConvWidth = 4096    // conv input and output channels
	maxFCIn      = 1 << 20 // fc6's pool5 H*W*C, fc7's and fc8's inputs
	maxFCOut     = 65536   // fc outputs, the class count among them
)

// CheckShape is the npy.ShapeCheck of LoadWeights and DecodeWeights: it
// refuses, before the array's data is read, a shape that no layer of VGG16
// or VGG19 of any plausible width can have, and a layer VGG19 does not
// have. Conv weights must be [3,3,in,out] with in and out from 1 to 4096,
// fc weights [in,out] with in from 1 to 1<<20 and out from 1 to 65536,
// biases 1-D of a length that such an out can have. Whether the widths
// chain from layer to layer is CheckWeights' business, once the data is
// read. Errors match ErrWeightShape.
func CheckShape(layer string, which int, shape []int) error {
	conv := strings.HasPrefix(layer, "conv")
	if !slices.Contains(VGG19.ParamNames(), layer) {
		return fmt.Errorf("%w: unknown layer %q (VGG16 and VGG19 have conv1_1 ... conv5_4, fc6, fc7 and fc8)", ErrWeightShape, clipName(layer))
	}
	ok := true
	var want string
	switch {
	case which == 1:
		out := maxFCOut
		if conv {
			out = maxConvWidth
		}
		ok = len(shape) == 1 && shape[0] >= 1 && shape[0] <= out
		want = fmt.Sprintf("biases [out], out from 1 to %d", out)
	case conv:
		ok = len(shape) == 4 && shape[0] == 3 && shape[1] == 3 &&
			shape[2] >= 1 && shape[2] <= maxConvWidth && shape[3] >= 1 && shape[3] <= maxConvWidth
		want = fmt.Sprintf("weights [3 3 in out], in and out from 1 to %d", maxConvWidth)
	default:
		ok = len(shape) == 2 && shape[0] >= 1 && shape[0] <= maxFCIn && shape[1] >= 1 && shape[1] <= maxFCOut
		want = fmt.Sprintf("weights [in out], in from 1 to %d, out from 1 to %d", maxFCIn, maxFCOut)
	}
	if !ok {
		what := [2]string{"weights", "biases"}[min(max(which, 0), 1)]
		return fmt.Errorf("%w: layer %s: %s of shape %v, want %s", ErrWeightShape, layer, what, shape, want)
	}
	return nil
}

// clipName shortens a name from a file for an error message.
func clipName(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// LoadWeights reads a tensorflow-vgg weight file (.npy pickle or .npz,
// see package npy) or makes random weights for "random:vgg16" and
// "random:vgg19", and checks them against the architecture. Every array's
// shape is checked with CheckShape before its data is read, so that a file
// declaring arrays no VGG can use (or a deflate bomb behind such a
// declaration) is refused at the cost of reading its headers.
func LoadWeights(path string) (*Weights, error) {
	if rest, ok := strings.CutPrefix(path, RandomPrefix); ok {
		a, err := ParseArch(rest)
		if err != nil {
			return nil, fmt.Errorf("vgg: weights %q: %w", path, err)
		}
		return RandomWeights(a, 1), nil
	}
	raw, err := npy.ReadWeightsChecked(path, CheckShape)
	if err != nil {
		return nil, err
	}
	w, err := CheckWeights(raw)
	if err != nil {
		return nil, fmt.Errorf("vgg: %s: %w", path, err)
	}
	w.Source = path
	return w, nil
}

// DecodeWeights reads a weight file of LoadWeights from the size bytes of
// r, with the same checks.
func DecodeWeights(r io.ReaderAt, size int64) (*Weights, error) {
	raw, err := npy.DecodeWeightsChecked(r, size, CheckShape)
	if err != nil {
		return nil, err
	}
	w, err := CheckWeights(raw)
	if err != nil {
		return nil, fmt.Errorf("vgg: %w", err)
	}
	return w, nil
}

// CheckWeights recognises the architecture from the layers present
// (conv3_4, conv4_4 or conv5_4 mean VGG19) and checks every shape: conv
// weights [3,3,in,out] chained from 3 input channels, fc weights [in,out]
// chained from fc6, biases [out]. Channel widths and the class count come
// from the file.
func CheckWeights(raw map[string]npy.Layer) (*Weights, error) {
	arch := VGG16
	for _, n := range []string{"conv3_4", "conv4_4", "conv5_4"} {
		if _, ok := raw[n]; ok {
			arch = VGG19
		}
	}
	w := &Weights{Arch: arch, Params: map[string]*Param{}}
	want := map[string]bool{}
	for _, n := range arch.ParamNames() {
		want[n] = true
	}
	var extra []string
	for n := range raw {
		if !want[n] {
			extra = append(extra, n)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return nil, fmt.Errorf("unexpected layer %s in %v weights", strings.Join(extra, ", "), arch)
	}
	prev := 3
	for _, s := range arch.steps() {
		if s.kind != opConv && s.kind != opFC {
			continue
		}
		l, ok := raw[s.param]
		if !ok {
			return nil, fmt.Errorf("missing layer %s (%v)", s.param, arch)
		}
		ws, bs := l.W.Shape, l.B.Shape
		p := &Param{W: l.W.Data, B: l.B.Data, IsFC: s.kind == opFC}
		if s.kind == opConv {
			if len(ws) != 4 || ws[0] != 3 || ws[1] != 3 || ws[2] != prev || ws[3] < 1 {
				return nil, fmt.Errorf("layer %s: weights have shape %v, want [3 3 %d out]", s.param, ws, prev)
			}
			p.In, p.Out = ws[2], ws[3]
		} else {
			in := prev
			if s.param == "fc6" {
				in = -1 // any H*W*C of pool5, checked per input size
			}
			if len(ws) != 2 || ws[1] < 1 || ws[0] < 1 || in > 0 && ws[0] != in {
				want := fmt.Sprintf("[%d out]", in)
				if in < 0 {
					want = "[in out]"
				}
				return nil, fmt.Errorf("layer %s: weights have shape %v, want %s", s.param, ws, want)
			}
			p.In, p.Out = ws[0], ws[1]
		}
		if len(bs) != 1 || bs[0] != p.Out {
			return nil, fmt.Errorf("layer %s: biases have shape %v, want [%d]", s.param, bs, p.Out)
		}
		n := 1
		for _, d := range ws {
			n *= d
		}
		if len(p.W) != n || len(p.B) != p.Out {
			return nil, fmt.Errorf("layer %s: %d weights and %d biases for shapes %v and %v", s.param, len(p.W), len(p.B), ws, bs)
		}
		w.Params[s.param] = p
		prev = p.Out
	}
	if err := w.validate(); err != nil {
		return nil, err
	}
	return w, nil
}

// pool5Channels is the channel count of pool5 (the last conv's outputs).
func (w *Weights) pool5Channels() int {
	return w.Params[fmt.Sprintf("conv5_%d", w.Arch.convsPerBlock()[4])].Out
}

// validate checks weights however they were made (CheckWeights, the
// random generators, or a caller filling Params by hand): every layer
// present with values of its sizes, chained widths, finite values.
func (w *Weights) validate() error {
	if w == nil || w.Params == nil {
		return fmt.Errorf("vgg: no weights")
	}
	if w.Arch != VGG16 && w.Arch != VGG19 {
		return fmt.Errorf("vgg: unknown architecture %d", int(w.Arch))
	}
	prev := 3
	for _, s := range w.Arch.steps() {
		if s.kind != opConv && s.kind != opFC {
			continue
		}
		p := w.Params[s.param]
		if p == nil {
			return fmt.Errorf("missing layer %s (%v)", s.param, w.Arch)
		}
		fanIn := p.In
		if s.kind == opConv {
			fanIn *= 9
		}
		if p.In < 1 || p.Out < 1 || s.param != "fc6" && p.In != prev {
			return fmt.Errorf("layer %s: %d inputs and %d outputs after a layer of %d", s.param, p.In, p.Out, prev)
		}
		if p.W != nil && (len(p.W) != fanIn*p.Out || len(p.B) != p.Out) {
			return fmt.Errorf("layer %s: %d weights and %d biases, want %d and %d", s.param, len(p.W), len(p.B), fanIn*p.Out, p.Out)
		}
		for _, vals := range [][]float32{p.W, p.B} {
			if i := npy.NonFinite(vals); i >= 0 {
				return fmt.Errorf("layer %s: value %d is %v: weights must be finite", s.param, i, vals[i])
			}
		}
		prev = p.Out
	}
	if c5 := w.pool5Channels(); w.FC6Inputs()%c5 != 0 {
		return fmt.Errorf("layer fc6: %d inputs is not a multiple of pool5's %d channels", w.FC6Inputs(), c5)
	}
	return nil
}

// RandomWeights makes deterministic random weights of the real
// tensorflow-vgg shapes (widths 64..512, fc6 25088x4096, 1000 classes):
// He-uniform weights (variance 2/fan_in, which keeps the scale of ReLU
// activations from layer to layer) and small random biases, so that
// activations neither vanish nor explode and different images get
// different classes. Different seeds give different networks.
func RandomWeights(a Arch, seed uint64) *Weights {
	w := randomWeights(a, [5]int{64, 128, 256, 512, 512}, 7*7*512, [3]int{4096, 4096, 1000}, seed)
	w.Source = RandomPrefix + strings.ToLower(a.String())
	return w
}

// randomGain scales the random weights of every layer after conv1_1.
const randomGain = 1.35

// randomWeights makes random weights of any widths: conv widths per
// block, fc6 inputs and the fc6, fc7, fc8 outputs.
func randomWeights(a Arch, widths [5]int, fc6In int, fcOut [3]int, seed uint64) *Weights {
	w := &Weights{Arch: a, Params: map[string]*Param{}, Random: true}
	prev := 3
	for _, s := range a.steps() {
		var p *Param
		switch s.kind {
		case opConv:
			p = &Param{In: prev, Out: widths[s.name[4]-'1']}
		case opFC:
			in := prev
			if s.param == "fc6" {
				in = fc6In
			}
			p = &Param{In: in, Out: fcOut[s.param[2]-'6'], IsFC: true}
		default:
			continue
		}
		prev = p.Out
		w.Params[s.param] = p
	}
	fillRandom(w.Params, seed)
	return w
}

// fillRandom fills every layer's weights and biases (see randomWeights
// for the distribution). Each layer fills in chunks of whole rows of its
// fan-in by outputs matrix, each from a stream of its own (randw), so
// that fc6's 103 million values fill on every core instead of one.
func fillRandom(params map[string]*Param, seed uint64) {
	type chunk struct {
		p          *Param
		name       string
		limit      float64
		rows, from int // rows [from, from+rows) of the layer
		index      int
		sums       []float64 // per output, of this chunk's rows
		mean       []float64 // per output, of the layer's rows
	}
	var chunks []*chunk
	byLayer := map[*Param][]*chunk{}
	for name, p := range params {
		fanIn := p.In
		if !p.IsFC {
			fanIn *= 9
		}
		limit := math.Sqrt(6 / float64(fanIn))
		if name == "conv1_1" {
			// The input is on a 0-255 scale (standard deviation about
			// 64 for photographs): start the network at unit scale.
			limit /= 64
		} else {
			// Each unit's weights are drawn, then shifted to sum to zero:
			// ReLU outputs share a positive mean, and without the shift
			// a deep random network maps every image to the same
			// direction (and the same class). With it, units respond to
			// how images differ; the gain makes up for the variance the
			// shift removes (a ReLU output's variance is about 0.68 of
			// its second moment).
			limit *= randomGain
		}
		p.W = make([]float32, fanIn*p.Out)
		step := max(1, randw.Chunk/p.Out)
		for from, i := 0, 0; from < fanIn; from, i = from+step, i+1 {
			c := &chunk{p: p, name: name, limit: limit, rows: min(step, fanIn-from), from: from, index: i}
			chunks = append(chunks, c)
			byLayer[p] = append(byLayer[p], c)
		}
	}
	parallel.For(len(chunks), func(k int) {
		c := chunks[k]
		out := c.p.Out
		c.sums = make([]float64, out)
		rows := c.p.W[c.from*out : (c.from+c.rows)*out]
		randw.Uniform(rows, c.limit, randw.Stream(seed, c.name, c.index+1))
		for i := 0; i < c.rows; i++ {
			for o, v := range rows[i*out : (i+1)*out] {
				c.sums[o] += float64(v)
			}
		}
	})
	for p, cs := range byLayer {
		mean := make([]float64, p.Out)
		for _, c := range cs { // in chunk order: the same sums everywhere
			for o, v := range c.sums {
				mean[o] += v
			}
		}
		for o := range mean {
			mean[o] /= float64(len(p.W) / p.Out)
		}
		for _, c := range cs {
			c.mean = mean
		}
	}
	parallel.For(len(chunks), func(k int) {
		c := chunks[k]
		out := c.p.Out
		for i := c.from; i < c.from+c.rows; i++ {
			row := c.p.W[i*out : (i+1)*out]
			for o := range row {
				row[o] -= float32(c.mean[o])
			}
		}
	})
	for name, p := range params {
		rng := randw.Stream(seed, name, 0)
		p.B = make([]float32, p.Out)
		for i := range p.B {
			p.B[i] = float32(0.1 * (2*rng.Float64() - 1))
		}
	}
}
